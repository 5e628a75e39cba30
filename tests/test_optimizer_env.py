"""Optimizers that bring their own requirements (YAML `requirements:`, carps_like.optenv; issue 21).

Requirements the pinned environment satisfies change nothing (the optimizer runs in-process);
conflicting ones run the optimizer in an isolated environment built by uv, which every launcher,
`make check-optimizer` and `make compare` use; requirements that cannot be installed stop the
study with one line naming them. The tests that build an environment need the package registry
(once: later runs reuse `.venv-opt/` and uv's cache) and skip, saying so, when it is unreachable.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from carps_like import optenv, registry
from carps_like.errors import UserError
from helpers import configs_with_optimizers

ROOT = Path(__file__).resolve().parents[1]
BAYES = "bayesian-optimization==3.4.0"  # the lock pins 1.4.0: nevergrad requires exactly that

# a contributor's new optimizer: it uses an API that bayesian-optimization 1.4.0 lacks
CONTRIB_ADAPTER = '''
from carps_like.types import TaskType
from optimizers.randomsearch import RandomSearch


class ContribBO(RandomSearch):
    task_types = frozenset({TaskType.BLACKBOX})
    batch_ask = False

    def __init__(self, task, seed, workdir=None):
        super().__init__(task, seed, workdir)
        import bayes_opt
        from bayes_opt import acquisition  # bayesian-optimization >= 2 only

        assert bayes_opt.__version__ == "3.4.0", bayes_opt.__version__
        self._acquisition = acquisition.UpperConfidenceBound(kappa=2.576)
'''


def _registry_unreachable() -> str | None:
    url = os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL") or "https://pypi.org/simple/"
    try:
        urllib.request.urlopen(url.rstrip("/") + "/bayesian-optimization/", timeout=15).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot build here
        return f"the package registry {url} is unreachable ({type(exc).__name__}: {exc}); building an isolated environment needs it"
    return None


@pytest.fixture(scope="module")
def registry_reachable():
    reason = _registry_unreachable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def bayes_env() -> Path:
    """The isolated environment of bayesian-optimization 3.4.0 (the shipped bayes_opt's), built
    once (or reused); skips when it is not built yet and the registry is unreachable."""
    env = optenv.ENV_ROOT / optenv.env_key([BAYES])
    if not (env / optenv.INFO).exists():
        reason = _registry_unreachable()
        if reason:
            pytest.skip(reason)
    t0 = time.monotonic()
    built = optenv.ensure([BAYES], "bayes_opt")
    print(f"isolated environment {built} ready in {time.monotonic() - t0:.1f} s")
    return built


def _random_search_yaml(name: str, *requirements: str) -> str:
    """An optimizer YAML: random search declaring `requirements`."""
    return f"id: {name}\nrequirements: {json.dumps(list(requirements))}\nadapter:\n  _target_: optimizers.randomsearch.RandomSearch\n"


def _env(tmp_path: Path, optimizers: dict[str, str], **extra: str) -> dict:
    """The shipped configs plus `optimizers` (name -> YAML text); tmp_path on the path."""
    return configs_with_optimizers(tmp_path, optimizers, [tmp_path, ROOT], **extra)


def _study(env: dict, optimizer: str, out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "carps_like.study", "--optimizer", optimizer, "--task", "toy/bb", "--seeds", "1",
           "--n-trials", "6", "--out", str(out), "--jobs", "1", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _run_json(out: Path, optimizer: str) -> dict:
    return json.loads((out / "default" / optimizer / "toy" / "bb" / "seed_1" / "run.json").read_text())


def _planned_python(out: Path) -> set:
    plans = sorted((out / "default" / ".hydra").glob("plan-*.json"))
    return {cell["python"] for plan in plans for cell in json.loads(plan.read_text())}


def test_requirements_are_checked_pep508():
    cfg = {"id": "x", "requirements": "numpy", "adapter": {"_target_": "optimizers.randomsearch.RandomSearch"}}
    with pytest.raises(UserError, match="list of PEP 508"):
        registry.check_optimizer_config(cfg, "x.yaml")
    with pytest.raises(UserError, match="'numpy=>2' is not a PEP 508"):
        registry.check_optimizer_config({**cfg, "requirements": ["numpy=>2"]}, "x.yaml")
    registry.check_optimizer_config({**cfg, "requirements": ["numpy>=2", "scipy; python_version<'3'"]}, "x.yaml")


def test_satisfied_requirements_run_in_process(tmp_path):
    """Requirements the pinned environment meets: no environment is built, the plan keeps the
    running interpreter, the run records the versions."""
    assert optenv.python_for({"requirements": ["bayesian-optimization==1.4.0", "numpy>=2"]}, "x") is None
    assert optenv.python_for({"requirements": ["nonexistent-package>=1; python_version<'3'"]}, "x") is None
    envs = tmp_path / "envs"
    env = _env(tmp_path, {"inproc": _random_search_yaml("inproc", "numpy>=2", "bayesian-optimization==1.4.0")},
               CARPS_LIKE_OPT_ENVS=str(envs))
    res = _study(env, "inproc", tmp_path / "runs")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "isolated environment" not in res.stdout + res.stderr
    assert not envs.exists()
    assert _planned_python(tmp_path / "runs") == {None}
    meta = _run_json(tmp_path / "runs", "inproc")
    assert meta["status"] == "complete" and meta["versions"]["bayesian-optimization"] == "1.4.0"


def test_a_conflicting_requirement_runs_in_its_isolated_environment(tmp_path, bayes_env):
    """A new optimizer (adapter + YAML) whose requirement conflicts with the lock: the study runs
    it end to end with the isolated interpreter, and its run records the isolated version. Run
    directly in the pinned environment, it is refused with the reason."""
    (tmp_path / "contrib_bo.py").write_text(CONTRIB_ADAPTER)
    yaml = f'id: contrib_bo\nrequirements: ["{BAYES}"]\nadapter:\n  _target_: contrib_bo.ContribBO\n'
    env = _env(tmp_path, {"contrib_bo": yaml})
    out = tmp_path / "runs"
    t0 = time.monotonic()
    res = _study(env, "contrib_bo", out)
    seconds = time.monotonic() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    meta = _run_json(out, "contrib_bo")
    assert meta["status"] == "complete" and meta["n_trials"] == 6, meta.get("error")
    assert meta["versions"]["bayesian-optimization"] == "3.4.0"
    assert _planned_python(out) == {str(bayes_env / "bin" / "python")}
    assert seconds < 60, f"the study took {seconds:.0f} s with the environment already built"

    direct = subprocess.run([sys.executable, "-m", "carps_like.run", "optimizer=contrib_bo", "task=toy/bb",
                             f"out={tmp_path / 'direct'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert direct.returncode == 2
    assert "needs bayesian-optimization==3.4.0 (installed here: 1.4.0)" in direct.stderr, direct.stderr


def test_shipped_bayes_opt_conforms_in_its_environment(bayes_env):
    """`make check-optimizer OPT=bayes_opt`: the conformance suite runs in the isolated
    environment (in the pinned one, `make test` skips bayes_opt's runs and says why)."""
    (cmd,) = optenv.conformance_commands("bayes_opt", ["-q", "-p", "no:cacheprovider"])
    assert cmd[0] == str(bayes_env / "bin" / "python")
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert ("test_runs_conform: passed: bayes_opt-bb-determinism, bayes_opt-bb-kinds, bayes_opt-bb-crash, "
            "bayes_opt-bb-time") in res.stdout, res.stdout


def test_pinned_environment_skips_bayes_opt_conformance_with_the_reason():
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance",
                          "--optimizer", "bayes_opt", "-k", "runs_conform or declarations"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert ("test_runs_conform: skipped: bayes_opt needs bayesian-optimization==3.4.0 (installed here: 1.4.0): "
            "it runs in its isolated environment (make check-optimizer OPT=bayes_opt)") in res.stdout, res.stdout
    assert "test_declarations: passed: bayes_opt" in res.stdout


def test_an_unsatisfiable_requirement_stops_the_study_with_one_line(tmp_path, registry_reachable):
    envs = tmp_path / "envs"
    env = _env(tmp_path, {"broken": _random_search_yaml("broken", "bayesian-optimization==99.0")},
               CARPS_LIKE_OPT_ENVS=str(envs))
    res = _study(env, "broken", tmp_path / "runs")
    assert res.returncode == 2, res.stdout + res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and res.stderr.strip().splitlines()[-1] == errors[0], res.stderr
    assert "cannot build the isolated environment for broken" in errors[0]
    assert "bayesian-optimization==99.0" in errors[0] and "Traceback" not in res.stderr
    assert res.stderr.startswith("building isolated environment for broken (bayesian-optimization==99.0)")
    assert not (tmp_path / "runs" / "default" / "broken").exists()
    assert not [p for p in envs.iterdir() if p.is_dir()], "a failed build left an environment"


def test_a_dry_run_builds_no_environment_and_says_one_is_needed(tmp_path):
    """`--dry-run` plans and estimates only: the isolated environment an optimizer needs is named, not
    built (building takes minutes and needs the registry; the old plan built it). The requirement here
    cannot be installed at all, so any build attempt would fail the dry run."""
    envs = tmp_path / "envs"
    env = _env(tmp_path, {"broken": _random_search_yaml("broken", "bayesian-optimization==99.0")},
               CARPS_LIKE_OPT_ENVS=str(envs))
    res = _study(env, "broken", tmp_path / "runs", "--dry-run")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "building isolated environment" not in res.stdout + res.stderr
    assert f"broken runs in an isolated environment not built yet ({envs}/" in res.stdout, res.stdout
    assert "dry run: nothing was started" in res.stdout
    assert not envs.exists() or not [p for p in envs.iterdir() if p.is_dir()]


def test_a_new_build_removes_the_environment_it_supersedes(tmp_path, monkeypatch, registry_reachable):
    """After the lock changes, the environment of the same requirements is rebuilt under a new key; the old
    one (tens of MB) would never be used again, so the build removes it. Other requirements' environments stay."""
    monkeypatch.setattr(optenv, "ENV_ROOT", tmp_path)
    stale, other = tmp_path / "0000000000000000", tmp_path / "1111111111111111"
    for env_dir, reqs in ((stale, [BAYES]), (other, ["bayesian-optimization==3.3.0"])):
        (env_dir / "bin").mkdir(parents=True)
        (env_dir / optenv.INFO).write_text(json.dumps({"requirements": reqs}))
    (tmp_path / f"{stale.name}.lock").write_text("")
    built = optenv.ensure([BAYES], "bayes_opt")
    assert (built / optenv.INFO).exists() and built.parent == tmp_path
    assert not stale.exists() and not (tmp_path / f"{stale.name}.lock").exists()
    assert (other / optenv.INFO).exists()
    assert optenv.ensure([BAYES], "bayes_opt") == built  # reused, not removed by itself


def test_a_queue_worker_runs_an_isolated_optimizer_in_its_environment(tmp_path, bayes_env):
    """`make worker` on a cell of an optimizer with its own requirements (the shipped bayes_opt): the worker
    runs it in a child process of the isolated interpreter, and the run records the isolated version
    (the old worker ran it in its own interpreter, which refused it)."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    queue = [sys.executable, "-m", "carps_like.queue", "--queue", url]
    reg = subprocess.run([*queue, "register", "--study", "s", "--optimizer", "bayes_opt", "--task", "toy/bb",
                          "--seeds", "1", "--n-trials", "6"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert reg.returncode == 0, reg.stdout + reg.stderr
    res = subprocess.run([*queue, "worker"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    from analysis.gather import gather

    g = gather([url])
    assert list(g.runs["status"]) == ["complete"] and len(g.trials) == 6, res.stdout + res.stderr
    assert json.loads(g.runs["versions"].iloc[0])["bayesian-optimization"] == "3.4.0"
