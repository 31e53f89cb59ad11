"""The soak's memory verdict (rss.py) on series shaped like real runs. Run by Scripts/test.sh's pytest."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import rss  # noqa: E402

MIB = 1024  # samples are KiB
QUEUES = rss.queue_capacity_bytes(producers=2, input_hwm=1000, message_bytes=1024 + 64,
                                  consumers=2, output_hwm=64, batch_bytes=256 * 16 * 4 + 64)


def series(floor_mib, bumps=(), leak_mib_per_s=0.0, seconds=62):
    """One sample a second at `floor_mib` (+ `leak_mib_per_s` x t), raised to `mib` at each `(t, mib)` bump."""
    raised = dict(bumps)
    return [(float(t), int((raised.get(t, floor_mib) + leak_mib_per_s * t) * MIB)) for t in range(seconds)]


def judge(samples, heap=None):
    """`heap` defaults to a flat 12 MiB in use, with the queues' 4 MiB in it during each stall (10-15 s, 40-45 s)."""
    if heap is None:
        heap = series(12.0, bumps=[(t, 16.0) for t in (11, 12, 13, 14, 41, 42, 43, 44)])
    return rss.judge(samples, heap=heap, stall_first=10, stall_for=5, warmup=30, tolerance=0.05, queue_bytes=QUEUES)


def test_queue_capacity_is_per_pipe():
    assert QUEUES == 2 * 1000 * 1088 + 2 * 64 * 16448


def test_a_later_stall_peaking_above_the_warm_up_is_not_a_leak():
    # Shaped like CI's failing one-minute run (stop 18): warm-up peak 43.0 MiB, later peak 45.4 at 41 s,
    # end 40.8 (its log printed these, and 39.8 as the minimum after the warm-up). The floor, 39.2, is
    # that of the same soak's passing run on this machine's fresh-clone CI 25 minutes before.
    samples = series(39.2, bumps=[(13, 43.0), (14, 42.4), (41, 45.4), (42, 41.2), (61, 40.8)])
    verdict = judge(samples)
    assert verdict.failures == []
    assert round(verdict.figures["floor_warmup_mib"], 2) == 39.2 and round(verdict.figures["floor_end_mib"], 2) == 39.2


def test_a_resident_size_that_steps_up_in_a_stall_and_stays_is_not_a_leak():
    # Shaped like the debootstrap root's `.ci/run` (4 Dec 2026, load 7): RSS 44.1 MiB in the warm-up,
    # 45.5 at 30-42 s, 48.1 from 43 s (consumer 1's second stall) to the end, flat. The heap in use
    # falls back after the stall. The verdict before normd_heap_bytes judged the RSS floor and failed it:
    # "RSS floor rose (a leak): 47.0 MiB (min from 50 s) > 1.05 x 44.1 MiB (min of 15-30 s)".
    samples = series(44.1, bumps=[(t, 45.5) for t in range(30, 43)] + [(t, 48.1) for t in range(43, 62)])
    verdict = judge(samples)
    assert verdict.failures == []
    assert round(verdict.figures["floor_end_mib"], 2) == 48.1 and round(verdict.figures["heap_floor_end_mib"], 2) == 12.0


def test_a_rising_floor_fails_as_a_leak():
    # 0.1 MiB/s: 6 MiB a minute, in the heap and so in RSS. The old peak-only check (every sample <=
    # 1.05 x the 46 MiB warm-up peak) passed this series: 45.3 MiB at 61 s < 48.3 MiB.
    samples = series(39.2, bumps=[(13, 46.0)], leak_mib_per_s=0.1)
    verdict = judge(samples, heap=series(12.0, bumps=[(13, 16.0)], leak_mib_per_s=0.1))
    assert verdict.failures == [
        "heap in use rose (a leak): 17.1 MiB (min from 51 s) > 1.05 x 13.5 MiB (min of 15-30 s) + 1 MiB (idle payload buffers)"]


def test_a_slower_leak_fails_in_the_heap_where_the_resident_size_hid_it():
    # 3 MiB a minute: within the old RSS-floor check (44.8 <= 1.05 x 43.0 MiB), over the heap's
    # (14.55 > 1.05 x 12.75 + 1 = 14.39 MiB).
    leak = 3.0 / 60
    verdict = judge(series(39.2, bumps=[(13, 46.0)], leak_mib_per_s=leak), heap=series(12.0, leak_mib_per_s=leak))
    assert round(verdict.figures["floor_end_mib"], 1) <= 1.05 * round(verdict.figures["floor_warmup_mib"], 1)
    assert verdict.failures == [
        "heap in use rose (a leak): 14.5 MiB (min from 51 s) > 1.05 x 12.8 MiB (min of 15-30 s) + 1 MiB (idle payload buffers)"]


def test_without_heap_samples_the_verdict_fails_rather_than_passes():
    verdict = judge(series(39.2), heap=[])
    assert verdict.failures == [
        "heap in use: too few samples around the 30 s warm-up (0 samples; the admin endpoint's normd_heap_bytes)"]


def test_a_queue_that_ignores_its_bound_fails():
    samples = series(39.2, bumps=[(13, 43.0), (41, 43.0 + 4.2 + 3.0 + 30.0)])
    verdict = judge(samples)
    assert verdict.failures == [
        "RSS above its bound: 80.2 MiB at 41 s > 1.05 x 43.0 MiB (peak of 10-30 s) + 4.1 MiB (the bounded queues' capacity)"]


def test_too_few_samples_is_a_failure_not_a_pass():
    verdict = judge(series(39.2, seconds=20))
    assert verdict.failures == ["RSS: too few samples around the 30 s warm-up (20 samples)"]
