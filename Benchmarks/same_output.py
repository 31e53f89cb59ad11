"""Feeds a fixed stream of tensor messages through one normd binary and writes every output frame to OUT,
so two builds can be compared byte for byte (BENCHMARKS.md, issue 15, branch msg7).

The stream: 3 000 messages of 64, 1 and 5 rows x 16 features (5-row and 64-row messages cross batch
boundaries), every 7th float64, every 97th with a NaN (refused), two producers, a seq gap every 50th;
min_max -> batch_norm -> batch_renorm in train mode. OUT.log gets normd's stderr.

    python3 Benchmarks/same_output.py OLD_NORMD /tmp/old.bin
    python3 Benchmarks/same_output.py NEW_NORMD /tmp/new.bin
    cmp /tmp/old.bin /tmp/new.bin
"""
import os, sys, subprocess, time, json, socket, zmq, numpy as np
binary, out = sys.argv[1], sys.argv[2]
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
pin, pout = port(), port()
cfg = out + ".yaml"
open(cfg, "w").write(f"""pipelines:
  - name: ident
    features: 16
    mode: train
    batch: {{size: 256, min_rows: 2, max_latency: 5s}}
    inputs:
      - {{endpoint: "tcp://127.0.0.1:{pin}", socket: pull, bind: true, codec: tensor}}
    output: {{endpoint: "tcp://127.0.0.1:{pout}", socket: push, bind: true, codec: tensor}}
    stages:
      - type: min_max
        feature_range: [0, 1]
      - type: batch_norm
        momentum: 0.99
        epsilon: 0.001
      - type: batch_renorm
        momentum: 0.99
        epsilon: 0.001
        renorm_momentum: 0.99
        renorm_clipping: {{rmax: 3, rmin: 0.3333, dmax: 5}}
""")
proc = subprocess.Popen([binary, "run", "--config", cfg, "--counts-interval", "3600"], stderr=open(out + ".log", "w"))
time.sleep(1.0)
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH); push.connect(f"tcp://127.0.0.1:{pin}")
pull = ctx.socket(zmq.PULL); pull.connect(f"tcp://127.0.0.1:{pout}")
time.sleep(0.5)
rng = np.random.default_rng(7)
seq = {"a": 0, "b": 0}
sent_rows = 0
for i in range(3000):
    rows = 64 if i % 3 == 0 else (1 if i % 3 == 1 else 5)
    x = rng.normal(20, 5, size=(rows, 16))
    dtype = np.float64 if i % 7 == 0 else np.float32
    x = x.astype(dtype)
    if i % 97 == 0: x[rows // 2, 3] = np.nan
    producer = "a" if i % 2 == 0 else "b"
    push.send_json({"dtype": np.dtype(dtype).str, "shape": list(x.shape), "seq": seq[producer], "producer": producer}, zmq.SNDMORE)
    push.send(x.tobytes())
    seq[producer] += 1 if i % 50 else 3
with open(out, "wb") as f:
    pull.RCVTIMEO = 8000
    n = 0
    while True:
        try: frames = pull.recv_multipart()
        except zmq.Again: break
        for fr in frames: f.write(len(fr).to_bytes(8, "little")); f.write(fr)
        n += 1
proc.terminate(); proc.wait(timeout=30)
print(out, "batches", n, "exit", proc.returncode)
