"""``python -m normd tail`` against the real daemon."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np

import normd
from conftest import pipeline_yaml


def test_tail_prints_one_line_per_batch_of_a_pub_output(daemon):
    d = daemon(pipeline_yaml(features=4, batch=8, output_socket="pub"))
    tail = subprocess.Popen([sys.executable, "-m", "normd", "tail", d.output(), "--count", "3", "--timeout", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rng = np.random.default_rng(5)
    with normd.Producer(d.input(), producer="t") as producer:
        # A SUB joins late (the slow joiner): keep sending until tail has seen its three batches.
        deadline = time.monotonic() + 30
        while tail.poll() is None and time.monotonic() < deadline:
            producer.send(rng.normal(size=(8, 4)).astype(np.float32))
            time.sleep(0.02)
    out, err = tail.communicate(timeout=30)
    assert tail.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3, out
    pattern = (r"^pipeline=p batch=(\d+) mode=train rows=8 stats_version=(\d+)"
               r" c0=(\S+)±(\S+) c1=\S+±\S+ c2=\S+±\S+$")
    numbers = []
    for line in lines:
        match = re.match(pattern, line)
        assert match, line
        numbers.append(int(match.group(1)))
        # batch-normalized in train mode: each column has mean 0 and std sqrt(var / (var + epsilon)) over
        # the batch, a little below 1 (epsilon 0.001 against min-max scaled columns' small variance)
        assert abs(float(match.group(3))) < 1e-4 and 0.5 < float(match.group(4)) <= 1.0, line
    assert numbers == list(range(numbers[0], numbers[0] + 3))


def test_tail_refuses_to_steal_from_a_push_output_without_steal():
    result = subprocess.run([sys.executable, "-m", "normd", "tail", "tcp://127.0.0.1:1", "--socket", "pull"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 64
    assert result.stdout == ""
    assert result.stderr == ("normd tail: a PULL socket on a PUSH output takes its round-robin share of the batches "
                             "away from the trainer\nnormd tail: refusing without --steal (observe a pub/xpub output "
                             "with --socket sub instead)\n")


def test_tail_with_steal_takes_batches_from_a_push_output(daemon):
    d = daemon(pipeline_yaml(features=2, batch=4))
    with normd.Producer(d.input()) as producer:
        producer.send(np.arange(8, dtype=np.float32).reshape(4, 2))
    result = subprocess.run([sys.executable, "-m", "normd", "tail", d.output(), "--socket", "pull", "--steal",
                             "--count", "1", "--timeout", "20"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pipeline=p batch=0 mode=train rows=4 stats_version=1 c0=")
    assert "takes its round-robin share" in result.stderr
