"""Study progress by watching run directories, so it works the same under every Hydra launcher.

A cell counts as done once its run.json reaches a terminal status with a finish time after the
study was launched. Polling reads only the cells still pending, and of a running cell only the
last line of its trial log (the budget it has spent), so long runs show progress per trial and
the ETA is refined from finished trials (`carps_like.estimate`), not only from finished runs.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from .estimate import fmt_seconds as _fmt
from .store import TRIALS_FILE, read_run_json


def budget_spent(directory: Path) -> float:
    """Budget used after the last complete line of a run's trial log (0 when there is none)."""
    import json

    try:
        with open(directory / TRIALS_FILE, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 8192))
            lines = f.read().split(b"\n")
    except OSError:
        return 0.0
    for line in reversed(lines[1:] if len(lines) > 1 and size > 8192 else lines):
        try:
            return float(json.loads(line).get("budget_used") or 0.0)
        except ValueError:
            continue
    return 0.0


class ProgressMonitor:
    """Prints `done/total, failures, running, ETA` for a set of run directories."""

    def __init__(self, directories: list[Path], label: str, stream=None, interval: float = 1.0,
                 costs: list | None = None, upfront: float | None = None) -> None:
        self.pending = list(directories)
        self.total = len(directories)
        self.costs = dict(zip(directories, costs)) if costs else {}  # directory -> estimate.CellCost
        self.upfront = upfront
        self.spent: dict[Path, float] = {}  # budget spent per unfinished run
        self.finished: set[Path] = set()
        self.done = 0
        self.failed = 0
        self.label = label
        self.stream = stream or sys.stderr
        self.interval = interval
        self.t0 = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_print = 0.0
        self._last_line = ""

    def poll(self) -> None:
        still = []
        running = 0
        for d in self.pending:
            meta = read_run_json(d)
            status = None if meta is None else meta.get("status")
            finished = (meta or {}).get("finished") or 0
            if status in ("complete", "failed") and finished >= self.t0 - 1:
                self.done += 1
                self.failed += status == "failed"
                self.finished.add(d)
                self.spent.pop(d, None)
            else:
                running += status == "running"
                if status == "running":
                    self.spent[d] = budget_spent(d)
                still.append(d)
        self.pending = still
        self.running = running

    def eta(self, elapsed: float) -> str:
        if self.costs:
            from .estimate import eta

            dirs = list(self.costs)
            left = eta([self.costs[d] for d in dirs], [self.spent.get(d, 0.0) for d in dirs],
                       [d in self.finished for d in dirs], elapsed, self.upfront)
            return "?" if left != left else _fmt(left)
        return _fmt(elapsed / self.done * (self.total - self.done)) if self.done else "?"

    def trials_part(self) -> str:
        """Budget spent over budget planned, when every run has a trial budget."""
        if not self.costs or any(c.n_trials is None for c in self.costs.values()):
            return ""
        planned = sum(c.n_trials for c in self.costs.values())
        spent = sum(c.n_trials for d, c in self.costs.items() if d in self.finished) + sum(self.spent.values())
        return f", {spent:.0f}/{planned:.0f} trials"

    def line(self) -> str:
        elapsed = time.time() - self.t0
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"[{self.label}] {self.done}/{self.total} runs done{failed}, {getattr(self, 'running', 0)} running"
                f"{self.trials_part()}, elapsed {_fmt(elapsed)}, ETA {self.eta(elapsed)}")

    def _emit(self, final: bool = False) -> None:
        line = self.line()
        now = time.time()
        if self._tty:
            self.stream.write("\r" + line.ljust(len(self._last_line)) + ("\n" if final else ""))
            self.stream.flush()
        elif final or (line != self._last_line and now - self._last_print >= 10):
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last_print = now
        self._last_line = line

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
            self._emit()

    def start(self) -> "ProgressMonitor":
        self._emit()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        self._emit(final=True)
