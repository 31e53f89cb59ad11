"""The README's example producer (Scripts/examples/producer.py) never loses its tail."""

from __future__ import annotations

import subprocess
import sys
import time

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
