"""Docs/TRAINER_GUIDE.md, run as written: its YAML is the daemon's configuration, its Python blocks one script."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO, normd_binary

GUIDE = REPO / "Docs" / "TRAINER_GUIDE.md"


def blocks(language: str):
    return re.findall(r"^```%s\n(.*?)^```$" % language, GUIDE.read_text(), flags=re.S | re.M)


def test_the_trainer_guide_runs_as_written(daemon, tmp_path):
    yaml = blocks("yaml")
    assert len(yaml) == 1
    # The guide's configuration on free ports, so the test never collides with a running daemon.
    config = yaml[0].replace("tcp://127.0.0.1:5555", "tcp://127.0.0.1:*").replace("tcp://127.0.0.1:5556", "tcp://127.0.0.1:*")
    assert config.count("tcp://127.0.0.1:*") == 2, "the guide no longer uses the endpoints its code defaults to"
    d = daemon(config)
    (tmp_path / "trainer.yaml").write_text(yaml[0])  # what the guide's `normd apply` reads (pipelines only)
    code = blocks("python")
    assert len(code) == 5
    script = tmp_path / "guide.py"
    script.write_text("\n".join(code))
    env = dict(os.environ, NORMD_INPUT=d.input("sensors"), NORMD_OUTPUT=d.output("sensors"), NORMD=normd_binary())
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["trained", "checkpoint", "evaluation", "the"], result.stdout
    assert lines[0].startswith("trained on 1000 rows (1000 in train mode), 32 batches"), lines[0]
    assert lines[3].startswith("the served model gives normd's numbers"), lines[3]
    print(result.stdout)
    assert d.stop() == 0
