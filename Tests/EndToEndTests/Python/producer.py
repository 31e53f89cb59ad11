"""Sends rows to a normd input, one message per spec entry, then prints {"sent": n, "sent_at": t} as JSON.

argv[1] is a JSON object:
  endpoint, socket ("push" | "pub"), bind (default false), rows_file (a 2-D .npy the rows come from),
  messages: [{kind, rows: [start, stop], dtype, one_d, seq, producer, topic}, ...]
      kind: tensor | npy | json | json_object | garbage_header | frame_count | payload_size | wrong_width | nan
  probe: {ready_file, kind, topic, producer, interval} — before the messages, send one-row probe
      messages until ready_file exists (a consumer writes it once output arrives): the SUB slow-joiner
      handshake, and proof the daemon is subscribed before the measured messages go out.
  delay_between: seconds to wait between messages (default 0).
python3, pyzmq and NumPy are required; an import error fails the test.
"""
import json
import io
import os
import sys
import time

import numpy as np
import zmq


def tensor_frames(rows, dtype, one_d, seq, producer):
    array = np.ascontiguousarray(rows.astype(dtype))
    if one_d:
        array = array.reshape(-1)
    header = {"dtype": str(array.dtype) if dtype == "float32" else array.dtype.str, "shape": list(array.shape)}
    if seq is not None:
        header["seq"] = seq
    if producer is not None:
        header["producer"] = producer
    return [json.dumps(header).encode(), array.tobytes()]


def frames_for(spec, all_rows):
    start, stop = spec.get("rows", [0, 0])
    rows = all_rows[start:stop]
    kind = spec.get("kind", "tensor")
    dtype = spec.get("dtype", "<f4")
    seq, producer = spec.get("seq"), spec.get("producer")
    if kind == "tensor":
        return tensor_frames(rows, dtype, spec.get("one_d", False), seq, producer)
    if kind == "npy":
        buffer = io.BytesIO()
        np.save(buffer, rows.astype(dtype))
        return [buffer.getvalue()]
    if kind == "json":
        return [json.dumps(rows.astype(np.float64).tolist()).encode()]
    if kind == "json_object":
        body = {"data": rows.astype(np.float64).tolist()}
        if seq is not None:
            body["seq"] = seq
        if producer is not None:
            body["producer"] = producer
        return [json.dumps(body).encode()]
    if kind == "garbage_header":
        return [b"\x00not json{", rows.astype("<f4").tobytes()]
    if kind == "frame_count":
        return tensor_frames(rows, dtype, False, seq, producer) + [b"extra", b"frames"]
    if kind == "payload_size":
        header, payload = tensor_frames(rows, dtype, False, seq, producer)
        return [header, payload[:-4]]
    if kind == "wrong_width":
        return tensor_frames(rows[:, :-1], dtype, False, seq, producer)
    if kind == "nan":
        bad = rows.astype(dtype).copy()
        bad[spec.get("nan_row", 0), spec.get("nan_column", 0)] = np.nan
        return tensor_frames(bad, dtype, False, seq, producer)
    raise SystemExit(f"unknown message kind {kind!r}")


def send(socket, spec, frames):
    topic = spec.get("topic")
    if topic is not None:
        frames = [topic.encode()] + frames
    socket.send_multipart(frames)


def main():
    config = json.loads(sys.argv[1])
    context = zmq.Context()
    socket = context.socket(zmq.PUSH if config.get("socket", "push") == "push" else zmq.PUB)
    socket.setsockopt(zmq.LINGER, 5000)
    # Never reconnects (once its daemon is gone, a daemon of another test may be given the port),
    # and gives up when a send has waited 120 s, so that a producer nobody waits for still ends.
    socket.setsockopt(zmq.RECONNECT_IVL, -1)
    socket.setsockopt(zmq.SNDTIMEO, 120000)
    if config.get("bind", False):
        socket.bind(config["endpoint"])
    else:
        socket.connect(config["endpoint"])
    all_rows = np.load(config["rows_file"]) if "rows_file" in config else np.zeros((0, 1), "<f4")

    probes = 0
    probe = config.get("probe")
    if probe:
        deadline = time.monotonic() + probe.get("timeout", 10)
        while not os.path.exists(probe["ready_file"]):
            if time.monotonic() > deadline:
                raise SystemExit("probe: no output arrived; is the daemon subscribed?")
            spec = {"kind": probe.get("kind", "tensor"), "rows": [0, 1], "topic": probe.get("topic"),
                    "producer": probe.get("producer", "probe"), "seq": probes}
            send(socket, spec, frames_for(spec, all_rows))
            probes += 1
            time.sleep(probe.get("interval", 0.05))

    sent = 0
    for spec in config["messages"]:
        send(socket, spec, frames_for(spec, all_rows))
        sent += 1
        if config.get("delay_between"):
            time.sleep(config["delay_between"])
    sent_at = time.time()
    socket.close()
    context.term()
    print(json.dumps({"sent": sent, "probes": probes, "sent_at": sent_at}))


main()
