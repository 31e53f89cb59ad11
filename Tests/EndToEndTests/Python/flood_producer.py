"""Sends argv[2] tensor messages of argv[3] rows x argv[4] float32 features to argv[1] (PUSH),
blocking whenever the daemon stops reading; meant to be stopped by the test when it is done. It never
reconnects, and gives up once a send has waited 120 s, so a forgotten flood still ends."""
import json
import sys

import numpy as np
import zmq

endpoint, count, rows, features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
push = zmq.Context().socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 0)
push.setsockopt(zmq.RECONNECT_IVL, -1)
push.setsockopt(zmq.SNDTIMEO, 120000)
push.connect(endpoint)
data = np.random.default_rng(0).normal(size=(rows, features)).astype(np.float32)
header = json.dumps({"dtype": "<f4", "shape": [rows, features]}).encode()
for _ in range(count):
    push.send_multipart([header, data])
print(json.dumps({"sent": count}))
