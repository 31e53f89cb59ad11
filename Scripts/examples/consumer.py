# Receives normalized batches from normd and prints what each one is.
import json, os, numpy as np, zmq

pull = zmq.Context().socket(zmq.PULL)
pull.connect(os.environ.get("NORMD_OUTPUT", "tcp://127.0.0.1:5556"))
for _ in range(1000 // 64):  # batch.size is 64 in Config/normd.yaml
    header, payload = pull.recv_multipart()
    h = json.loads(header)
    batch = np.frombuffer(payload, dtype=h["dtype"]).reshape(h["shape"])
    print(h["batch"], h["mode"], batch.shape, "mean %.3f std %.3f" % (batch.mean(), batch.std()))
