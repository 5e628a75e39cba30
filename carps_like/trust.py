"""Which `_target_`s a queue worker may instantiate: code named by data must be the project's own.

Whoever can write a queue database chooses each cell's optimizer and task configs, and the runner
imports and calls every `_target_` in them (Hydra instantiates nested ones too). A worker checks
them all first and accepts only classes defined in the project's packages or in the module
prefixes of $CARPS_LIKE_TRUSTED_TARGETS (docs/queue.md, "Who can run code").
"""
from __future__ import annotations

import os
import re
from typing import Any, Iterator

from .errors import UserError

TRUSTED_PACKAGES = ("carps_like", "benchmarks", "optimizers")
TRUSTED_ENV = "CARPS_LIKE_TRUSTED_TARGETS"
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z", re.ASCII)


class UntrustedTarget(UserError):
    """A queued config names code outside the trusted modules, or reads the worker's environment."""


def trusted_prefixes() -> tuple[str, ...]:
    """The project's packages plus $CARPS_LIKE_TRUSTED_TARGETS (comma-separated module prefixes)."""
    extra = [p.strip() for p in os.environ.get(TRUSTED_ENV, "").split(",") if p.strip()]
    for p in extra:
        if not _DOTTED.match(p):
            raise UserError(f"{TRUSTED_ENV}: {p!r} is not a module prefix (accepted: comma-separated dotted "
                            f"module names, e.g. mylab,tests.helpers)")
    return TRUSTED_PACKAGES + tuple(extra)


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _items(cfg: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
    """(location, key, value) of every entry of a nested config, depth first."""
    pairs = cfg.items() if isinstance(cfg, dict) else enumerate(cfg) if isinstance(cfg, list) else ()
    for key, value in pairs:
        here = f"{where}[{key}]" if isinstance(cfg, list) else f"{where}.{key}"
        yield here, key, value
        yield from _items(value, here)


def _check_target(where: str, target: Any, prefixes: tuple[str, ...]) -> None:
    from .registry import import_target

    def refuse(why: str) -> UntrustedTarget:
        return UntrustedTarget(f"{where} {target!r} {why}; a queued config may name only classes defined in "
                               f"{', '.join(prefixes)} (workers trust more module prefixes with "
                               f"{TRUSTED_ENV}=prefix1,prefix2)")

    if not isinstance(target, str) or not _DOTTED.match(target) or "." not in target:
        raise refuse("is not a dotted class name (module.Class)")
    if not _under(target.rpartition(".")[0], prefixes):
        raise refuse("is outside the trusted modules")
    try:
        obj = import_target(target)  # imports a trusted module only
    except UserError as exc:  # missing, or deeper than module.Class (Hydra would walk attributes)
        raise UserError(f"{where}: {exc}") from None
    # what a trusted module imported (benchmarks.toy.ConfigurationSpace) or a function is not a class defined there
    if not isinstance(obj, type) or not _under(obj.__module__, prefixes):
        module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        what = f"{module}.{name}" if module and name else f"a {type(obj).__name__}"
        raise refuse(f"is not a class defined there (it is {what})")


def check_config(cfg: Any, name: str) -> None:
    """Refuse (UntrustedTarget) a config naming an untrusted `_target_` at any depth, or holding an
    interpolation (`${oc.env:...}` would hand the worker's secrets to the objective, its errors)."""
    prefixes = trusted_prefixes()
    for where, key, value in _items(cfg, name):
        if key == "_target_":
            _check_target(where, value, prefixes)
        elif isinstance(value, str) and "${" in value:
            raise UntrustedTarget(f"{where} {value!r} is an interpolation; a queued config is plain data "
                                  f"(no ${{...}}: it would be resolved on the worker)")
