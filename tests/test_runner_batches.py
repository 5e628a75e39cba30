"""Synchronous batches (batch_size q > 1): ask_batch, evaluate, then tell, through the real runner,
run_cell, the study front end and the queue (real toy tasks and real adapters)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from carps_like import registry
from carps_like.errors import IncompatibleError, UserError
from carps_like.experiment import run_cell
from carps_like.runner import run_trials
from carps_like.store import read_trials
from carps_like.types import ALL_TASK_TYPES, TrialInfo
from optimizers.randomsearch import RandomSearch


class _Journal(RandomSearch):
    """Random search that writes down the order of asks, batch asks and tells."""

    task_types = ALL_TASK_TYPES

    def __init__(self, task, seed, workdir=None, fidelity=None, short_batch=False, bad_fidelity_at=None):
        super().__init__(task, seed, workdir)
        self.events: list[tuple] = []
        self.fid, self.short_batch, self.bad_fidelity_at = fidelity, short_batch, bad_fidelity_at
        self.n_asked = 0

    def ask(self):
        info = super().ask()
        self.n_asked += 1
        if self.bad_fidelity_at == self.n_asked:
            return TrialInfo(info.config, fidelity=1e9)
        return info if self.fid is None else TrialInfo(info.config, fidelity=self.fid)

    def ask_batch(self, n):
        self.events.append(("ask_batch", n))
        infos = super().ask_batch(n)
        return infos[:-1] if self.short_batch else infos

    def tell(self, trial_info, trial_value):
        self.events.append(("tell", trial_value.status.value))


def _run(task, q, **kw):
    holder = {}

    def make():
        holder["opt"] = _Journal(task, 1, **kw)
        return holder["opt"]

    return run_trials(task, make, batch_size=q), holder["opt"]


def test_batches_ask_q_evaluate_then_tell_q_and_the_last_batch_fits_the_budget(make_task):
    task = make_task("toy/bb", n_trials=10)
    result, opt = _run(task, 4)
    assert result.status == "complete" and result.n_trials == 10 and result.budget_used == pytest.approx(10)
    # 4 + 4 + 2: the last batch asks only what the budget can still take
    assert [e for e in opt.events if e[0] == "ask_batch"] == [("ask_batch", 4), ("ask_batch", 4), ("ask_batch", 2)]
    assert [e[0] for e in opt.events] == (["ask_batch"] + ["tell"] * 4) * 2 + ["ask_batch"] + ["tell"] * 2
    assert [r["trial"] for r in result.rows] == list(range(10))


def test_a_batch_is_evaluated_before_any_of_it_is_told(make_task):
    task = make_task("toy/bb", n_trials=6, delay=0.01)
    result, _ = _run(task, 3)
    for b in (0, 3):  # every trial of a batch ends before the batch's first tell; the next batch starts after
        batch = result.rows[b:b + 3]
        assert max(r["end_time"] for r in batch) <= min(r["end_time"] for r in batch) + 3 * 0.05
        assert all(batch[i]["start_time"] <= batch[i + 1]["start_time"] for i in range(2))


def test_batch_of_one_is_the_sequential_loop(make_task):
    task = make_task("toy/bb_mixed", n_trials=12)
    seq = run_trials(task, lambda: RandomSearch(task, seed=5))
    one = run_trials(make_task("toy/bb_mixed", n_trials=12), lambda: RandomSearch(task, seed=5), batch_size=1)
    four = run_trials(make_task("toy/bb_mixed", n_trials=12), lambda: RandomSearch(task, seed=5), batch_size=4)
    configs = [[r["config"] for r in res.rows] for res in (seq, one, four)]
    assert configs[0] == configs[1] == configs[2]  # random search's batch is its next n samples
    assert [r["costs"] for r in seq.rows] == [r["costs"] for r in four.rows]


def test_multi_fidelity_batches_drop_what_no_longer_fits_and_stop(make_task):
    task = make_task("toy/mf", n_trials=2.5)  # z in [1, 9]: a z=6 trial costs 2/3
    result, opt = _run(task, 4, fidelity=6.0)
    assert result.n_trials == 3 and result.budget_used == pytest.approx(2.0) and result.stop_reason == "budget"
    assert [e for e in opt.events if e[0] == "ask_batch"] == [("ask_batch", 4)]
    assert opt.events.count(("tell", "SUCCESS")) == 3  # the fourth was asked, not run, not told


def test_crashes_inside_a_batch_are_recorded_per_trial(make_task):
    task = make_task("toy/crashing", n_trials=24)
    result, opt = _run(task, 5)
    statuses = [r["status"] for r in result.rows]
    assert result.status == "complete" and result.n_trials == 24
    assert "CRASHED" in statuses and "SUCCESS" in statuses and result.n_crashed == statuses.count("CRASHED")
    assert [e[1] for e in opt.events if e[0] == "tell"] == statuses


def test_protocol_errors_in_a_batch_fail_the_run_keeping_earlier_batches(make_task):
    task = make_task("toy/bb", n_trials=12)
    result, _ = _run(task, 4, short_batch=True)
    assert result.status == "failed" and "ask_batch(4) returned 3 trials" in result.error and result.n_trials == 0
    task = make_task("toy/mf", n_trials=12)
    result, _ = _run(task, 4, fidelity=9.0, bad_fidelity_at=6)
    assert result.status == "failed" and "outside [1.0, 9.0]" in result.error
    assert result.n_trials == 4  # the first batch is kept; the second is refused before it runs


def test_time_limit_is_checked_between_batches(make_task):
    task = make_task("toy/bb", n_trials=None, time_limit=0.2, delay=0.01)
    result, _ = _run(task, 4)
    assert result.stop_reason == "time_limit" and result.n_trials % 4 == 0 and result.n_trials >= 4


def test_run_cell_files_batched_runs_under_their_own_label(tmp_path):
    cfg = {**registry.get_optimizer_config("randomsearch"), "batch_size": 3}
    task_cfg = {**registry.get_task("toy/bb").config, "budget": {"n_trials": 7}}
    outcome = run_cell(cfg, task_cfg, 1, out=tmp_path, study="s")
    assert outcome.status == "complete" and outcome.directory.parts[-4] == "randomsearch_q3"
    meta = json.loads((outcome.directory / "run.json").read_text())
    assert meta["optimizer_id"] == "randomsearch_q3" and meta["optimizer_config"]["batch_size"] == 3
    assert len(read_trials(outcome.directory)) == 7
    # a dispatcher keeps the batch size in the variant it picks
    smac = {**registry.get_optimizer_config("smac"), "batch_size": 2}
    outcome = run_cell(smac, {**registry.get_task("toy/mf").config, "budget": {"n_trials": 3}}, 1, out=tmp_path, study="s")
    meta = json.loads((outcome.directory / "run.json").read_text())
    assert outcome.status == "complete", meta.get("error")
    assert meta["optimizer_id"] == "smac_q2" and meta["optimizer_variant"] == "smac_hyperband"
    assert meta["optimizer_config"]["batch_size"] == 2


def test_bad_batch_sizes_and_optimizers_without_batch_ask_are_refused(tmp_path):
    task_cfg = {**registry.get_task("toy/bb").config, "budget": {"n_trials": 4}}
    for bad in (0, -2, 1.5, "4", True):
        with pytest.raises(UserError, match="batch_size must be an integer >= 1"):
            run_cell({**registry.get_optimizer_config("randomsearch"), "batch_size": bad}, task_cfg, 1, out=tmp_path)
    sequential = {"id": "sequential_only", "adapter": {"_target_": f"{__name__}._SequentialOnly"}}
    with pytest.raises(IncompatibleError, match="_SequentialOnly does not declare batch_ask, so it cannot propose batches of 2"):
        run_cell({**sequential, "batch_size": 2}, task_cfg, 1, out=tmp_path)
    assert run_cell(sequential, task_cfg, 1, out=tmp_path).status == "complete"
    entry = registry.get_task("toy/bb")
    assert registry.incompatibility("randomsearch", entry, batch_size=8) is None


class _SequentialOnly(RandomSearch):
    batch_ask = False


def test_make_run_and_the_queue_run_the_same_batched_study(tmp_path):
    """BATCH=2 through the study front end (Hydra) and through `make queue` + `make worker`:
    both file the runs as randomsearch_q2 with the same trials, and a second launch runs nothing."""
    from queue_helpers import REPO

    from analysis.gather import gather

    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    study = [sys.executable, "-m", "carps_like.study", "--optimizer", "randomsearch", "--task", "toy/bb", "--seeds", "2",
             "--n-trials", "5", "--out", str(tmp_path / "runs"), "--jobs", "1", "--batch-size", "2"]
    first = subprocess.run(study, cwd=REPO, capture_output=True, text=True, timeout=180, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "default/randomsearch_q2" in first.stdout
    again = subprocess.run(study, cwd=REPO, capture_output=True, text=True, timeout=180, env=env)
    assert again.returncode == 0 and "nothing to run" in again.stdout
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    queue = [sys.executable, "-m", "carps_like.queue", "--queue", url]
    reg = subprocess.run([*queue, "register", "--study", "default", "--optimizer", "randomsearch", "--task", "toy/bb",
                          "--seeds", "2", "--n-trials", "5", "--batch-size", "2"], cwd=REPO, capture_output=True, text=True)
    assert reg.returncode == 0, reg.stderr
    work = subprocess.run([*queue, "worker"], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert work.returncode == 0, work.stderr
    a = gather([url]).trials.sort_values(["seed", "trial"])
    b = gather([tmp_path / "runs"]).trials.sort_values(["seed", "trial"])
    assert set(a["optimizer_id"]) == set(b["optimizer_id"]) == {"randomsearch_q2"} and len(a) == len(b) == 10
    assert list(a["config"]) == list(b["config"]) and list(a["cost"]) == list(b["cost"])
    bad = subprocess.run([*queue, "register", "--study", "x", "--optimizer", "randomsearch", "--task", "toy/bb",
                          "--batch-size", "0"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "batch_size must be an integer >= 1" in bad.stderr


def test_an_optimizer_yaml_may_set_the_batch_size_and_batch_1_overrides_it(tmp_path):
    """A config with `batch_size: 4` runs in batches and files as <id>_q4; BATCH=1 runs the same
    config one trial at a time, filed under its plain id (the study plans the same directories
    the runs are written to)."""
    import shutil

    from queue_helpers import REPO

    configs = tmp_path / "configs"
    shutil.copytree(REPO / "configs", configs)
    (configs / "optimizer" / "rs_batched.yaml").write_text(
        "id: rs_batched\nbatch_size: 4\nadapter:\n  _target_: optimizers.randomsearch.RandomSearch\n")
    env = dict(os.environ, CARPS_LIKE_CONFIGS=str(configs), PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    base = [sys.executable, "-m", "carps_like.study", "--optimizer", "rs_batched", "--task", "toy/bb", "--seeds", "1",
            "--n-trials", "5", "--out", str(tmp_path / "runs"), "--jobs", "1"]
    for extra, label, q in (([], "rs_batched_q4", 4), (["--batch-size", "1"], "rs_batched", 1)):
        res = subprocess.run(base + extra, cwd=REPO, capture_output=True, text=True, timeout=180, env=env)
        assert res.returncode == 0 and "all 1 runs complete" in res.stdout, res.stdout + res.stderr
        meta = json.loads((tmp_path / "runs" / "default" / label / "toy" / "bb" / "seed_1" / "run.json").read_text())
        assert meta["optimizer_id"] == label and meta["optimizer_config"]["batch_size"] == q
    url = f"sqlite:///{tmp_path / 'queue.db'}"  # the queue files cells as the runs will be filed
    for extra, label in (([], "rs_batched_q4"), (["--batch-size", "1"], "rs_batched")):
        reg = subprocess.run([sys.executable, "-m", "carps_like.queue", "--queue", url, "register", "--study", "s",
                              "--optimizer", "rs_batched", "--task", "toy/bb", "--seeds", "1", "--n-trials", "5", *extra],
                             cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
        assert reg.returncode == 0, reg.stderr
    work = subprocess.run([sys.executable, "-m", "carps_like.queue", "--queue", url, "worker"], cwd=REPO,
                          capture_output=True, text=True, timeout=180, env=env)
    assert work.returncode == 0, work.stderr
    from analysis.gather import gather

    runs = gather([url]).runs
    assert dict(zip(runs["optimizer_id"], runs["batch_size"])) == {"rs_batched_q4": 4, "rs_batched": 1}
    assert set(runs["status"]) == {"complete"}
