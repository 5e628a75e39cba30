"""make compare: its statistics on hand-made score tables and its refusal of unfair comparisons."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from analysis.comparison import (bootstrap_mean_ci, compare_type, mismatches, task_fingerprint, threshold_failures)
from workflows.changed_optimizers import changed_optimizers


def final_table(shift: dict[str, float], n_tasks: int = 12, seeds=(1, 2, 3), noise: float = 0.01) -> pd.DataFrame:
    """Scores per run: task base value + the optimizer's shift + small noise (seeded)."""
    rng = np.random.default_rng(0)
    rows = []
    for t in range(n_tasks):
        base = rng.uniform(0.2, 0.6)
        for opt, sh in shift.items():
            for s in seeds:
                rows.append({"task_type": "bb", "task_id": f"syn/t{t:02d}", "optimizer_id": opt, "seed": s,
                             "score": base + sh + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def test_clearly_better_new_optimizer_wins_everywhere_and_is_significant():
    c = compare_type(final_table({"new": -0.1, "rs": 0.0, "tpe": -0.05}), "bb", "new")
    assert c.ranking.best == "new"
    for p in c.pairs:
        assert (p.wins, p.losses, p.ties) == (12, 0, 0)
        assert p.verdict == "better" and p.p_holm < 0.05 and p.diff_lo <= p.diff <= p.diff_hi < 0
    assert c.pair("rs").diff == pytest.approx(-0.1, abs=0.01)
    assert c.pair("rs").p_holm >= c.pair("rs").p_raw  # Holm never lowers a p-value


def test_indistinguishable_optimizer_is_not_separable_and_worse_is_flagged():
    same = compare_type(final_table({"new": 0.0, "rs": 0.0}, noise=0.05), "bb", "new")
    assert same.pair("rs").verdict == "not separable"
    worse = compare_type(final_table({"new": 0.08, "rs": 0.0, "tpe": 0.0}), "bb", "new")
    assert worse.pair("rs").verdict == "worse" and worse.pair("rs").losses == 12
    assert threshold_failures({"bb": worse}, ["rs"], "new") and not threshold_failures({"bb": same}, ["rs"], "new")
    assert threshold_failures({"bb": worse}, ["new"], "new") == []  # never compared with itself
    with pytest.raises(Exception, match="not a compared baseline"):
        threshold_failures({"bb": worse}, ["hebo"], "new")


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    x = np.random.default_rng(1).normal(0.3, 0.1, 30)
    one, two = bootstrap_mean_ci(x, seed=0), bootstrap_mean_ci(x, seed=0)
    assert one == two and one[1] < one[0] < one[2] and one[0] == pytest.approx(x.mean())
    assert all(np.isnan(bootstrap_mean_ci([])))


def _runs(task, seeds, n_trials=100, meta=None, opt="x"):
    meta = meta or {"type": "bb", "dimensions": 2}
    return pd.DataFrame([{"task_id": task, "optimizer_id": opt, "seed": s, "budget_n_trials": n_trials,
                          "budget_time_limit": np.nan, "task_metadata": meta} for s in seeds])


def test_mismatched_budgets_tasks_and_seeds_are_refused_with_reasons():
    base = pd.concat([_runs("a", range(1, 6)), _runs("b", range(1, 6))])
    assert mismatches(_runs("a", [1, 2, 3]), base) == []
    problems = mismatches(pd.concat([_runs("a", [1], n_trials=50), _runs("b", [1], meta={"type": "bb", "dimensions": 3}),
                                     _runs("c", [1]), _runs("a", [7])]), base)
    text = "\n".join(problems)
    assert "a: budget n_trials [50, 100] time_limit [], baselines ran with n_trials [100]" in text
    assert "b: task definition" in text and "c: no baseline runs" in text and "seeds [7] have no baseline runs" in text
    assert task_fingerprint({"b": 1, "a": 2}) == task_fingerprint({"a": 2, "b": 1})


def test_changed_optimizers_follow_yaml_and_adapter_module():
    assert changed_optimizers(["configs/optimizer/dehb.yaml"]) == ["dehb"]
    names = changed_optimizers(["optimizers/optuna.py"])
    assert "optuna_tpe" in names and "optuna_motpe_full" in names and "optuna" not in names and "dehb" not in names
    assert changed_optimizers(["README.md"]) == []
