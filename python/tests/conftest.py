"""Shared fixtures: the `tilefuse` CLI (spec reader, fp64 interpreter, code generator) for CPU checks.

The CLI is found at $TILEFUSE_CLI, else $TILEFUSE_BUILD_DIR/bin/tilefuse, else <repo>/build/bin/tilefuse;
tests that need it skip with the reason when it is missing.
"""

import json
import os
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _cli():
    for p in (os.environ.get("TILEFUSE_CLI"),
              os.path.join(os.environ.get("TILEFUSE_BUILD_DIR", ""), "bin", "tilefuse")
              if os.environ.get("TILEFUSE_BUILD_DIR") else None,
              os.path.join(ROOT, "build", "bin", "tilefuse"), shutil.which("tilefuse")):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


@pytest.fixture(scope="session")
def cli():
    p = _cli()
    if p is None:
        pytest.skip("the tilefuse CLI was not found (build it with tools/build.sh, or set TILEFUSE_CLI)")
    return p


@pytest.fixture
def run_cli(cli, tmp_path):
    """run_cli(spec_dict, *args) -> parsed --json output of `tilefuse <args> spec.json --json`."""
    def run(spec, command, *args):
        path = tmp_path / "spec.json"
        path.write_text(json.dumps(spec))
        r = subprocess.run([cli, command, str(path), *args, "--json"], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"tilefuse {command} failed ({r.returncode}):\n{r.stderr}\n{r.stdout[:2000]}\n"
                                 f"spec: {json.dumps(spec)}")
        return json.loads(r.stdout)
    return run
