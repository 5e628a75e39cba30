"""`make compare` end to end, in a copy of the repository: the contributor guide's optimizer gets a
report; broken optimizers (out-of-bounds configurations, a raising ask) fail with a clear message."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import copy_repository
from test_contributor_guide import guide_files

REPO = Path(__file__).resolve().parents[1]
COPIED = ("carps_like", "benchmarks", "optimizers", "configs", "tests", "analysis", "workflows", "baselines", "pyproject.toml")

BROKEN = '''
from carps_like.optimizer import Optimizer
from carps_like.types import TaskType, TrialInfo


class OutOfBounds(Optimizer):
    """Proposes the upper bound + 1 of every float: invalid for the space."""
    task_types = frozenset({TaskType.BLACKBOX})

    def ask(self):
        space = self.task.configspace
        values = dict(space.get_default_configuration())
        for hp in space.values():
            if hasattr(hp, "upper") and isinstance(hp.upper, float):
                values[hp.name] = hp.upper + 1.0
        return TrialInfo(config=values)

    def tell(self, trial_info, trial_value):
        pass


class Raising(Optimizer):
    task_types = frozenset({TaskType.BLACKBOX})

    def ask(self):
        raise RuntimeError("this optimizer is broken on purpose")

    def tell(self, trial_info, trial_value):
        pass
'''


def _copy_repo(tmp_path: Path, extra: dict[str, str]) -> dict:
    return copy_repository(tmp_path, COPIED, extra)


def _compare(tmp_path, env, *args):
    return subprocess.run([sys.executable, "-m", "workflows.compare", *args, "--jobs", "2"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)


def test_guide_optimizer_gets_a_report(tmp_path):
    env = _copy_repo(tmp_path, guide_files())
    res = _compare(tmp_path, env, "local_search", "--types", "bb", "--seeds", "2", "--skip-conformance",
                   "--fail-if-worse-than", "randomsearch")
    out = res.stdout + res.stderr
    assert res.returncode in (0, 1), out[-3000:]
    if res.returncode == 1:  # only the threshold may fail it: a hill climber can lose to random search
        assert "FAILED threshold" in out and "run(s) failed" not in out, out[-3000:]
    readme = (tmp_path / "compare" / "README.md").read_text()
    assert "local_search (new)" in readme and "randomsearch" in readme and "Wilcoxon" in readme
    assert (tmp_path / "compare" / "figures" / "bb_cd.png").exists()
    assert (tmp_path / "compare" / "index.html").exists() and (tmp_path / "compare" / "report" / "index.html").exists()
    assert "[compare] bb: local_search mean rank" in res.stdout


@pytest.mark.parametrize("cls", ["OutOfBounds", "Raising"])
def test_broken_optimizer_fails_the_conformance_suite(tmp_path, cls):
    env = _copy_repo(tmp_path, {"optimizers/broken.py": BROKEN,
                                "configs/optimizer/broken.yaml": f"id: broken\nadapter:\n  _target_: optimizers.broken.{cls}\n"})
    res = _compare(tmp_path, env, "broken", "--types", "bb", "--seeds", "1")
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    assert "broken does not pass the conformance suite" in res.stderr
    assert not (tmp_path / "compare" / "README.md").exists()


def test_crashing_runs_fail_the_comparison(tmp_path):
    env = _copy_repo(tmp_path, {"optimizers/broken.py": BROKEN,
                                "configs/optimizer/broken.yaml": "id: broken\nadapter:\n  _target_: optimizers.broken.Raising\n"})
    res = _compare(tmp_path, env, "broken", "--types", "bb", "--seeds", "1", "--skip-conformance")
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    assert "run(s) failed or did not finish" in res.stderr


def test_unknown_optimizer_and_type_are_bad_input():
    res = subprocess.run([sys.executable, "-m", "workflows.compare", "no_such_opt"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 2 and "no_such_opt" in res.stderr and "randomsearch" in res.stderr
    res = subprocess.run([sys.executable, "-m", "workflows.compare", "randomsearch", "--types", "xx"], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 2 and "accepted: bb, mf, mo, momf" in res.stderr


def test_a_batched_optimizer_is_compared_under_its_batch_label(tmp_path):
    """make compare OPT=randomsearch BATCH=4: runs filed and reported as randomsearch_q4, against
    the shipped (sequential) randomsearch baseline among others."""
    res = subprocess.run([sys.executable, "-m", "workflows.compare", "randomsearch", "--types", "mo", "--seeds", "1",
                          "--batch-size", "4", "--skip-conformance", "--jobs", "2", "--out", str(tmp_path / "compare"),
                          "--runs", str(tmp_path / "runs")], cwd=REPO, capture_output=True, text=True)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "[compare] plan: randomsearch_q4 on 15 dev tasks (mo 15) x 1 seeds = 15 runs" in res.stdout, res.stdout
    assert "[compare] mo: randomsearch_q4 mean rank" in res.stdout
    readme = (tmp_path / "compare" / "README.md").read_text()
    assert "randomsearch_q4 (new)" in readme and "| randomsearch |" in readme
    assert (tmp_path / "runs" / "compare-fullset-v1" / "randomsearch_q4").is_dir()
    bad = subprocess.run([sys.executable, "-m", "workflows.compare", "randomsearch", "--batch-size", "0"], cwd=REPO,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "batch_size must be an integer >= 1" in bad.stderr
