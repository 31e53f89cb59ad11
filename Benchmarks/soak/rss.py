"""The soak test's memory verdict: does normd leak, and does it stay within its bounded queues?

RSS (VmRSS, sampled every second) mixes two things that must be judged apart:

* **Transient peaks.** normd's queues are bounded (input `high_water_mark` messages per producer
  pipe, output `high_water_mark` batches per consumer pipe), so a stalled consumer fills them and
  RSS rises, then falls when they drain. Where glibc puts a refill depends on fragmentation: a
  later stall can peak a few MiB above the warm-up's stall with no leak at all. CI's one-minute
  soak failed exactly so (peak 45.4 MiB at 41 s, in consumer 1's second stall, against a 43.0 MiB
  warm-up peak; minimum after the warm-up 39.8 MiB, end 40.8 MiB, below that peak). Comparing every
  sample with the warm-up's peak judges heap placement,
  not leaks.
* **The floor.** What normd holds with its queues drained. A leak raises it and nothing lowers it.

So the verdict has two assertions:

1. **No leak:** the floor at the end of the run (the minimum over its last quarter, at least
   10 s) is at most `(1 + tolerance)` x the floor of the warm-up after the first stall drained.
2. **Bounded:** no sample after the warm-up exceeds the warm-up's peak (every queue full once)
   x `(1 + tolerance)` plus the bytes the bounded queues can hold once more
   (`queue_capacity_bytes`): the most a refill in fresh pages can add. An unbounded queue grows
   by the offered rate (tens of MiB per second of stall here) and fails it at once.
"""

from dataclasses import dataclass


def queue_capacity_bytes(producers, input_hwm, message_bytes, consumers, output_hwm, batch_bytes):
    """Bytes normd's bounded ZeroMQ queues hold when all are full.

    ZeroMQ's high-water mark is per pipe: one pipe per connected producer on the PULL input, one per
    connected consumer on the PUSH output. So the capacity is
    `producers x input_hwm x message_bytes + consumers x output_hwm x batch_bytes`.
    """
    return producers * input_hwm * message_bytes + consumers * output_hwm * batch_bytes


@dataclass
class Verdict:
    failures: list
    figures: dict


def judge(samples, *, stall_first, stall_for, warmup, tolerance, queue_bytes):
    """Judges `samples`, a list of `(seconds since start, RSS KiB)`, as the module doc says."""
    failures = []
    drained = stall_first + stall_for
    window = [r for t, r in samples if stall_first <= t <= warmup]
    warm_floor = [r for t, r in samples if drained <= t <= warmup]
    after = [(t, r) for t, r in samples if t > warmup]
    if not window or not warm_floor or len(after) < 3:
        return Verdict([f"RSS: too few samples around the {warmup:g} s warm-up ({len(samples)} samples)"], {})
    end_t = samples[-1][0]
    tail_start = end_t - max(10.0, (end_t - warmup) / 4)
    tail = [r for t, r in after if t >= tail_start]
    baseline, floor_before, floor_end = max(window), min(warm_floor), min(tail)
    peak_t, peak = max(after, key=lambda s: s[1])
    bound = baseline * (1 + tolerance) + queue_bytes / 1024
    figures = {
        "warmup_s": warmup, "baseline_mib": baseline / 1024, "floor_warmup_mib": floor_before / 1024,
        "floor_end_mib": floor_end / 1024, "tail_from_s": tail_start, "bound_mib": bound / 1024,
        "queue_capacity_mib": queue_bytes / 1024 / 1024, "peak_after_mib": peak / 1024, "peak_at_s": peak_t,
        "min_after_mib": min(r for _, r in after) / 1024, "end_mib": after[-1][1] / 1024,
        "slope_mib_per_min": _slope(after) * 60 / 1024, "max_overall_mib": max(r for _, r in samples) / 1024,
    }
    if floor_end > floor_before * (1 + tolerance):
        failures.append(f"RSS floor rose (a leak): {floor_end / 1024:.1f} MiB (min from {tail_start:.0f} s) > "
                        f"{1 + tolerance:.2f} x {floor_before / 1024:.1f} MiB (min of {drained:g}-{warmup:g} s)")
    if peak > bound:
        failures.append(f"RSS above its bound: {peak / 1024:.1f} MiB at {peak_t:.0f} s > {1 + tolerance:.2f} x "
                        f"{baseline / 1024:.1f} MiB (peak of {stall_first:g}-{warmup:g} s) + "
                        f"{queue_bytes / 1024 / 1024:.1f} MiB (the bounded queues' capacity)")
    return Verdict(failures, figures)


def _slope(points):
    """Least-squares slope of `points` (KiB per second); reported, not judged: one stall skews it."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (r - mean_r) for t, r in points) / spread if spread else 0.0
