"""Find tasks by metadata without importing any benchmark library (reads the task YAMLs).

    from carps_like import find_tasks
    find_tasks(type="mf", collection="mfbbob", max_dim=5)
    find_tasks("bbob/f1_*", "dim>=10")          # the same terms `make tasks FILTER=...` takes
"""
from __future__ import annotations

import fnmatch
import operator
import re

from . import registry
from .errors import UserError

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "=": operator.eq}
KEYS = ("type", "collection", "dim", "conditional", "approximation", "domain", "deterministic")


def _match(entry: registry.TaskEntry, term: str) -> bool:
    m = re.fullmatch(r"(\w+)(<=|>=|<|>|=)(.+)", term)
    if not m:
        return fnmatch.fnmatch(entry.id, term) if any(c in term for c in "*?[") else term in entry.id
    key, op, value = m.groups()
    meta = entry.metadata
    if key in ("dim", "dimensions"):
        try:
            return _OPS[op](int(meta.get("dimensions", 0)), int(value))
        except ValueError:
            raise UserError(f"dim needs an integer, got {value!r}") from None
    if op != "=":
        raise UserError(f"{key} takes '=', not {op!r} (only dim compares with <, <=, >, >=)")
    if key == "type":
        return meta.get("type") == value
    if key == "collection":
        return entry.collection == value
    if key == "conditional":
        return (meta.get("n_conditions", 0) > 0) == (value.lower() in ("yes", "true", "1"))
    if key in ("approximation", "domain", "deterministic"):
        return str(meta.get(key)).lower() == value.lower()
    raise UserError(f"unknown filter key {key!r}; accepted: {', '.join(KEYS)} (or part of a task id / a glob)")


def find_tasks(*terms: str, type: str | None = None, collection: str | None = None, min_dim: int | None = None,
               max_dim: int | None = None, approximation: str | None = None,
               conditional: bool | None = None) -> list[registry.TaskEntry]:
    """Tasks matching every term and keyword (ids, metadata and budget in each TaskEntry)."""
    terms = list(terms)
    for key, op, value in (("type", "=", type), ("collection", "=", collection), ("dim", ">=", min_dim),
                           ("dim", "<=", max_dim), ("approximation", "=", approximation),
                           ("conditional", "=", None if conditional is None else ("yes" if conditional else "no"))):
        if value is not None:
            terms.append(f"{key}{op}{value}")
    return [e for e in registry.tasks().values() if all(_match(e, t) for t in terms)]
