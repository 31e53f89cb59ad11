"""``BatchStream``: normd's batches as a PyTorch ``IterableDataset`` (needs torch)."""

from __future__ import annotations

import warnings
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from .consumer import Consumer

try:  # torch is an optional extra; without it BatchStream still follows the protocol
    import torch as _torch
    from torch.utils.data import IterableDataset as _Base
except ImportError:  # pragma: no cover - depends on the environment
    _torch = None
    _Base = object

__all__ = ["BatchStream"]


class BatchStream(_Base):  # type: ignore[misc, valid-type]
    """normd's output as a ``torch.utils.data.IterableDataset``.

    Use it with ``DataLoader(stream, batch_size=None)``: normd already batches. The socket is
    created lazily in ``__iter__``, in the process that iterates (each DataLoader worker gets its
    own), and closed when the iteration ends.

    Parameters
    ----------
    endpoint : str
        normd's output endpoint.
    labels : mapping, optional
        ``{(producer, seq): labels}``; when given, items are ``(rows, labels)`` pairs rejoined with
        :meth:`normd.Batch.take`. It must be shared with the producer side (e.g. a
        ``multiprocessing.Manager().dict()``) when producers run elsewhere.
    socket, topics, timeout_ms, codec
        As :class:`normd.Consumer`. Iteration ends when no batch arrives within ``timeout_ms``.

    Notes
    -----
    With ``num_workers > 0`` and a ``sub`` socket every worker subscribes and receives every batch:
    the DataLoader yields each batch ``num_workers`` times. ``__iter__`` warns about it. A ``pull``
    socket shares batches between the workers (round robin).
    """

    def __init__(self, endpoint: str, *, labels: Optional[Mapping[Any, Any]] = None, socket: str = "pull",
                 topics: Sequence[Any] = (), timeout_ms: Optional[int] = None, codec: str = "auto") -> None:
        if socket not in ("pull", "sub"):
            raise ValueError("socket must be 'pull' or 'sub', got %r" % (socket,))
        self.endpoint, self.labels, self.socket = endpoint, labels, socket
        self.topics, self.timeout_ms, self.codec = tuple(topics), timeout_ms, codec

    @staticmethod
    def _tensor(array: np.ndarray) -> Any:
        # from_numpy needs a writable array; the zero-copy view is read-only, so copy once here.
        array = np.array(array)
        return array if _torch is None else _torch.from_numpy(array)

    def __iter__(self) -> Iterator[Any]:
        workers = None
        if _torch is not None:
            info = _torch.utils.data.get_worker_info()
            workers = None if info is None else info.num_workers
        if self.socket == "sub" and workers:
            warnings.warn("normd.torch.BatchStream: a 'sub' socket with num_workers=%d: every worker "
                          "receives every batch, so each batch is yielded %d times; use a 'pull' "
                          "output or num_workers=0" % (workers, workers), stacklevel=2)
        consumer = Consumer(self.endpoint, socket=self.socket, topics=self.topics,
                            timeout_ms=self.timeout_ms, codec=self.codec)
        try:
            for batch in consumer:
                rows = self._tensor(batch.rows)
                yield rows if self.labels is None else (rows, self._tensor(batch.take(self.labels)))
        finally:
            consumer.close()
