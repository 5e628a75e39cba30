"""Random search: uniform samples from the ConfigSpace space (conditions and forbiddens respected).

Supports all four task types. Multi-fidelity: every trial at the maximum fidelity, so random
search is the fidelity-free baseline every multi-fidelity method must beat.
"""
from __future__ import annotations

import copy

from carps_like.optimizer import Optimizer
from carps_like.types import ALL_TASK_TYPES, TrialInfo, TrialValue


class RandomSearch(Optimizer):
    task_types = ALL_TASK_TYPES
    batch_ask = True  # samples are independent: n asks are a batch

    def __init__(self, task, seed: int, workdir=None) -> None:
        super().__init__(task, seed, workdir)
        # a seeded copy, so sampling never touches the task's own space (no state shared between runs)
        self._space = copy.deepcopy(task.configspace)
        self._space.seed(self.seed)
        fid = task.fidelity
        self._fidelity = None if fid is None else fid.max

    def ask(self) -> TrialInfo:
        return TrialInfo(config=self._space.sample_configuration(), fidelity=self._fidelity)

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        pass
