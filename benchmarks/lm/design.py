"""The refine stage of a tinylm sweep: configurations where the current surrogate predicts the best losses.

Why (issue 22 item 2): a space-filling Sobol design puts about 10 % of its configurations in the best
decile, so the surrogate knows least where optimizers end up, and its top-decile rank correlation
was far below the noise ceiling. The refine stage adds configurations there, each run with several
seeds, which also measures the seed noise where it matters.

How (``choose``): fit the tasks' surrogate (surrogate.DEFAULT_MODEL) on the runs of the Sobol stage;
predict the final loss of a pool of `pool` configurations (the profile's scrambled Sobol sequence
with seed sobol_seed + 1, the same ranges); keep the `candidates` best predicted; pick `n_configs`
of them by farthest-point selection in the unit cube, starting from the best predicted one (spread
over the predicted-good region rather than n near-copies of one point). Ids r0000, r0001, ... in
the order picked.

Rounds: a stage may be run again once its runs are in (``REFINE_PLAN["rounds"]``): round i fits the
surrogate on every run so far (the Sobol stage and rounds 0 .. i-1), draws its pool with seed
sobol_seed + 1 + i (other points than the earlier rounds'), and numbers its configurations on from the
last round's (round 1 of 32-configuration rounds: r0032 ... r0063). Why: after round 0 the surrogate
knows the good region better, so round 1 samples where the refined belief puts the optimum, and the
best decile of the data rests on more configurations (issue 22 item 2).

Chosen once: the choice depends on the data the surrogate was fitted on, so it is stored in the
manifest (``refine``: the configurations, and the runs count and sha256 they were chosen from) and
reused when the sweep resumes; the surrogate is never refitted mid-stage. Fitting is deterministic
(fixed random states, one BLAS thread), so rerunning the stage from the same Sobol data on the same
machine chooses the same configurations.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: configuration ids of the refine stage start with this (the Sobol stage's with "c")
ID_PREFIX = "r"
#: the refine stage of every tinylm instance: rounds of 32 configurations x 2 seeds (64 runs; round 0 took 94
#: CPU-minutes for all 8 instances)
REFINE_PLAN = {"n_configs": 32, "n_seeds": 2, "pool": 4096, "candidates": 128, "rounds": 2}


def rounds_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The refine rounds a dataset manifest records, oldest first (a single record, written before rounds
    existed, is round 0; none: [])."""
    stored = manifest.get("refine")
    return [{"round": 0, **stored}] if isinstance(stored, dict) else list(stored or [])


def farthest_points(points: np.ndarray, k: int) -> list[int]:
    """Indices of k rows chosen greedily: row 0 first, then each time the row farthest from those chosen."""
    chosen = [0]
    dist = np.linalg.norm(points - points[0], axis=1)
    while len(chosen) < min(k, len(points)):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return chosen


def choose(runs_path: Path, profile: str, n_configs: int, pool: int, candidates: int,
           sobol_seed: int = 0, round_index: int = 0, first_id: int = 0) -> dict[str, Any]:
    """The refine configurations of one round (module docstring), as a record of the manifest's `refine` list."""
    from . import surrogate as sg
    from .sweep import sobol_points, to_hparams

    if not 1 <= n_configs <= candidates <= pool:
        raise ValueError(f"refine needs 1 <= n_configs <= candidates <= pool (got {n_configs}, {candidates}, {pool})")
    dataset = sg.load_dataset(runs_path)
    fitted = sg.fit(dataset, sg.DEFAULT_MODEL)
    pool_seed = sobol_seed + 1 + round_index
    points = sobol_points(profile, pool, pool_seed)
    hparams = [to_hparams(profile, p) for p in points]
    predicted = fitted.predict_curves(hparams)[:, -1]
    best = np.argsort(predicted, kind="stable")[:candidates]
    picked = best[farthest_points(points[best], n_configs)]
    return {"round": round_index, "model": sg.DEFAULT_MODEL,
            "surrogate_version": sg.surrogate_version(sg.DEFAULT_MODEL, dataset), "fitted_on": {"n_runs": dataset.n_runs, "runs_sha256": dataset.sha256},
            "n_configs": n_configs, "pool": pool, "pool_sobol_seed": pool_seed, "candidates": candidates,
            "predicted_final_loss": {"best_of_pool": float(predicted.min()),
                                     "worst_chosen": float(predicted[picked].max()),
                                     "pool_median": float(np.median(predicted))},
            "configs": [[f"{ID_PREFIX}{first_id + i:04d}", hparams[j]] for i, j in enumerate(picked)]}
