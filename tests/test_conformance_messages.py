"""Conformance failures say which trial went wrong and what to do (issue 21, item 6): an unseeded
library gets a hint that names seeding, a library that draws from the global generator gets
`GlobalRNGScope`, and invalid trials are named by their number."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conformance.test_conformance import _check_trials, _first_difference

ROOT = Path(__file__).resolve().parents[1]

ADAPTERS = '''
import numpy as np
from ConfigSpace import Configuration
from carps_like.optimizer import Optimizer
from carps_like.types import TaskType, TrialInfo


class _Sampler(Optimizer):
    task_types = frozenset({TaskType.BLACKBOX})

    def ask(self):
        space = self.task.configspace
        return TrialInfo(config=Configuration(space, vector=self.draw(len(space))))

    def tell(self, trial_info, trial_value):
        pass


class Unseeded(_Sampler):  # a fresh OS-entropy generator: never repeats
    def draw(self, n):
        return np.random.default_rng().random(n)


class SeedIgnored(_Sampler):  # always seed 0
    def __init__(self, task, seed, workdir=None):
        super().__init__(task, seed, workdir)
        self.rng = np.random.default_rng(0)

    def draw(self, n):
        return self.rng.random(n)


class GlobalDraws(_Sampler):  # seeds and draws from the global numpy generator
    def __init__(self, task, seed, workdir=None):
        super().__init__(task, seed, workdir)
        np.random.seed(seed)

    def draw(self, n):
        return np.random.random(n)
'''


def test_determinism_failures_name_the_trial_and_the_fix(tmp_path):
    (tmp_path / "bad_samplers.py").write_text(ADAPTERS)
    yamls = []
    for name in ("Unseeded", "SeedIgnored", "GlobalDraws"):
        yaml = tmp_path / f"{name.lower()}.yaml"
        yaml.write_text(f"id: {name.lower()}\nadapter:\n  _target_: bad_samplers.{name}\n")
        yamls.append(str(yaml))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance",
                           "--optimizer", ",".join(yamls), "-k", "bb-determinism"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "3 failed" in out, out[-3000:]
    assert "seed 0 twice, different trials: trial 0 differs" in out  # Unseeded: the very first trial
    assert "pass self.seed to it (its seed / random_state argument)" in out
    assert "seeds 0 and 1 gave the same" in out and "the seed is ignored" in out  # SeedIgnored
    assert "the run changed the global numpy generator state" in out  # GlobalDraws
    assert "GlobalRNGScope(self.seed)" in out


def test_invalid_trials_are_named_by_number():
    from carps_like.experiment import build_task

    from conformance.cases import Case, load_variants

    variant = load_variants(["randomsearch"])[0]
    task = build_task(Case(variant, variant.primary_type, "determinism").task_config())
    good = dict(task.configspace.get_default_configuration())
    rows = [{"trial": 1, "config": good, "fidelity": None}, {"trial": 2, "config": {**good, "nope": 1}, "fidelity": None}]
    try:
        _check_trials(task, rows)
    except AssertionError as error:
        assert str(error).startswith("trial 2: configuration"), error
    else:
        raise AssertionError("an unknown hyperparameter passed the check")
    assert _first_difference(rows, [rows[0], rows[0]]).startswith("trial 2 differs")
