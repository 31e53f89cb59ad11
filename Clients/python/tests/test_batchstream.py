"""normd.torch.BatchStream: the IterableDataset protocol directly, and through a real DataLoader when torch is installed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import normd
from normd.torch import BatchStream
from conftest import pipeline_yaml

STAGES = "      - {type: min_max, columns: [\"1:3\"]}\n"


def send_labelled(endpoint, messages=6):
    labels = {}
    with normd.Producer(endpoint, producer="bs") as producer:
        for seq in range(messages):
            ids = seq * 10 + np.arange(6)
            labels[producer.send(np.column_stack([ids, np.ones((6, 2))]).astype(np.float32))] = ids
    return labels


def test_the_iterable_dataset_protocol(daemon):
    d = daemon(pipeline_yaml(features=3, batch=12, stages=STAGES))
    labels = send_labelled(d.input())
    stream = BatchStream(d.output(), labels=labels, timeout_ms=1000)
    # Lazy: nothing is connected before __iter__, so the dataset pickles into DataLoader workers.
    assert not any(isinstance(v, normd.Consumer) for v in vars(stream).values())
    stream = pickle.loads(pickle.dumps(stream))
    items = list(iter(stream))  # ends when no batch came for timeout_ms
    assert len(items) == 3
    for rows, y in items:
        rows, y = np.asarray(rows), np.asarray(y)
        assert rows.shape == (12, 3) and rows.flags.writeable  # torch.from_numpy needs a writable array
        np.testing.assert_array_equal(y, rows[:, 0].astype(y.dtype))
    # A second iteration makes a fresh socket (and finds the stream drained).
    assert list(iter(stream)) == []


def test_without_labels_items_are_the_rows(daemon):
    d = daemon(pipeline_yaml(features=3, batch=12, stages=STAGES))
    send_labelled(d.input(), messages=2)
    assert [np.asarray(x).shape for x in BatchStream(d.output(), timeout_ms=1000)] == [(12, 3)]


def test_a_real_dataloader(daemon):
    torch = pytest.importorskip("torch")
    d = daemon(pipeline_yaml(features=3, batch=12, stages=STAGES))
    labels = send_labelled(d.input())
    loader = torch.utils.data.DataLoader(BatchStream(d.output(), labels=labels, timeout_ms=1000), batch_size=None)
    items = list(loader)
    assert len(items) == 3 and all(isinstance(x, torch.Tensor) and x.shape == (12, 3) for x, _ in items)
    for x, y in items:
        assert torch.equal(x[:, 0].long(), y.long())
