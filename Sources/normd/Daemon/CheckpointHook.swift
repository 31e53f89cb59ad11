import Pipeline

/// What a pipeline's thread needs to take part in checkpoints: where snapshots go and when.
struct CheckpointHook: Sendable {
    let sink: any StateSnapshotSink
    let cadence: CheckpointCadence
}
