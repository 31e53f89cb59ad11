"""The README's Python examples: the stock producer (Scripts/examples/producer.py) never loses its tail,
and the normd-client quick start runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import numpy as np
import zmq

from conftest import REPO


def test_the_example_producer_delivers_everything_even_when_normd_binds_late():
    # The producer connects before anything listens (normd still starting, or restarting) and
    # finishes sending at once: its 100 messages wait in its queue. Exiting without closing the
    # socket with a linger dropped them all; it must wait for the peer (up to its linger).
    context = zmq.Context()
    probe = context.socket(zmq.PULL)
    port = probe.bind_to_random_port("tcp://127.0.0.1")
    probe.close(linger=0)
    producer = subprocess.Popen([sys.executable, str(REPO / "Scripts" / "examples" / "producer.py")],
                                env={"NORMD_INPUT": "tcp://127.0.0.1:%d" % port}, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    pull = context.socket(zmq.PULL)
    pull.rcvtimeo = 10000
    pull.bind("tcp://127.0.0.1:%d" % port)
    received = []
    try:
        while len(received) < 100:
            received.append(pull.recv_multipart())
    except zmq.Again:
        pass
    assert producer.wait(timeout=30) == 0, producer.stderr.read() if producer.stderr else ""
    assert len(received) == 100
    assert [zmq.utils.jsonapi.loads(h)["seq"] for h, _ in received] == list(range(100))
    pull.close(linger=0)
    context.term()


def test_the_readme_package_quick_start_runs_against_the_default_config(daemon, tmp_path):
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- normd-client quick start -->\n```python\n(.*?)```", readme, flags=re.S)
    assert match, "README.md lost its normd-client quick start"
    default = (REPO / "Config" / "normd.yaml").read_text()
    config = default.replace("tcp://127.0.0.1:5555", "tcp://127.0.0.1:*").replace("tcp://127.0.0.1:5556", "tcp://127.0.0.1:*")
    assert config != default, "Config/normd.yaml no longer uses the README's endpoints"
    d = daemon(config)
    env = dict(os.environ, NORMD_INPUT=d.input("sensors"), NORMD_OUTPUT=d.output("sensors"))
    result = subprocess.run([sys.executable, "-c", match.group(1)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # 1000 rows in batches of 64: 15 full batches, then the 40 left, flushed after max_latency.
    assert [line.split(" positives")[0] for line in lines] == \
        ["%d train (64, 8)" % i for i in range(15)] + ["15 train (40, 8)"], result.stdout
    # The rejoined labels are exactly the producer's: count them from the same generator.
    rng = np.random.default_rng(0)
    positives = sum(int((rng.normal(loc=20.0, scale=5.0, size=(10, 8)).astype(np.float32)[:, 0] > 20).sum()) for _ in range(100))
    assert sum(int(line.split("positives ")[1]) for line in lines) == positives
    assert d.stop() == 0
