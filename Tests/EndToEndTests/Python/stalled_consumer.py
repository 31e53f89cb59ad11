"""A PULL consumer that connects, then does not read until a file exists: a trainer that stalled.

argv: endpoint, go_file, idle_seconds. Its queues are as small as libzmq and the kernel allow
(RCVHWM 1, a small SO_RCVBUF), so the daemon's output fills after a few batches. Once go_file
exists it reads until nothing arrives for idle_seconds and prints {"batches": [header batch numbers]}.
It exits with an error when go_file has not appeared after 300 s. It keeps libzmq's reconnection:
it reads after the daemon has exited, and with RECONNECT_IVL -1 libzmq drops what a PULL has queued
but not yet read once the peer disconnects.
"""
import json
import os
import sys
import time

import zmq

endpoint, go_file, idle = sys.argv[1], sys.argv[2], float(sys.argv[3])
context = zmq.Context()
pull = context.socket(zmq.PULL)
pull.setsockopt(zmq.RCVHWM, 1)
pull.setsockopt(zmq.RCVBUF, 65536)
pull.setsockopt(zmq.LINGER, 0)
pull.connect(endpoint)
deadline = time.monotonic() + 300
while not os.path.exists(go_file):
    if time.monotonic() > deadline:
        raise SystemExit(f"{go_file} did not appear within 300 s")
    time.sleep(0.02)
batches = []
while pull.poll(int(idle * 1000)):
    header, _ = pull.recv_multipart()
    batches.append(json.loads(header)["batch"])
pull.close()
context.term()
print(json.dumps({"batches": batches}))
