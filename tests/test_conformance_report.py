"""`make check-optimizer` says which checks ran and why any did not (issue 19: it used to print
"2 skipped: got empty parameter set")."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_conformance_suite_names_the_checks_and_the_reason_for_each_skip(tmp_path):
    (tmp_path / "nobatch_search.py").write_text(
        "from carps_like.types import TaskType\nfrom optimizers.randomsearch import RandomSearch\n\n\n"
        "class NoBatch(RandomSearch):\n    batch_ask = False\n    task_types = frozenset({TaskType.BLACKBOX})\n")
    yaml = tmp_path / "nobatch.yaml"
    yaml.write_text("id: nobatch\nadapter:\n  _target_: nobatch_search.NoBatch\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance",
                           "--optimizer", str(yaml), "-k", "batch or declarations or determinism"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "got empty parameter set" not in out
    assert "test_batch_ask: skipped: nobatch declares batch_ask=False: nobatch-bb-batch" in out
    assert "test_runs_conform: skipped: nobatch does not declare mf tasks: nobatch-mf-determinism" in out
    assert "test_declarations: passed: nobatch" in out
