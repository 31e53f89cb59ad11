"""The soak test's memory verdict: does normd leak, and does it stay within its bounded queues?

RSS (VmRSS, sampled every second) mixes two things that must be judged apart:

* **Transient peaks.** normd's queues are bounded (input `high_water_mark` messages per producer
  pipe, output `high_water_mark` batches per consumer pipe), so a stalled consumer fills them and
  the memory in use rises, then falls when they drain. Where glibc puts a refill depends on
  fragmentation: a later stall can peak a few MiB above the warm-up's stall with no leak at all.
  CI's one-minute soak failed exactly so (peak 45.4 MiB at 41 s, in consumer 1's second stall,
  against a 43.0 MiB warm-up peak; minimum after the warm-up 39.8 MiB, end 40.8 MiB, below that
  peak). Comparing every sample with the warm-up's peak judges heap placement, not leaks.
* **The floor.** What normd holds with its queues drained. A leak raises it and nothing lowers it.

Since normd keeps freed heap mapped (`AllocatorPolicy`, Docs/LIMITS.md), the resident size no longer
falls when the queues drain: its "floor" is the heap's high-water mark, and a later stall that
refills the queues in fresh pages raises it for good. A debootstrap run of `.ci/run` on a loaded
machine failed so: RSS stepped 45.5 -> 48.1 MiB at 43 s, inside consumer 1's second stall, and stayed
flat to the end. So the floor is read from glibc's own count of the bytes in use
(`normd_heap_bytes{state="in_use"}`, scraped from the admin endpoint every second), which falls back
when the queues drain.

So the verdict has two assertions:

1. **No leak:** the heap in use at the end of the run (its minimum over the last quarter, at least
   10 s) is at most `(1 + tolerance)` x its minimum in the warm-up after the first stall drained,
   plus `HEAP_SLACK_BYTES`: the idle payload buffers normd's output keeps or frees by the clock
   (`PayloadBufferPool`, at most 1 MiB), which a once-a-second sample finds there or not. The heap's
   floor is a few MiB (3.0-3.4 MiB in a local run), so that slack, not the 5 %, is what a leak must
   beat: about 2 MiB a minute in the one-minute CI soak, 0.1 MiB a minute in a 10-minute one.
2. **Bounded:** no RSS sample after the warm-up exceeds the warm-up's peak (every queue full once)
   x `(1 + tolerance)` plus the bytes the bounded queues can hold once more
   (`queue_capacity_bytes`): the most a refill in fresh pages can add. An unbounded queue grows
   by the offered rate (tens of MiB per second of stall here) and fails it at once.
"""

from dataclasses import dataclass

# `PayloadBufferPool.maxIdleBytes`: idle payload buffers the output keeps between trims.
HEAP_SLACK_BYTES = 1 << 20


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


def _floors(samples, drained, warmup):
    """(minimum after the first stall drained and before `warmup`, minimum over the last quarter after
    it (at least 10 s), where that quarter starts); None when either window is empty."""
    warm = [r for t, r in samples if drained <= t <= warmup]
    after = [(t, r) for t, r in samples if t > warmup]
    if not warm or len(after) < 3:
        return None
    end_t = samples[-1][0]
    tail_start = end_t - max(10.0, (end_t - warmup) / 4)
    return min(warm), min(r for t, r in after if t >= tail_start), tail_start


def judge(samples, *, heap, stall_first, stall_for, warmup, tolerance, queue_bytes):
    """Judges `samples`, a list of `(seconds since start, RSS KiB)`, and `heap`, one of `(seconds since
    start, heap in use KiB)`, as the module doc says."""
    failures = []
    drained = stall_first + stall_for
    window = [r for t, r in samples if stall_first <= t <= warmup]
    after = [(t, r) for t, r in samples if t > warmup]
    rss_floors = _floors(samples, drained, warmup)
    if not window or rss_floors is None:
        return Verdict([f"RSS: too few samples around the {warmup:g} s warm-up ({len(samples)} samples)"], {})
    heap_floors = _floors(heap, drained, warmup) if heap else None
    if heap_floors is None:
        return Verdict([f"heap in use: too few samples around the {warmup:g} s warm-up ({len(heap)} samples; "
                        "the admin endpoint's normd_heap_bytes)"], {})
    baseline = max(window)
    floor_before, floor_end, tail_start = rss_floors
    heap_before, heap_end, heap_tail_start = heap_floors
    peak_t, peak = max(after, key=lambda s: s[1])
    bound = baseline * (1 + tolerance) + queue_bytes / 1024
    figures = {
        "warmup_s": warmup, "baseline_mib": baseline / 1024, "floor_warmup_mib": floor_before / 1024,
        "floor_end_mib": floor_end / 1024, "tail_from_s": tail_start, "bound_mib": bound / 1024,
        "queue_capacity_mib": queue_bytes / 1024 / 1024, "peak_after_mib": peak / 1024, "peak_at_s": peak_t,
        "min_after_mib": min(r for _, r in after) / 1024, "end_mib": after[-1][1] / 1024,
        "slope_mib_per_min": _slope(after) * 60 / 1024, "max_overall_mib": max(r for _, r in samples) / 1024,
        "heap_floor_warmup_mib": heap_before / 1024, "heap_floor_end_mib": heap_end / 1024,
        "heap_max_mib": max(r for _, r in heap) / 1024,
    }
    if heap_end > heap_before * (1 + tolerance) + HEAP_SLACK_BYTES / 1024:
        failures.append(f"heap in use rose (a leak): {heap_end / 1024:.1f} MiB (min from {heap_tail_start:.0f} s) > "
                        f"{1 + tolerance:.2f} x {heap_before / 1024:.1f} MiB (min of {drained:g}-{warmup:g} s) + "
                        f"{HEAP_SLACK_BYTES / 1024 / 1024:g} MiB (idle payload buffers)")
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
