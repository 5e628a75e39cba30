"""ConfigSpace helpers shared by the runner and the adapters.

* `Dimension` / `dimensions` / `searched`: the one place that tells ConfigSpace's hyperparameter
  classes apart. Each hyperparameter becomes a normalized record (kind, bounds, log, choices)
  that every adapter translates into its library's space by `kind`; priors and category weights
  are not carried (no adapter uses them).
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

from dataclasses import dataclass
from typing import Any, Callable, Mapping

#: choices named in an error message before it says how many there are
MAX_SHOWN_CHOICES = 10
#: relative slack on float bounds: ConfigSpace itself rounds decoded floats to 13 places and
#: log-scale decoding can overshoot by an ulp; neither is a protocol error
BOUND_SLACK = 1e-9
#: the kinds of `Dimension.kind`
KINDS = ("float", "integer", "categorical", "ordinal", "constant")


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter as the adapters see it.

    float / integer: `lower`, `upper` (Python numbers) and `log`; categorical: `choices`;
    ordinal: `choices` is the ordered sequence; constant: `choices` is `(value,)`.
    """

    name: str
    kind: str
    lower: Any = None
    upper: Any = None
    log: bool = False
    choices: tuple = ()

    @property
    def value(self) -> Any:
        """A constant's value."""
        return self.choices[0]

    def clip(self, v) -> Any:
        """A library's number back into bounds: floats clamped (log transforms overshoot by an ulp),
        integers rounded and clamped; other kinds unchanged."""
        if self.kind == "float":
            return min(max(float(v), self.lower), self.upper)
        if self.kind == "integer":
            return min(max(int(round(float(v))), self.lower), self.upper)
        return v


def dimension(hp) -> Dimension:
    """ConfigSpace hyperparameter -> Dimension; TypeError for a class none of KINDS covers."""
    from ConfigSpace.hyperparameters import (
        CategoricalHyperparameter,
        Constant,
        FloatHyperparameter,
        IntegerHyperparameter,
        OrdinalHyperparameter,
    )

    if isinstance(hp, FloatHyperparameter):
        return Dimension(hp.name, "float", float(hp.lower), float(hp.upper), bool(hp.log))
    if isinstance(hp, IntegerHyperparameter):
        return Dimension(hp.name, "integer", int(hp.lower), int(hp.upper), bool(hp.log))
    if isinstance(hp, CategoricalHyperparameter):
        return Dimension(hp.name, "categorical", choices=tuple(hp.choices))
    if isinstance(hp, OrdinalHyperparameter):
        return Dimension(hp.name, "ordinal", choices=tuple(hp.sequence))
    if isinstance(hp, Constant):
        return Dimension(hp.name, "constant", choices=(hp.value,))
    raise TypeError(f"hyperparameter {hp.name!r} of type {type(hp).__name__} is none of: {', '.join(KINDS)}")


def dimensions(configspace) -> dict[str, Dimension]:
    """Every hyperparameter of the space by name, in the space's (topological) order."""
    return {name: dimension(hp) for name, hp in configspace.items()}


def searched(configspace) -> tuple[list[Dimension], dict[str, Any]]:
    """(the dimensions a library searches, the constants to add back to every configuration)."""
    dims = dimensions(configspace).values()
    return [d for d in dims if d.kind != "constant"], {d.name: d.value for d in dims if d.kind == "constant"}


def _choices_text(values) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:MAX_SHOWN_CHOICES])
    more = f", ... ({len(values)} choices)" if len(values) > MAX_SHOWN_CHOICES else ""
    return f"one of {shown}{more}"


def _value_test(hp) -> tuple[Callable[[Any], bool], str]:
    """(test of one value, what is accepted) for one hyperparameter."""
    import numpy as np

    try:
        d = dimension(hp)
    except TypeError:
        return hp.legal_value, f"a legal value of {type(hp).__name__} {hp.name}"
    reals, ints = (int, float, np.integer, np.floating), (int, np.integer)
    lo, hi = d.lower, d.upper
    if d.kind == "float":
        slack = BOUND_SLACK * max(hi - lo, abs(lo), abs(hi), 1e-4)
        lo_s, hi_s = lo - slack, hi + slack
        return (lambda v: isinstance(v, reals) and v.__class__ is not bool and lo_s <= v <= hi_s,
                f"a number in [{lo!r}, {hi!r}]")
    if d.kind == "integer":

        def integer(v) -> bool:
            if isinstance(v, ints):
                return v.__class__ is not bool and lo <= v <= hi
            return isinstance(v, (float, np.floating)) and float(v).is_integer() and lo <= v <= hi

        return integer, f"an integer in [{lo}, {hi}]"
    if d.kind == "constant":
        value = d.value
        return (lambda v: v == value), f"exactly {value!r}"
    try:
        lookup = frozenset(d.choices)
    except TypeError:  # unhashable choices: a linear scan
        lookup = d.choices
    return lookup.__contains__, _choices_text(d.choices)


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
                               *, categorical_by_index: Callable[[Dimension], bool] = lambda d: True):
    """Encoded values -> a Configuration of `configspace` (validated).

    Floats are clamped into their bounds, integers rounded and clamped, ordinals given as their
    order index, categoricals as their choice index unless `categorical_by_index(dimension)` is
    False (then the value is the choice itself). `constants` are added as they are.
    """
    from ConfigSpace import Configuration

    values: dict[str, Any] = dict(constants or {})
    for d in dimensions(configspace).values():
        if d.name in values or d.name not in encoded:
            continue
        v = encoded[d.name]
        if d.kind == "categorical":
            values[d.name] = d.choices[int(v)] if categorical_by_index(d) else v
        elif d.kind == "ordinal":
            values[d.name] = d.choices[int(round(float(v)))]
        elif d.kind != "constant":
            values[d.name] = d.clip(v)
    return Configuration(configspace, values=values)
