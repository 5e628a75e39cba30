"""HEBO (Huawei's heteroscedastic evolutionary BO, NeurIPS 2020 BBO winner) through suggest/observe.

`hebo` runs HEBO on bb tasks and GeneralBO (one GP per objective) on mo tasks. Space conversion,
private global-RNG states, quiet output and crashed trials: docs/adapters.md#hebo.

    make run OPT=hebo TASK=bbob/f1_d5_i1 SEEDS=2 N_TRIALS=30
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from carps_like.crash_imputation import WorstCostImputer
from carps_like.isolation import GlobalRNGScope, quiet
from carps_like.optimizer import Optimizer
from carps_like.spaces import configuration_from_encoded, searched
from carps_like.types import TaskType, TrialInfo, TrialValue


#: HEBO DesignSpace type of a float / integer dimension, by log scale
NUMERIC_TYPES = {("float", False): "num", ("float", True): "pow", ("integer", False): "int", ("integer", True): "pow_int"}


def design_space_records(configspace) -> tuple[list[dict], dict[str, Any]]:
    """ConfigSpace space -> (HEBO DesignSpace records, constants to add back to every config)."""
    dims, constants = searched(configspace)
    records = []
    for d in dims:
        if d.kind == "categorical":  # over the choice indices
            records.append({"name": d.name, "type": "cat", "categories": [str(i) for i in range(len(d.choices))]})
        elif d.kind == "ordinal":  # the order index
            records.append({"name": d.name, "type": "int", "lb": 0, "ub": len(d.choices) - 1})
        else:
            records.append({"name": d.name, "type": NUMERIC_TYPES[d.kind, d.log], "lb": d.lower, "ub": d.upper})
    return records, constants


def _seeded(minimize):
    """pymoo's minimize with a seed drawn from the (scoped) global numpy RNG.

    HEBO calls pymoo's `minimize` without a seed. pymoo 0.6.0 (HEBO's pin) then drew one from the
    global numpy RNG, so seeding numpy made HEBO reproducible; pymoo >= 0.6.1 seeds from OS
    entropy (`np.random.default_rng(None)`), which makes every acquisition optimisation differ.
    Drawing the seed here restores 0.6.0's behaviour.
    """

    def wrapper(*args, **kwargs):
        if kwargs.get("seed") is None:
            kwargs["seed"] = int(np.random.randint(0, 2**31 - 1))
        return minimize(*args, **kwargs)

    return wrapper


class HEBO(Optimizer):
    """HEBO on black-box tasks, GeneralBO on multi-objective tasks.

    Settings: rand_sample (initial design size; None = HEBO's default, 1 + dimensions),
    model_name (surrogate; default gp for bb, multi_task for mo), and for mo evo_pop / evo_iters
    (NSGA-II population and generations of GeneralBO's acquisition optimizer).
    """

    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.BLACKBOX, TaskType.MULTI_OBJECTIVE})
    supports_conditions: ClassVar[bool] = False
    supports_forbiddens: ClassVar[bool] = False
    hyperparameters = {"float": "native (log: pow)", "integer": "native (log: pow_int)",
                       "categorical": "native (one-hot)", "ordinal": "integer index"}
    batch_ask: ClassVar[bool] = True  # suggest(n_suggestions=n)
    noise_handling: ClassVar[str] = "model"  # GP likelihood noise, heteroscedastic output warping

    def __init__(self, task, seed: int, workdir: Path | None = None, *, rand_sample: int | None = None,
                 model_name: str | None = None, evo_pop: int = 100, evo_iters: int = 200) -> None:
        super().__init__(task, seed, workdir)
        from hebo.design_space.design_space import DesignSpace

        cs = task.configspace
        if cs.conditions or cs.forbidden_clauses:  # check_task refuses these first; guard direct use too
            raise ValueError("HEBO supports neither conditional hyperparameters nor forbidden clauses")
        records, self._constants = design_space_records(cs)
        self._n_obj = len(task.objectives)
        self._imputer = WorstCostImputer()  # crashes are observed as the worst successful cost so far

        self._rng = GlobalRNGScope(self.seed)  # private global-RNG states, used only while HEBO runs

        with self._hebo_scope():
            space = DesignSpace().parse(records)
            if self._n_obj == 1:
                from hebo.optimizers.hebo import HEBO as _HEBO

                self._opt = _HEBO(space, model_name=model_name or "gp", rand_sample=rand_sample, scramble_seed=self.seed)
            else:
                from hebo.optimizers.general import GeneralBO

                self._opt = GeneralBO(space, num_obj=self._n_obj, rand_sample=rand_sample,
                                      model_name=model_name or "multi_task", evo_pop=evo_pop, evo_iters=evo_iters)

    @contextlib.contextmanager
    def _hebo_scope(self):
        """Run HEBO on this adapter's own global-RNG states, its stdout (jitter lines) and warnings discarded."""
        from hebo.acq_optimizers import evolution_optimizer

        unseeded_minimize = evolution_optimizer.minimize
        with self._rng, quiet():  # quiet: e.g. power_transform's divide-by-zero before HEBO's own fallback
            evolution_optimizer.minimize = _seeded(unseeded_minimize)
            try:
                yield
            finally:
                evolution_optimizer.minimize = unseeded_minimize

    def ask(self) -> TrialInfo:
        return self.ask_batch(1)[0]

    def ask_batch(self, n: int) -> list[TrialInfo]:
        """HEBO proposes a batch in one suggest (MACE's Pareto set / GeneralBO's NSGA-II population)."""
        with self._hebo_scope():
            rec = self._opt.suggest(n_suggestions=int(n))
        return [TrialInfo(config=self._to_config(rec.iloc[i]), native=rec.iloc[[i]]) for i in range(len(rec))]

    def _to_config(self, row):
        # HEBO works in float32 and 10**log10(x): decoding clamps the last bit back into bounds
        return configuration_from_encoded(self.task.configspace, row, self._constants)

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        for told in self._imputer.process(trial_info, trial_value):
            self._observe(told.info.native, np.asarray(told.costs, dtype=float))

    def _observe(self, native, cost: np.ndarray) -> None:
        with self._hebo_scope():
            self._opt.observe_new_data(native, np.asarray(cost, dtype=float).reshape(1, self._n_obj))
