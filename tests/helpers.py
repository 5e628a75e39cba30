"""Small helpers shared by the benchmark test modules."""
from __future__ import annotations

import numpy as np


def sample_configs(obj, n, seed=0):
    """n seeded random configurations of an objective's space, as plain dicts."""
    space = obj.configspace
    space.seed(seed)
    configs = space.sample_configuration(n)
    return [dict(c) for c in (configs if n > 1 else [configs])]


def dominates(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of `a` that Pareto-dominate the single point `b` (with a small tolerance)."""
    return np.all(a <= b + 1e-9, axis=1) & np.any(a < b - 1e-6, axis=1)


def mixed_kinds_space(*extra, lr_lower: float = 1e-5):
    """A space with every hyperparameter kind adapters convert: log and plain floats and integers,
    string and integer categories, an ordinal and a constant (plus `extra` hyperparameters)."""
    from ConfigSpace import Categorical, ConfigurationSpace, Constant, Float, Integer
    from ConfigSpace.hyperparameters import OrdinalHyperparameter

    return ConfigurationSpace(space=[
        Float("lr", (lr_lower, 1e-1), log=True),
        Float("x", (-2.0, 2.0)),
        Integer("layers", (1, 6)),
        Integer("width", (8, 512), log=True),
        Categorical("batch", [16, 32, 64]),
        Categorical("act", ["relu", "tanh", "gelu"]),
        OrdinalHyperparameter("size", ["small", "medium", "large"]),
        Constant("fixed", "yes"),
        *extra,
    ])


def random_search_run(spec, n_trials: int, seed: int = 1):
    """Random search on a collection's task through the real runner; checks what holds for every
    collection (complete, every trial successful, virtual time summed) and returns the result."""
    import pytest

    from carps_like.runner import run_trials
    from carps_like.task import Budget, Task
    from optimizers.randomsearch import RandomSearch

    task = Task(spec.id, spec.build(), Budget(n_trials=n_trials))
    result = run_trials(task, lambda: RandomSearch(task=task, seed=seed))
    assert result.status == "complete" and result.n_trials == n_trials
    assert all(r["status"] == "SUCCESS" for r in result.rows)
    assert result.virtual_time == pytest.approx(sum(r["virtual_time"] for r in result.rows))
    return task, result


def copy_repository(dest, names, files: dict[str, str] | None = None) -> dict:
    """Copy parts of the repository (code, configs; never .venv) into `dest`, add `files` (path ->
    text, none may clash with a shipped file), and return the environment to run commands there."""
    import os
    import shutil
    from pathlib import Path

    repo, dest = Path(__file__).resolve().parents[1], Path(dest)
    for name in names:
        src = repo / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        else:
            shutil.copy2(src, dest / name)
    for path, text in (files or {}).items():
        assert not (dest / path).exists(), f"{path} clashes with a shipped file"
        (dest / path).write_text(text)
    env = {**os.environ, "PYTHONPATH": str(dest), "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    env.pop("CARPS_LIKE_CONFIGS", None)
    return env


def configs_with_optimizers(tmp_path, optimizers: dict[str, str], pythonpath: list, **extra: str) -> dict:
    """The shipped configs (symlinked into tmp_path/configs) plus `optimizers` (name -> YAML text),
    and the environment whose processes read them (`pythonpath` in front, `extra` variables)."""
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    configs = Path(tmp_path) / "configs"
    (configs / "optimizer").mkdir(parents=True)
    for path in (root / "configs").iterdir():
        if path.name != "optimizer":
            (configs / path.name).symlink_to(path)
    for path in (root / "configs" / "optimizer").iterdir():
        (configs / "optimizer" / path.name).symlink_to(path)
    for name, text in optimizers.items():
        (configs / "optimizer" / f"{name}.yaml").write_text(text)
    return {**os.environ, "CARPS_LIKE_CONFIGS": str(configs), "PYTHONPATH": os.pathsep.join(map(str, pythonpath)),
            "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", **extra}
