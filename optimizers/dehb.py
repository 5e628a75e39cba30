"""DEHB 0.1.1 (differential evolution + Hyperband, Awad et al. IJCAI 2021) through its ask/tell interface.

`dehb` runs on mf tasks only. Fidelity rounding, conditions, crashed trials and how DEHB's loguru
set-up is kept away from the process: docs/adapters.md#dehb.

    make run OPT=dehb TASK=subset_mf SEEDS=2
"""
from __future__ import annotations

import copy
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from carps_like.crash_imputation import WorstCostImputer
from carps_like.isolation import quiet
from carps_like.optimizer import Optimizer
from carps_like.spaces import dimensions
from carps_like.types import TaskType, TrialInfo, TrialValue

SAVE_FREQUENCIES = ("end", "incumbent", "step")


def _import_dehb():
    """Import DEHB without its import-time `loguru.logger.configure(...)`.

    dehb/optimizers/dehb.py replaces all loguru handlers of the process with a stdout INFO sink
    when imported. The no-op shadows the method on the logger object during this import only.
    """
    if "dehb.optimizers.dehb" not in sys.modules:
        from loguru import logger

        logger.configure = lambda *args, **kwargs: []  # instance attribute shadows Logger.configure
        try:
            import dehb
        finally:
            del logger.configure
    import dehb

    return dehb


def _quiet_dehb_class(dehb_module):
    """DEHB whose messages go to the stdlib logger "dehb" instead of a new global loguru file sink."""
    import logging

    class QuietDEHB(dehb_module.DEHB):
        def _setup_logger(self, kwargs):  # DEHBBase._setup_logger, without `logger.add(<file>)`
            self.output_path = Path(kwargs["output_path"])
            self.output_path.mkdir(parents=True, exist_ok=True)
            self.logger = logging.getLogger("dehb")
            self.log_filename = None

    return QuietDEHB


class DEHB(Optimizer):
    """DEHB on multi-fidelity tasks.

    Settings: eta (Hyperband's halving rate), mutation_factor, crossover_prob, strategy (DE
    strategy, e.g. rand1_bin), boundary_fix_type (random | clip), save_freq (when DEHB writes its
    state to the workdir: end = once on close, incumbent = on every new incumbent, step = every tell).
    """

    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.MULTI_FIDELITY})
    supports_conditions: ClassVar[bool] = True  # decoding deactivates inactive hyperparameters
    supports_forbiddens: ClassVar[bool] = False  # mutants may violate them; DEHB's decoding then raises
    hyperparameters = {"float": "native (unit-cube scaling; log-scaled when log)",
                       "integer": "rounded (unit-cube scaling; log-scaled when log)",
                       "categorical": "index bins (of [0, 1])",
                       "ordinal": "index bins (of [0, 1], order kept)"}
    batch_ask: ClassVar[bool] = True  # ask(n_configs=n) schedules n jobs, opening brackets as needed
    noise_handling: ClassVar[str] = "none"  # one evaluation per config and fidelity; DE selection compares single values

    def __init__(self, task, seed: int, workdir: Path | None = None, *, eta: int = 3, mutation_factor: float = 0.5,
                 crossover_prob: float = 0.5, strategy: str = "rand1_bin", boundary_fix_type: str = "random",
                 save_freq: str = "end") -> None:
        super().__init__(task, seed, workdir)
        fid = task.fidelity
        if fid is None:  # check_task refuses these first; guard direct use too
            raise ValueError("DEHB needs a multi-fidelity task (a fidelity with min < max)")
        if task.configspace.forbidden_clauses:
            raise ValueError("DEHB does not support forbidden clauses")
        if save_freq not in SAVE_FREQUENCIES:
            raise ValueError(f"unknown save_freq {save_freq!r}; accepted: {', '.join(SAVE_FREQUENCIES)}")
        self._fid = fid
        self._dims = dimensions(task.configspace)
        self._imputer = WorstCostImputer()  # DEHB cannot learn from a crash: told as the worst cost so far

        self._tmpdir = None
        if self.workdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="carps_dehb_")
            output_path = Path(self._tmpdir)
        else:
            output_path = self.workdir / "dehb"
        space = copy.deepcopy(task.configspace)  # DEHB samples from the space: never from the task's own
        space.seed(self.seed)
        try:
            with quiet():
                QuietDEHB = _quiet_dehb_class(_import_dehb())
                self._dehb = QuietDEHB(
                    cs=space, min_fidelity=fid.min, max_fidelity=fid.max, eta=eta, mutation_factor=mutation_factor,
                    crossover_prob=crossover_prob, strategy=strategy, boundary_fix_type=boundary_fix_type,
                    n_workers=1, output_path=output_path, seed=self.seed, save_freq=save_freq,
                )
        except BaseException:
            self.close()  # no temporary directory left behind
            raise

    def ask(self) -> TrialInfo:
        with quiet():
            job = self._dehb.ask()
        return self._trial_info(job)

    def ask_batch(self, n: int) -> list[TrialInfo]:
        with quiet():
            jobs = self._dehb.ask(n_configs=int(n))
        if isinstance(jobs, dict):  # DEHB returns a bare job dict for n_configs == 1
            jobs = [jobs]
        return [self._trial_info(job) for job in jobs]

    def _trial_info(self, job: dict[str, Any]) -> TrialInfo:
        fidelity = float(job["fidelity"])
        if self._fid.integer:
            fidelity = float(round(fidelity))
        fidelity = min(max(fidelity, self._fid.min), self._fid.max)
        return TrialInfo(config=self._to_config(job["config"]), fidelity=fidelity, native=job)

    def _to_config(self, dehb_config):
        """DEHB's Configuration (on its private space copy) -> a Configuration of the task's space."""
        from ConfigSpace import Configuration

        # floats clamped (log decoding can overshoot by an ulp), integers kept in bounds
        values = {name: self._dims[name].clip(v) for name, v in dict(dehb_config).items()}
        return Configuration(self.task.configspace, values=values)  # validates against the space

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        for told in self._imputer.process(trial_info, trial_value):
            with quiet():
                self._dehb.tell(told.info.native, {"fitness": float(told.costs[0]), "cost": float(told.time)})

    def close(self) -> None:
        dehb = getattr(self, "_dehb", None)
        if dehb is not None and self._tmpdir is None:
            with quiet():
                dehb.save()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
