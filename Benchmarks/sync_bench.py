#!/usr/bin/env python3
"""Sync groups: steps per second and added latency per step for 1, 2 and 3 members on loopback.

Usage: Benchmarks/sync_bench.py [--normd PATH] [--steps N] [--features F] [--batch B]

For each group size N, one normd runs N pipelines (each its own thread and sockets), first without
`sync:` (baseline), then as the N members of one sync group over tcp://127.0.0.1. Steps run in lock
step, as data-parallel trainers do: each member gets one batch of BATCH rows, then the harness waits
for every member's output before the next step. The median step time (send → last output) is the
latency per step and its inverse the steps/s; the added latency per step is median(sync) −
median(baseline). It also measures one loopback ROUTER/DEALER round trip of a
contribution-sized message, the unit of Docs/SYNC.md's latency model.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(members, features, batch, sync):
    ports = [(free_port(), free_port(), free_port()) for _ in range(members)]
    sync_endpoints = [f"tcp://127.0.0.1:{p[2]}" for p in ports]
    lines = ["pipelines:"]
    for rank, (pin, pout, _) in enumerate(ports):
        lines += [f"  - name: member{rank}", f"    features: {features}",
                  f"    batch: {{size: {batch}, max_latency: 10s}}",
                  f"    inputs: [{{endpoint: \"tcp://127.0.0.1:{pin}\", socket: pull, bind: true, codec: tensor}}]",
                  f"    output: {{endpoint: \"tcp://127.0.0.1:{pout}\", socket: push, bind: true, codec: tensor}}"]
        if sync:
            lines.append(f"    sync: {{group: bench, rank: {rank}, members: {json.dumps(sync_endpoints)}, timeout: 5s}}")
        lines += ["    stages:", "      - {type: min_max}", "      - {type: batch_norm, convention: torch}",
                  "      - {type: batch_norm, momentum: 0.9}"]
    return "\n".join(lines) + "\n", ports


def run(normd, members, features, batch, steps, sync):
    text, ports = config(members, features, batch, sync)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "bench.yaml")
        with open(path, "w") as f:
            f.write(text)
        daemon = subprocess.Popen([normd, "run", "--config", path, "--log-level", "warning"], stderr=subprocess.PIPE)
        try:
            time.sleep(1.0)
            context = zmq.Context()
            rng = np.random.default_rng(0)
            block = rng.normal(5, 2, size=(batch, features)).astype(np.float32)
            pushes, pulls = [], []
            for rank in range(members):
                push = context.socket(zmq.PUSH)
                push.connect(f"tcp://127.0.0.1:{ports[rank][0]}")
                pull = context.socket(zmq.PULL)
                pull.setsockopt(zmq.RCVTIMEO, 60000)
                pull.connect(f"tcp://127.0.0.1:{ports[rank][1]}")
                pushes.append(push)
                pulls.append(pull)
            # Lock-step: every member gets its batch, then the next step waits for every output, so a
            # step's time is its latency (send → last member's output), not a pipelined throughput.
            durations = []
            for step in range(steps + 10):
                started = time.perf_counter()
                for rank, push in enumerate(pushes):
                    push.send_json({"dtype": "<f4", "shape": list(block.shape), "seq": step, "producer": f"p{rank}"}, zmq.SNDMORE)
                    push.send(block)
                for pull in pulls:
                    pull.recv_multipart()
                if step >= 10:  # warm-up: connections, first allocations
                    durations.append(time.perf_counter() - started)
            for socket_ in pushes + pulls:
                socket_.close(0)
            context.term()
            durations.sort()
            return durations[len(durations) // 2]  # median step time, robust to the shared machine's noise
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)


def round_trip(features, count=2000):
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer = context.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    payload = b"x" * (16 * features + 40)
    for _ in range(100):
        dealer.send(payload)
        router.send_multipart(router.recv_multipart())
        dealer.recv()
    start = time.perf_counter()
    for _ in range(count):
        dealer.send(payload)
        router.send_multipart(router.recv_multipart())
        dealer.recv()
    elapsed = (time.perf_counter() - start) / count
    dealer.close(0)
    router.close(0)
    context.term()
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--normd", default=os.path.join(ROOT, ".build", "release", "normd"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    if not os.path.exists(args.normd):
        args.normd = os.path.join(ROOT, ".build", "debug", "normd")
    rtt = round_trip(args.features)
    print(f"normd: {args.normd}; {args.features} features, batch {args.batch}, {args.steps} steps, 3 stages")
    print(f"loopback ROUTER/DEALER round trip of a {16 * args.features + 40}-byte message (pyzmq): {rtt * 1e6:.0f} us")
    print("| members | baseline steps/s | sync steps/s | added latency per step | per stage | vs 2 x round trip |")
    print("| --- | --- | --- | --- | --- | --- |")
    for members in (1, 2, 3):
        plain = run(args.normd, members, args.features, args.batch, args.steps, sync=False)
        synced = run(args.normd, members, args.features, args.batch, args.steps, sync=True)
        added = synced - plain
        print(f"| {members} | {1 / plain:.0f} | {1 / synced:.0f} | {added * 1e6:.0f} us | {added / 3 * 1e6:.0f} us | "
              f"{added / 3 / (2 * rtt):.2f} x |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
