"""ConfigSpace helpers shared by the runner and the adapters.

* `ConfigurationChecker`: is an asked configuration inside the task's space? The runner checks
  every trial with it before the objective sees it. ConfigSpace's own check
  (`Configuration(space, values=...)`) costs ~0.1 ms per trial, the harness's whole overhead
  budget, so the space is compiled once into per-hyperparameter tests; conditions and forbidden
  clauses are still evaluated by ConfigSpace's own objects.
* `configuration_from_encoded`: turning a library's numeric encoding of a configuration back into
  a valid Configuration. Several libraries (HEBO, Ax) work on numbers: floats after log/unit
  transforms (which can land a float-error outside the bounds), integers as floats, categorical
  and ordinal values as indices. Decoding is the same for all of them, so it lives here once.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

#: choices named in an error message before it says how many there are
MAX_SHOWN_CHOICES = 10
#: relative slack on float bounds: ConfigSpace itself rounds decoded floats to 13 places and
#: log-scale decoding can overshoot by an ulp; neither is a protocol error
BOUND_SLACK = 1e-9


def _choices_text(values) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:MAX_SHOWN_CHOICES])
    more = f", ... ({len(values)} choices)" if len(values) > MAX_SHOWN_CHOICES else ""
    return f"one of {shown}{more}"


def _value_test(hp) -> tuple[Callable[[Any], bool], str]:
    """(test of one value, what is accepted) for one hyperparameter."""
    import numpy as np
    from ConfigSpace.hyperparameters import (
        CategoricalHyperparameter,
        Constant,
        FloatHyperparameter,
        IntegerHyperparameter,
        OrdinalHyperparameter,
    )

    reals, ints = (int, float, np.integer, np.floating), (int, np.integer)
    if isinstance(hp, FloatHyperparameter):
        lo, hi = float(hp.lower), float(hp.upper)
        slack = BOUND_SLACK * max(hi - lo, abs(lo), abs(hi), 1e-4)
        lo_s, hi_s = lo - slack, hi + slack
        return (lambda v: isinstance(v, reals) and v.__class__ is not bool and lo_s <= v <= hi_s,
                f"a number in [{lo!r}, {hi!r}]")
    if isinstance(hp, IntegerHyperparameter):
        lo, hi = int(hp.lower), int(hp.upper)

        def integer(v) -> bool:
            if isinstance(v, ints):
                return v.__class__ is not bool and lo <= v <= hi
            return isinstance(v, (float, np.floating)) and float(v).is_integer() and lo <= v <= hi

        return integer, f"an integer in [{lo}, {hi}]"
    if isinstance(hp, (CategoricalHyperparameter, OrdinalHyperparameter)):
        values = tuple(hp.choices if isinstance(hp, CategoricalHyperparameter) else hp.sequence)
        try:
            lookup = frozenset(values)
        except TypeError:  # unhashable choices: a linear scan
            lookup = values
        return lookup.__contains__, _choices_text(values)
    if isinstance(hp, Constant):
        value = hp.value
        return (lambda v: v == value), f"exactly {value!r}"
    return hp.legal_value, f"a legal value of {type(hp).__name__} {hp.name}"


class _Values(dict):
    """A configuration as ConfigSpace's conditions read it: absent values are NotSet."""

    __slots__ = ()

    def __missing__(self, key):
        from ConfigSpace.types import NotSet

        return NotSet


class ConfigurationChecker:
    """Checks configurations (plain dicts of active values) against one ConfigSpace space.

    `problem(config)` says what is wrong (one line, naming the hyperparameter and what it
    accepts) or returns None. Checked: unknown and missing keys, types and bounds, choices,
    values of inactive hyperparameters, missing active ones, and forbidden clauses.
    """

    def __init__(self, space) -> None:
        parents = space.parent_conditions_of
        # ConfigSpace keeps hyperparameters in topological order: parents are checked before children
        self._checks = [(name, *_value_test(hp), tuple(parents.get(name) or ()) or None)
                        for name, hp in space.items()]
        self._names = frozenset(space.keys())
        self._conditional = any(c[3] for c in self._checks)
        self._forbiddens = tuple(space.forbidden_clauses)

    def problem(self, config: Mapping[str, Any]) -> str | None:
        view = _Values(config) if self._conditional else None
        n_active = 0
        for name, test, accepted, conditions in self._checks:
            if conditions is not None and not all(c.satisfied_by_value(view) for c in conditions):
                if name in config:
                    return (f"{name}={config[name]!r} is given but inactive ({' and '.join(map(str, conditions))} "
                            "does not hold); inactive hyperparameters must be absent")
                continue
            n_active += 1
            if name not in config:
                return self._unknown(config) or f"{name} is missing; it is active and accepts {accepted}"
            value = config[name]
            try:
                ok = test(value)
            except Exception:  # e.g. an unhashable value for a categorical
                ok = False
            if not ok:
                return f"{name}={value!r} is not allowed; accepted: {accepted}"
        if n_active != len(config):
            return self._unknown(config)
        for forbidden in self._forbiddens:
            if forbidden.is_forbidden_value(config):
                return f"it violates the forbidden clause {forbidden}"
        return None

    def _unknown(self, config: Mapping[str, Any]) -> str | None:
        unknown = [repr(k) for k in config if k not in self._names]
        if unknown:
            return f"{', '.join(unknown)} not in the space; accepted names: {', '.join(name for name, *_ in self._checks)}"
        return None


def configuration_from_encoded(configspace, encoded: Mapping[str, Any], constants: Mapping[str, Any] | None = None,
                               *, categorical_by_index: Callable[[Any], bool] = lambda hp: True):
    """Encoded values -> a Configuration of `configspace` (validated).

    Floats are clamped into their bounds, integers rounded and clamped, ordinals given as their
    order index, categoricals as their choice index unless `categorical_by_index(hp)` is False
    (then the value is the choice itself). `constants` are added as they are.
    """
    from ConfigSpace import Configuration
    from ConfigSpace.hyperparameters import (
        CategoricalHyperparameter,
        FloatHyperparameter,
        IntegerHyperparameter,
        OrdinalHyperparameter,
    )

    values: dict[str, Any] = dict(constants or {})
    for name, hp in configspace.items():
        if name in values or name not in encoded:
            continue
        v = encoded[name]
        if isinstance(hp, FloatHyperparameter):
            values[name] = min(max(float(v), hp.lower), hp.upper)
        elif isinstance(hp, IntegerHyperparameter):
            values[name] = min(max(int(round(float(v))), hp.lower), hp.upper)
        elif isinstance(hp, CategoricalHyperparameter):
            values[name] = hp.choices[int(v)] if categorical_by_index(hp) else v
        elif isinstance(hp, OrdinalHyperparameter):
            values[name] = hp.sequence[int(round(float(v)))]
    return Configuration(configspace, values=values)
