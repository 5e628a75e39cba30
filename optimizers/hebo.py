"""HEBO (Huawei's heteroscedastic evolutionary BO, NeurIPS 2020 BBO winner) through suggest/observe.

* bb: `hebo.optimizers.hebo.HEBO` (GP + MACE acquisition, NSGA-II acquisition optimizer).
* mo: `hebo.optimizers.general.GeneralBO` with num_obj > 1 (one GP per objective, NSGA-II over
  the per-objective confidence bounds). HEBO has no multi-fidelity method, so no mf / momf.

Decisions:

* Spaces. ConfigSpace -> HEBO DesignSpace: float -> num (log: pow), integer -> int
  (log: pow_int), categorical -> cat over choice indices, ordinal -> int over the order index
  (keeps the order), constants are added back; normal/beta floats and ints keep their bounds
  and lose their prior. HEBO has no conditions and no forbidden clauses, so both are declared
  unsupported and the runner refuses such tasks up front.
* Seeding. HEBO draws from the *global* numpy, torch and `random` generators (space.sample,
  np.random.choice, pymoo's NSGA-II, GP initialisation). The adapter keeps its own generator
  states, seeded from the run seed, and swaps them in only while HEBO runs (`_hebo_scope`):
  runs are reproducible, and nothing else in the process sees HEBO's draws or gets its global
  state reset. pymoo >= 0.6.1 seeds NSGA-II/GA from OS entropy when no seed is given (HEBO gives
  none), so the scope also hands pymoo a seed drawn from the adapter's generator (`_seeded`).
  (Importing hebo also calls torch.set_num_threads(1) for the whole process.)
* Output. HEBO's GP prints "jitter = ..." lines to stdout when a Cholesky needs jitter, and
  numpy/gpytorch warn on degenerate fits that HEBO then handles itself; stdout is redirected and
  warnings are ignored while HEBO runs, so runs stay quiet.
* Crashed trials. HEBO cannot learn from NaN/inf (it silently drops them), so a crash is
  observed with the worst cost seen so far among successful trials (per objective): the model
  learns that the region is bad. Crashes before any success are held back and observed once the
  first success gives a worst cost.
* Speed. HEBO refits its GP and runs NSGA-II on every suggest: about 1 s per ask on 2 cores
  (see docs/speed.md for measurements).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from carps_like.crash_imputation import WorstCostImputer
from carps_like.optimizer import Optimizer
from carps_like.spaces import configuration_from_encoded
from carps_like.isolation import GlobalRNGScope, quiet
from carps_like.types import TaskType, TrialInfo, TrialValue


def design_space_records(configspace) -> tuple[list[dict], dict[str, Any]]:
    """ConfigSpace space -> (HEBO DesignSpace records, constants to add back to every config)."""
    from ConfigSpace.hyperparameters import (
        CategoricalHyperparameter,
        Constant,
        FloatHyperparameter,
        IntegerHyperparameter,
        OrdinalHyperparameter,
    )

    records: list[dict] = []
    constants: dict[str, Any] = {}
    for hp in configspace.values():
        if isinstance(hp, Constant):
            constants[hp.name] = hp.value
        elif isinstance(hp, FloatHyperparameter):
            kind = "pow" if hp.log else "num"
            records.append({"name": hp.name, "type": kind, "lb": float(hp.lower), "ub": float(hp.upper)})
        elif isinstance(hp, IntegerHyperparameter):
            kind = "pow_int" if hp.log else "int"
            records.append({"name": hp.name, "type": kind, "lb": int(hp.lower), "ub": int(hp.upper)})
        elif isinstance(hp, CategoricalHyperparameter):
            records.append({"name": hp.name, "type": "cat", "categories": [str(i) for i in range(len(hp.choices))]})
        elif isinstance(hp, OrdinalHyperparameter):
            records.append({"name": hp.name, "type": "int", "lb": 0, "ub": len(hp.sequence) - 1})
        else:
            raise TypeError(f"HEBO adapter cannot convert hyperparameter {hp.name!r} of type {type(hp).__name__}")
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
