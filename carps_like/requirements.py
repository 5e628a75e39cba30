"""What a task needs from the machine (e.g. a CUDA GPU), checked before any run starts.

A task config may list `requires: [cuda]`. Such tasks stay registered everywhere (their ids are
stable and their results comparable), but on a machine without the requirement a study skips
them with one summary line and a single run is refused with the reason, instead of failing
deep inside the objective. Checks are cached: torch is imported only when a task needs CUDA.
"""
from __future__ import annotations

import functools
from typing import Callable, Iterable


@functools.lru_cache(maxsize=None)
def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


#: requirement name -> (check, what is missing when the check fails)
CHECKS: dict[str, tuple[Callable[[], bool], str]] = {
    "cuda": (_cuda_available, "needs a CUDA GPU (torch.cuda.is_available() is False here)"),
}


def unmet_requirement(requires: Iterable[str]) -> str | None:
    """The reason a task with these requirements cannot run here, or None."""
    for name in requires or ():
        if name not in CHECKS:
            return f"requires {name!r}, which carps-like cannot check (known: {', '.join(CHECKS)})"
        check, reason = CHECKS[name]
        if not check():
            return reason
    return None
