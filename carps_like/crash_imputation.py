"""Crashed trials for model-based optimizers: told as the worst successful cost seen so far.

Surrogate models cannot learn from inf/NaN (SMAC's models fail on the next fit, HEBO drops such
rows silently), yet the optimizer must learn that a region crashes. Imputing the worst cost seen
so far (per objective) does both. Crashes before any success are held back and released with the
first success. Shared here once so every adapter handles crashes the same way.
"""
from __future__ import annotations

import math
from typing import Iterator, NamedTuple

from .types import Status, TrialInfo, TrialValue


class Told(NamedTuple):
    """One result to pass on to the library: costs are finite, one per objective."""

    info: TrialInfo
    costs: list[float]
    time: float
    crashed: bool


class WorstCostImputer:
    def __init__(self) -> None:
        self.worst: list[float] | None = None
        self._held: list[tuple[TrialInfo, float]] = []

    def process(self, trial_info: TrialInfo, trial_value: TrialValue) -> Iterator[Told]:
        """Yield what to tell now (possibly nothing, possibly earlier held-back crashes)."""
        costs = None
        if trial_value.status is Status.SUCCESS and trial_value.cost is not None:
            raw = trial_value.cost if isinstance(trial_value.cost, (tuple, list)) else (trial_value.cost,)
            costs = [float(c) for c in raw]
        if costs is None or not all(math.isfinite(c) for c in costs):
            if self.worst is None:
                self._held.append((trial_info, trial_value.time))
            else:
                yield Told(trial_info, list(self.worst), trial_value.time, True)
            return
        self.worst = costs if self.worst is None else [max(w, c) for w, c in zip(self.worst, costs)]
        yield Told(trial_info, costs, trial_value.time, False)
        held, self._held = self._held, []
        for info, time in held:
            yield Told(info, list(self.worst), time, True)
