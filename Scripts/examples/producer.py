# Sends 1000 rows of 8 features to normd, in messages of 10 rows (pyzmq's send_array recipe).
import os, numpy as np, zmq

context = zmq.Context()
push = context.socket(zmq.PUSH)
push.connect(os.environ.get("NORMD_INPUT", "tcp://127.0.0.1:5555"))
rng = np.random.default_rng(0)
for seq in range(100):
    rows = rng.normal(loc=20.0, scale=5.0, size=(10, 8)).astype(np.float32)
    push.send_json({"dtype": str(rows.dtype), "shape": rows.shape, "seq": seq, "producer": "example"}, zmq.SNDMORE)
    push.send(rows)
# send() only queues: wait (up to 5 s) until normd has every message, or exiting now would lose the tail.
push.close(linger=5000)
context.term()
