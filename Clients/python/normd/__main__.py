"""``python -m normd tail ENDPOINT``: one line per batch of a normd output stream."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import numpy as np

from .consumer import Batch, Consumer


def describe(batch: Batch, columns: int = 3) -> str:
    """``pipeline=… batch=… mode=… rows=… stats_version=… c0=mean±std …``: one line for one batch."""
    rows = batch.rows
    head = "pipeline=%s batch=%s mode=%s rows=%d stats_version=%s" % (
        batch.pipeline, batch.batch, batch.mode, rows.shape[0], batch.stats_version)
    if batch.downgraded is not None:
        head += " downgraded=%r" % batch.downgraded
    if rows.ndim == 2 and rows.shape[0] > 0:
        stats = rows[:, :columns].astype(np.float64)
        head += "".join(" c%d=%.4g±%.4g" % (i, m, s) for i, (m, s) in enumerate(zip(stats.mean(0), stats.std(0))))
    return head


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m normd")
    commands = parser.add_subparsers(dest="command", required=True)
    tail = commands.add_parser("tail", help="print one line per batch of a normd output")
    tail.add_argument("endpoint")
    tail.add_argument("--socket", choices=("pull", "sub"), default="sub",
                      help="sub (default) observes a pub/xpub output; pull takes batches from a push output")
    tail.add_argument("--topic", action="append", default=[], help="SUB subscription (repeatable; default all)")
    tail.add_argument("--steal", action="store_true", help="allow --socket pull (takes batches away from the trainer)")
    tail.add_argument("--count", type=int, default=None, help="stop after this many batches")
    tail.add_argument("--timeout", type=float, default=None, help="stop after this many seconds without a batch")
    tail.add_argument("--columns", type=int, default=3, help="columns to show mean±std of (default 3)")
    args = parser.parse_args(argv)
    if args.socket == "pull":
        print("normd tail: a PULL socket on a PUSH output takes its round-robin share of the batches away "
              "from the trainer", file=sys.stderr)
        if not args.steal:
            print("normd tail: refusing without --steal (observe a pub/xpub output with --socket sub instead)",
                  file=sys.stderr)
            return 64
    timeout = None if args.timeout is None else int(args.timeout * 1000)
    seen = 0
    with Consumer(args.endpoint, socket=args.socket, topics=args.topic, timeout_ms=timeout) as consumer:
        try:
            for batch in consumer:
                print(describe(batch, args.columns), flush=True)
                seen += 1
                if args.count is not None and seen >= args.count:
                    break
        except KeyboardInterrupt:
            pass
        if consumer.missed_batches:
            print("normd tail: %d batches missed (gaps in batch numbers)" % consumer.missed_batches, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
