"""Study progress by watching run directories, so it works the same under every Hydra launcher.

A cell counts as done once its run.json reaches a terminal status with a finish time after the
study was launched. Polling reads only the cells still pending.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from .store import read_run_json


def _fmt(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class ProgressMonitor:
    """Prints `done/total, failures, running, ETA` for a set of run directories."""

    def __init__(self, directories: list[Path], label: str, stream=None, interval: float = 1.0) -> None:
        self.pending = list(directories)
        self.total = len(directories)
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
            else:
                running += status == "running"
                still.append(d)
        self.pending = still
        self.running = running

    def line(self) -> str:
        elapsed = time.time() - self.t0
        eta = "?"
        if self.done:
            eta = _fmt(elapsed / self.done * (self.total - self.done))
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"[{self.label}] {self.done}/{self.total} runs done{failed}, {getattr(self, 'running', 0)} running, "
                f"elapsed {_fmt(elapsed)}, ETA {eta}")

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
