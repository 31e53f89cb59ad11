"""The alternative a user would write: a pyzmq + NumPy sidecar doing normd's chain in train mode.

    python3 sidecar.py IN_ENDPOINT OUT_ENDPOINT FEATURES BATCH

PULL (bind IN) -> batch BATCH rows in arrival order (a message may span two batches) ->
min_max (sklearn MinMaxScaler.partial_fit + transform) -> batch_norm (tf_keras, momentum 0.99,
eps 1e-3) -> batch_renorm (tf_keras renorm, clipping rmax 3 / rmin 1/3 / dmax 5) -> PUSH (bind OUT)
`[header JSON][<f4 payload]`, the header listing each source message's seq and row spans like
normd's `sources`. Statistics in float64 (as normd), the data stays float32 (as a NumPy user would
keep it): `np.mean(x, axis=0, dtype=np.float64)` and a float32 multiply-add. Non-finite messages
are refused, like normd's default. Runs until killed.
"""
import json
import sys

import numpy as np
import zmq


class MinMax:
    def __init__(self, f):
        self.lo = np.full(f, np.inf)
        self.hi = np.full(f, -np.inf)

    def __call__(self, x):
        np.minimum(self.lo, x.min(axis=0), out=self.lo)
        np.maximum(self.hi, x.max(axis=0), out=self.hi)
        rng = self.hi - self.lo
        scale = 1.0 / np.where(rng < 10 * np.finfo(np.float32).eps, 1.0, rng)
        shift = -self.lo * scale
        x *= scale.astype(np.float32)
        x += shift.astype(np.float32)


class BatchNorm:
    def __init__(self, f, momentum=0.99, eps=1e-3):
        self.mean = np.zeros(f)
        self.var = np.ones(f)
        self.momentum, self.eps = momentum, eps

    def __call__(self, x):
        mean = x.mean(axis=0, dtype=np.float64)
        var = x.var(axis=0, dtype=np.float64)
        scale = 1.0 / np.sqrt(var + self.eps)
        x *= scale.astype(np.float32)
        x += (-mean * scale).astype(np.float32)
        self.mean -= (self.mean - mean) * (1 - self.momentum)
        self.var -= (self.var - var) * (1 - self.momentum)


class BatchRenorm:
    def __init__(self, f, momentum=0.99, renorm_momentum=0.99, eps=1e-3, rmax=3.0, rmin=1 / 3, dmax=5.0):
        self.moving_mean, self.moving_std = np.zeros(f), np.ones(f)
        self.renorm_mean, self.renorm_std = np.zeros(f), np.ones(f)
        self.momentum, self.renorm_momentum, self.eps = momentum, renorm_momentum, eps
        self.rmax, self.rmin, self.dmax = rmax, rmin, dmax

    def __call__(self, x):
        mean = x.mean(axis=0, dtype=np.float64)
        std = np.sqrt(x.var(axis=0, dtype=np.float64) + self.eps)
        ref = np.maximum(self.renorm_std, np.sqrt(self.eps))
        r = np.clip(std / ref, self.rmin, self.rmax)
        d = np.clip((mean - self.renorm_mean) / ref, -self.dmax, self.dmax)
        scale = r / std
        x *= scale.astype(np.float32)
        x += (d - mean * scale).astype(np.float32)
        self.renorm_mean -= (self.renorm_mean - mean) * (1 - self.renorm_momentum)
        self.renorm_std -= (self.renorm_std - std) * (1 - self.renorm_momentum)
        self.moving_mean -= (self.moving_mean - mean) * (1 - self.momentum)
        self.moving_std -= (self.moving_std - std) * (1 - self.momentum)
        self.moving_variance = np.maximum(self.moving_std ** 2 - self.eps, 0)


def main():
    in_endpoint, out_endpoint, features, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind(in_endpoint)
    push = ctx.socket(zmq.PUSH)
    push.bind(out_endpoint)
    chain = [MinMax(features), BatchNorm(features), BatchRenorm(features)]
    batch = np.empty((size, features), dtype=np.float32)
    fill, sources, number = 0, [], 0
    print("sidecar ready", file=sys.stderr, flush=True)
    while True:
        header, payload = pull.recv_multipart()
        h = json.loads(header)
        rows = np.frombuffer(payload, dtype=h["dtype"]).reshape(h["shape"])
        if rows.ndim != 2 or rows.shape[1] != features or not np.isfinite(rows).all():
            continue
        n, i = rows.shape[0], 0
        while i < n:
            take = min(size - fill, n - i)
            batch[fill:fill + take] = rows[i:i + take]
            sources.append({"seq": h.get("seq"), "rows": [fill, fill + take], "message_rows": [i, i + take]})
            fill += take
            i += take
            if fill == size:
                for stage in chain:
                    stage(batch)
                out = {"dtype": "<f4", "shape": [size, features], "batch": number, "mode": "train", "sources": sources}
                push.send(json.dumps(out).encode(), zmq.SNDMORE)
                push.send(batch)  # pyzmq copies the buffer, so `batch` can be refilled at once
                fill, sources, number = 0, [], number + 1


if __name__ == "__main__":
    main()
