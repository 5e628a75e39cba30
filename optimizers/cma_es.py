"""pycma (`cma` 4.x), Nikolaus Hansen's CMA-ES, through `CMAEvolutionStrategy.ask/tell`.

Variants (black-box tasks only: pycma has no multi-objective or multi-fidelity method here):

* CMAES  cma_es    CMA-ES with pycma's default population size (4 + 3 ln d, more with integer
                   variables), restarted (same population size) whenever pycma's termination
                   criteria fire.
* CMAES  cma_ipop  IPOP-CMA-ES: each restart doubles the population size (Auger & Hansen 2005).

Decisions:

* Spaces. CMA-ES searches a box in R^d. Float hyperparameters are coordinates in [0, 1]
  (log floats on the log scale); sigma0 = 0.25 is a quarter of that width, pycma's advice.
  Integer and ordinal hyperparameters use pycma's own integer handling (option
  `integer_variables`: pycma rounds them in `ask`, keeps a minimum standard deviation so they
  keep moving, and centres the mean): it needs them on the integer lattice, so they are
  coordinates in [lower - 0.5, upper + 0.5] (ordinals: the order index in [-0.5, n - 0.5]; every
  value gets a rounding interval of width 1), with per-coordinate step sizes (`CMA_stds`) of
  their width. Log integers cannot live on the integer lattice: they are [0, 1] coordinates on
  the log scale of [lower - 0.5, upper + 0.5], rounded. Categorical hyperparameters have no
  order to search along and are not supported (tasks using them are refused). In one dimension
  pycma 4.5 fails on its integer handling and on its std limits (a 1-vector is taken for a
  scalar), so a lone integer/ordinal is searched continuously on its lattice box and rounded,
  without std limits (restarts recover from a stalled step size). Constants are
  added back; normal/beta floats and ints keep their bounds and lose their prior. No conditions,
  no forbidden clauses. Bounds are pycma's (`BoundTransform`): asked points lie in the box.
* Generations. `ask` hands out the members of pycma's population one by one; results are stored
  and the population is told to pycma (`tell`) as soon as popsize of them succeeded. When every
  member is out but the generation is not complete (crashes, or a batch larger than the
  population), `ask` samples another member from the current distribution (`es.ask(1)`), so
  batches of any size are sound: every member of a generation comes from that generation's
  distribution. Members still pending when their generation was told are not told later (they
  are kept by the runner; pycma's update uses the first popsize results).
* Crashed trials. pycma's own way is rejection: `ask_and_eval` resamples a solution whose value
  is NaN/None (infeasible) from the current distribution. A crash (or non-finite cost) is
  therefore not told; the next `ask` draws its replacement. A region where everything crashes
  thus keeps being resampled, as pycma would.
* Restarts. When `es.stop()` reports a termination criterion (tolx, tolfun, tolflatfitness, ...),
  a new ES starts from a uniformly random point of the box, with popsize multiplied by
  `incpopsize` (1: cma_es, 2: cma_ipop) and the next seed, as `cma.fmin`'s restarts do. The
  runner alone ends the run.
* Seeding. pycma seeds and draws from the *global* numpy generator (`np.random.seed(seed)` in
  the constructor, integer centering). Every pycma call runs inside a `GlobalRNGScope`, so runs
  are reproducible and nothing else sees pycma's draws. pycma treats seed 0 (and None) as "seed
  from the clock", so it gets run seed + 1.
* Output. `verbose=-9` and `verb_log=0`: nothing is printed and no outcmaes/ files are written
  (workdir is unused); warnings are discarded while pycma runs.
* Speed. Under 1 ms per ask + tell in small dimensions (one eigendecomposition per generation).
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
from carps_like.types import Status, TaskType, TrialInfo, TrialValue


class _Coordinate:
    """One search coordinate: its box, initial step size, and the map back to a hyperparameter value."""

    def __init__(self, hp) -> None:
        from ConfigSpace.hyperparameters import FloatHyperparameter, IntegerHyperparameter, OrdinalHyperparameter

        self.hp = hp
        self.integer = False  # on the integer lattice (pycma's integer_variables)
        if isinstance(hp, OrdinalHyperparameter):
            self.kind, self.integer = "ordinal", True
            self.lower, self.upper = -0.5, len(hp.sequence) - 0.5
        elif isinstance(hp, IntegerHyperparameter) and not hp.log:
            self.kind, self.integer = "integer", True
            self.lower, self.upper = hp.lower - 0.5, hp.upper + 0.5
        elif isinstance(hp, (FloatHyperparameter, IntegerHyperparameter)):
            self.kind = "integer" if isinstance(hp, IntegerHyperparameter) else "float"
            self.lower, self.upper = 0.0, 1.0
            lo, hi = (hp.lower - 0.5, hp.upper + 0.5) if self.kind == "integer" else (hp.lower, hp.upper)
            self._scale = (math.log(lo), math.log(hi)) if hp.log else (float(lo), float(hi))
        else:
            raise TypeError(f"pycma adapter cannot handle hyperparameter {hp.name!r} of type {type(hp).__name__}")

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def value(self, x: float) -> Any:
        hp = self.hp
        if self.kind == "ordinal":
            return hp.sequence[min(max(int(round(x)), 0), len(hp.sequence) - 1)]
        if not self.integer:
            a, b = self._scale
            x = a + min(max(float(x), 0.0), 1.0) * (b - a)
            x = math.exp(x) if hp.log else x
        if self.kind == "integer":
            return min(max(int(round(x)), hp.lower), hp.upper)
        return min(max(float(x), hp.lower), hp.upper)


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
                       "integer": "integer_variables (lattice, rounded by pycma; log: rounded from log scale)",
                       "ordinal": "integer_variables over the order index"}
    batch_ask: ClassVar[bool] = True  # the population is proposed together; extra asks sample the same distribution
    noise_handling: ClassVar[str] = "population"  # rank-based weighted recombination of the population

    def __init__(self, task, seed: int, workdir: Path | None = None, *, popsize: int | None = None,
                 sigma0: float = 0.25, incpopsize: float = 1) -> None:
        super().__init__(task, seed, workdir)
        cs = task.configspace
        if cs.conditions or cs.forbidden_clauses:  # check_task refuses these first; guard direct use too
            raise ValueError("pycma supports neither conditional hyperparameters nor forbidden clauses")
        from ConfigSpace.hyperparameters import Constant

        self._constants = {hp.name: hp.value for hp in cs.values() if isinstance(hp, Constant)}
        self._coords = [_Coordinate(hp) for hp in cs.values() if not isinstance(hp, Constant)]
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
