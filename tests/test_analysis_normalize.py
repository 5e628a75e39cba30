"""Normalization, hypervolume, IGD+ and the multi-fidelity incumbent rule against hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.normalize import (MultiObjectiveScale, Options, SingleObjectiveScale, eligible_mask, incumbent_costs,
                                non_dominated)
from analysis.tasks import TaskInfo


def info(optimum=None, fidelity_max=None, m=1, task_id="hand/task"):
    return TaskInfo(task_id=task_id, task_type="bb" if m == 1 else "mo", minimize=(True,) * m, fidelity_max=fidelity_max,
                    optimum=optimum, budget=10, budget_declared=True, time_limit=None)


def test_regret_against_known_optimum():
    scale = SingleObjectiveScale.fit(info(optimum=(1.0,)), np.array([5.0, 3.0, 4.0]), Options())
    assert scale(np.array([3.0, 5.0, 1.0])) == pytest.approx([0.5, 1.0, 0.0])  # (3 - 1) / (5 - 1)


def test_minmax_ignores_the_known_optimum():
    scale = SingleObjectiveScale.fit(info(optimum=(1.0,)), np.array([5.0, 3.0, 4.0]), Options(normalization="minmax"))
    assert scale(np.array([3.0, 4.0, 5.0])) == pytest.approx([0.0, 0.5, 1.0])


def test_unknown_optimum_uses_best_observed():
    scale = SingleObjectiveScale.fit(info(), np.array([2.0, 6.0]), Options())
    assert scale(np.array([4.0])) == pytest.approx([0.5])


def test_log_scale_maps_optimum_to_zero_and_worst_to_one():
    scale = SingleObjectiveScale.fit(info(optimum=(0.0,)), np.array([1e4, 1.0]), Options(log=True))
    lo = math.log10(1e-8 * 1e4)
    expected_mid = (math.log10(1.0 + 1e-4) - lo) / (math.log10(1e4 + 1e-4) - lo)
    assert scale(np.array([0.0, 1.0, 1e4])) == pytest.approx([0.0, expected_mid, 1.0])
    assert expected_mid == pytest.approx(0.5, abs=1e-4)  # delta = 1e-4: 1 is 4 decades above it, 1e4 is 8


def test_all_runs_tied_is_zero_not_nan():
    scale = SingleObjectiveScale.fit(info(), np.array([3.0, 3.0]), Options())
    assert scale(np.array([3.0, np.nan])).tolist()[0] == 0.0
    assert math.isnan(scale(np.array([np.nan]))[0])


def test_maximized_objective_is_normalized_on_costs():
    """Costs are minimization form (-accuracy); regret is still cost - best cost."""
    scale = SingleObjectiveScale.fit(info(), -np.array([0.9, 0.7, 0.8]), Options())
    assert scale(-np.array([0.8])) == pytest.approx([0.5])


def test_max_fidelity_policy_never_mixes_fidelities():
    status = np.array(["SUCCESS"] * 4)
    fid = np.array([1.0, 3.0, 9.0, 9.0])
    costs = np.array([0.1, 0.5, 0.9, 0.7])
    elig = eligible_mask(status, fid, info(fidelity_max=9.0), Options())
    assert elig.tolist() == [False, False, True, True]
    inc = incumbent_costs(costs, elig, None, fid, Options(), has_fidelity=True)
    assert np.isnan(inc[:2]).all() and inc[2:].tolist() == [0.9, 0.7]


def test_highest_fidelity_per_configuration_policy():
    """A configuration's low-fidelity cost is replaced by its higher-fidelity one, even when worse."""
    opts = Options(mf_policy="highest_per_config")
    status = np.array(["SUCCESS"] * 4)
    fid = np.array([1.0, 1.0, 9.0, 3.0])
    configs = np.array(["a", "b", "a", "b"])
    costs = np.array([0.1, 0.3, 0.6, 0.4])
    elig = eligible_mask(status, fid, info(fidelity_max=9.0), opts)
    inc = incumbent_costs(costs, elig, configs, fid, opts, has_fidelity=True)
    # a@1 = .1 -> best .1; b@1 = .3 -> .1; a@9 = .6 replaces .1 -> best is b's .3; b@3 = .4 replaces .3 -> .4
    assert inc.tolist() == pytest.approx([0.1, 0.1, 0.3, 0.4])


def test_crashed_trials_never_count():
    status = np.array(["SUCCESS", "CRASHED", "SUCCESS"])
    elig = eligible_mask(status, np.full(3, np.nan), info(), Options())
    inc = incumbent_costs(np.array([2.0, np.nan, 3.0]), elig, None, np.full(3, np.nan), Options(), has_fidelity=False)
    assert inc.tolist() == [2.0, 2.0, 2.0]


def test_unknown_options_list_the_accepted_ones():
    with pytest.raises(ValueError, match="accepted: regret, minmax"):
        Options(normalization="zscore")
    with pytest.raises(ValueError, match="max_fidelity, highest_per_config"):
        Options(mf_policy="lowest")


def test_non_dominated_filter():
    pts = np.array([[0, 1], [1, 0], [0.5, 0.5], [0.6, 0.6], [0, 1]], dtype=float)
    assert sorted(map(tuple, non_dominated(pts))) == [(0, 1), (0.5, 0.5), (1, 0)]


def test_hypervolume_hand_computed():
    """Empirical reference front {(0,1), (1,0)} (task code unknown): ideal (0,0), nadir (1,1),
    reference point (1.1, 1.1). HV of the two corners = 0.11 + 0.11 - 0.01 = 0.21; adding
    (0.5, 0.5) gives 0.05 + 0.30 + 0.11 = 0.46 by slabs along f1."""
    scale = MultiObjectiveScale.fit(info(m=2), np.array([[0.0, 1.0], [1.0, 0.0]]))  # observed = front: same box
    assert not scale.front_is_true
    assert scale.hypervolume(np.array([[0.0, 1.0], [1.0, 0.0]])) == pytest.approx(0.21)
    assert scale.hypervolume(np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])) == pytest.approx(0.46)
    assert scale.score(np.array([[0.0, 1.0], [1.0, 0.0]])) == pytest.approx(0.0)
    assert scale.score(np.array([[1.0, 0.0]])) == pytest.approx(1 - 0.11 / 0.21)
    assert scale.hypervolume(np.array([[2.0, 2.0]])) == 0.0  # outside the reference point
    assert scale.score(np.zeros((0, 2))) == 1.0


def test_normalization_uses_ideal_and_nadir_or_worst_observed():
    """Front {(10, 30), (20, 10)}: ideal (10, 10), nadir (20, 30); (15, 20) maps to (0.5, 0.5). With
    the default box the upper end is the worst observed value: (25, 35), so (15, 20) -> (1/3, 0.4)."""
    observed = np.array([[10.0, 30.0], [20.0, 10.0], [25.0, 35.0]])
    front_box = MultiObjectiveScale.fit(info(m=2), observed, box="front")
    assert front_box.normalize(np.array([[15.0, 20.0]])) == pytest.approx(np.array([[0.5, 0.5]]))
    observed_box = MultiObjectiveScale.fit(info(m=2), observed)
    assert observed_box.normalize(np.array([[15.0, 20.0]])) == pytest.approx(np.array([[1 / 3, 0.4]]))
    # a run that only found (25, 35) still has a positive hypervolume: (1.1 - 1)^2 in the normalized space
    assert observed_box.hypervolume(np.array([[25.0, 35.0]])) == pytest.approx(0.01)
    assert front_box.hypervolume(np.array([[25.0, 35.0]])) == 0.0


def test_igd_plus_against_the_true_front():
    """zdt1's true front is f2 = 1 - sqrt(f1) on [0, 1]: the front itself has IGD+ 0 and a point
    dominated by everything is at least as far as its distance to the front's nearest point."""
    task = info(m=2, task_id="pymoo/zdt1_d5")
    scale = MultiObjectiveScale.fit(task, np.array([[0.5, 0.9]]), box="front")
    assert scale.front_is_true
    f1 = np.linspace(0, 1, 50)
    front = np.column_stack([f1, 1 - np.sqrt(f1)])
    assert scale.igd_plus(front) < 0.02
    assert scale.igd_plus(np.array([[1.0, 1.0]])) > 0.3
    assert scale.hv_reference == pytest.approx(1.1 * 1.1 - 1 / 3, abs=0.01)  # area above f2 = 1 - sqrt(f1)
