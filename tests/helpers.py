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
