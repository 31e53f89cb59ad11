"""Drives the same producer and consumer through four systems in turn and prints one table.

Called by Benchmarks/run.sh (which builds everything first); see BENCHMARKS.md.

Systems: `direct` (producer -> consumer, the load generator's own ceiling), `forwarder` (bare C
zmq_proxy, the ceiling), `python` (pyzmq + NumPy sidecar, the alternative), `normd`, and on request
(`--systems normd,normd-curve`) `normd-curve`: normd with `security: curve:` (keys from `normd
keygen`), the C producer and consumer as its CURVE clients; and `normd-baseline`: another normd
binary (`--baseline-normd PATH`, e.g. a build of main before a change) on the same config, so
`--systems normd,normd-baseline --rounds N` pairs a change against its baseline round by round;
`normd-chainthread`: normd with `chain_thread: true` (the stages on a second thread); and
`normd-split`: that and `io_threads: 2` (input and output on two libzmq I/O threads).
For each workload (features x rows per message, batch 256) and system, one process of the system
serves two phases:
  1. max rate: the producer sends as fast as PUSH back-pressure allows for D seconds; the consumer's
     receipt times give rows/s, MB/s (payload) and input messages/s;
  2. fixed rate (below saturation): latency of each output message = consumer receipt - producer
     send time of the row that completed it (the last source `seq` in the header), and the batch
     fill wait = send time of that row - send time of the batch's first row, reported apart.
During phase 2 a stall probe (c/stallprobe.c: a thread that sleeps 1 ms at a time) records its longest
wake-up gap and /proc/stat's `steal` (time the hypervisor did not run this VM): a p99 of tens of ms
with a gap and a steal as long is the machine stopping, which every system on it waits out alike.
The middle system's CPU seconds (user + sys from /proc/PID/stat, all threads) over phase 1 give
the "CPU s/M rows" column (per million rows passed on) and its ratio to the forwarder's.
Minor page faults (field 10) over the same phase give "faults/k rows": pages the kernel mapped and zeroed again.
Then the system's peak RSS (VmHWM) is read from /proc and it is stopped.
"""
import argparse
import json
import os
import platform
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

BATCH = 256
# Offered rate for the latency phase, in input messages/s: well below every system's saturation
# (the Python sidecar's is the lowest) so the figure is latency, not queueing.
LATENCY_RATE = {1: 10_000, 64: 500, 256: 40}  # 256-row messages: what normd sends at 10 000 rows/s
# The fixed-rate phase lasts until normd (one latency sample per 256-row batch) has given this many
# samples, and at least 2 s: with 76 samples (2 s of 1-row messages) a p99 is the second-worst
# batch, and one stall of the machine decides it (BENCHMARKS.md, "p99 over enough samples").
LATENCY_SAMPLES = 500


def latency_seconds(rows):
    """How long the fixed-rate phase of `rows`-row messages lasts by default (12.8 s at 1-row, 4 s at 64-row)."""
    return max(2.0, LATENCY_SAMPLES * BATCH / (LATENCY_RATE[rows] * rows))


def curve_keys(normd, work):
    """normd-curve: the daemon's and the client's pairs from `normd keygen`; returns (security YAML, client env)."""
    keys = os.path.join(work, "keys")
    if not os.path.exists(os.path.join(keys, "server.key")):
        for name in ("server", "client"):
            subprocess.run([normd, "keygen", name, "--dir", keys], check=True, stdout=subprocess.DEVNULL)
        os.makedirs(os.path.join(work, "authorized"), exist_ok=True)
        shutil.copy(os.path.join(keys, "client.key"), os.path.join(work, "authorized", "client.key"))

    def field(path, name):
        return next(l.split('"')[1] for l in open(path) if l.strip().startswith(name))
    env = {"BENCH_CURVE_SERVER": field(os.path.join(keys, "server.key"), "public-key"),
           "BENCH_CURVE_PUBLIC": field(os.path.join(keys, "client.key_secret"), "public-key"),
           "BENCH_CURVE_SECRET": field(os.path.join(keys, "client.key_secret"), "secret-key")}
    security = f"security:\n  curve:\n    secret_key_file: {keys}/server.key_secret\n    authorized_keys: {work}/authorized\n"
    return security, env


def normd_config(path, features, port_in, port_out, security="", admin_port=None, chain_thread=False, io_threads=1):
    admin = f'admin: {{listen: "127.0.0.1:{admin_port}"}}\n' if admin_port else ""
    chain = ("    chain_thread: true\n" if chain_thread else "") + (f"    io_threads: {io_threads}\n" if io_threads != 1 else "")
    with open(path, "w") as f:
        f.write(admin + security + f"""pipelines:
  - name: bench
    features: {features}
    mode: train
    batch: {{size: {BATCH}, min_rows: 2, max_latency: 50ms}}
    inputs:
      - {{endpoint: "tcp://127.0.0.1:{port_in}", socket: pull, bind: true, codec: tensor}}
    output: {{endpoint: "tcp://127.0.0.1:{port_out}", socket: push, bind: true, codec: tensor}}
{chain}    stages:
      - type: min_max
        feature_range: [0, 1]
      - type: batch_norm
        momentum: 0.99
        epsilon: 0.001
      - type: batch_renorm
        momentum: 0.99
        epsilon: 0.001
        renorm_momentum: 0.99
        renorm_clipping: {{rmax: 3, rmin: 0.3333, dmax: 5}}
""")


def wait_for(stream_path, text, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(stream_path, errors="replace") as f:
            if text in f.read():
                return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {text!r} in {stream_path}")


def peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return None


def proc_stat(pid):
    """The fields of /proc/PID/stat after "(comm)" (which may contain spaces): field N is [N - 3]."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid`, all its threads (fields 14 and 15 of /proc/PID/stat)."""
    fields = proc_stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def io_thread_cpu_seconds(pid):
    """User + system CPU seconds of process `pid`'s libzmq I/O threads (named `ZMQbg/IO/N`): the rest of
    its CPU is the application's own threads. The split shows where a middle system's CPU per row goes:
    the TCP receive and send, which a bare forwarder pays too, or the work between them."""
    total, ticks = 0, os.sysconf("SC_CLK_TCK")
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith("ZMQbg/IO"):
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue  # the thread ended
    return total / ticks


def minor_faults(pid):
    """Minor page faults of process `pid` so far (field 10 of /proc/PID/stat): each a page the kernel
    mapped, and zeroed, on first touch: memory the allocator handed back and took again shows here."""
    fields = proc_stat(pid)
    return None if fields is None else int(fields[7])


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Scraper(threading.Thread):
    """GET /metrics every `interval` seconds while the system runs (`normd-admin`), as Prometheus would, only faster."""

    def __init__(self, url, interval=0.1):
        super().__init__(daemon=True)
        self.url, self.interval, self.stop, self.scrapes, self.failures = url, interval, threading.Event(), 0, 0

    def run(self):
        while not self.stop.wait(self.interval):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as answer:
                    answer.read()
                self.scrapes += 1
            except OSError:
                self.failures += 1


class Runner:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.port = 47100 + (os.getpid() % 200) * 4

    def ports(self):
        self.port += 2
        return self.port, self.port + 1

    def start_system(self, system, features, port_in, port_out):
        log = os.path.join(self.work, f"{system}.log")
        err = open(log, "w")
        if system == "forwarder":
            cmd = [os.path.join(self.args.cbin, "forwarder"), f"tcp://127.0.0.1:{port_in}", f"tcp://127.0.0.1:{port_out}"]
            ready = "forwarder ready"
        elif system == "python":
            cmd = [sys.executable, os.path.join(os.path.dirname(__file__), "sidecar.py"),
                   f"tcp://127.0.0.1:{port_in}", f"tcp://127.0.0.1:{port_out}", str(features), str(BATCH)]
            ready = "sidecar ready"
        else:
            config = os.path.join(self.work, "normd.yaml")
            security = ""
            if system == "normd-curve":
                security, env = curve_keys(self.args.normd, self.work)
                os.environ.update(env)  # the C producer and consumer read them (common.h); run() clears them
            # normd-admin: the admin server on, scraped every 100 ms (BENCHMARKS.md, "Admin server")
            # normd-chainthread: `chain_thread: true`; normd-split: that and `io_threads: 2` (BENCHMARKS.md, "wide rows on two threads")
            normd_config(config, features, port_in, port_out, security,
                         admin_port=port_out + 1000 if system == "normd-admin" else None,
                         chain_thread=system in ("normd-chainthread", "normd-split"),
                         io_threads=2 if system == "normd-split" else 1)
            binary = self.args.baseline_normd if system == "normd-baseline" else self.args.normd
            cmd = [binary, "run", "--config", config, "--counts-interval", "3600"]
            ready = "output bound"
        proc = subprocess.Popen(cmd, stdout=err, stderr=err)
        wait_for(log, ready)
        if system == "normd-admin":
            self.scraper = Scraper(f"http://127.0.0.1:{port_out + 1000}/metrics")
            self.scraper.start()
        return proc, log

    def phase(self, features, rows, rate, duration, consumer_endpoint, producer_endpoint):
        ts = os.path.join(self.work, "sent.bin")
        rec = os.path.join(self.work, "received.bin")
        consumer = subprocess.Popen([os.path.join(self.args.cbin, "consumer"), consumer_endpoint, str(features),
                                     str(10**12), rec], stdout=subprocess.PIPE, text=True)
        time.sleep(0.15)  # let the consumer connect (or bind) before the first message
        producer = subprocess.run([os.path.join(self.args.cbin, "producer"), producer_endpoint, str(features), str(rows),
                                   str(rate), str(duration), str(BATCH), ts], stdout=subprocess.PIPE, text=True, check=True)
        produced = json.loads(producer.stdout)
        out, _ = consumer.communicate(timeout=120)
        consumed = json.loads(out)
        sent = np.fromfile(ts, dtype=np.uint64)
        records = np.fromfile(rec, dtype=np.uint64).reshape(-1, 5)
        return produced, consumed, sent, records

    def run(self, system, features, rows, duration):
        for key in ("BENCH_CURVE_SERVER", "BENCH_CURVE_PUBLIC", "BENCH_CURVE_SECRET"):
            os.environ.pop(key, None)  # only normd-curve's clients use CURVE
        port_in, port_out = self.ports()
        proc = None
        if system == "direct":
            consumer_ep, producer_ep = f"bind:tcp://127.0.0.1:{port_out}", f"tcp://127.0.0.1:{port_out}"
        else:
            proc, log = self.start_system(system, features, port_in, port_out)
            consumer_ep, producer_ep = f"tcp://127.0.0.1:{port_out}", f"tcp://127.0.0.1:{port_in}"
        try:
            load_before = loadavg()
            cpu_before = cpu_seconds(proc.pid) if proc else None
            io_before = io_thread_cpu_seconds(proc.pid) if proc else None
            faults_before = minor_faults(proc.pid) if proc else None
            produced, consumed, sent, rec = self.phase(features, rows, 0, duration, consumer_ep, producer_ep)
            cpu_after = cpu_seconds(proc.pid) if proc else None
            io_after = io_thread_cpu_seconds(proc.pid) if proc else None
            faults_after = minor_faults(proc.pid) if proc else None
            # Throughput over the consumer's receipts, the first one excluded (it opens the clock).
            span = (rec[-1, 0] - rec[0, 0]) / 1e9 if len(rec) > 1 else float("nan")
            rows_after_first = int(rec[1:, 3].sum())
            payload_after_first = int(rec[1:, 4].sum())
            rows_per_s = rows_after_first / span
            result = {
                "system": system, "features": features, "rows_per_message": rows,
                "rows_sent": produced["rows"], "rows_received": consumed["rows"],
                "rows_per_s": rows_per_s,
                "mb_per_s": rows_per_s * features * 4 / 1e6,
                "messages_per_s": rows_per_s / rows,
                "wire_mb_per_s": payload_after_first / span / 1e6,
                "load_before": load_before,
                # The middle system's own CPU (user + sys, every thread) over the max-rate phase, per
                # million rows it passed on: the figure a noisy machine blurs least (BENCHMARKS.md).
                "cpu_s_per_m_rows": (cpu_after - cpu_before) / (consumed["rows"] / 1e6)
                if cpu_before is not None and cpu_after is not None and consumed["rows"] else None,
                # The same, of the libzmq I/O threads alone (the rest is the application's threads).
                "io_cpu_s_per_m_rows": (io_after - io_before) / (consumed["rows"] / 1e6)
                if io_before is not None and io_after is not None and consumed["rows"] else None,
                # Minor page faults over the same phase, per thousand rows (Docs/LIMITS.md, "Memory the allocator keeps").
                "faults_per_k_rows": (faults_after - faults_before) / (consumed["rows"] / 1e3)
                if faults_before is not None and faults_after is not None and consumed["rows"] else None,
            }
            if consumed["rows"] != produced["rows"]:
                result["warning"] = f"received {consumed['rows']} of {produced['rows']} rows"
            lat_rate = LATENCY_RATE[rows]
            probe = subprocess.Popen([os.path.join(self.args.cbin, "stallprobe")], stdout=subprocess.PIPE, text=True)
            try:
                _, consumed2, sent2, rec2 = self.phase(features, rows, lat_rate, self.args.latency_duration or latency_seconds(rows),
                                                         consumer_ep, producer_ep)
            finally:
                probe.send_signal(signal.SIGTERM)
                stalls = json.loads(probe.communicate(timeout=10)[0])
            skip = max(1, len(rec2) // 20)  # warm-up
            rec2 = rec2[skip:]
            last, first = rec2[:, 2].astype(np.int64), rec2[:, 1].astype(np.int64)
            ok = (last >= 0) & (last < len(sent2)) & (first >= 0)
            latency = (rec2[ok, 0].astype(np.int64) - sent2[last[ok]].astype(np.int64)) / 1e3
            fill = (sent2[last[ok]].astype(np.int64) - sent2[first[ok]].astype(np.int64)) / 1e6
            result.update({
                "latency_rate_rows_per_s": lat_rate * rows,
                "latency_samples": int(ok.sum()),
                "p50_us": float(np.percentile(latency, 50)) if len(latency) else float("nan"),
                "p99_us": float(np.percentile(latency, 99)) if len(latency) else float("nan"),
                "max_us": float(latency.max()) if len(latency) else float("nan"),
                "fill_p50_ms": float(np.percentile(fill, 50)) if len(fill) else float("nan"),
                # The machine's own stalls over the latency phase (c/stallprobe.c).
                "stall_longest_ms": stalls["longest_gap_ms"],
                "steal_ms": stalls["steal_ms"],
            })
            result["peak_rss_mb"] = peak_rss_mb(proc.pid) if proc else None
            if system == "normd-admin":
                result["scrapes"], result["scrape_failures"] = self.scraper.scrapes, self.scraper.failures
            result["load_after"] = loadavg()
            return result
        finally:
            if getattr(self, "scraper", None):
                self.scraper.stop.set()
                self.scraper.join()
                self.scraper = None
            if proc:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def fmt(value, spec, scale=1.0):
    return "-" if value is None or value != value else format(value * scale, spec)


def print_table(results, header_lines):
    for line in header_lines:
        print(line)
    columns = ["workload", "system", "rows/s", "MB/s", "msg/s", "x fwd", "x py", "x normd", "CPU s/M rows", "CPU x fwd", "of it I/O threads", "faults/k rows", "p50 us", "p99 us", "fill p50 ms", "stall ms", "steal ms", "peak RSS MB"]
    rows = []
    for r in results:
        key = (r["features"], r["rows_per_message"])
        fwd = next((x for x in results if (x["features"], x["rows_per_message"]) == key and x["system"] == "forwarder"), None)
        py = next((x for x in results if (x["features"], x["rows_per_message"]) == key and x["system"] == "python"), None)
        plain = next((x for x in results if (x["features"], x["rows_per_message"]) == key and x["system"] == "normd"), None)
        rows.append([
            f"{r['features']}f x {r['rows_per_message']}r", r["system"],
            fmt(r["rows_per_s"], ",.0f"), fmt(r["mb_per_s"], ",.0f"), fmt(r["messages_per_s"], ",.0f"),
            fmt(r["rows_per_s"] / fwd["rows_per_s"] if fwd else None, ".2f"),
            fmt(r["rows_per_s"] / py["rows_per_s"] if py else None, ".2f"),
            fmt(r["rows_per_s"] / plain["rows_per_s"] if plain and r["system"] == "normd-admin" else None, ".3f"),
            fmt(r.get("cpu_s_per_m_rows"), ".3f"),
            fmt(r["cpu_s_per_m_rows"] / fwd["cpu_s_per_m_rows"] if fwd and r.get("cpu_s_per_m_rows") and fwd.get("cpu_s_per_m_rows") else None, ".2f"),
            fmt(r.get("io_cpu_s_per_m_rows"), ".3f"),
            fmt(r.get("faults_per_k_rows"), ".2f"),
            fmt(r["p50_us"], ",.0f"), fmt(r["p99_us"], ",.0f"), fmt(r["fill_p50_ms"], ".2f"),
            fmt(r.get("stall_longest_ms"), ".1f"), fmt(r.get("steal_ms"), ".0f"),
            fmt(r["peak_rss_mb"], ".1f"),
        ])
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    print(line(columns))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    for r in results:
        if r["system"] == "normd-admin":
            print(f"{r['features']}f x {r['rows_per_message']}r normd-admin: {r.get('scrapes')} scrapes of /metrics, {r.get('scrape_failures')} failed")
        if "warning" in r:
            print(f"warning: {r['features']}f x {r['rows_per_message']}r {r['system']}: {r['warning']}")


def print_pairs(results):
    """`--rounds N`: each system's rows/s, CPU per row and p99 over plain normd's *in the same round* (the rounds
    alternate the systems' order, so a load swing on the shared machine hits both sides of a pair),
    per round and as the median over the rounds, with the 1-min load average at each round's end."""
    print()
    print("| workload | system | ratio to normd, rows/s, per round | median | CPU s/M rows ratio, per round | median | p99 ratio, median | load at round end |")
    print("|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["features"], r["rows_per_message"]) for r in results})
    for features, rows in keys:
        here = [r for r in results if (r["features"], r["rows_per_message"]) == (features, rows)]
        for system in sorted({r["system"] for r in here} - {"normd"}):
            ratios, cpus, p99s, loads = [], [], [], []
            for round_ in sorted({r["round"] for r in here}):
                plain = next((r for r in here if r["round"] == round_ and r["system"] == "normd"), None)
                other = next((r for r in here if r["round"] == round_ and r["system"] == system), None)
                if plain and other:
                    ratios.append(other["rows_per_s"] / plain["rows_per_s"])
                    p99s.append(other["p99_us"] / plain["p99_us"])
                    if other.get("cpu_s_per_m_rows") and plain.get("cpu_s_per_m_rows"):
                        cpus.append(other["cpu_s_per_m_rows"] / plain["cpu_s_per_m_rows"])
                    loads.append(other["load_after"].split()[0])
            if ratios:
                cpu_cells = (f"{' '.join(f'{x:.2f}' for x in cpus)} | {float(np.median(cpus)):.2f}" if cpus else "- | -")
                print(f"| {features}f x {rows}r | {system} | {' '.join(f'{x:.2f}' for x in ratios)} | "
                      f"{float(np.median(ratios)):.2f} | {cpu_cells} | {float(np.median(p99s)):.2f} | {' '.join(loads)} |")


# A latency phase ran on a calm machine when its stall probe never overslept by more than STALL_MS
# and the hypervisor took at most STEAL_MS from the VM's CPUs (summed) over the phase. Idle, this VM
# loses ~13 ms of steal per second; one 100 ms freeze of a vCPU adds 100 ms. The probe sees only
# the vCPU it runs on, hence both tests.
STALL_MS = 10.0
STEAL_MS = 50.0


def machine_calm(r):
    return (r.get("stall_longest_ms") is not None and r["stall_longest_ms"] < STALL_MS
            and r.get("steal_ms") is not None and 0 <= r["steal_ms"] <= STEAL_MS)


def print_latency(results):
    """`--rounds N`: each system's p99 per round, next to the machine's longest stall and steal in that
    round's latency phase, and the median p99 over all rounds and over the rounds on a calm machine
    (`machine_calm`). The second is what the system itself does; the first, what a user on this
    machine sees."""
    print()
    print(f"| workload | system | p99 us per round (machine's longest stall ms / steal ms) | median p99 us | "
          f"median p99 us, calm rounds (stall < {STALL_MS:g} ms, steal <= {STEAL_MS:g} ms) | samples per round |")
    print("|---|---|---|---|---|---|")
    keys = sorted({(r["features"], r["rows_per_message"]) for r in results})
    for features, rows in keys:
        here = [r for r in results if (r["features"], r["rows_per_message"]) == (features, rows)]
        for system in sorted({r["system"] for r in here}):
            mine = sorted((r for r in here if r["system"] == system), key=lambda r: r["round"])
            cells = " ".join(f"{r['p99_us']:,.0f} ({fmt(r.get('stall_longest_ms'), '.0f')}/{fmt(r.get('steal_ms'), '.0f')})" for r in mine)
            calm = [r["p99_us"] for r in mine if machine_calm(r)]
            calm_cell = f"{float(np.median(calm)):,.0f} (of {len(calm)})" if calm else "- (of 0)"
            print(f"| {features}f x {rows}r | {system} | {cells} | {float(np.median([r['p99_us'] for r in mine])):,.0f} | {calm_cell} | "
                  f"{min(r['latency_samples'] for r in mine):,}–{max(r['latency_samples'] for r in mine):,} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--normd", required=True)
    parser.add_argument("--cbin", required=True)
    parser.add_argument("--baseline-normd", default=None,
                        help="the binary the `normd-baseline` system runs (a build to compare normd against)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--systems", default="direct,forwarder,python,normd,normd-admin")
    parser.add_argument("--workloads", default=None, help="e.g. 128x1,128x64")
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every system this many times per workload, alternating their order; with normd among the "
                             "systems, also print each one's ratio to normd within each round (paired)")
    parser.add_argument("--latency-duration", type=float, default=None,
                        help="seconds of the fixed-rate phase; by default long enough for 500 of normd's batches "
                             "(12.8 s at 1-row, 4 s at 64-row messages), 0.5 with --quick")
    args = parser.parse_args()
    if "normd-baseline" in args.systems.split(",") and not args.baseline_normd:
        parser.error("the normd-baseline system needs --baseline-normd PATH")
    if args.workloads:
        workloads = [tuple(int(x) for x in w.split("x")) for w in args.workloads.split(",")]
    elif args.quick:
        workloads = [(128, 1), (128, 64)]
    else:
        workloads = [(128, 1), (128, 64), (16, 1), (16, 64), (1024, 1), (1024, 64)]
    duration = args.duration or (0.5 if args.quick else 2.0)
    args.latency_duration = args.latency_duration or (0.5 if args.quick else None)  # None: latency_seconds(rows)
    latency_phase = (f"{args.latency_duration:g} s" if args.latency_duration
                     else f"until normd's {LATENCY_SAMPLES} batches (2 s at least)")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    started = time.time()
    header = [f"machine: {os.cpu_count()} cpus, {cpu}, {platform.system()} {platform.release()}",
              f"load average at start: {loadavg()}",
              f"batch {BATCH}; max-rate phase {duration:g} s; latency phase {latency_phase} at "
              + ", ".join(f"{v:,} msg/s for {k}-row messages" for k, v in LATENCY_RATE.items())]
    results = []
    with tempfile.TemporaryDirectory(prefix="normd-bench-") as work:
        runner = Runner(args, work)
        for features, rows in workloads:
            for round_ in range(args.rounds):
                systems = args.systems.split(",")
                for system in systems if round_ % 2 == 0 else systems[::-1]:
                    r = runner.run(system, features, rows, duration)
                    r["round"] = round_
                    results.append(r)
                    print(f"  {features}f x {rows}r {system:9s} {r['rows_per_s']:>12,.0f} rows/s  p99 {r['p99_us']:>8,.0f} us  "
                          f"CPU {fmt(r.get('cpu_s_per_m_rows'), '.3f')} s/M rows (I/O threads {fmt(r.get('io_cpu_s_per_m_rows'), '.3f')})  faults {fmt(r.get('faults_per_k_rows'), '.2f')}/k rows  "
                          f"stall {fmt(r.get('stall_longest_ms'), '.1f')} ms steal {fmt(r.get('steal_ms'), '.0f')} ms  load {r['load_after']}", file=sys.stderr, flush=True)
    header.append(f"load average at end: {loadavg()} (run took {time.time() - started:.0f} s)")
    print()
    print_table(results, header)
    if args.rounds > 1 and "normd" in args.systems.split(","):
        print_pairs(results)
    if args.rounds > 1:
        print_latency(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
