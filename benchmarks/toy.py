"""Tiny tasks of every type for tests, smoke runs and the optimizer conformance suite.

They are real ObjectiveFunctions (no mocks): cheap closed-form functions over mixed spaces.

* toy/bb        sphere over two floats, shifted optimum at (0.3, -0.2), cost 0 there.
* toy/bb_mixed  floats + integer + categorical + a conditional float (active only when kind == "b").
* toy/mf        the same sphere, biased at low fidelity: f(x, z) = sphere(x - 0.5 (1 - z/z_max)).
* toy/mo        two shifted spheres (a convex Pareto front between their centres).
* toy/momf      toy/mo with the toy/mf bias on both objectives.
* toy/crashing  toy/bb that raises for x0 > 0.5 (exercises CRASHED trials).

`delay` (seconds slept per evaluation, default 0) makes any of them slow on purpose.
`extra` adds hyperparameters of given kinds to any variant, and `crash_above` makes any variant
raise for x0 above a threshold: the optimizer conformance suite builds its tiny tasks from them.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    Integer,

)

from ConfigSpace.hyperparameters import OrdinalHyperparameter

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Fidelity, Objective

CENTRE_A = (0.3, -0.2)
CENTRE_B = (-0.4, 0.5)
#: hyperparameters `extra` can add; "conditional" needs "categorical", "forbidden" brings its own two
EXTRA_KINDS = ("log", "integer", "categorical", "ordinal", "conditional", "forbidden")
ORDINAL_LEVELS = ("low", "mid", "high")
CATEGORY_PENALTY = {"a": 0.0, "b": 0.05, "c": 0.1}


def _sphere(x0: float, x1: float, centre: tuple[float, float]) -> float:
    return (x0 - centre[0]) ** 2 + (x1 - centre[1]) ** 2


class ToyFunction(ObjectiveFunction):
    """Closed-form toy task; `kind` picks one of the variants listed in the module docstring."""

    KINDS = ("bb", "bb_mixed", "mf", "mo", "momf", "crashing")

    def __init__(self, kind: str = "bb", delay: float = 0.0, extra: tuple[str, ...] | list[str] = (),
                 crash_above: float | None = None) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown toy kind {kind!r}; accepted: {', '.join(self.KINDS)}")
        unknown = sorted(set(extra) - set(EXTRA_KINDS))
        if unknown:
            raise ValueError(f"unknown extra hyperparameter kinds {unknown}; accepted: {', '.join(EXTRA_KINDS)}")
        if "conditional" in extra and "categorical" not in extra:
            raise ValueError("extra 'conditional' needs 'categorical' (its parent)")
        self.kind = kind
        self.delay = float(delay)  # seconds slept per evaluation: lets tests kill a run mid-way
        self.extra = tuple(extra)
        self.crash_above = 0.5 if kind == "crashing" else crash_above
        space = ConfigurationSpace(name=f"toy_{kind}", space=[Float("x0", (-1.0, 1.0)), Float("x1", (-1.0, 1.0))])
        if kind == "bb_mixed":
            kind_hp = Categorical("kind", ["a", "b"])
            extra = Float("x2", (0.0, 1.0))
            space.add([Integer("n", (1, 8)), kind_hp, extra, EqualsCondition(extra, kind_hp, "b")])
        self._add_extra(space, self.extra)
        self.configspace = space
        self.fidelity = Fidelity("z", 1.0, 9.0, integer=True) if kind in ("mf", "momf") else None
        multi = kind in ("mo", "momf")
        self.objectives = (Objective("f1"), Objective("f2")) if multi else (Objective("f"),)
        optimum = None if multi else (0.0,)
        self.metadata = ObjectiveMetadata(
            domain="toy", approximation="synthetic", deterministic=True, optimum=optimum,
            fidelity_semantics="separate evaluation at each fidelity" if self.fidelity else None,
        )

    @staticmethod
    def _add_extra(space: ConfigurationSpace, extra: tuple[str, ...]) -> None:
        if "log" in extra:
            space.add(Float("lr", (1e-4, 1.0), log=True))
        if "integer" in extra:
            space.add(Integer("k", (1, 8)))
        if "ordinal" in extra:
            space.add(OrdinalHyperparameter("level", list(ORDINAL_LEVELS)))
        if "categorical" in extra:
            space.add(Categorical("cat", list(CATEGORY_PENALTY)))
        if "conditional" in extra:
            child = Float("x_b", (0.0, 1.0))
            space.add([child, EqualsCondition(child, space["cat"], "b")])
        if "forbidden" in extra:
            mode, width = Categorical("mode", ["p", "q"]), Integer("width", (1, 4))
            space.add([mode, width])
            space.add(ForbiddenAndConjunction(ForbiddenEqualsClause(mode, "q"), ForbiddenEqualsClause(width, 4)))

    def _extra_cost(self, config: Mapping[str, Any]) -> float:
        """Each extra hyperparameter adds a small penalty that vanishes at its best value."""
        import math

        f = 0.0
        if "log" in self.extra:
            f += 0.01 * (math.log10(float(config["lr"])) + 2.0) ** 2
        if "integer" in self.extra:
            f += 0.01 * (int(config["k"]) - 3) ** 2
        if "ordinal" in self.extra:
            f += 0.02 * ORDINAL_LEVELS.index(config["level"])
        if "categorical" in self.extra:
            f += CATEGORY_PENALTY[config["cat"]]
        if "conditional" in self.extra and config.get("x_b") is not None:
            f += float(config["x_b"]) ** 2
        if "forbidden" in self.extra:
            f += 0.01 * int(config["width"]) + (0.0 if config["mode"] == "p" else 0.02)
        return f

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        if self.delay:
            time.sleep(self.delay)
        x0, x1 = float(config["x0"]), float(config["x1"])
        if self.crash_above is not None and x0 > self.crash_above:
            raise RuntimeError(f"toy crash at x0={x0:.3f}")
        shift = 0.0
        if self.fidelity is not None:
            z = self.fidelity.max if fidelity is None else fidelity
            shift = 0.5 * (1.0 - z / self.fidelity.max)
        f = _sphere(x0 - shift, x1, CENTRE_A)
        if self.kind == "bb_mixed":
            f += 0.01 * (int(config["n"]) - 4) ** 2 + (0.0 if config["kind"] == "a" else 0.05 + float(config["x2"]) ** 2)
        if self.extra:
            f += self._extra_cost(config)
        if self.kind in ("mo", "momf"):
            return Evaluation(values=(f, _sphere(x0 - shift, x1, CENTRE_B)))
        return Evaluation(values=(f,))


def task_specs() -> list[TaskSpec]:
    return [TaskSpec(id=f"toy/{k}", target="benchmarks.toy.ToyFunction", kwargs={"kind": k}, n_trials=20)
            for k in ToyFunction.KINDS]
