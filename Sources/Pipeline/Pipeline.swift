// Pipeline: batcher and ports — filled in by the daemon issue.
