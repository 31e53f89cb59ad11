"""Feeds a fixed stream of tensor messages through one normd binary and writes every output frame to OUT,
so two builds can be compared byte for byte (BENCHMARKS.md, issue 15, branch msg7).

The stream: 3 000 messages of 64, 1 and 5 rows x 16 features (5-row and 64-row messages cross batch
boundaries), every 7th float64, every 97th with a NaN (refused), two producers, a seq gap every 50th;
min_max -> batch_norm -> batch_renorm in train mode. OUT.log gets normd's stderr.

    python3 Benchmarks/same_output.py OLD_NORMD /tmp/old.bin
    python3 Benchmarks/same_output.py NEW_NORMD /tmp/new.bin
    cmp /tmp/old.bin /tmp/new.bin
"""
import os, sys, subprocess, time, socket, zmq, numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import normd_config  # noqa: E402
binary, out = sys.argv[1], sys.argv[2]
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
pin, pout = port(), port()
cfg = out + ".yaml"
# The harness's pipeline (the same chain), with a max_latency long enough that no batch is flushed
# early by time: the comparison must not depend on scheduling.
normd_config(cfg, 16, pin, pout)
text = open(cfg).read()
assert "max_latency: 50ms" in text
open(cfg, "w").write(text.replace("max_latency: 50ms", "max_latency: 5s"))
proc = subprocess.Popen([binary, "run", "--config", cfg, "--counts-interval", "3600"], stderr=open(out + ".log", "w"))
time.sleep(1.0)
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH); push.connect(f"tcp://127.0.0.1:{pin}")
pull = ctx.socket(zmq.PULL); pull.connect(f"tcp://127.0.0.1:{pout}")
time.sleep(0.5)
rng = np.random.default_rng(7)
seq = {"a": 0, "b": 0}
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
