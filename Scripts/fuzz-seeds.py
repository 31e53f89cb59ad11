#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into Tests/FuzzCorpus/<target>/seed-*.

Seeds are real inputs as a user's tools make them (numpy, json, the built normd binary) plus a few
borderline ones, so the fuzzer starts past the formats' magic and keys. Run it again only to change
the seeds; the committed files are what CI replays. Usage:

    python3 Scripts/fuzz-seeds.py [path/to/normd]     # default .build/debug/normd (for `state` and `sync`)

Message targets (tensor, npy, json) take one prefix byte before the frames (see
Sources/FuzzTargets/MessageTargets.swift): bits 0-3 = features - 1, bit 4 = a topic frame,
bit 5 = an extra empty frame; tensor then has a 2-byte little-endian header length.
"""
import io
import json
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Tests" / "FuzzCorpus"
TOPIC, EXTRA = 0x10, 0x20


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)


def prefix(features, flags=0):
    return bytes([(features - 1) | flags])


def tensor(name, header, payload, features=8, flags=0):
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    write("tensor", name, prefix(features, flags) + struct.pack("<H", len(head)) + head + payload)


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def seed_messages(rng):
    rows = rng.normal(20.0, 5.0, size=(4, 8)).astype(np.float32)
    # tensor: pyzmq's send_array recipe (Docs/PROTOCOL.md 1.1)
    tensor("f32-rows", {"dtype": str(rows.dtype), "shape": rows.shape, "seq": 0, "producer": "cam-1"}, rows.tobytes())
    tensor("f64-one-row", {"dtype": "<f8", "shape": [8]}, rows[0].astype(np.float64).tobytes())
    tensor("empty", {"dtype": "float32", "shape": [0, 8], "seq": None, "producer": None}, b"")
    tensor("topic", {"dtype": "f4", "shape": [1, 3], "seq": 18446744073709551615, "producer": "p\u00e9"},
           np.ones((1, 3), np.float32).tobytes(), features=3, flags=TOPIC)
    tensor("extra-frame", {"dtype": "=f4", "shape": [2, 2]}, np.zeros((2, 2), np.float32).tobytes(), features=2, flags=EXTRA)
    tensor("nan", {"dtype": "float32", "shape": [2, 4], "extra": {"nested": [1, 2, {"a": None}]}},
           np.array([[1, np.nan, 3, 4], [np.inf, 0, 0, 0]], np.float32).tobytes(), features=4)
    tensor("short-payload", {"dtype": "float32", "shape": [2, 8]}, rows[:1].tobytes())
    tensor("big-endian", {"dtype": ">f4", "shape": [1, 8]}, rows[0].astype(">f4").tobytes())
    tensor("huge-shape", {"dtype": "float64", "shape": [2147483647, 8]}, b"")
    tensor("not-json", b'{"dtype": "float32", "shape": [1, 8', rows[0].tobytes())
    # npy codec: np.save of (rows, features) or (features,) (1.2)
    write("npy", "f32-rows", prefix(8) + npy_bytes(rows))
    write("npy", "f64-vector", prefix(8) + npy_bytes(rows[0].astype(np.float64)))
    write("npy", "empty", prefix(8) + npy_bytes(np.zeros((0, 8), np.float32)))
    write("npy", "topic-v2", prefix(3, TOPIC) + npy_bytes(np.ones((2, 3), np.float32), version=(2, 0)))
    write("npy", "fortran", prefix(3) + npy_bytes(np.asfortranarray(np.ones((2, 3), np.float32))))
    write("npy", "3-d", prefix(2) + npy_bytes(np.ones((2, 2, 2), np.float32)))
    write("npy", "truncated", prefix(8) + npy_bytes(rows)[:-5])
    # json codec: one row, rows, or {"data": ...} (1.3); NaN/Infinity as json.dumps writes them
    write("json", "row", prefix(3) + json.dumps([0.1, 0.2, 0.3]).encode())
    write("json", "rows", prefix(3) + json.dumps([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]).encode())
    write("json", "object", prefix(8) + json.dumps({"data": rows.tolist(), "seq": 7, "producer": "cam-1"}).encode())
    write("json", "non-finite", prefix(3, TOPIC) + json.dumps([float("nan"), float("inf"), -float("inf")]).encode())
    write("json", "escapes", prefix(2) + b'{"producer": "a\\u00e9\\n\\ud83d\\ude00", "x": [1, {"y": true}], "data": [[1e308, -0.0]], "seq": null}')
    write("json", "wrong-width", prefix(2) + b"[[1, 2], [3]]")
    write("json", "deep", prefix(1) + b'{"x": ' + b"[" * 70 + b"]" * 70 + b', "data": [1]}')


def seed_npy_files(rng):
    rows = rng.normal(size=(5, 4))
    write("npy_file", "f32", npy_bytes(rows.astype(np.float32)))
    write("npy_file", "f64", npy_bytes(rows))
    write("npy_file", "vector", npy_bytes(rows[0].astype(np.float32)))
    write("npy_file", "empty", npy_bytes(np.zeros((0, 4), np.float32)))
    write("npy_file", "v3", npy_bytes(rows.astype(np.float32), version=(3, 0)))
    write("npy_file", "int", npy_bytes(np.arange(6, dtype=np.int32).reshape(2, 3)))
    write("npy_file", "zero-width", npy_bytes(np.zeros((3, 0), np.float32)))


def seed_configs():
    for path in sorted((ROOT / "Config").glob("*.yaml")):
        write("config", path.name, path.read_bytes())
    write("config", "anchors.yaml", b"""base: &stage {type: batch_norm, momentum: 0.9}
pipelines:
  - name: a
    features: 3
    stages: [*stage, {<<: *stage, epsilon: 0.01}]
""")
    write("config", "invalid.yaml", b"""pipelines:
  - name: bad
    features: -1
    batch: {size: 0, max_latency: soon}
    stages:
      - type: batch_renorm
        renorm_clipping: {rmax: -1}
      - type: min_max
        columns: ["0:30", 99]
""")
    write("config", "syntax.yaml", b"pipelines: [ {name: x, features: 2\n")


def seed_states(normd):
    yaml_path = CORPUS / "state.yaml"
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        state = scratch / "state.json"
        for step, rows in enumerate([16, 9]):
            data = np.random.default_rng(step).normal(3.0, 2.0, size=(rows, 4)).astype(np.float32)
            np.save(scratch / "in.npy", data)
            subprocess.run([normd, "apply", "--config", str(yaml_path), "--input", str(scratch / "in.npy"),
                            "--output", str(scratch / "out.npy"), "--state", str(state)], check=True)
            write("state", f"apply-{step + 1}.json", state.read_bytes())
        text = state.read_bytes()
    write("state", "bad-checksum.json", text.replace(b"crc32:", b"crc32:0", 1))
    write("state", "newer.json", text.replace(b'"format_version":1', b'"format_version":99', 1))
    write("state", "empty-body.json", b'{"format":"normd-state","format_version":1,"checksum":"crc32:00000000","body":{"pipelines":[]}}\n')


def sync_config(scratch):
    """Two members of group `seeds` in one daemon; rank 1 lists the relay as rank 0's endpoint."""
    chain = "[{type: min_max, feature_range: [-1, 1]}, {type: batch_norm, convention: torch}, {type: standard_scale}]"
    pipelines = []
    for rank, members in enumerate([["m0", "m1"], ["relay", "m1"]]):
        endpoints = ", ".join(f'"ipc://{scratch}/{name}"' for name in members)
        pipelines.append(f"""  - name: member{rank}
    features: 4
    batch: {{size: 8, max_latency: 10s}}
    inputs: [{{endpoint: "ipc://{scratch}/in{rank}", socket: pull, bind: true, codec: tensor}}]
    output: {{endpoint: "ipc://{scratch}/out{rank}", socket: push, bind: true, codec: tensor}}
    sync: {{group: seeds, rank: {rank}, members: [{endpoints}], timeout: 1s}}
    stages: {chain}
""")
    return "pipelines:\n" + "".join(pipelines)


def seed_sync(normd):
    """Frames of a real two-member group (one daemon, two pipelines), captured by a relay that rank 1
    reaches rank 0 through: rank 1's `members[0]` is the relay, a DEALER that forwards every frame to
    rank 0's ROUTER and back. Two full steps (contributions and results of three stages), a step rank 1
    misses (its late contribution is answered stale, it asks for and gets a snapshot), the start-up
    snapshot request, and rank 0's refusal of a request from another group."""
    import threading
    import time
    import zmq

    seen = {}
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        config = pathlib.Path(scratch) / "sync.yaml"
        config.write_text(sync_config(scratch))
        context = zmq.Context()
        front, back = context.socket(zmq.DEALER), context.socket(zmq.DEALER)
        front.bind(f"ipc://{scratch}/relay")
        back.connect(f"ipc://{scratch}/m0")
        done = threading.Event()

        def relay():
            poller = zmq.Poller()
            poller.register(front, zmq.POLLIN)
            poller.register(back, zmq.POLLIN)
            while not done.is_set():
                for socket, _ in poller.poll(50):
                    frames = socket.recv_multipart()
                    (back if socket is front else front).send_multipart(frames)
                    kind = {1: "contribution", 2: "result", 3: "stale", 4: "snapshot-request", 5: "snapshot", 6: "refused"}[frames[0][4]]
                    stage = int.from_bytes(frames[0][16 + frames[0][7]:18 + frames[0][7]], "little")  # after the group and step
                    seen.setdefault(f"{kind}-stage{stage}" if kind in ("contribution", "result") else kind, frames[0])

        thread = threading.Thread(target=relay)
        thread.start()
        daemon = subprocess.Popen([normd, "run", "--config", str(config)], stderr=subprocess.DEVNULL)
        try:
            pushes = [context.socket(zmq.PUSH) for _ in range(2)]
            pulls = [context.socket(zmq.PULL) for _ in range(2)]
            for rank in range(2):
                pushes[rank].connect(f"ipc://{scratch}/in{rank}")
                pulls[rank].connect(f"ipc://{scratch}/out{rank}")
            rng = np.random.default_rng(5)

            def feed(rank):
                rows = rng.normal(3.0, 2.0, size=(8, 4)).astype(np.float32)
                pushes[rank].send_multipart([json.dumps({"dtype": "float32", "shape": [8, 4]}).encode(), rows.tobytes()])
                pulls[rank].recv_multipart()

            time.sleep(1.0)
            for _ in range(2):  # two full steps
                workers = [threading.Thread(target=feed, args=(rank,)) for rank in range(2)]
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
            feed(0)  # step 3 without rank 1 (after its 1 s timeout) ...
            feed(1)  # ... whose late contribution is answered stale; it then asks for a snapshot
            deadline = time.monotonic() + 10
            while "snapshot" not in seen and time.monotonic() < deadline:
                time.sleep(0.05)
            stranger = context.socket(zmq.DEALER)
            stranger.connect(f"ipc://{scratch}/m0")
            request = seen["snapshot-request"]
            stranger.send(request[:7] + bytes([6]) + b"others" + request[8 + request[7]:])  # group "others"
            if stranger.poll(5000):
                seen["refused"] = stranger.recv()
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
            done.set()
            thread.join()
            context.destroy(linger=0)
    for name in ["contribution-stage0", "contribution-stage1", "contribution-stage2", "result-stage0", "result-stage1",
                 "result-stage2", "stale", "snapshot-request", "snapshot", "refused"]:
        write("sync", name, seen[name])
    contribution = seen["contribution-stage0"]
    write("sync", "truncated", contribution[:-3])
    write("sync", "trailing-byte", contribution + b"\x00")
    write("sync", "unknown-kind", contribution[:4] + b"\x09" + contribution[5:])


def main():
    normd = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".build" / "debug" / "normd")
    for target in ["tensor", "npy", "json", "npy_file", "config", "state", "sync"]:
        for old in (CORPUS / target).glob("seed-*"):
            old.unlink()
    rng = np.random.default_rng(13)
    seed_messages(rng)
    seed_npy_files(rng)
    seed_configs()
    seed_states(normd)
    seed_sync(normd)


if __name__ == "__main__":
    main()
