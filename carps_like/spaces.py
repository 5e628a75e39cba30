"""Turning a library's numeric encoding of a configuration back into a valid ConfigSpace Configuration.

Several libraries (HEBO, Ax) work on numbers: floats after log/unit transforms (which can land a
float-error outside the bounds), integers as floats, categorical and ordinal values as indices.
Decoding is the same for all of them, so it lives here once.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping


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
