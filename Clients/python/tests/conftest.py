"""Runs the built normd (``.build/debug/normd``, or ``$NORMD_BINARY``) as a subprocess for the tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
CASES = REPO.parent / "shared" / "reference" / "cases"
_LOGFMT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def normd_binary() -> str:
    path = os.environ.get("NORMD_BINARY") or str(REPO / ".build" / "debug" / "normd")
    if not os.access(path, os.X_OK):
        pytest.fail("normd is not built at %s (swift build, or set NORMD_BINARY)" % path)
    return path


def logfmt(line: str) -> Dict[str, str]:
    return {k: (v[1:-1].replace('\\"', '"') if v.startswith('"') else v) for k, v in _LOGFMT.findall(line)}


def pipeline_yaml(name: str = "p", features: int = 4, *, batch: int = 16, latency: str = "5s", min_rows: int = 2,
                  output_socket: str = "push", codec: str = "tensor", stages: str = "", mode: str = "train",
                  checkpoint: str = "") -> str:
    """A one-pipeline configuration on free loopback ports."""
    stages = stages or "      - {type: min_max, feature_range: [0, 1]}\n      - {type: batch_norm, momentum: 0.9}\n"
    return (checkpoint + "pipelines:\n  - name: %s\n    features: %d\n    mode: %s\n"
            "    batch: {size: %d, min_rows: %d, max_latency: %s}\n"
            "    inputs:\n      - {endpoint: \"tcp://127.0.0.1:*\", socket: pull, bind: true, codec: tensor}\n"
            "    output: {endpoint: \"tcp://127.0.0.1:*\", socket: %s, bind: true, codec: %s}\n"
            "    stages:\n%s") % (name, features, mode, batch, min_rows, latency, output_socket, codec, stages)


class Daemon:
    """``normd run`` on a configuration; endpoints read from its log; stopped with SIGTERM."""

    def __init__(self, config: str, directory: Path) -> None:
        self.config_path = directory / "normd.yaml"
        self.config_path.write_text(config)
        self.lines: List[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen([normd_binary(), "run", "--config", str(self.config_path)],
                                        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for(lambda f: f.get("msg") == "normd running", "normd running")

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate, what: str, timeout: float = 30.0) -> Dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    fields = logfmt(line)
                    if predicate(fields):
                        return fields
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError("normd never logged %s; log:\n%s" % (what, "\n".join(self.lines)))

    def input(self, pipeline: str = "p") -> str:
        return self.wait_for(lambda f: f.get("msg") == "input bound" and f.get("pipeline") == pipeline, "input bound")["endpoint"]

    def output(self, pipeline: str = "p") -> str:
        return self.wait_for(lambda f: f.get("msg") == "output bound" and f.get("pipeline") == pipeline, "output bound")["endpoint"]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self._reader.join(timeout=5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def daemon(tmp_path):
    """Starts ``normd run`` on a configuration: ``daemon(config_text)``; killed after the test."""
    started: List[Daemon] = []

    def start(config: str) -> Daemon:
        d = Daemon(config, tmp_path)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


def apply(config: Path, rows: np.ndarray, directory: Path, *, batch_size: int, mode: str = "train",
          state: Optional[Path] = None, pipeline: Optional[str] = None) -> np.ndarray:
    """``normd apply`` on ``rows``; returns the output array."""
    source, target = directory / "apply-in.npy", directory / "apply-out.npy"
    np.save(source, np.ascontiguousarray(rows, dtype=np.float32))
    command = [normd_binary(), "apply", "--config", str(config), "--mode", mode, "--input", str(source),
               "--output", str(target), "--batch-size", str(batch_size)]
    if state is not None:
        command += ["--state", str(state)]
    if pipeline is not None:
        command += ["--pipeline", pipeline]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return np.load(target)
