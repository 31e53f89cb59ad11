"""Receives normd's output batches and prints them as JSON: {"messages": [...], "timed_out": bool}.

argv[1] is a JSON object:
  endpoint, socket ("pull" | "sub"), bind (default false), topic (SUB prefix, default ""),
  codec ("tensor" | "json" | "npy"),
  expect_rows: stop once this many rows arrived, not counting rows from ignore_producers (tensor/json
      outputs name producers in `sources`; npy batches count whole),
  ignore_producers (default ["probe"]), ready_file: written when the first message arrives,
  timeout: seconds before giving up (default 20).
Each message: {"frames": n, "topic": str|null, "header": {...}|null, "data": [[...]], "received_at": t}.
"""
import io
import json
import sys
import time

import numpy as np
import zmq


def decode(frames, codec, has_topic):
    topic = None
    if has_topic:
        topic, frames = frames[0].decode(), frames[1:]
    if codec == "tensor":
        header = json.loads(frames[0])
        data = np.frombuffer(frames[1], header["dtype"]).reshape(header["shape"])
    elif codec == "json":
        header = json.loads(frames[0])
        data = np.array(header.pop("data"), dtype=np.float64).reshape(header["shape"])
    else:
        header = None
        data = np.load(io.BytesIO(frames[0]))
    return {"topic": topic, "header": header, "data": data.astype(np.float64).tolist(), "dtype": data.dtype.str}


def counted_rows(message, ignored):
    header = message["header"]
    if header is None or "sources" not in header:
        return len(message["data"])
    return sum(s["rows"][1] - s["rows"][0] for s in header["sources"] if s["producer"] not in ignored)


def main():
    config = json.loads(sys.argv[1])
    context = zmq.Context()
    is_sub = config.get("socket", "pull") == "sub"
    socket = context.socket(zmq.SUB if is_sub else zmq.PULL)
    if is_sub:
        socket.setsockopt_string(zmq.SUBSCRIBE, config.get("topic", ""))
    socket.setsockopt(zmq.LINGER, 0)
    # It keeps libzmq's reconnection (unlike the producers): it often reads the last batches after
    # its daemon has exited, and with RECONNECT_IVL -1 libzmq drops what a PULL has queued but not
    # yet read once the peer disconnects. A consumer only takes, never feeds; `timeout` bounds it.
    if config.get("bind", False):
        socket.bind(config["endpoint"])
    else:
        socket.connect(config["endpoint"])
    ignored = set(config.get("ignore_producers", ["probe"]))
    expect = config["expect_rows"]
    deadline = time.monotonic() + config.get("timeout", 20)
    messages, rows, timed_out = [], 0, False
    while rows < expect:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not socket.poll(int(remaining * 1000) + 1):
            timed_out = True
            break
        frames = socket.recv_multipart()
        message = decode(frames, config.get("codec", "tensor"), is_sub)
        message["frames"] = len(frames)
        message["received_at"] = time.time()
        messages.append(message)
        rows += counted_rows(message, ignored)
        if len(messages) == 1 and config.get("ready_file"):
            open(config["ready_file"], "w").close()
    socket.close()
    context.term()
    print(json.dumps({"messages": messages, "timed_out": timed_out}))


main()
