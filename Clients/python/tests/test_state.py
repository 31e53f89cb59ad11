"""normd.state.load on files written by the real normd: a state file, generations, a directory, an npz, damage."""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

import normd
from conftest import REPO, apply, normd_binary, pipeline_yaml

STAGES = ("      - {type: min_max, feature_range: [-1, 1], clip: true}\n"
          "      - {type: batch_norm, convention: torch, momentum: 0.1, eps: 1.0e-4}\n"
          "      - {type: batch_renorm, renorm_clipping: {rmax: 3}, columns: [\"0:2\"]}\n")


@pytest.fixture
def state_file(tmp_path) -> Path:
    config = tmp_path / "normd.yaml"
    config.write_text(pipeline_yaml(features=3, stages=STAGES))
    state = tmp_path / "state.json"
    rows = np.random.default_rng(3).normal(5, 2, size=(48, 3)).astype(np.float32)
    apply(config, rows, tmp_path, batch_size=16, state=state)
    return state


def test_load_a_state_file_written_by_normd(state_file):
    loaded = normd.state.load(state_file)
    raw = json.loads(state_file.read_bytes())["body"]["pipelines"][0]
    assert loaded.format_version == 2 and loaded.generation is None and list(loaded.pipelines) == ["p"]
    pipeline = loaded["p"]
    assert pipeline.features == 3
    assert [(s.index, s.kind, s.convention) for s in pipeline.stages] == [
        (0, "min_max", "sklearn"), (1, "batch_norm", "torch"), (2, "batch_renorm", "keras")]
    for stage, record in zip(pipeline.stages, raw["stages"]):
        assert stage.columns == record["columns"] and stage.params == record["params"]
        assert stage.counters == record["counters"] and stage.fingerprint == record["fingerprint"]
        assert sorted(stage.statistics) == sorted(record["statistics"])
        for name, values in record["statistics"].items():
            np.testing.assert_array_equal(stage.statistics[name], np.array(values, dtype=np.float64))
    assert pipeline.stage("min_max").params == {"clip": True, "feature_range": [-1, 1]}
    assert pipeline.stage(1).counters == {"num_batches_tracked": 3}
    assert pipeline.stage("batch_renorm").columns == [0, 1]


def test_the_checksum_is_verified_exactly_as_normd_does(state_file, tmp_path):
    raw = state_file.read_bytes()
    # A changed digit in the body: same length, still valid JSON, wrong checksum.
    index = raw.index(b'"n_samples_seen":48') + len(b'"n_samples_seen":4')
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(raw[:index] + b"9" + raw[index + 1:])
    with pytest.raises(normd.state.StateError, match=r"damaged.json: damaged state file: checksum is crc32:[0-9a-f]{8}, "
                                                      r"the body computes to crc32:[0-9a-f]{8}"):
        normd.state.load(damaged)
    # normd refuses it too (exit 65): the two readers agree.
    result = subprocess.run([normd_binary(), "state", "show", str(damaged)], capture_output=True, text=True)
    assert result.returncode == 65, result.stderr
    # Pretty-printing keeps the content but not the bytes: refused, as normd does.
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(raw), indent=1))
    with pytest.raises(normd.state.StateError, match="checksum|last key"):
        normd.state.load(pretty)
    # A file whose checksum is recomputed over the edited body verifies (the checksum detects damage, not forgery).
    head, _, rest = raw.partition(b',"body":')
    body = rest[:rest.rindex(b"}")].replace(b'"n_samples_seen":48', b'"n_samples_seen":49')
    resealed = tmp_path / "resealed.json"
    resealed.write_bytes(head.replace(json.loads(head + b"}")["checksum"].encode(), b"crc32:%08x" % zlib.crc32(body))
                         + b',"body":' + body + b"}\n")
    assert normd.state.load(resealed)["p"].stage(0).counters == {"n_samples_seen": 49}


@pytest.mark.parametrize("content, message", [
    (b'{"format":"other","format_version":2}', 'not a normd state file \\("format": "other"\\)'),
    (b'[1, 2]', "a JSON value that is not an object"),
    (b'{"format":"normd-state","format_version":3,"checksum":"crc32:00000000","body":{}}',
     "written by a newer normd \\(format 3, this reader reads up to 2\\)"),
    (b'{"format":"normd-state","format_version":2,"checksum":"crc32:00000000","body":{"pipelines":[]}}',
     "checksum is crc32:00000000, the body computes to crc32:"),
    (b'{"format":"normd-state", "format_version":2', "not JSON"),
])
def test_foreign_newer_and_damaged_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(normd.state.StateError, match=message):
        normd.state.load(path)


def test_generations_and_a_directory_give_the_newest_valid_generation(state_file, tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    shutil.copy(state_file, directory / "normd-state-00000001.json")
    raw = state_file.read_bytes()
    (directory / "normd-state-00000002.json").write_bytes(raw[:-40] + b"}\n")  # torn
    (directory / "normd-state-99999999999999.json").write_bytes(raw)            # beyond normd's numbers: not a generation
    (directory / "notes.json").write_text("{}")
    loaded = normd.state.load(directory)
    assert loaded.generation == 1 and loaded.path == str(directory / "normd-state-00000001.json")
    assert len(loaded.skipped) == 1 and "normd-state-00000002.json" in loaded.skipped[0]
    assert normd.state.load(directory / "normd-state-00000001.json").generation == 1
    # normd picks the same generation.
    shown = subprocess.run([normd_binary(), "state", "show", str(directory)], capture_output=True, text=True)
    assert shown.returncode == 0 and "normd-state-00000001.json" in shown.stdout + shown.stderr
    (directory / "normd-state-00000001.json").unlink()
    with pytest.raises(normd.state.StateError, match="no readable checkpoint generation"):
        normd.state.load(directory)


def test_a_checkpoint_directory_written_by_the_daemon(daemon, tmp_path):
    d = daemon(pipeline_yaml(features=2, batch=4, checkpoint="checkpoint: {path: state/, every_batches: 1}\n"))
    with normd.Consumer(d.output(), timeout_ms=20000) as consumer, normd.Producer(d.input()) as producer:
        for _ in range(3):
            producer.send(np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32))
        for _ in range(3):
            consumer.recv()
    assert d.stop() == 0
    loaded = normd.state.load(tmp_path / "state")
    assert loaded.generation is not None and loaded.skipped == []
    assert loaded["p"].stage("min_max").counters == {"n_samples_seen": 12}


def test_an_npz_export(state_file, tmp_path):
    export = tmp_path / "stats.npz"
    result = subprocess.run([normd_binary(), "state", "export", str(state_file), "--format", "npz", "--output", str(export)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    from_npz, from_json = normd.state.load(export), normd.state.load(state_file)
    assert from_npz.format_version is None
    for a, b in zip(from_npz["p"].stages, from_json["p"].stages):
        assert (a.index, a.kind, a.counters, sorted(a.statistics)) == (b.index, b.kind, b.counters, sorted(b.statistics))
        for name in a.statistics:
            np.testing.assert_array_equal(a.statistics[name], b.statistics[name])
    with pytest.raises(normd.ConversionError, match="records no parameter 'feature_range'"):
        normd.to_sklearn(from_npz["p"].stage(0))


def test_format_1_files_are_read_and_verified(tmp_path):
    seed = REPO / "Tests" / "FuzzCorpus" / "state" / "seed-apply-1.json"
    raw = seed.read_bytes()
    assert b'"format_version":1' in raw
    loaded = normd.state.load(seed)
    assert loaded.format_version == 1 and loaded.pipelines
    assert all(s.params == {} for p in loaded.pipelines.values() for s in p.stages)
    body = json.loads(raw)["body"]
    stage = body["pipelines"][0]["stages"][0]
    name = sorted(stage["statistics"])[0]
    stage["statistics"][name][0] += 1.0
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({**json.loads(raw), "body": body}))
    with pytest.raises(normd.state.StateError, match="the format-1 body computes to"):
        normd.state.load(edited)


def test_a_checksummed_body_that_is_not_what_normd_writes_is_refused(tmp_path):
    def sealed(body: bytes) -> Path:
        path = tmp_path / "crafted.json"
        path.write_bytes(b'{"format":"normd-state","format_version":2,"checksum":"crc32:%08x","body":' % zlib.crc32(body)
                         + body + b"}\n")
        return path

    with pytest.raises(normd.state.StateError, match=r"pipelines\[0\].stages\[0\]: malformed stage"):
        normd.state.load(sealed(b'{"pipelines":[{"name":"p","features":1,"stages":[{"index":"x","kind":"k"}]}]}'))
    with pytest.raises(normd.state.StateError, match=r"pipelines\[1\].name: 'p' is repeated"):
        normd.state.load(sealed(b'{"pipelines":[{"name":"p","stages":[]},{"name":"p","stages":[]}]}'))
    with pytest.raises(normd.state.StateError, match=r"stages\[0\].index: is 3"):
        normd.state.load(sealed(b'{"pipelines":[{"name":"p","stages":[{"index":3,"kind":"k"}]}]}'))
