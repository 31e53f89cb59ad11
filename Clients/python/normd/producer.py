"""Sending rows to normd: the pyzmq ``send_array`` recipe with ``seq``, ``producer`` and a clean close."""

from __future__ import annotations

import itertools
import os
import socket as _socket_module
import warnings
from typing import Any, Optional, Tuple

import numpy as np
import zmq

__all__ = ["Producer", "MAX_PRODUCER_BYTES"]

#: The longest producer name normd accepts (longer names are rejected as ``producer_too_long``).
MAX_PRODUCER_BYTES = 256

_instances = itertools.count()


def _default_producer_name() -> str:
    """``host:pid:n``: unique per process and per Producer, as normd's gap counting needs."""
    return "%s:%d:%d" % (_socket_module.gethostname()[:200], os.getpid(), next(_instances))


class Producer:
    """Sends feature rows to a normd input with the ``tensor`` codec.

    Each message is ``[topic?][header][payload]``: a JSON header with ``dtype``, ``shape``, ``seq``
    and ``producer``, then the rows as raw little-endian float32 (Docs/PROTOCOL.md, 1.1).

    Parameters
    ----------
    endpoint : str
        A ZeroMQ endpoint, e.g. ``"tcp://127.0.0.1:5555"`` or ``"ipc:///run/normd/in"``.
    socket : {"push", "pub"}
        ``"push"`` for a normd ``pull`` input (back-pressure, no loss), ``"pub"`` for a ``sub`` input.
    producer : str, optional
        The name normd tracks ``seq`` gaps under (at most 256 UTF-8 bytes). Default: ``host:pid:n``,
        unique per process and Producer.
    topic : str or bytes, optional
        A topic frame sent before each message (needed for a ``sub`` input that filters by topic).
    bind : bool, optional
        ``None`` (default) matches normd's defaults: a PUB binds (normd's SUB input connects), a PUSH
        connects (normd's PULL input binds).
    linger_ms : int
        How long :meth:`close` waits for queued messages to reach normd. 5000 by default.

    Notes
    -----
    Each Producer has its own ZeroMQ context, so :meth:`close` can wait (up to ``linger_ms``) until
    libzmq has handed every queued message to the peer: a script that sends and exits at once loses
    nothing, provided it closes the Producer (or uses it as a context manager).

    Examples
    --------
    >>> with normd.Producer("tcp://127.0.0.1:5555", producer="cam-1") as p:   # doctest: +SKIP
    ...     key = p.send(rows)            # ("cam-1", 0): the key for batch.take
    """

    def __init__(self, endpoint: str, *, socket: str = "push", producer: Optional[str] = None,
                 topic: Optional[Any] = None, bind: Optional[bool] = None, linger_ms: int = 5000) -> None:
        kinds = {"push": zmq.PUSH, "pub": zmq.PUB}
        if socket not in kinds:
            raise ValueError("socket must be 'push' or 'pub', got %r" % (socket,))
        name = _default_producer_name() if producer is None else producer
        if not isinstance(name, str):
            raise TypeError("producer must be a str, got %s" % type(name).__name__)
        if len(name.encode("utf-8")) > MAX_PRODUCER_BYTES:
            raise ValueError("producer name is %d UTF-8 bytes; normd accepts at most %d"
                             % (len(name.encode("utf-8")), MAX_PRODUCER_BYTES))
        if linger_ms < 0:
            raise ValueError("linger_ms must be >= 0, got %r" % (linger_ms,))
        self.producer: str = name
        self.endpoint = endpoint
        self.linger_ms = int(linger_ms)
        self.seq = 0
        self._topic: Optional[bytes] = topic.encode("utf-8") if isinstance(topic, str) else topic
        self._warned_float64 = False
        self._context = zmq.Context()
        self._socket = self._context.socket(kinds[socket])
        try:
            if (socket == "pub") if bind is None else bind:
                self._socket.bind(endpoint)
            else:
                self._socket.connect(endpoint)
        except zmq.ZMQError:
            self._socket.close(linger=0)
            self._context.term()
            raise
        self._closed = False

    @property
    def last_endpoint(self) -> str:
        """The endpoint actually bound or connected (useful with ``tcp://127.0.0.1:*``)."""
        return self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def send(self, rows: Any) -> Tuple[str, int]:
        """Sends one message of rows.

        Parameters
        ----------
        rows : array_like
            2-D ``(rows, features)`` or 1-D ``(features,)`` floats. float32 is sent as is; float64
            is converted to float32 (with a warning the first time); a non-C-contiguous or
            big-endian array is copied.

        Returns
        -------
        tuple of (str, int)
            ``(producer, seq)`` of the message sent: the key under which to keep its labels for
            :meth:`normd.Batch.take`.
        """
        if self._closed:
            raise RuntimeError("send on a closed Producer")
        array = np.asarray(rows)
        if array.ndim not in (1, 2):
            raise ValueError("rows must be 1-D (one row) or 2-D (rows, features); got shape %s" % (array.shape,))
        if array.dtype.kind != "f" or array.dtype.itemsize not in (4, 8):
            raise TypeError("rows must be float32 or float64, got %s" % array.dtype)
        if array.dtype.itemsize == 8:
            if not self._warned_float64:
                warnings.warn("normd.Producer: float64 rows are converted to float32 (normd's wire type); "
                              "convert them yourself to avoid the copy", stacklevel=2)
                self._warned_float64 = True
        array = np.ascontiguousarray(array, dtype="<f4")
        header = {"dtype": "<f4", "shape": list(array.shape), "seq": self.seq, "producer": self.producer}
        if self._topic is not None:
            self._socket.send(self._topic, zmq.SNDMORE)
        self._socket.send_json(header, zmq.SNDMORE)
        self._socket.send(array, copy=False)
        key = (self.producer, self.seq)
        self.seq += 1
        return key

    def close(self) -> None:
        """Closes the socket, waiting up to ``linger_ms`` for queued messages to be delivered."""
        if self._closed:
            return
        self._closed = True
        self._socket.close(linger=self.linger_ms)
        self._context.term()  # returns once the queue is flushed or linger_ms has passed

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
