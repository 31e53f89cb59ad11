#!/usr/bin/env python3
"""Sync groups: steps per second and added latency per step for 1, 2 and 3 members on loopback.

Usage: Benchmarks/sync_bench.py [--normd PATH] [--before PATH] [--rounds R] [--steps N] [--features F] [--batch B]

For each group size N, one normd runs N pipelines (each its own thread and sockets), first without
`sync:` (baseline), then as the N members of one sync group over tcp://127.0.0.1. Steps run in lock
step, as data-parallel trainers do: each member gets one batch of BATCH rows, then the harness waits
for every member's output before the next step. The median step time (send → last output) is the
latency per step and its inverse the steps/s; the added latency per step is median(sync) −
median(baseline).

Two yardsticks for the added latency per stage:
- one loopback ROUTER/DEALER round trip of a contribution-sized message (pyzmq, one thread: the
  unit of Docs/SYNC.md's latency model and of the issue's goal, "2 × one round trip per stage");
- the **gather/scatter floor**: the same pattern as one sync stage with nothing computed —
  `Benchmarks/c/gather_scatter.c`, N threads of one process, each with its own ZeroMQ context (as
  normd's N pipelines are), rank 0 a ROUTER gathering N − 1 contribution-sized frames then sending
  N − 1 result-sized frames, the same frame sizes as normd's messages for each of the 3 stages. C,
  not pyzmq, so that the floor holds no interpreter time; threads, not processes, so that the
  thread and context count is normd's. What normd adds above it is its own work per stage.

`--before PATH` runs another normd binary in the same rounds, right after each run of `--normd`
(paired: same machine load), to measure a change; `--rounds R` repeats every measurement R times.
"""
import argparse
import json
import os
import shutil
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


GROUP = "bench"
STAGES = [True, False, False]  # whether each stage's contributions carry extremes: min_max, torch, keras


def frame_sizes(features, members):
    """Byte sizes of one stage's contribution and result in Sources/SyncProtocol/SyncMessage.swift:
    header "NSY1" kind:u8 rank:u16 group:(u8, bytes) step:u64 stage:u16 hash:u64 fingerprint:u64,
    moments count:i64 features:u32 extremes:u8 then mean, M2 (and min, max) as f64; a result also
    lists the ranks present (u16 count, u16 each)."""
    header = 4 + 1 + 2 + 1 + len(GROUP) + 8 + 2 + 8 + 8
    sizes = []
    for extremes in STAGES:
        contribution = header + 8 + 4 + 1 + 8 * features * (4 if extremes else 2)
        sizes.append((contribution, contribution + 2 + 2 * members))
    return sizes


def gather_scatter_binary():
    """Builds Benchmarks/c/gather_scatter.c into .build/bench (cc, as Benchmarks/run.sh builds the others)."""
    out = os.path.join(ROOT, ".build", "bench", "gather_scatter")
    source = os.path.join(ROOT, "Benchmarks", "c", "gather_scatter.c")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(source):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run([shutil.which("cc") or "cc", "-O2", "-Wall", "-Wextra", "-pthread", "-o", out, source, "-lzmq"], check=True)
    return out


def gather_scatter(binary, members, features, steps):
    """Median step time of the bare gather/scatter pattern of N members over the 3 stages (seconds)."""
    stages = [f"{c}:{r}" for c, r in frame_sizes(features, members)]
    line = subprocess.run([binary, str(members), str(steps), "50", *stages], check=True, capture_output=True, text=True).stdout
    return json.loads(line)["median_step_us"] * 1e-6


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
    parser.add_argument("--before", help="another normd binary, measured right after --normd in every round (paired)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--members", default="1,2,3")
    args = parser.parse_args()
    if not os.path.exists(args.normd):
        args.normd = os.path.join(ROOT, ".build", "debug", "normd")
    binaries = [("normd", args.normd)] + ([("before", args.before)] if args.before else [])
    floor_binary = gather_scatter_binary()
    stages = len(STAGES)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"{', '.join(f'{name}: {path}' for name, path in binaries)}; {args.features} features, batch {args.batch}, "
          f"{args.steps} steps, {stages} stages, {args.rounds} round(s); load average at start {load}")
    print(f"frame sizes per stage (contribution, result with 3 members): {frame_sizes(args.features, 3)}")
    print("| members | binary | round | baseline steps/s | sync steps/s | added per step | added per stage | floor per stage "
          "| added − floor per stage | added ÷ (2 × rtt) | added ÷ floor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for members in [int(m) for m in args.members.split(",")]:
        for round_ in range(args.rounds):
            for name, binary in binaries:
                rtt = round_trip(args.features)
                floor = gather_scatter(floor_binary, members, args.features, args.steps) / stages
                plain = run(binary, members, args.features, args.batch, args.steps, sync=False)
                synced = run(binary, members, args.features, args.batch, args.steps, sync=True)
                added = (synced - plain) / stages
                ratio = f"{added / floor:.2f}" if floor > 0 else "–"
                print(f"| {members} | {name} | {round_ + 1} | {1 / plain:.0f} | {1 / synced:.0f} | {added * stages * 1e6:.0f} µs | "
                      f"{added * 1e6:.0f} µs | {floor * 1e6:.0f} µs | {(added - floor) * 1e6:.0f} µs | {added / (2 * rtt):.2f} "
                      f"(rtt {rtt * 1e6:.0f} µs) | {ratio} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
