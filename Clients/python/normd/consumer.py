"""Receiving normalized batches from normd, and rejoining labels with them."""

from __future__ import annotations

import io
import json
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import zmq

__all__ = ["Batch", "Consumer", "NoHeaderError", "decode_frames"]

_NPY_MAGIC = b"\x93NUMPY"


class NoHeaderError(ValueError):
    """The batch came through a codec without a header (``npy``): it has no ``sources`` to rejoin by."""


class Batch:
    """One batch published by normd.

    Attributes
    ----------
    rows : numpy.ndarray
        ``(rows, features)`` float32, read-only. With the ``tensor`` and ``npy`` codecs a zero-copy
        view of the received frame (keep the Batch, or copy the array, for as long as you need it).
    header : dict or None
        The whole header (``None`` for the ``npy`` codec, which sends none).
    codec : str
        ``"tensor"``, ``"npy"`` or ``"json"``.
    topic : bytes or None
        The topic frame, on PUB/XPUB outputs.
    """

    __slots__ = ("rows", "header", "codec", "topic", "_frames")

    def __init__(self, rows: np.ndarray, header: Optional[Dict[str, Any]], codec: str,
                 topic: Optional[bytes] = None, frames: Any = None) -> None:
        self.rows = rows
        self.header = header
        self.codec = codec
        self.topic = topic
        self._frames = frames  # keeps the zero-copy frames alive with the views over them

    def _get(self, key: str) -> Any:
        return None if self.header is None else self.header.get(key)

    @property
    def pipeline(self) -> Optional[str]:
        """The pipeline's name."""
        return self._get("pipeline")

    @property
    def batch(self) -> Optional[int]:
        """The pipeline's batch counter."""
        return self._get("batch")

    @property
    def mode(self) -> Optional[str]:
        """``"train"`` or ``"infer"``: the mode the batch actually ran in."""
        return self._get("mode")

    @property
    def stats_version(self) -> Optional[int]:
        """Version of the statistics used; changes whenever they change."""
        return self._get("stats_version")

    @property
    def stages(self) -> Optional[List[str]]:
        """The stage types, in order."""
        return self._get("stages")

    @property
    def sources(self) -> Optional[List[Dict[str, Any]]]:
        """Where the rows came from: ``producer``, ``seq``, ``rows`` and ``message_rows`` spans."""
        return self._get("sources")

    @property
    def downgraded(self) -> Optional[str]:
        """Why a batch that should have trained ran in infer mode; ``None`` when it did not."""
        return self._get("downgraded")

    def take(self, labels_by_source: Mapping[Tuple[Optional[str], Optional[int]], Any]) -> np.ndarray:
        """Returns the labels row-aligned with :attr:`rows`.

        Parameters
        ----------
        labels_by_source : mapping
            ``{(producer, seq): labels}``, one entry per message sent, ``labels[i]`` belonging to
            row ``i`` of that message (what :meth:`normd.Producer.send` returns is the key).

        Returns
        -------
        numpy.ndarray
            ``labels[i]`` belongs to ``rows[i]``; shape ``(len(rows),) + labels.shape[1:]``. A
            message split over two batches contributes its first rows to one and the rest to the next.

        Raises
        ------
        NoHeaderError
            The batch has no ``sources`` (``npy`` codec).
        KeyError
            A source's ``(producer, seq)`` has no labels.
        ValueError
            A source's rows are beyond its labels, or the sources do not cover every row once.
        """
        sources = self.sources
        if sources is None:
            raise NoHeaderError("batch has no 'sources' (the %s output codec sends no header): labels cannot "
                                "be rejoined; configure the output with codec: tensor or json" % self.codec)
        count = self.rows.shape[0]
        out: Optional[np.ndarray] = None
        covered = np.zeros(count, dtype=bool)
        for source in sources:
            key = (source.get("producer"), source.get("seq"))
            if key not in labels_by_source:
                raise KeyError("no labels for producer %r seq %r (batch %r rows %r)"
                               % (key[0], key[1], self.batch, source.get("rows")))
            labels = np.asarray(labels_by_source[key])
            start, stop = (int(v) for v in source["rows"])
            first, last = (int(v) for v in source["message_rows"])
            if stop - start != last - first or not 0 <= start <= stop <= count:
                raise ValueError("malformed source %r for a batch of %d rows" % (source, count))
            if labels.ndim == 0 or last > labels.shape[0]:
                raise ValueError("labels for producer %r seq %r have %s rows; the batch needs rows [%d, %d)"
                                 % (key[0], key[1], "no" if labels.ndim == 0 else labels.shape[0], first, last))
            if out is None:
                out = np.empty((count,) + labels.shape[1:], dtype=labels.dtype)
            out[start:stop] = labels[first:last]
            if covered[start:stop].any():
                raise ValueError("sources overlap at rows [%d, %d)" % (start, stop))
            covered[start:stop] = True
        if not covered.all():
            raise ValueError("sources cover %d of the batch's %d rows" % (int(covered.sum()), count))
        return np.empty((0,), dtype=np.float32) if out is None else out

    def __repr__(self) -> str:
        return "Batch(pipeline=%r, batch=%r, mode=%r, rows=%s)" % (self.pipeline, self.batch, self.mode, self.rows.shape)


def _buffer(frame: Any) -> memoryview:
    return frame.buffer if isinstance(frame, zmq.Frame) else memoryview(frame)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _npy(frame: Any) -> np.ndarray:
    """A zero-copy view of a ``.npy`` frame's data (normd writes ``<f4``, C order)."""
    view = _buffer(frame)
    stream = io.BytesIO(view[:min(len(view), 65536 + 16)].tobytes())
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if fortran:
        raise ValueError("npy frame is in Fortran order")
    count = int(np.prod(shape))
    return np.frombuffer(view, dtype=dtype, count=count, offset=stream.tell()).reshape(shape)


def _tensor_header(frame: Any) -> Optional[Dict[str, Any]]:
    view = _buffer(frame)
    if len(view) == 0 or view[0] != ord("{"):
        return None
    try:
        header = json.loads(view.tobytes())
    except ValueError:
        return None
    return header if isinstance(header, dict) and "shape" in header and "data" not in header else None


def decode_frames(frames: Sequence[Any], codec: str = "auto") -> Batch:
    """Decodes one output message (a list of frames or ``zmq.Frame`` objects) into a :class:`Batch`.

    Parameters
    ----------
    frames : sequence of bytes or zmq.Frame
        ``[topic?][header][payload]`` (tensor), ``[topic?][npy]`` or ``[topic?][json]``.
    codec : {"auto", "tensor", "npy", "json"}
        ``"auto"`` recognises each by its content: a ``.npy`` magic, a JSON header followed by a
        payload of the size it announces, or one JSON object with ``data``.
    """
    if codec not in ("auto", "tensor", "npy", "json"):
        raise ValueError("codec must be auto, tensor, npy or json, got %r" % (codec,))
    if not frames:
        raise ValueError("empty message")
    last = frames[-1]
    if codec in ("auto", "tensor") and len(frames) in (2, 3):
        header = _tensor_header(frames[-2])
        if header is not None:
            shape = tuple(int(v) for v in header["shape"])
            dtype = np.dtype(header.get("dtype", "<f4"))
            if len(_buffer(last)) == int(np.prod(shape)) * dtype.itemsize:
                rows = np.frombuffer(_buffer(last), dtype=dtype).reshape(shape)
                topic = bytes(_buffer(frames[0])) if len(frames) == 3 else None
                return Batch(_readonly(rows), header, "tensor", topic, frames)
        if codec == "tensor":
            raise ValueError("not a tensor batch: expected [topic?][JSON header][payload of the announced size]")
    topic = bytes(_buffer(frames[0])) if len(frames) == 2 else None
    if len(frames) > 2:
        raise ValueError("%d frames: not a normd batch of codec %s" % (len(frames), codec))
    view = _buffer(last)
    if codec in ("auto", "npy") and view[:6].tobytes() == _NPY_MAGIC:
        return Batch(_readonly(_npy(last)), None, "npy", topic, frames)
    if codec in ("auto", "json"):
        try:
            header = json.loads(view.tobytes())
        except ValueError as error:
            raise ValueError("not a normd batch (neither tensor, npy nor json): %s" % error) from None
        if isinstance(header, dict) and "data" in header:
            data = header.pop("data")
            shape = tuple(int(v) for v in header.get("shape", (len(data), len(data[0]) if data else 0)))
            rows = np.array(data, dtype=np.float32).reshape(shape)
            return Batch(_readonly(rows), header, "json", topic, None)
    raise ValueError("not a normd batch of codec %s" % codec)


class Consumer:
    """Receives normd's batches.

    Parameters
    ----------
    endpoint : str
        normd's output endpoint.
    socket : {"pull", "sub"}
        ``"pull"`` for a ``push`` output (round-robin between consumers, back-pressure), ``"sub"``
        for a ``pub``/``xpub`` output (every subscriber gets every batch).
    topics : sequence of str or bytes
        SUB subscriptions (prefixes); empty subscribes to everything.
    timeout_ms : int, optional
        How long :meth:`recv` waits for a batch; ``None`` waits forever. Iterating stops when no
        batch arrives within ``timeout_ms``.
    bind : bool
        Bind instead of connect (normd's outputs bind by default, so consumers connect).
    codec : {"auto", "tensor", "npy", "json"}
        The output codec; ``"auto"`` recognises each.

    Attributes
    ----------
    missed_batches : int
        Batches skipped in the ``batch`` numbers seen so far (per pipeline): on a PUB output, what
        this subscriber lost. On a PUSH output with several consumers the others' share counts too.
    """

    def __init__(self, endpoint: str, *, socket: str = "pull", topics: Sequence[Any] = (),
                 timeout_ms: Optional[int] = None, bind: bool = False, codec: str = "auto") -> None:
        kinds = {"pull": zmq.PULL, "sub": zmq.SUB}
        if socket not in kinds:
            raise ValueError("socket must be 'pull' or 'sub', got %r" % (socket,))
        if codec not in ("auto", "tensor", "npy", "json"):
            raise ValueError("codec must be auto, tensor, npy or json, got %r" % (codec,))
        self.endpoint = endpoint
        self.codec = codec
        self.timeout_ms = timeout_ms
        self.missed_batches = 0
        self._last_batch: Dict[Optional[str], int] = {}
        self._context = zmq.Context()
        self._socket = self._context.socket(kinds[socket])
        self._socket.linger = 0
        if socket == "sub":
            for topic in (topics or [b""]):
                self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode("utf-8") if isinstance(topic, str) else topic)
        if timeout_ms is not None:
            self._socket.rcvtimeo = int(timeout_ms)
        (self._socket.bind if bind else self._socket.connect)(endpoint)

    @property
    def last_endpoint(self) -> str:
        """The endpoint actually bound (useful with ``tcp://127.0.0.1:*``)."""
        return self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def recv(self) -> Batch:
        """Receives one batch.

        Raises
        ------
        TimeoutError
            No batch within ``timeout_ms``.
        """
        try:
            frames = self._socket.recv_multipart(copy=False)
        except zmq.Again:
            raise TimeoutError("no batch from %s within %d ms" % (self.endpoint, self.timeout_ms)) from None
        batch = decode_frames(frames, self.codec)
        self._count(batch)
        return batch

    def _count(self, batch: Batch) -> None:
        number = batch.batch
        if number is None:
            return
        previous = self._last_batch.get(batch.pipeline)
        if previous is not None and number > previous + 1:
            self.missed_batches += number - previous - 1
        self._last_batch[batch.pipeline] = number  # a smaller number: the daemon restarted

    def __iter__(self) -> Iterator[Batch]:
        while True:
            try:
                yield self.recv()
            except TimeoutError:
                return

    def close(self) -> None:
        """Closes the socket and its context."""
        self._socket.close(linger=0)
        self._context.term()

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
