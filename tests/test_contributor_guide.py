"""The contributor guide's worked example works when copied out of the guide, core untouched.

Copies the repository's code and configs (not .venv) into a temporary directory, writes the
files the guide shows (each code block starting with `# file: <path>`), and runs the conformance
suite and a `carps_like.run` job on the new optimizer there.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helpers import copy_repository

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "adding-an-optimizer.md"
COPIED = ("carps_like", "benchmarks", "optimizers", "configs", "tests", "pyproject.toml")


def guide_files() -> dict[str, str]:
    """Code blocks of the guide whose first line is `# file: <path>`, by path."""
    files = {}
    for block in re.findall(r"```(?:python|yaml)\n(.*?)```", GUIDE.read_text(), flags=re.S):
        first, _, rest = block.partition("\n")
        match = re.fullmatch(r"# file: (\S+)", first.strip())
        if match:
            files[match.group(1)] = rest if match.group(1).endswith(".py") else block
    return files


def test_guide_example_passes_the_conformance_suite(tmp_path):
    files = guide_files()
    assert set(files) == {"optimizers/local_search.py", "configs/optimizer/local_search.yaml",
                          "optimizers/pycma_box.py", "configs/optimizer/pycma_box.yaml"}
    env = copy_repository(tmp_path, COPIED, files)
    suite = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance",
                            "--optimizer", "local_search,pycma_box"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-3000:]
    assert " passed" in suite.stdout and "failed" not in suite.stdout

    run = subprocess.run([sys.executable, "-m", "carps_like.run", "optimizer=local_search", "task=toy/bb", "seed=0",
                          f"out={tmp_path / 'runs'}"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    run_json = tmp_path / "runs" / "default" / "local_search" / "toy" / "bb" / "seed_0" / "run.json"
    assert '"status": "complete"' in run_json.read_text()
    # the copy used its own core, unchanged
    for name in ("carps_like/runner.py", "carps_like/optimizer.py", "carps_like/registry.py"):
        assert (tmp_path / name).read_bytes() == (REPO / name).read_bytes()
