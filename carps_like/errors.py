"""Errors that are the user's to fix: the front ends print them as one line, never a traceback."""
from __future__ import annotations

import difflib
from typing import Iterable


class UserError(Exception):
    """Bad input: an unknown name, an impossible budget, an incompatible optimizer/task pair."""


class IncompatibleError(UserError):
    """The optimizer does not support the task (type, conditional space, ...)."""


class OptimizerProtocolError(RuntimeError):
    """The optimizer broke the ask/tell contract: a configuration outside the space, a fidelity
    outside its bounds, a batch of the wrong size. The adapter's author fixes it, not the user; the
    run ends as failed (trials already recorded stay) with this one-line reason."""


MAX_LISTED = 40


def unknown_name(kind: str, name: str, valid: Iterable[str], list_command: str, known: str | None = None) -> UserError:
    """Build the one-line error for an unknown name, naming the closest valid ones; `known` says
    what the valid names are when they are of several kinds (task ids and task sets)."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=5, cutoff=0.5)
    if not close:
        close = [v for v in valid if name.lower() in v.lower()][:5]
    hint = f"; closest: {', '.join(close)}" if close else ""
    if len(valid) <= MAX_LISTED:  # few enough to name them all (optimizers); tasks number in the thousands
        return UserError(f"unknown {kind} {name!r}{hint}. Valid: {', '.join(valid)} (details: `{list_command}`).")
    return UserError(f"unknown {kind} {name!r}{hint}. List all with `{list_command}` ({known or f'{len(valid)} known'}).")
