"""Producer -> normd -> Consumer through the real daemon, in every output codec."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import zmq

import normd
from conftest import apply, logfmt, pipeline_yaml


def receive_rows(consumer: normd.Consumer, count: int):
    batches, total = [], 0
    while total < count:
        batch = consumer.recv()
        batches.append(batch)
        total += batch.rows.shape[0]
    return batches


@pytest.mark.parametrize("codec", ["tensor", "npy", "json"])
def test_round_trip_equals_normd_apply(daemon, tmp_path, codec):
    config = pipeline_yaml(features=4, batch=16, codec=codec)
    d = daemon(config)
    rng = np.random.default_rng(7)
    messages = [rng.normal(3.0, 2.0, size=(8, 4)).astype(np.float32) for _ in range(8)]  # 64 rows: 4 full batches
    with normd.Consumer(d.output(), timeout_ms=20000) as consumer:
        with normd.Producer(d.input(), producer="rt") as producer:
            keys = [producer.send(m) for m in messages]
        batches = receive_rows(consumer, 64)
    assert keys == [("rt", seq) for seq in range(8)]
    assert [b.rows.shape for b in batches] == [(16, 4)] * 4
    assert all(b.codec == codec for b in batches)
    assert all(b.rows.dtype == np.float32 and not b.rows.flags.writeable for b in batches)
    if codec != "json":  # zero-copy: the rows are a view of the received frame's memory
        assert all(np.shares_memory(b.rows, np.frombuffer(b._frames[-1].buffer, np.uint8)) for b in batches)
    expected = apply(d.config_path, np.concatenate(messages), tmp_path, batch_size=16)
    np.testing.assert_array_equal(np.concatenate([b.rows for b in batches]), expected)
    assert consumer.missed_batches == 0
    if codec == "npy":
        assert all(b.header is None and b.batch is None and b.sources is None for b in batches)
        with pytest.raises(normd.NoHeaderError, match="npy output codec sends no header"):
            batches[0].take({})
    else:
        assert [b.batch for b in batches] == [0, 1, 2, 3]
        assert {(b.pipeline, b.mode, tuple(b.stages), b.downgraded) for b in batches} == \
            {("p", "train", ("min_max", "batch_norm"), None)}
        assert [s for s in batches[0].sources] == [
            {"producer": "rt", "seq": 0, "rows": [0, 8], "message_rows": [0, 8]},
            {"producer": "rt", "seq": 1, "rows": [8, 16], "message_rows": [0, 8]}]
        labels = {key: np.arange(8) + 100 * key[1] for key in keys}
        np.testing.assert_array_equal(np.concatenate([b.take(labels) for b in batches]),
                                      np.concatenate([labels[k] for k in keys]))
    assert d.stop() == 0


def test_label_rejoin_with_two_producers_and_split_messages(daemon):
    # Column 0 passes through unnormalized (the stages take columns 1-2), so each output row says
    # which input row it is: its label must be that id.
    stages = "      - {type: min_max, columns: [\"1:3\"]}\n      - {type: batch_norm, columns: [\"1:3\"]}\n"
    d = daemon(pipeline_yaml(features=3, batch=16, stages=stages))
    labels = {}
    lock = threading.Lock()

    def produce(index: int) -> None:
        rng = np.random.default_rng(index)
        with normd.Producer(d.input(), producer="cam-%d" % index) as producer:
            for seq in range(20):  # 7 rows a message: messages straddle the 16-row batches
                ids = index * 100000 + seq * 100 + np.arange(7)
                rows = np.column_stack([ids, rng.normal(size=(7, 2))]).astype(np.float32)
                with lock:
                    labels[(producer.producer, producer.seq)] = ids
                producer.send(rows)

    with normd.Consumer(d.output(), timeout_ms=20000) as consumer:
        threads = [threading.Thread(target=produce, args=(i,)) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        batches = receive_rows(consumer, 2 * 20 * 7 - 280 % 16)  # full batches; the rest waits for latency
    split = [s for b in batches for s in b.sources if s["message_rows"] != [0, 7]]
    assert split, "no message was split across batches"
    assert {s["producer"] for b in batches for s in b.sources} == {"cam-1", "cam-2"}
    for batch in batches:
        np.testing.assert_array_equal(batch.take(labels), batch.rows[:, 0].astype(np.int64))
    with pytest.raises(KeyError, match="no labels for producer"):
        batches[0].take({})


PRODUCE_AND_EXIT = textwrap.dedent("""
    import sys, numpy as np, normd
    p = normd.Producer(sys.argv[1], producer="quick")
    for seq in range(200):
        p.send(np.full((5, 4), seq, dtype=np.float32))
    p.close()
""")


def test_a_producer_that_sends_and_exits_at_once_loses_nothing(daemon):
    d = daemon(pipeline_yaml(features=4, batch=50))
    with normd.Consumer(d.output(), timeout_ms=20000) as consumer:
        result = subprocess.run([sys.executable, "-c", PRODUCE_AND_EXIT, d.input()], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        batches = receive_rows(consumer, 1000)
    assert sum(b.rows.shape[0] for b in batches) == 1000
    assert [b.batch for b in batches] == list(range(20))
    seqs = sorted(s["seq"] for b in batches for s in b.sources)
    assert sorted(set(seqs)) == list(range(200))
    assert d.stop() == 0
    counts = logfmt(d.wait_for(lambda f: f.get("msg") == "final counts", "final counts")["counts"])
    assert counts.get("messages_accepted") == "200" and counts.get("seq_gaps", "0") == "0", counts


def test_producer_checks_and_converts_its_input(daemon):
    d = daemon(pipeline_yaml(features=4, batch=4))
    with normd.Consumer(d.output(), timeout_ms=20000) as consumer, normd.Producer(d.input(), producer="x") as p:
        with pytest.warns(UserWarning, match="float64 rows are converted"):
            p.send(np.arange(8, dtype=np.float64).reshape(2, 4))
        p.send(np.arange(16, dtype=np.float32).reshape(4, 4).T[:, :2].T)  # not C-contiguous: copied
        with pytest.raises(ValueError, match="1-D .one row. or 2-D"):
            p.send(np.zeros((1, 2, 4), np.float32))
        with pytest.raises(TypeError, match="float32 or float64"):
            p.send(np.zeros((1, 4), np.int32))
        batch = consumer.recv()
    assert batch.sources == [{"producer": "x", "seq": 0, "rows": [0, 2], "message_rows": [0, 2]},
                             {"producer": "x", "seq": 1, "rows": [2, 4], "message_rows": [0, 2]}]
    with pytest.raises(ValueError, match="at most 256"):
        normd.Producer("tcp://127.0.0.1:1", producer="n" * 257)


def test_missed_batches_counts_gaps_in_batch_numbers():
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.linger = 0
    port = push.bind_to_random_port("tcp://127.0.0.1")
    with normd.Consumer("tcp://127.0.0.1:%d" % port, timeout_ms=10000) as consumer:
        for number in (0, 1, 4, 5, 9):
            header = {"dtype": "<f4", "shape": [1, 2], "pipeline": "p", "batch": number, "mode": "train",
                      "stages": [], "stats_version": number, "sources": []}
            push.send_json(header, zmq.SNDMORE)
            push.send(np.zeros((1, 2), np.float32))
        assert [consumer.recv().batch for _ in range(5)] == [0, 1, 4, 5, 9]
        assert consumer.missed_batches == 2 + 3
    push.close()
    context.term()


def test_a_pub_producer_with_a_topic_feeds_a_sub_input(daemon):
    with normd.Producer("tcp://127.0.0.1:*", socket="pub", producer="pub-1", topic="features.a") as producer:
        config = pipeline_yaml(features=2, batch=4).replace(
            '{endpoint: "tcp://127.0.0.1:*", socket: pull, bind: true, codec: tensor}',
            '{endpoint: "%s", socket: sub, topics: ["features."], codec: tensor}' % producer.last_endpoint)
        d = daemon(config)
        with normd.Consumer(d.output(), timeout_ms=100) as consumer:
            batch = None
            for _ in range(200):  # a SUB joins late (the slow joiner): send until a batch comes back
                producer.send(np.ones((4, 2), np.float32))
                try:
                    batch = consumer.recv()
                    break
                except TimeoutError:
                    continue
    assert batch is not None and batch.rows.shape == (4, 2)
    assert [s["producer"] for s in batch.sources] == ["pub-1"]
    assert d.stop() == 0
