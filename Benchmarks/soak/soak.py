"""normd soak test: hours of production-like traffic squeezed into minutes, then hard assertions.

Run by Benchmarks/soak.sh (which builds normd in release and the C clients first); see
Docs/RELIABILITY.md, "Soak test".

One pipeline (PULL in, PUSH out, min_max -> batch_norm on columns 3.., a checkpoint directory) gets
`--producers` C producers at about half the measured maximum rate; every `--bad-every`-th message is
malformed, cycling through eight rejection reasons. Two C consumers PULL the batches; the second
stops reading for `--stall-for` s every `--stall-every` s; the first once stalls
inside the second's first stall (normd blocks, its input queue fills, the producers block). normd's RSS is sampled every second.
When the producers are done and normd has taken every message, it gets SIGTERM.

Why PUSH: it hands each batch to exactly one consumer, losslessly (a full consumer is skipped, both
full blocks normd, which blocks the producers), so "every good row exactly once" is checkable across
the two consumers: the union of what they received is every good row, their intersection is empty.
(PUB would give each subscriber every row but drop for the stalled one by design.)

Assertions (exit 1 naming each one that failed):
  - memory (rss.py): no leak (the heap in use, normd_heap_bytes, at the end <= 1.05 x its floor in the warm-up after the first stall)
    and bounded (every sample after the warm-up <= 1.05 x the warm-up's peak, when every bounded queue
    has been full once, + the queues' capacity);
  - every good row delivered exactly once (per producer, row identities in columns 0-2) and no row of
    a bad message delivered; batch numbers 0..N-1 each delivered once;
  - the final counts: accepted = good sent, rejected by reason = bad sent by reason, rows published =
    rows received, no gaps, drops or failures, and `unsent_at_shutdown=0` (issue 14: the output drained);
  - exit 0, a final checkpoint that is the newest generation, readable by `normd state show`, whose
    min_max `n_samples_seen` equals the rows the consumers received in train batches.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np

import rss as memory

# Bytes a message or batch header adds to its payload in a ZeroMQ queue (JSON header frame and
# per-message bookkeeping), rounded up: only the RSS bound (rss.py) uses it.
HEADER_BYTES = 256

REASONS = ["malformed_header", "wrong_width", "non_finite", "oversize", "payload_size", "dtype", "frame_count", "shape"]
MAX_MESSAGE_BYTES = 65536


def config_text(features, batch, checkpoint, input_hwm, output_hwm):
    text = ""
    hwm = f", high_water_mark: {output_hwm}" if output_hwm else ""
    in_hwm = f", high_water_mark: {input_hwm}" if input_hwm else ""
    if checkpoint:
        text += "checkpoint: {path: state/, every_batches: 1000, every_seconds: 5, keep: 3}\n"
        # The soak run's daemon: its heap figures (normd_heap_bytes) judge leaks, rss.py.
        text += 'admin: {listen: "127.0.0.1:0"}\n'
    return text + f"""pipelines:
  - name: soak
    features: {features}
    mode: train
    batch: {{size: {batch}, min_rows: 2, max_latency: 50ms}}
    inputs:
      - {{endpoint: "tcp://127.0.0.1:*", socket: pull, codec: tensor, max_message_bytes: {MAX_MESSAGE_BYTES}{in_hwm}}}
    output: {{endpoint: "tcp://127.0.0.1:*", socket: push, codec: tensor{hwm}}}
    stages:                      # columns 0-2 carry each row's identity and are left alone
      - {{type: min_max, columns: ["3:"]}}
      - {{type: batch_norm, momentum: 0.99, epsilon: 0.001, columns: ["3:"]}}
"""


def parse_counts(text):
    """`messages_accepted=1 messages_rejected={a: 1, b: 2} …` -> {"messages_accepted": "1", "messages_rejected": {...}}."""
    out = {}
    for key, value in re.findall(r"(\w+)=(\{[^}]*\}|\S+)", text):
        if value.startswith("{"):
            out[key] = {k: int(v) for k, v in re.findall(r"(\w+): (\d+)", value)}
        else:
            out[key] = value
    return out


class Daemon:
    """`normd run` on a configuration in `directory`, stderr to `directory/normd.log`."""

    def __init__(self, normd, directory, config):
        self.directory = directory
        self.log_path = os.path.join(directory, "normd.log")
        with open(os.path.join(directory, "soak.yaml"), "w") as f:
            f.write(config)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([normd, "run", "--config", "soak.yaml", "--counts-interval", "1"],
                                        cwd=directory, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        CHILDREN.append(self.process)
        self.started = time.monotonic()
        self.input = self.output = self.admin = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            text = self.text()
            if 'msg="normd running"' in text:
                self.input = re.search(r'msg="input bound".*?endpoint=(\S+)', text).group(1)
                self.output = re.search(r'msg="output bound".*?endpoint=(\S+)', text).group(1)
                admin = re.search(r'msg="admin listening".*?address=(\S+)', text)
                self.admin = admin.group(1) if admin else None
                return
            time.sleep(0.05)
        raise SystemExit(f"soak: normd did not start (exit {self.process.poll()}):\n{self.text()}")

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def last_counts(self):
        """The latest periodic counts line."""
        found = re.findall(r'msg=counts .*?\bcounts="([^"]*)"', self.text())
        return parse_counts(found[-1]) if found else None

    def rss_kib(self):
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            return None
        return None

    def heap_in_use_kib(self):
        """`normd_heap_bytes{state="in_use"}` from the admin endpoint, in KiB; None without one or on any failure."""
        if not self.admin:
            return None
        try:
            with urllib.request.urlopen(f"http://{self.admin}/metrics", timeout=2) as answer:
                text = answer.read().decode()
        except OSError:
            return None
        found = re.search(r'^normd_heap_bytes\{state="in_use"\} (\S+)$', text, re.MULTILINE)
        return int(float(found.group(1)) / 1024) if found else None

    def stop(self, timeout):
        """SIGTERM; returns the exit code, or None if it had to be killed after `timeout` s."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


CHILDREN = []  # every process started, killed at exit if still running (a failed run leaves none behind)


def start(args, **kwargs):
    process = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, **kwargs)
    CHILDREN.append(process)
    return process


def kill_children():
    for process in CHILDREN:
        if process.poll() is None:
            process.kill()
            process.wait()


def result(process, name, timeout):
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise SystemExit(f"soak: {name} did not finish within {timeout} s")
    if process.returncode != 0:
        raise SystemExit(f"soak: {name} exited {process.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def run_clients(opts, daemon, directory, rate, seconds, bad_every, stall):
    """Starts consumers then producers; returns (consumer processes, producer results)."""
    done = os.path.join(directory, "done")
    consumers = []
    for index in range(2):
        # Consumer 1 stalls `stall_for` s every `stall_every` s. Consumer 0 stalls once, inside consumer
        # 1's first stall, so during the warm-up every bounded queue is full at least once (both output
        # pipes, then normd's input queue behind them): the RSS baseline includes all of them.
        if not stall:
            first, every, pause = 0, 0, 0
        elif index == 1:
            first, every, pause = opts.stall_first, opts.stall_every, opts.stall_for
        else:
            first, every, pause = opts.stall_first + opts.stall_for / 2, 0, opts.stall_for / 2
        consumers.append(start([os.path.join(opts.bin, "soak-consumer"), daemon.output, opts.features, opts.producers,
                                first, every, pause, done, os.path.join(directory, f"consumer{index}")]))
    time.sleep(0.3)  # both consumers connected before the first batch, so PUSH spreads from the start
    producers = [start([os.path.join(opts.bin, "soak-producer"), daemon.input, opts.features, opts.rows,
                        rate / opts.producers, seconds, index, bad_every, MAX_MESSAGE_BYTES])
                 for index in range(opts.producers)]
    # A daemon that dies mid-run would leave the producers blocked in a send forever: watch it.
    while any(p.poll() is None for p in producers):
        if daemon.process.poll() is not None:
            tail = "\n".join(daemon.text().splitlines()[-20:])
            raise SystemExit(f"soak: FAILED: normd exited {daemon.process.returncode} while the producers were sending:\n{tail}")
        time.sleep(0.5)
    sent = [result(p, f"producer {i}", 60) for i, p in enumerate(producers)]
    return consumers, sent


def taken_messages(counts):
    rejected = counts.get("messages_rejected")
    return int(counts["messages_accepted"]) + (sum(rejected.values()) if isinstance(rejected, dict) else 0)


def wait_taken(daemon, total, timeout):
    """Waits until normd has accepted or rejected `total` messages; returns the last counts."""
    deadline = time.monotonic() + timeout
    counts = None
    while time.monotonic() < deadline:
        counts = daemon.last_counts()
        if counts and taken_messages(counts) >= total:
            return counts, True
        time.sleep(0.5)
    return counts, False


def finish(opts, daemon, consumers, directory):
    code = daemon.stop(opts.shutdown_timeout)
    open(os.path.join(directory, "done"), "w").close()
    received = [result(c, f"consumer {i}", 60) for i, c in enumerate(consumers)]
    return code, received


def probe(opts):
    """Maximum rate: good messages only, producers unpaced, no stalls, for `--probe-seconds`."""
    directory = os.path.join(opts.work, "probe")
    os.makedirs(directory)
    daemon = Daemon(opts.normd, directory, config_text(opts.features, opts.batch, checkpoint=False, input_hwm=opts.input_hwm, output_hwm=opts.output_hwm))
    consumers, sent = run_clients(opts, daemon, directory, 0, opts.probe_seconds, 0, stall=False)
    wait_taken(daemon, sum(s["messages"] for s in sent), 60)
    _, received = finish(opts, daemon, consumers, directory)
    rows = sum(r["rows"] for r in received)
    span = (max(r["last_ns"] for r in received) - min(r["first_ns"] for r in received)) / 1e9
    return rows / span / opts.rows, rows / span


def popcount(bits):
    return int(np.bitwise_count(bits).sum()) if bits.size else 0


def load_bits(path, length):
    bits = np.fromfile(path, dtype=np.uint8)
    return np.pad(bits, (0, max(0, length - bits.size)))


def check_exactly_once(paths, expected, what):
    """`paths`: one bitmap per consumer; bits [0, expected) must be set in exactly one of them, no other."""
    failures = []
    length = max([os.path.getsize(p) for p in paths] + [(expected + 7) // 8])
    maps = [load_bits(p, length) for p in paths]
    both = popcount(maps[0] & maps[1])
    union = maps[0] | maps[1]
    full = np.zeros(length, dtype=np.uint8)
    full[: expected // 8] = 0xFF
    if expected % 8:
        full[expected // 8] = (1 << (expected % 8)) - 1
    missing = popcount(full & ~union)
    extra = popcount(union & ~full)
    if both:
        failures.append(f"{what}: {both} delivered to both consumers")
    if missing:
        first = int(np.flatnonzero(np.unpackbits(full & ~union, bitorder="little"))[0])
        failures.append(f"{what}: {missing} of {expected} never delivered (first: {first})")
    if extra:
        failures.append(f"{what}: {extra} delivered that were never sent as good")
    return failures, [popcount(m) for m in maps]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("minutes", type=float, nargs="?", default=10.0)
    parser.add_argument("--rate", type=float, help="offered messages/s, all producers, good and bad (default: half the probed maximum)")
    parser.add_argument("--fraction", type=float, default=0.5, help="fraction of the probed maximum to offer (default 0.5)")
    parser.add_argument("--normd", default=".build/release/normd")
    parser.add_argument("--bin", default=".build/soak", help="where soak-producer and soak-consumer are")
    parser.add_argument("--work", default=None, help="scratch directory (default: a new one under .build/soak)")
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--rows", type=int, default=16, help="rows per message")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--input-hwm", type=int, default=1000,
                        help="input high_water_mark in messages (default 1000, about 1 MiB; 0 = normd's default, 4096 here)")
    parser.add_argument("--output-hwm", type=int, default=64,
                        help="output high_water_mark in batches (default 64 = 1 MiB per consumer; 0 = normd's default, 64 MiB, "
                             "which every stall fills: RSS then follows glibc's heap high-water mark rather than leaks)")
    parser.add_argument("--bad-every", type=int, default=10, help="every Nth message is malformed (10 = 10 %%)")
    parser.add_argument("--stall-first", type=float, default=10.0)
    parser.add_argument("--stall-every", type=float, default=30.0)
    parser.add_argument("--stall-for", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, help="seconds (default: max(30, 10 %% of the run))")
    parser.add_argument("--probe-seconds", type=float, default=5.0)
    parser.add_argument("--shutdown-timeout", type=float, default=60.0, help="seconds SIGTERM may take")
    parser.add_argument("--rss-tolerance", type=float, default=0.05)
    opts = parser.parse_args()
    opts.normd, opts.bin = os.path.abspath(opts.normd), os.path.abspath(opts.bin)
    seconds = opts.minutes * 60
    warmup = opts.warmup if opts.warmup is not None else max(30.0, 0.1 * seconds)
    if opts.work is None:
        os.makedirs(opts.bin, exist_ok=True)
        opts.work = os.path.join(opts.bin, time.strftime("run-%Y%m%d-%H%M%S"))
    os.makedirs(opts.work)
    print(f"soak: {opts.minutes:g} min, work directory {opts.work}, load {open('/proc/loadavg').read().split()[:3]}", flush=True)

    max_rate = max_rows = None
    if opts.rate is None:
        max_rate, max_rows = probe(opts)
        opts.rate = opts.fraction * max_rate
        print(f"soak: probe: max {max_rate:,.0f} msg/s ({max_rows:,.0f} rows/s) of {opts.rows}x{opts.features}; "
              f"offering {opts.rate:,.0f} msg/s", flush=True)

    directory = os.path.join(opts.work, "soak")
    os.makedirs(directory)
    daemon = Daemon(opts.normd, directory, config_text(opts.features, opts.batch, checkpoint=True, input_hwm=opts.input_hwm, output_hwm=opts.output_hwm))
    samples = []  # (seconds since start, RSS KiB)
    heap_samples = []  # (seconds since start, heap in use KiB)
    stop_sampling = threading.Event()

    def sample():
        while not stop_sampling.is_set():
            rss = daemon.rss_kib()
            if rss is not None:
                samples.append((time.monotonic() - daemon.started, rss))
            heap = daemon.heap_in_use_kib()
            if heap is not None:
                heap_samples.append((time.monotonic() - daemon.started, heap))
            stop_sampling.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    loads = []
    consumers, sent = run_clients(opts, daemon, directory, opts.rate, seconds, opts.bad_every, stall=True)
    loads.append(open("/proc/loadavg").read().split()[:3])
    total = sum(s["messages"] for s in sent)
    before_stop, taken = wait_taken(daemon, total, 120)
    sent_at_stop = time.monotonic() - daemon.started
    stop_sampling.set()
    sampler.join()
    code, received = finish(opts, daemon, consumers, directory)
    log = daemon.text()

    failures = []
    if not taken:
        failures.append(f"normd had not taken all {total} messages 120 s after the producers finished: {before_stop}")

    # --- RSS ---
    with open(os.path.join(opts.work, "rss.csv"), "w") as f:
        f.write("seconds,rss_kib\n")
        f.writelines(f"{t:.1f},{r}\n" for t, r in samples)
    message_bytes = opts.rows * opts.features * 4 + HEADER_BYTES
    batch_bytes = opts.batch * opts.features * 4 + HEADER_BYTES
    input_hwm = opts.input_hwm or 4096
    output_hwm = opts.output_hwm or 64 * 1024 * 1024 // batch_bytes
    queue_bytes = memory.queue_capacity_bytes(opts.producers, input_hwm, message_bytes, 2, output_hwm, batch_bytes)
    with open(os.path.join(opts.work, "heap.csv"), "w") as f:
        f.write("seconds,heap_in_use_kib\n")
        f.writelines(f"{t:.1f},{r}\n" for t, r in heap_samples)
    verdict = memory.judge(samples, heap=heap_samples, stall_first=opts.stall_first, stall_for=opts.stall_for, warmup=warmup,
                           tolerance=opts.rss_tolerance, queue_bytes=queue_bytes)
    failures += verdict.failures
    rss = verdict.figures

    # --- exactly once ---
    good_rows = {s["producer"]: s["good_rows"] for s in sent}
    for index, r in enumerate(received):
        for key in ("duplicate_rows", "duplicate_batches", "foreign_rows", "bad_messages"):
            if r[key]:
                failures.append(f"consumer {index}: {key}={r[key]}")
    per_consumer = []
    for p in sorted(good_rows):
        problems, split = check_exactly_once([os.path.join(directory, f"consumer{i}.p{p}.bits") for i in range(2)],
                                             good_rows[p], f"producer {p} good rows")
        failures += problems
        per_consumer.append(split)
    final = parse_counts(re.findall(r'msg="final counts" .*?\bcounts="([^"]*)"', log)[-1]) if 'msg="final counts"' in log else None
    if final is None:
        failures.append("no final counts line in the log")
        final = {}
    batches = int(final.get("batches", -1))
    if batches >= 0:
        problems, batch_split = check_exactly_once([os.path.join(directory, f"consumer{i}.batches.bits") for i in range(2)],
                                                   batches, "batch numbers")
        failures += problems
    else:
        batch_split = None

    # --- counts ---
    good_messages = sum(s["good_messages"] for s in sent)
    rows_sent = sum(good_rows.values())
    bad_sent = {reason: sum(s["bad"][reason] for s in sent) for reason in REASONS}
    bad_sent = {k: v for k, v in bad_sent.items() if v}
    rows_received = sum(r["rows"] for r in received)
    expect = {"messages_accepted": good_messages, "rows_accepted": rows_sent, "rows_published": rows_sent,
              "seq_gaps": 0, "messages_missed": 0, "seq_restarts": 0, "batches_dropped": 0, "batches_failed": 0}
    for key, value in expect.items():
        if final.get(key) != str(value):
            failures.append(f"final counts: {key}={final.get(key)}, expected {value}")
    if final.get("messages_rejected") != (bad_sent or "0"):
        failures.append(f"final counts: messages_rejected={final.get('messages_rejected')}, sent bad: {bad_sent}")
    if final.get("rows_dropped") != "0":
        failures.append(f"final counts: rows_dropped={final.get('rows_dropped')}, expected 0")
    if rows_received != rows_sent:
        failures.append(f"consumers received {rows_received} rows, producers sent {rows_sent} good rows")
    if final.get("unsent_at_shutdown") != "0":
        failures.append(f"final counts: unsent_at_shutdown={final.get('unsent_at_shutdown', '(absent)')}, expected 0 "
                        "(both consumers were reading at SIGTERM, so the output must have drained; issue 14 item 2)")

    # --- exit and final checkpoint ---
    if code != 0:
        failures.append(f"normd exit code {code if code is not None else 'none: killed after %g s' % opts.shutdown_timeout}, expected 0")
    checkpoint = {}
    lines = [line for line in log.splitlines() if 'msg="final checkpoint"' in line]
    if not lines:
        failures.append("no final checkpoint line in the log")
    else:
        name = re.search(r"file=(\S+)", lines[-1]).group(1)
        path = os.path.join(directory, name)
        generations = sorted(f for f in os.listdir(os.path.join(directory, "state")) if re.fullmatch(r"normd-state-\d+\.json", f))
        checkpoint = {"file": name, "newest": generations[-1] if generations else None}
        if not os.path.isfile(path):
            failures.append(f"the final checkpoint {name} does not exist")
        elif os.path.basename(path) != checkpoint["newest"]:
            failures.append(f"the final checkpoint {name} is not the newest generation ({checkpoint['newest']})")
        else:
            shown = subprocess.run([opts.normd, "state", "show", path], capture_output=True, text=True)
            seen = re.search(r"min_max.*n_samples_seen=(\d+)", shown.stdout)
            train_rows = rows_received - sum(r["infer_rows"] for r in received)
            checkpoint["n_samples_seen"] = int(seen.group(1)) if seen else None
            if shown.returncode != 0 or not seen:
                failures.append(f"normd state show {name}: exit {shown.returncode}: {shown.stdout}{shown.stderr}")
            elif int(seen.group(1)) != train_rows:
                failures.append(f"final checkpoint: min_max n_samples_seen={seen.group(1)}, consumers got {train_rows} train rows")

    # --- report ---
    span = max(s["seconds"] for s in sent)
    summary = {
        "minutes": opts.minutes, "offered_msg_per_s": opts.rate, "probe_max_msg_per_s": max_rate, "probe_max_rows_per_s": max_rows,
        "sent_msg_per_s": total / span, "good_rows_per_s": rows_sent / span,
        "producers": sent, "consumers": received, "rows_per_producer_per_consumer": per_consumer, "batches_per_consumer": batch_split,
        "final_counts": final, "exit_code": code, "seconds_to_take_all": sent_at_stop, "rss": rss, "checkpoint": checkpoint,
        "load_at_end_of_sending": loads, "load_at_end": open("/proc/loadavg").read().split()[:3],
        "failures": failures,
    }
    with open(os.path.join(opts.work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"soak: sent {total:,} messages ({total / span:,.0f}/s; good rows {rows_sent:,}, {rows_sent / span:,.0f}/s), "
          f"bad {bad_sent}", flush=True)
    print(f"soak: consumers got {[r['rows'] for r in received]} rows, {[r['messages'] for r in received]} batches, "
          f"stalls {[r['stalls'] for r in received]}; normd exit {code}", flush=True)
    if rss:
        print("soak: RSS MiB: floor %.1f in the warm-up, %.1f at the end (from %.0f s); peak %.1f at %.0f s within %.1f "
              "(warm-up peak %.1f + queues %.1f); end %.1f, slope %+.3f MiB/min"
              % (rss["floor_warmup_mib"], rss["floor_end_mib"], rss["tail_from_s"], rss["peak_after_mib"], rss["peak_at_s"],
                 rss["bound_mib"], rss["baseline_mib"], rss["queue_capacity_mib"], rss["end_mib"], rss["slope_mib_per_min"]),
              flush=True)
        print("soak: heap in use MiB (normd_heap_bytes): floor %.1f in the warm-up, %.1f at the end; max %.1f"
              % (rss["heap_floor_warmup_mib"], rss["heap_floor_end_mib"], rss["heap_max_mib"]), flush=True)
    print(f"soak: final counts {final}", flush=True)
    print(f"soak: figures in {opts.work}/summary.json, RSS in {opts.work}/rss.csv, heap in {opts.work}/heap.csv", flush=True)
    if failures:
        print("soak: FAILED", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print("soak: passed", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_children()
