"""Tiny tasks of every type for tests, smoke runs and the optimizer conformance suite.

They are real ObjectiveFunctions (no mocks): cheap closed-form functions over mixed spaces.

* toy/bb        sphere over two floats, shifted optimum at (0.3, -0.2), cost 0 there.
* toy/bb_mixed  floats + integer + categorical + a conditional float (active only when kind == "b").
* toy/mf        the same sphere, biased at low fidelity: f(x, z) = sphere(x - 0.5 (1 - z/z_max)).
* toy/mo        two shifted spheres (a convex Pareto front between their centres).
* toy/momf      toy/mo with the toy/mf bias on both objectives.
* toy/crashing  toy/bb that raises for x0 > 0.5 (exercises CRASHED trials).

`delay` (seconds slept per evaluation, default 0) makes any of them slow on purpose.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, Integer

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Fidelity, Objective

CENTRE_A = (0.3, -0.2)
CENTRE_B = (-0.4, 0.5)


def _sphere(x0: float, x1: float, centre: tuple[float, float]) -> float:
    return (x0 - centre[0]) ** 2 + (x1 - centre[1]) ** 2


class ToyFunction(ObjectiveFunction):
    """Closed-form toy task; `kind` picks one of the variants listed in the module docstring."""

    KINDS = ("bb", "bb_mixed", "mf", "mo", "momf", "crashing")

    def __init__(self, kind: str = "bb", delay: float = 0.0) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown toy kind {kind!r}; accepted: {', '.join(self.KINDS)}")
        self.kind = kind
        self.delay = float(delay)  # seconds slept per evaluation: lets tests kill a run mid-way
        space = ConfigurationSpace(name=f"toy_{kind}", space=[Float("x0", (-1.0, 1.0)), Float("x1", (-1.0, 1.0))])
        if kind == "bb_mixed":
            kind_hp = Categorical("kind", ["a", "b"])
            extra = Float("x2", (0.0, 1.0))
            space.add([Integer("n", (1, 8)), kind_hp, extra, EqualsCondition(extra, kind_hp, "b")])
        self.configspace = space
        self.fidelity = Fidelity("z", 1.0, 9.0, integer=True) if kind in ("mf", "momf") else None
        multi = kind in ("mo", "momf")
        self.objectives = (Objective("f1"), Objective("f2")) if multi else (Objective("f"),)
        optimum = None if multi else (0.0,)
        self.metadata = ObjectiveMetadata(
            domain="toy", approximation="synthetic", deterministic=True, optimum=optimum,
            fidelity_semantics="separate evaluation at each fidelity" if self.fidelity else None,
        )

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        if self.delay:
            time.sleep(self.delay)
        x0, x1 = float(config["x0"]), float(config["x1"])
        if self.kind == "crashing" and x0 > 0.5:
            raise RuntimeError(f"toy crash at x0={x0:.3f}")
        shift = 0.0
        if self.fidelity is not None:
            z = self.fidelity.max if fidelity is None else fidelity
            shift = 0.5 * (1.0 - z / self.fidelity.max)
        f = _sphere(x0 - shift, x1, CENTRE_A)
        if self.kind == "bb_mixed":
            f += 0.01 * (int(config["n"]) - 4) ** 2 + (0.0 if config["kind"] == "a" else 0.05 + float(config["x2"]) ** 2)
        if self.kind in ("mo", "momf"):
            return Evaluation(values=(f, _sphere(x0 - shift, x1, CENTRE_B)))
        return Evaluation(values=(f,))


def task_specs() -> list[TaskSpec]:
    return [TaskSpec(id=f"toy/{k}", target="benchmarks.toy.ToyFunction", kwargs={"kind": k}, n_trials=20)
            for k in ToyFunction.KINDS]
