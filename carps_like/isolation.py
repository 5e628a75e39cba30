"""Keep libraries' process-wide side effects inside the adapter that uses them.

Runs share a process (tests, perf scripts, a worker that runs many cells), so an adapter must
neither depend on nor change global state: generators, the root logger, stdout.

Some libraries (HEBO, parts of Ax/BoTorch, DEHB) sample from the *global* numpy, `random` and
torch generators. Seeding those globals would reset the state every other component of the
process sees, and leave runs dependent on whatever ran before. `GlobalRNGScope` keeps one private
state per adapter, seeded from the run seed, and swaps it in only while the library runs: runs
are reproducible, and nothing outside the scope sees the library's draws.
"""
from __future__ import annotations

import contextlib
import random
import sys
from typing import Iterator

import numpy as np


class GlobalRNGScope:
    """`with scope:` runs a block on this scope's own numpy/random/torch global states."""

    def __init__(self, seed: int, torch: bool = True) -> None:
        self._np_state = np.random.RandomState(seed).get_state()
        self._py_state = random.Random(seed).getstate()
        self._torch = None
        self._torch_state = None
        if torch:
            import torch as torch_module

            self._torch = torch_module
            self._torch_state = torch_module.Generator().manual_seed(seed).get_state()
        self._saved: list[tuple] = []

    def __enter__(self) -> "GlobalRNGScope":
        torch = self._torch
        self._saved.append((np.random.get_state(), random.getstate(), torch.get_rng_state() if torch else None))
        np.random.set_state(self._np_state)
        random.setstate(self._py_state)
        if torch:
            torch.set_rng_state(self._torch_state)
        return self

    def __exit__(self, *exc) -> None:
        torch = self._torch
        self._np_state, self._py_state = np.random.get_state(), random.getstate()
        np_saved, py_saved, torch_saved = self._saved.pop()
        np.random.set_state(np_saved)
        random.setstate(py_saved)
        if torch:
            self._torch_state = torch.get_rng_state()
            torch.set_rng_state(torch_saved)


def global_rng_fingerprint() -> dict[str, object]:
    """A comparable snapshot of the global generators (tests: did anything touch them?).

    torch's generator is included once torch is imported; compare the keys two snapshots share.
    """
    np_state = np.random.get_state()
    snapshot: dict[str, object] = {"numpy": (np_state[1].tobytes(), np_state[2]), "random": random.getstate()}
    torch = sys.modules.get("torch")
    if torch is not None:
        snapshot["torch"] = bytes(torch.get_rng_state().numpy())
    return snapshot


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Discard stdout and warnings of a library call that prints progress or harmless warnings."""
    import io
    import warnings

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def preserved_root_logger() -> Iterator[None]:
    """Undo changes a library makes to the root logger (SMAC re-configures it on every facade)."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
