"""Peak RSS of `normd run` while peers try to make it buffer without bound (Docs/RELIABILITY.md).

    python3 Scripts/memory_bound.py NORMD_BINARY stalled [INPUT_KEYS]   # 50 producers, nobody consuming
    python3 Scripts/memory_bound.py NORMD_BINARY huge [INPUT_KEYS]      # 20 messages of 100 MB, pipeline stalled

INPUT_KEYS is YAML added to the input mapping, e.g. "max_connections: 8, high_water_mark: 100".
Prints one JSON line: scenario, keys, baseline and peak RSS (MiB), and the daemon's last counts line.
Stops early (and says so) if the daemon's RSS passes 4 GiB, to spare the machine.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import zmq

FEATURES, ROWS = 64, 128                 # 32 KiB messages, one batch each
LIMIT_KIB = 4 * 1024 * 1024


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def start(binary, keys, directory):
    config = os.path.join(directory, "normd.yaml")
    with open(config, "w") as f:
        f.write(f"""pipelines:
  - name: p
    features: {FEATURES}
    batch: {{size: {ROWS}, min_rows: 2, max_latency: 10s}}
    inputs:
      - {{endpoint: "tcp://127.0.0.1:*", socket: pull{', ' + keys if keys else ''}}}
    output: {{endpoint: "tcp://127.0.0.1:*", socket: push, high_water_mark: 1, shutdown_timeout: 0s}}
    stages: [{{type: min_max}}]
""")
    log = open(os.path.join(directory, "normd.log"), "w+")
    daemon = subprocess.Popen([binary, "run", "--config", config, "--counts-interval", "1"], stderr=log)
    for _ in range(200):
        log.seek(0)
        text = log.read()
        if "normd running" in text:
            for line in text.splitlines():
                if 'msg="input bound"' in line:
                    return daemon, log, line.split("endpoint=")[1].split()[0]
        time.sleep(0.05)
    raise SystemExit("normd did not start:\n" + text)


def watch(daemon, seconds, stop):
    peak, end = 0, time.time() + seconds
    while time.time() < end and not stop.is_set():
        peak = max(peak, rss_kib(daemon.pid))
        if peak > LIMIT_KIB:
            return peak, True
        time.sleep(0.1)
    return peak, False


def stalled(endpoint, stop):
    """50 PUSH producers sending 32 KiB messages as fast as the daemon takes them."""
    context = zmq.Context()
    payload = np.ones((ROWS, FEATURES), "<f4")
    header = json.dumps({"dtype": "<f4", "shape": [ROWS, FEATURES]}).encode()

    def produce():
        s = context.socket(zmq.PUSH)
        s.setsockopt(zmq.SNDHWM, 10)
        s.setsockopt(zmq.SNDTIMEO, 200)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        while not stop.is_set():
            try:
                s.send(header, zmq.SNDMORE)
                s.send(payload)
            except zmq.Again:
                pass
        s.close()

    threads = [threading.Thread(target=produce) for _ in range(50)]
    for t in threads:
        t.start()
    return threads, context


def huge(endpoint, stop):
    """Stall the pipeline (its PUSH output has no consumer), then send 20 messages of 100 MB."""
    context = zmq.Context()

    def produce():
        s = context.socket(zmq.PUSH)
        s.setsockopt(zmq.SNDTIMEO, 500)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        header = json.dumps({"dtype": "<f4", "shape": [ROWS, FEATURES]}).encode()
        for _ in range(4):  # fills the output's one-batch queue and blocks the pipeline's send
            s.send(header, zmq.SNDMORE)
            s.send(np.ones((ROWS, FEATURES), "<f4"))
        big = np.zeros((100 * 1024 * 1024 // (4 * FEATURES), FEATURES), "<f4")
        header = json.dumps({"dtype": "<f4", "shape": list(big.shape)}).encode()
        sent = 0
        while sent < 20 and not stop.is_set():
            try:
                s.send(header, zmq.SNDMORE)
                s.send(big)
                sent += 1
            except zmq.Again:
                pass
        s.close()

    thread = threading.Thread(target=produce)
    thread.start()
    return [thread], context


def main():
    binary, scenario = sys.argv[1], sys.argv[2]
    keys = sys.argv[3] if len(sys.argv) > 3 else ""
    with tempfile.TemporaryDirectory() as directory:
        daemon, log, endpoint = start(binary, keys, directory)
        baseline = rss_kib(daemon.pid)
        stop = threading.Event()
        threads, context = (stalled if scenario == "stalled" else huge)(endpoint, stop)
        peak, capped = watch(daemon, 20, stop)
        stop.set()
        for t in threads:
            t.join()
        context.term()
        time.sleep(1.2)  # one more counts line
        # Killed, not stopped: a graceful stop would first drain everything libzmq queued.
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        log.seek(0)
        final = [line for line in log.read().splitlines() if 'msg=counts' in line][-1:]
        print(json.dumps({"scenario": scenario, "keys": keys, "baseline_mib": round(baseline / 1024, 1),
                          "peak_mib": round(peak / 1024, 1), "stopped_at_4_gib": capped,
                          "counts": final[0].split('counts="')[1].split('"')[0] if final else None}))


if __name__ == "__main__":
    main()
