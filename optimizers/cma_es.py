"""pycma (`cma` 4.x), Nikolaus Hansen's CMA-ES, through `CMAEvolutionStrategy.ask/tell`.

`cma_es` (restarts) and `cma_ipop` (IPOP: each restart doubles the population), bb tasks only; no
categoricals. The search box, integer handling, generations, crashed trials (rejected) and
seeding: docs/adapters.md#pycma-cma-es.

    make run OPT=cma_ipop TASK=bbob/f1_d5_i1 SEEDS=2
"""
from __future__ import annotations

import contextlib
import math
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from carps_like.isolation import GlobalRNGScope, quiet
from carps_like.optimizer import Optimizer
from carps_like.spaces import searched
from carps_like.types import Status, TaskType, TrialInfo, TrialValue


class _Coordinate:
    """One search coordinate: its box, initial step size, and the map back to a hyperparameter value."""

    def __init__(self, d) -> None:
        if d.kind not in ("float", "integer", "ordinal"):
            raise TypeError(f"pycma adapter cannot handle {d.kind} hyperparameter {d.name!r}")
        self.hp = d  # its Dimension
        # on the integer lattice (pycma's integer_variables): ordinals and integers on a linear scale
        self.integer = d.kind == "ordinal" or (d.kind == "integer" and not d.log)
        if d.kind == "ordinal":
            self.lower, self.upper = -0.5, len(d.choices) - 0.5
        elif self.integer:
            self.lower, self.upper = d.lower - 0.5, d.upper + 0.5
        else:
            self.lower, self.upper = 0.0, 1.0
            lo, hi = (d.lower - 0.5, d.upper + 0.5) if d.kind == "integer" else (d.lower, d.upper)
            self._scale = (math.log(lo), math.log(hi)) if d.log else (float(lo), float(hi))

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def value(self, x: float) -> Any:
        d = self.hp
        if d.kind == "ordinal":
            return d.choices[min(max(int(round(x)), 0), len(d.choices) - 1)]
        if not self.integer:
            a, b = self._scale
            x = a + min(max(float(x), 0.0), 1.0) * (b - a)
            x = math.exp(x) if d.log else x
        return d.clip(x)


class CMAES(Optimizer):
    """pycma's CMA-ES with restarts; `incpopsize` 2 makes it IPOP-CMA-ES.

    Settings (from the optimizer YAML):
      popsize: population size of the first run (None: pycma's default 4 + floor(3 ln d), larger
               with integer variables)
      sigma0: initial step size, as a fraction of each coordinate's width (default 0.25)
      incpopsize: population size factor at each restart (1: plain restarts, 2: IPOP)
    """

    task_types: ClassVar[frozenset[TaskType]] = frozenset({TaskType.BLACKBOX})
    supports_conditions: ClassVar[bool] = False
    supports_forbiddens: ClassVar[bool] = False
    hyperparameters = {"float": "native ([0, 1] box; log: log scale)",
                       "integer": "rounded (pycma integer_variables lattice; log: rounded from log scale)",
                       "ordinal": "integer index (pycma integer_variables)"}
    batch_ask: ClassVar[bool] = True  # the population is proposed together; extra asks sample the same distribution
    noise_handling: ClassVar[str] = "population"  # rank-based weighted recombination of the population

    def __init__(self, task, seed: int, workdir: Path | None = None, *, popsize: int | None = None,
                 sigma0: float = 0.25, incpopsize: float = 1) -> None:
        super().__init__(task, seed, workdir)
        cs = task.configspace
        if cs.conditions or cs.forbidden_clauses:  # check_task refuses these first; guard direct use too
            raise ValueError("pycma supports neither conditional hyperparameters nor forbidden clauses")
        dims, self._constants = searched(cs)
        self._coords = [_Coordinate(d) for d in dims]
        if not self._coords:
            raise ValueError("CMA-ES needs at least one non-constant hyperparameter")
        if incpopsize < 1:
            raise ValueError(f"incpopsize must be >= 1, got {incpopsize}")
        self._sigma0 = float(sigma0)
        self._incpopsize = float(incpopsize)
        self._popsize = None if popsize is None else int(popsize)
        self._cma_seed = self.seed % (2**32 - 2) + 1  # pycma: seed 0 means "from the clock"
        self._x0_rng = np.random.RandomState(self.seed)  # restart points
        self._rng = GlobalRNGScope(self.seed, torch=False)  # pycma draws from the global numpy generator
        self.n_restarts = 0
        self._generation = 0
        self._pending: deque = deque()  # members of this generation not handed out yet
        self._results: list[tuple[np.ndarray, float]] = []  # successful members of this generation
        x0 = np.array([(c.lower + c.upper) / 2 for c in self._coords])
        with self._scope():
            self._start(x0)

    @contextlib.contextmanager
    def _scope(self):
        with self._rng, quiet():
            yield

    def _start(self, x0: np.ndarray) -> None:
        """A new ES (first run or restart) and its first population."""
        import cma

        coords = self._coords
        options = {
            "bounds": [[c.lower for c in coords], [c.upper for c in coords]],
            "CMA_stds": [c.width for c in coords],
            "seed": self._cma_seed + self.n_restarts,
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
        }
        if len(coords) > 1:
            options["integer_variables"] = [i for i, c in enumerate(coords) if c.integer]
        else:  # pycma 4.5 fails in one dimension on integer handling and on its std limits (1-vector taken for a scalar)
            options.update(maxstd=np.inf, minstd=0)
        if self._popsize is not None:
            options["popsize"] = self._popsize
        self._es = cma.CMAEvolutionStrategy(x0, self._sigma0, options)
        self._popsize = int(self._es.popsize)
        self._begin_generation()

    def _begin_generation(self) -> None:
        self._generation += 1
        self._pending = deque(self._es.ask())
        self._results = []

    def ask(self) -> TrialInfo:
        with self._scope():
            if not self._pending:  # all members out, generation incomplete: another sample of it
                self._pending.append(self._es.ask(1)[0])
            x = self._pending.popleft()
        return TrialInfo(config=self._to_config(x), native=(self._generation, x))

    def _to_config(self, x: np.ndarray):
        from ConfigSpace import Configuration

        values = dict(self._constants)
        for c, xi in zip(self._coords, x):
            values[c.hp.name] = c.value(xi)
        return Configuration(self.task.configspace, values=values)  # validates against the space

    def tell(self, trial_info: TrialInfo, trial_value: TrialValue) -> None:
        generation, x = trial_info.native
        cost = trial_value.cost
        if generation != self._generation:
            return  # its generation was already told to pycma (only with batches larger than pending members)
        if trial_value.status is not Status.SUCCESS or cost is None or not math.isfinite(float(cost)):
            return  # rejected, as pycma's ask_and_eval does: the next ask resamples
        self._results.append((x, float(cost)))
        if len(self._results) < self._popsize:
            return
        with self._scope():
            solutions, values = zip(*self._results)
            self._es.tell(list(solutions), list(values))
            if self._es.stop():
                self.n_restarts += 1
                self._popsize = max(self._popsize, int(round(self._popsize * self._incpopsize)))
                x0 = np.array([self._x0_rng.uniform(c.lower, c.upper) for c in self._coords])
                self._start(x0)
            else:
                self._begin_generation()
