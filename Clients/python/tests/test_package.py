"""The package as a user installs it: metadata, dependencies, typing marker, documented public API."""

from __future__ import annotations

import importlib.metadata
import inspect
import sys
from pathlib import Path

import pytest

import normd
import normd.state
import normd.torch

ROOT = Path(normd.__file__).resolve().parent


def test_version_and_dependencies_are_what_the_installed_distribution_says():
    assert importlib.metadata.version("normd-client") == normd.__version__
    requires = importlib.metadata.requires("normd-client") or []
    plain = sorted(r.split(">")[0].split("=")[0].strip() for r in requires if "extra ==" not in r)
    extras = sorted(r.split(">")[0].strip() for r in requires if "extra ==" in r)
    assert plain == ["numpy", "pyzmq"] and extras == ["torch"]


def test_the_version_is_the_daemons():
    import subprocess
    from conftest import normd_binary
    result = subprocess.run([normd_binary(), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == normd.__version__


def test_the_package_is_typed_and_pure_python():
    assert (ROOT / "py.typed").is_file()
    assert sorted(p.suffix for p in ROOT.iterdir() if p.is_file()) == [".py"] * 8 + [".typed"]


@pytest.mark.parametrize("owner", [normd, normd.state, normd.torch])
def test_every_public_name_has_a_numpy_style_docstring(owner):
    names = getattr(owner, "__all__")
    for name in names:
        obj = getattr(owner, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc, "%s.%s has no docstring" % (owner.__name__, name)
        if inspect.isfunction(obj) and len(inspect.signature(obj).parameters) > 0:
            assert "Parameters\n----------" in doc, "%s.%s: no NumPy-style Parameters section" % (owner.__name__, name)


def test_importing_normd_needs_neither_torch_nor_sklearn():
    import subprocess
    code = ("import sys; sys.modules['torch'] = None; sys.modules['sklearn'] = None; import normd, normd.torch; "
            "print(normd.__version__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == normd.__version__, result.stderr
