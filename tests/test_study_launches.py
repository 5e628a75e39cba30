"""`make run` launches exactly the pending runs: the study plans the pending cells (carps_like.plan)
and every launcher executes that plan, so a resumed study never resubmits a complete run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_resumed_study_does_not_resubmit_complete_runs(tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "carps_like.study", "--optimizer", "randomsearch", "--task", "toy/bb,toy/mo",
           "--seeds", "2", "--n-trials", "3", "--out", str(out), "--jobs", "2"]
    assert subprocess.run(cmd, cwd=REPO, capture_output=True, text=True).returncode == 0
    missing = out / "default" / "randomsearch" / "toy" / "mo" / "seed_2"
    for f in missing.iterdir():
        if f.is_file():
            f.unlink()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "running 1 runs (of 4; the others are done or failed earlier)" in res.stdout
    plans = sorted((out / "default" / ".hydra").glob("plan-*.json"), key=lambda p: p.stat().st_mtime)
    launched = json.loads(plans[-1].read_text())
    assert [(c["task"]["id"], c["seed"]) for c in launched] == [("toy/mo", 2)]
