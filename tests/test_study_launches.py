"""`make run` launches exactly the pending runs: a Hydra multirun sweeps a task x seed product, so
a resumed study is split into products that cover the pending cells and nothing else."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from carps_like.study import launch_groups

REPO = Path(__file__).resolve().parents[1]


def _cover(groups):
    cells = [(t, s) for tasks, seeds in groups for t in tasks for s in seeds]
    assert len(cells) == len(set(cells)), "a cell launched twice"
    return set(cells)


def test_full_product_is_one_launch():
    pending = [(t, s, None) for t in "ABC" for s in (1, 2, 3)]
    assert launch_groups(pending, list("ABC")) == [(["A", "B", "C"], [1, 2, 3])]


def test_groups_cover_exactly_the_pending_cells():
    rng = random.Random(0)
    tasks = [f"t{i}" for i in range(8)]
    for _ in range(300):
        pending = [(t, s, None) for t in tasks for s in range(1, 6) if rng.random() < 0.7]
        if not pending:
            continue
        groups = launch_groups(pending, tasks)
        assert _cover(groups) == {(t, s) for t, s, _ in pending}
        assert len(groups) <= min(len({t for t, _, _ in pending}), len({s for _, s, _ in pending}))


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
    assert "running 1 runs (1 tasks x 1 seeds)" in res.stdout
    launched = (out / "default" / ".hydra" / "multirun.yaml").read_text()
    assert "task=toy/mo" in launched and "seed=2" in launched and "toy/bb" not in launched
