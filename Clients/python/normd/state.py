"""Reading normd's saved statistics: state files, checkpoint generations and directories, ``.npz`` exports.

The state file format is Docs/STATE_FORMAT.md. Format 2's checksum is a CRC-32 (``zlib.crc32``) of
the body's bytes exactly as stored, found the way normd finds them: after the first ``,"body":``, up
to the last ``}`` of the file (only whitespace may follow it).
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

__all__ = ["StateError", "State", "PipelineState", "StageState", "load", "FORMAT_VERSION"]

#: The newest state file layout this package reads (it reads every older one too).
FORMAT_VERSION = 2
_BODY_MARKER = b',"body":'
_GENERATION = re.compile(r"^normd-state-([0-9]+)\.json$")
_MAX_GENERATION = 999_999_999_999


class StateError(ValueError):
    """A state file that is damaged, foreign, of a newer format, or not what normd writes."""


@dataclass(frozen=True)
class StageState:
    """One stage's saved statistics.

    Attributes
    ----------
    index : int
        Position in the pipeline's ``stages:`` list.
    kind : str
        The stage type (``min_max``, ``standard_scale``, ``batch_norm``, ``batch_renorm``, or a plugin's kind).
    convention : str or None
        ``"sklearn"``, ``"keras"`` (tf_keras) or ``"torch"``, as the fingerprint records it (``None`` in an ``.npz``).
    statistics : dict of str to numpy.ndarray
        float64 vectors under the framework's names (``moving_mean``, ``running_var``, ``data_min``…).
    counters : dict of str to int
        ``n_samples_seen``, ``num_batches_tracked``, ``train_batches``…
    params : dict
        The stage's parameters as configured (format 2; empty in format 1 files and ``.npz``).
    columns : list of int or None
        The row columns the stage applies to (``None`` in an ``.npz``).
    fingerprint : dict
        The parameters that give the statistics their meaning.
    state_version : int or None
        The stage's own layout version.
    """

    index: int
    kind: str
    convention: Optional[str]
    statistics: Dict[str, np.ndarray]
    counters: Dict[str, int]
    params: Dict[str, Any] = field(default_factory=dict)
    columns: Optional[List[int]] = None
    fingerprint: Dict[str, str] = field(default_factory=dict)
    state_version: Optional[int] = None


@dataclass(frozen=True)
class PipelineState:
    """One pipeline's stages, in order."""

    name: str
    features: Optional[int]
    stages: List[StageState]
    mode: Optional[str] = None

    def stage(self, key: Union[int, str]) -> StageState:
        """The stage at index ``key``, or the only stage of kind ``key``."""
        if isinstance(key, int):
            return self.stages[key]
        matches = [s for s in self.stages if s.kind == key]
        if len(matches) != 1:
            raise KeyError("pipeline %r has %d stages of kind %r" % (self.name, len(matches), key))
        return matches[0]


@dataclass(frozen=True)
class State:
    """What :func:`load` read.

    Attributes
    ----------
    path : str
        The file actually read (for a directory: its newest valid generation).
    format_version : int or None
        1 or 2 for a state file, ``None`` for an ``.npz``.
    pipelines : dict of str to PipelineState
    generation : int or None
        The checkpoint generation number when the file is one.
    skipped : list of str
        For a directory: why each newer generation could not be read, newest first.
    """

    path: str
    format_version: Optional[int]
    pipelines: Dict[str, PipelineState]
    generation: Optional[int] = None
    skipped: List[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> PipelineState:
        return self.pipelines[name]


def body_bytes(raw: bytes) -> Optional[bytes]:
    """The body's bytes of a format-2 file, exactly as normd finds them, or ``None``."""
    start = raw.find(_BODY_MARKER)
    close = raw.rfind(b"}")
    if start < 0 or close < 0 or raw[close + 1:].strip(b" \n\r\t") != b"" or start + len(_BODY_MARKER) > close:
        return None
    return raw[start + len(_BODY_MARKER):close]


def _swift_number(value: float) -> str:
    """A Double as Swift's JSONEncoder writes it: the shortest round-trip text, no ``.0``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _canonical_v1(value: Any) -> str:
    """Format 1's checksum input: sorted keys, no whitespace, slashes unescaped, Swift numbers."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _canonical_v1(value[k]) for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical_v1(v) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return json.dumps(value, ensure_ascii=False)
    return _swift_number(value)


_V1_STAGE_KEYS = ("index", "kind", "state_version", "columns", "fingerprint", "statistics", "counters")


def _decode_bytes(raw: bytes, path: str) -> Tuple[Dict[str, Any], int]:
    """Verifies a state file's bytes; returns its body and format version (as normd's ``StateFile.decode``)."""
    try:
        envelope_all = json.loads(raw)
    except ValueError as error:
        raise StateError("%s: not JSON: %s" % (path, error)) from None
    if not isinstance(envelope_all, dict):
        raise StateError("%s: not a normd state file (a JSON value that is not an object)" % path)
    if envelope_all.get("format") != "normd-state":
        raise StateError("%s: not a normd state file (%s)" % (
            path, '"format": %s' % json.dumps(envelope_all["format"]) if "format" in envelope_all else 'no "format" key'))
    version = envelope_all.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateError('%s: malformed state file: no integer "format_version"' % path)
    if version > FORMAT_VERSION:
        raise StateError("%s: written by a newer normd (format %d, this reader reads up to %d)" % (path, version, FORMAT_VERSION))
    if version < 1:
        raise StateError('%s: malformed state file: "format_version" %d does not exist' % (path, version))
    stored = envelope_all.get("checksum")
    if version == 1:
        body = envelope_all.get("body")
        if not isinstance(body, dict):
            raise StateError('%s: malformed state file: no "body" object' % path)
        v1 = {"pipelines": [{"name": p.get("name"), "features": p.get("features"),
                             "stages": [{k: s.get(k) for k in _V1_STAGE_KEYS} for s in p.get("stages", [])]}
                            for p in body.get("pipelines", [])]}
        computed = "crc32:%08x" % zlib.crc32(_canonical_v1(v1).encode("utf-8"))
    else:
        body_raw = body_bytes(raw)
        if body_raw is None:
            raise StateError('%s: malformed state file: format 2 needs "body" as the envelope\'s last key, '
                             'written as ,"body":{...}}' % path)
        computed = "crc32:%08x" % zlib.crc32(body_raw)
        body = json.loads(body_raw)
    if computed != stored:
        raise StateError("%s: damaged state file: checksum is %s, the %s computes to %s"
                         % (path, stored, "body" if version == 2 else "format-1 body", computed))
    if not isinstance(body, dict) or not isinstance(body.get("pipelines"), list):
        raise StateError('%s: malformed state file body: no "pipelines" list' % path)
    return body, version


def _stage(record: Dict[str, Any], where: str) -> StageState:
    try:
        statistics = {str(k): np.asarray(v, dtype=np.float64) for k, v in record.get("statistics", {}).items()}
        counters = {str(k): int(v) for k, v in record.get("counters", {}).items()}
        index, columns = int(record.get("index", -1)), [int(c) for c in record.get("columns") or []]
    except (TypeError, ValueError, AttributeError) as error:
        raise StateError("%s: malformed stage: %s" % (where, error)) from None
    for name, vector in statistics.items():
        if vector.ndim != 1 or not np.all(np.isfinite(vector)):
            raise StateError("%s.statistics.%s: not a finite vector" % (where, name))
    fingerprint = dict(record.get("fingerprint") or {})
    return StageState(index=index, kind=str(record.get("kind")),
                      convention=fingerprint.get("convention"), statistics=statistics, counters=counters,
                      params=dict(record.get("params") or {}), columns=columns,
                      fingerprint=fingerprint, state_version=record.get("state_version"))


def _from_body(body: Dict[str, Any], path: str, version: Optional[int], generation: Optional[int] = None,
               skipped: Optional[List[str]] = None) -> State:
    pipelines: Dict[str, PipelineState] = {}
    for i, p in enumerate(body["pipelines"]):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise StateError("%s: pipelines[%d]: no name" % (path, i))
        if p["name"] in pipelines:
            raise StateError("%s: pipelines[%d].name: %r is repeated" % (path, i, p["name"]))
        stages = [_stage(s, "%s: pipelines[%d].stages[%d]" % (path, i, j)) for j, s in enumerate(p.get("stages", []))]
        for j, s in enumerate(stages):
            if s.index != j:
                raise StateError("%s: pipelines[%d].stages[%d].index: is %d" % (path, i, j, s.index))
        pipelines[p["name"]] = PipelineState(p["name"], p.get("features"), stages, p.get("mode"))
    return State(path, version, pipelines, generation, skipped or [])


def _load_file(path: str, generation: Optional[int] = None, skipped: Optional[List[str]] = None) -> State:
    with open(path, "rb") as handle:
        raw = handle.read()
    body, version = _decode_bytes(raw, path)
    return _from_body(body, path, version, generation, skipped)


def _load_npz(path: str) -> State:
    """An ``normd state export --format npz`` archive: keys ``<pipeline>/<index>_<kind>/<name>``."""
    stages: Dict[str, Dict[int, Dict[str, Any]]] = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            parts = key.split("/")
            match = re.match(r"^([0-9]+)_(.+)$", parts[1]) if len(parts) == 3 else None
            if match is None:
                raise StateError("%s: member %r is not <pipeline>/<index>_<kind>/<name>" % (path, key))
            entry = stages.setdefault(parts[0], {}).setdefault(int(match.group(1)), {
                "kind": match.group(2), "statistics": {}, "counters": {}})
            value = archive[key]
            if value.ndim == 0 and value.dtype.kind == "i":
                entry["counters"][parts[2]] = int(value)
            else:
                entry["statistics"][parts[2]] = np.asarray(value, dtype=np.float64)
    pipelines = {}
    for name, by_index in stages.items():
        pipelines[name] = PipelineState(name, None, [
            StageState(index, e["kind"], None, e["statistics"], e["counters"]) for index, e in sorted(by_index.items())])
    return State(path, None, pipelines)


def _load_directory(path: str) -> State:
    """The newest generation that verifies. A running daemon deletes generations beyond ``keep``
    while we read: one that vanished between listing and opening makes us list again (a few times)."""
    skipped: List[str] = []
    for _ in range(5):
        generations = []
        for name in os.listdir(path):
            match = _GENERATION.match(name)
            if match and int(match.group(1)) <= _MAX_GENERATION:
                generations.append((int(match.group(1)), os.path.join(path, name)))
        skipped, vanished = [], False
        for number, file in sorted(generations, reverse=True):
            try:
                return _load_file(file, number, skipped)
            except FileNotFoundError:
                vanished = True
            except (StateError, OSError) as error:
                skipped.append(str(error))
        if not vanished:
            break
    raise StateError("%s: no readable checkpoint generation%s" % (
        path, "" if not skipped else " (" + "; ".join(skipped) + ")"))


def load(path: Union[str, "os.PathLike[str]"]) -> State:
    """Loads normd's saved statistics.

    Parameters
    ----------
    path : str or path-like
        A state file (``normd apply --state``), a checkpoint generation (``normd-state-NNNNNNNN.json``),
        a checkpoint directory (its newest generation that verifies), or an ``.npz`` from
        ``normd state export``.

    Returns
    -------
    State
        Per pipeline and stage: kind, convention, statistics, counters and parameters.

    Raises
    ------
    StateError
        A damaged file (checksum mismatch), a foreign or newer-format file, a directory without any
        readable generation, a malformed body.
    FileNotFoundError
        Nothing at ``path``.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return _load_directory(path)
    if path.endswith(".npz"):
        return _load_npz(path)
    match = _GENERATION.match(os.path.basename(path))
    return _load_file(path, int(match.group(1)) if match else None)
