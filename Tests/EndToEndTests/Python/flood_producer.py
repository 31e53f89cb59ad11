"""Sends argv[2] tensor messages of argv[3] rows x argv[4] float32 features to argv[1] (PUSH),
blocking whenever the daemon stops reading; meant to be killed by the test when it is done."""
import json
import sys

import numpy as np
import zmq

endpoint, count, rows, features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
push = zmq.Context().socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 0)
push.connect(endpoint)
data = np.random.default_rng(0).normal(size=(rows, features)).astype(np.float32)
header = json.dumps({"dtype": "<f4", "shape": [rows, features]}).encode()
for _ in range(count):
    push.send_multipart([header, data])
print(json.dumps({"sent": count}))
