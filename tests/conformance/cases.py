"""The conformance cases: which tiny tasks each optimizer variant must pass, from its declarations.

Every declared task type gets a determinism case on a continuous toy space; the variant's first
declared type also gets every hyperparameter kind it declares, conditions and forbiddens when
declared, crashing trials, a time-only budget and (when declared) batch asks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from carps_like import registry
from carps_like.types import TaskType

TYPE_ORDER = (TaskType.BLACKBOX, TaskType.MULTI_FIDELITY, TaskType.MULTI_OBJECTIVE,
              TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE)
#: toy kind of benchmarks/toy.py per task type
TOY_KIND = {TaskType.BLACKBOX: "bb", TaskType.MULTI_FIDELITY: "mf", TaskType.MULTI_OBJECTIVE: "mo",
            TaskType.MULTI_FIDELITY_MULTI_OBJECTIVE: "momf"}
#: budget of every conformance run, in full-fidelity evaluations: enough for a model-based step
N_TRIALS = 8
#: seconds of the time-only budget case
TIME_LIMIT = 1.0


@dataclass(frozen=True)
class Variant:
    """A concrete optimizer config: its name, its config dict and its adapter class."""

    name: str
    config: dict
    cls: type

    @property
    def primary_type(self) -> TaskType:
        return next(t for t in TYPE_ORDER if t in self.cls.task_types)


@dataclass(frozen=True)
class Case:
    variant: Variant
    task_type: TaskType
    kind: str  # determinism | kinds | conditional | forbidden | crash | time | batch
    extra: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.variant.name}-{self.task_type.value}-{self.kind}"

    def task_config(self, n_trials: float | None = N_TRIALS, time_limit: float | None = None) -> dict:
        """A task config in the shape of configs/task/*.yaml, built from benchmarks.toy."""
        objective = {"_target_": "benchmarks.toy.ToyFunction", "kind": TOY_KIND[self.task_type], "extra": list(self.extra)}
        if self.kind == "crash":
            objective["crash_above"] = 0.0  # about half of all configurations crash
        return {
            "id": f"conformance/{self.task_type.value}_{self.kind}",
            "objective_function": objective,
            "budget": {"n_trials": n_trials, "time_limit": time_limit},
            "metadata": {"type": self.task_type.value},
        }


def load_variants(names: list[str]) -> list[Variant]:
    """Config names (dispatchers expand to their variants) or YAML paths -> concrete variants."""
    if not names:
        names = list(registry.optimizers())
    variants: dict[str, Variant] = {}
    for name in names:
        if name.endswith((".yaml", ".yml")):
            cfg = yaml.safe_load(Path(name).read_text())
            cfg.setdefault("id", Path(name).stem)
            registry.check_optimizer_config(cfg, name)
            variants[cfg["id"]] = Variant(cfg["id"], cfg, registry.import_target(cfg["adapter"]["_target_"]))
            continue
        cfg = registry.get_optimizer_config(name)
        members = list(cfg["by_task_type"].values()) if cfg.get("by_task_type") else [name]
        for member in members:
            member_cfg = registry.get_optimizer_config(member)
            variants[member] = Variant(member, member_cfg, registry.optimizer_class(member))
    return list(variants.values())


def needs_isolation(variant: Variant) -> str | None:
    """Why the variant cannot run in this interpreter: its YAML `requirements` are not satisfied
    here (carps_like.optenv); `make check-optimizer` runs the suite in its isolated environment."""
    from carps_like.optenv import requirements_of, unmet

    missing = unmet(requirements_of(variant.config))
    if not missing:
        return None
    return (f"{variant.name} needs {missing[0]}: it runs in its isolated environment "
            f"(make check-optimizer OPT={variant.name})")


def cases_for(variant: Variant) -> list[Case]:
    if needs_isolation(variant):
        return []
    cls = variant.cls
    cases = [Case(variant, t, "determinism") for t in TYPE_ORDER if t in cls.task_types]
    primary = variant.primary_type
    kinds = [k for k in ("integer", "categorical", "ordinal") if k in cls.hyperparameters]
    if "float" in cls.hyperparameters:
        kinds.insert(0, "log")
    cases.append(Case(variant, primary, "kinds", tuple(kinds)))
    if cls.supports_conditions and "categorical" in cls.hyperparameters:
        cases.append(Case(variant, primary, "conditional", ("categorical", "conditional")))
    if cls.supports_forbiddens and {"categorical", "integer"} <= set(cls.hyperparameters):
        cases.append(Case(variant, primary, "forbidden", ("forbidden",)))
    cases.append(Case(variant, primary, "crash"))
    cases.append(Case(variant, primary, "time"))
    if cls.batch_ask:
        cases.append(Case(variant, primary, "batch", tuple(kinds)))
    return cases


def not_run(variant: Variant) -> list[tuple[str, str]]:
    """(case id, why) for every check `cases_for` leaves out, so the suite can say why."""
    cls, name = variant.cls, variant.name
    why = needs_isolation(variant)
    if why:
        return [(f"{name}-isolated", why), (f"{name}-isolated-batch", why)]
    primary = variant.primary_type.value
    out = [(f"{name}-{t.value}-determinism", f"{name} does not declare {t.value} tasks")
           for t in TYPE_ORDER if t not in cls.task_types]
    if not cls.supports_conditions or "categorical" not in cls.hyperparameters:
        out.append((f"{name}-{primary}-conditional", f"{name} declares supports_conditions={cls.supports_conditions}, "
                    f"hyperparameters={list(cls.hyperparameters)} (needs conditions and categoricals)"))
    if not cls.supports_forbiddens or not {"categorical", "integer"} <= set(cls.hyperparameters):
        out.append((f"{name}-{primary}-forbidden", f"{name} declares supports_forbiddens={cls.supports_forbiddens}, "
                    f"hyperparameters={list(cls.hyperparameters)} (needs forbiddens, categoricals and integers)"))
    if not cls.batch_ask:
        out.append((f"{name}-{primary}-batch", f"{name} declares batch_ask=False"))
    return out
