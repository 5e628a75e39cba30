"""Capability declarations are checked when an adapter class is defined (issue 21, item 6): the
`hyperparameters` declaration used to be free text that nothing read, so a typo made a kind
silently unsupported and the listing said whatever the text said."""
from __future__ import annotations

import pytest

from carps_like import registry
from carps_like.optimizer import ENCODINGS, HYPERPARAMETER_KINDS, Optimizer, encoding_of
from carps_like.types import TaskType


def _define(**attributes):
    return type("Declared", (Optimizer,), {"task_types": frozenset({TaskType.BLACKBOX}), **attributes})


@pytest.mark.parametrize("attributes, says", [
    ({"hyperparameters": {"int": "native"}}, "'int' is not a kind; accepted: float, integer, categorical, ordinal"),
    ({"hyperparameters": {"float": "log-scaled by the library"}}, "accepted: one of 'native', 'rounded'"),
    ({"hyperparameters": {"categorical": "one-hot"}}, "hyperparameters['categorical'] = 'one-hot'"),
    ({"noise_handling": "modell"}, "noise_handling 'modell' is not one of: none, model, repeats, population"),
    ({"task_types": {"bb"}}, "task_types must be a frozenset of TaskType members"),
    ({"batch_ask": "yes"}, "batch_ask must be True or False"),
])
def test_a_wrong_declaration_is_refused_when_the_class_is_defined(attributes, says):
    with pytest.raises(TypeError, match="declares its capabilities wrongly") as error:
        _define(**attributes)
    assert says in str(error.value)


def test_encodings_with_notes_are_accepted():
    cls = _define(hyperparameters={"float": "native (log: log scale)", "integer": "rounded",
                                   "ordinal": "integer index (order kept)"})
    assert cls.capabilities()["hyperparameters"]["categorical"] == "unsupported"
    assert encoding_of("index bins (of [0, 1])") == "index bins"
    assert encoding_of("Free text!") == "" and encoding_of("free text") not in ENCODINGS


def test_every_shipped_adapter_uses_the_vocabulary():
    for name, config in registry.optimizers().items():
        if config.get("by_task_type"):
            continue
        declared = registry.optimizer_class(name).hyperparameters
        assert set(declared) <= set(HYPERPARAMETER_KINDS), name
        assert {encoding_of(h) for h in declared.values()} <= set(ENCODINGS), name
