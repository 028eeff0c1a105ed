"""The Python package itself: the committed generated code matches the schema, and the
package installs with pip (offline, with the system's setuptools) and imports."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PY_DIR = REPO / "client" / "python"
GENERATED = PY_DIR / "framewire" / "proto"


def _py_files(d: Path):
    return sorted(p.name for p in d.iterdir() if p.suffix == ".py")


def test_generated_proto_code_matches_flatc(tmp_path):
    flatc = shutil.which("flatc")
    if flatc is None:
        pytest.skip("flatc is not installed")
    subprocess.run([flatc, "--python", "-o", str(tmp_path), str(REPO / "proto" / "framewire.fbs")],
                   check=True)
    fresh = tmp_path / "framewire" / "proto"
    assert _py_files(fresh) == _py_files(GENERATED), \
        "framewire/proto is stale: run client/python/regenerate-proto.sh"
    _, mismatch, errors = filecmp.cmpfiles(fresh, GENERATED, _py_files(fresh), shallow=False)
    assert not mismatch and not errors, \
        f"framewire/proto differs from flatc's output in {mismatch + errors}: " \
        "run client/python/regenerate-proto.sh"


def test_package_init_survived_regeneration():
    # flatc writes an empty framewire/__init__.py when pointed at client/python directly.
    text = (PY_DIR / "framewire" / "__init__.py").read_text()
    assert "Client" in text, "framewire/__init__.py was emptied (by flatc?): git checkout it"


def test_pip_install_into_a_target_dir(tmp_path):
    # Build from a copy so that setuptools' build/ and egg-info never land in the repo.
    src = tmp_path / "src"
    shutil.copytree(PY_DIR, src, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                               "*.egg-info"))
    target = tmp_path / "target"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                           "--no-deps", "--no-index", "--disable-pip-version-check",
                           "--target", str(target), str(src)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout
    assert (target / "framewire" / "proto" / "Reply.py").is_file()
    env = dict(os.environ, PYTHONPATH=str(target))
    code = ("import framewire, framewire.proto.Reply as r; "
            "assert framewire.__file__.startswith(%r), framewire.__file__; "
            "assert issubclass(framewire.NotFound, framewire.Error); "
            "print(framewire.__version__, framewire.Client.__name__)" % str(target))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert out.returncode == 0, out.stdout
    assert "Client" in out.stdout
