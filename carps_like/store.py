"""Run store: one directory per (study, optimizer, task, seed), safe against kill -9 and races.

Layout of a run directory::

    <out>/<study>/<optimizer_id>/<task_id>/seed_<seed>/
        run.json        metadata; "status" is running | complete | failed (rewritten atomically)
        trials.jsonl    one JSON line per finished trial, flushed as it completes
        trials.parquet  the same trials as a typed table, written before the run is marked complete
        lock            exists while a process works on the run (host + pid inside)
        optimizer/      the optimizer's own working files (e.g. SMAC's output)
        attempts/<n>/   earlier incomplete or redone attempts, moved aside, never deleted

Trials are flushed to the OS on every write (no fsync: a killed process keeps them, a power cut
may lose the last ones). A run is complete only when run.json says so; that write is an atomic
rename, so a reader never sees a half-written status.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from .errors import UserError

RUN_FILE = "run.json"
TRIALS_FILE = "trials.jsonl"
TRIALS_PARQUET = "trials.parquet"
LOCK_FILE = "lock"
TERMINAL = ("complete", "failed")


def run_dir(out: str | os.PathLike, study: str, optimizer_id: str, task_id: str, seed: int) -> Path:
    """Directory of one run. Task ids may contain '/', which become subdirectories."""
    for name, value in (("study", study), ("optimizer id", optimizer_id), ("task id", task_id)):
        parts = str(value).split("/")
        if not value or any(p in ("", ".", "..") for p in parts):
            raise UserError(f"{name} {value!r} cannot name a directory")
    return Path(out) / study / optimizer_id / task_id / f"seed_{int(seed)}"


def check_writable(directory: str | os.PathLike) -> None:
    """Fail early, with one clear line, when results cannot be written below `directory` (a
    read-only mount, permissions, a full disk): better than a traceback from a launcher job."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        with open(probe, "w") as fh:
            fh.write("ok")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"results directory {path} is not writable ({exc.strerror or exc}); "
                        f"choose another OUT=... or fix the mount / permissions") from None


def _json_default(obj: Any):
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_json_default, allow_nan=True)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over the target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(json.dumps(data, default=_json_default, indent=1, allow_nan=True))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_run_json(directory: Path) -> dict | None:
    try:
        with open(directory / RUN_FILE) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        return {"status": "corrupt"}


def run_status(directory: Path) -> str:
    """missing | running | complete | failed | corrupt"""
    meta = read_run_json(directory)
    return "missing" if meta is None else meta.get("status", "corrupt")


def read_trials(directory: Path) -> list[dict]:
    """Trials of a run from its JSON lines; a torn last line (killed mid-write) is ignored."""
    rows = []
    try:
        with open(directory / TRIALS_FILE) as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break
    except FileNotFoundError:
        pass
    return rows


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLockedError(UserError):
    """Another live process works on this run."""


LOCK_TOUCH_SECONDS = 30.0  # a live run refreshes its lock's mtime this often
LOCK_STALE_SECONDS = 300.0  # a lock from another host untouched this long belongs to a dead process


def _lock_is_stale(lock: Path, holder: dict, host: str) -> bool:
    """Same host: the holder's pid is gone. Another host (a SLURM job killed at its time limit, a
    lost node): the lock has not been refreshed for LOCK_STALE_SECONDS."""
    if holder.get("host") == host and isinstance(holder.get("pid"), int):
        return not _pid_alive(holder["pid"])
    try:
        return time.time() - lock.stat().st_mtime > LOCK_STALE_SECONDS
    except FileNotFoundError:
        return True


class _LockToucher(threading.Thread):
    def __init__(self, lock: Path) -> None:
        super().__init__(daemon=True, name="run-lock-touch")
        self.lock, self.stop_event = lock, threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(LOCK_TOUCH_SECONDS):
            try:
                os.utime(self.lock)
            except OSError:
                return


class RunHandle:
    """Exclusive writer of one run directory for the duration of a run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._trials_fh = None
        self._meta: dict = {}
        self._toucher: _LockToucher | None = None

    # -- locking -----------------------------------------------------------------------------
    def acquire(self) -> None:
        """Create the lock file exclusively; a lock left by a dead process on this host is taken over."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = self.directory / LOCK_FILE
        host = socket.gethostname()
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    holder = json.loads(lock.read_text() or "{}")
                except (OSError, json.JSONDecodeError):
                    holder = {}
                if _lock_is_stale(lock, holder, host):
                    lock.unlink(missing_ok=True)
                    continue
                raise RunLockedError(f"run {self.directory} is locked by {holder or 'an unknown process'}; "
                                     f"a lock from another host is taken over once {LOCK_STALE_SECONDS:.0f} s "
                                     f"pass without a refresh; remove {lock} if that process is gone") from None
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps({"host": host, "pid": os.getpid(), "since": time.time(),
                                     "slurm_job": os.environ.get("SLURM_JOB_ID")}))
            self._toucher = _LockToucher(lock)
            self._toucher.start()
            return
        raise RunLockedError(f"could not lock {self.directory}")

    def release(self) -> None:
        if self._toucher is not None:
            self._toucher.stop_event.set()
            self._toucher = None
        (self.directory / LOCK_FILE).unlink(missing_ok=True)

    # -- attempts ----------------------------------------------------------------------------
    def archive_previous(self) -> Path | None:
        """Move an earlier attempt's files to attempts/<n>/ (never delete results)."""
        names = [RUN_FILE, TRIALS_FILE, TRIALS_PARQUET, "optimizer"]
        present = [n for n in names if (self.directory / n).exists()]
        if not present:
            return None
        attempts = self.directory / "attempts"
        attempts.mkdir(exist_ok=True)
        n = 1 + max((int(p.name) for p in attempts.iterdir() if p.name.isdigit()), default=0)
        target = attempts / str(n)
        target.mkdir()
        for name in present:
            shutil.move(str(self.directory / name), str(target / name))
        return target

    # -- writing -----------------------------------------------------------------------------
    def start(self, meta: dict) -> None:
        self._meta = dict(meta, status="running", started=time.time())
        write_json_atomic(self.directory / RUN_FILE, self._meta)
        self._trials_fh = open(self.directory / TRIALS_FILE, "a", buffering=1 << 16)

    def append_trial(self, row: dict) -> None:
        fh = self._trials_fh
        fh.write(dumps(row))
        fh.write("\n")
        fh.flush()

    def finish(self, status: str, summary: dict, table_rows: list[dict] | None) -> None:
        """Close the trial log, write the Parquet table, then mark the run atomically."""
        if self._trials_fh is not None:
            self._trials_fh.close()
            self._trials_fh = None
        if table_rows is not None:
            write_trials_parquet(self.directory / TRIALS_PARQUET, table_rows, self._meta)
        self._meta.update(summary, status=status, finished=time.time())
        write_json_atomic(self.directory / RUN_FILE, self._meta)

    def optimizer_workdir(self) -> Path:
        path = self.directory / "optimizer"
        path.mkdir(exist_ok=True)
        return path


TRIAL_COLUMNS = (
    "study", "optimizer_id", "optimizer_variant", "task_id", "task_type", "seed", "trial", "config", "fidelity",
    "trial_seed", "budget_used", "cost", "costs", "status", "optimizer_time", "objective_time", "virtual_time",
    "start_time", "end_time", "incumbent_cost", "error", "info",
)


def trial_table_rows(meta: dict, rows: list[dict]) -> list[dict]:
    """Join run-level identity columns onto the per-trial rows (the results schema of DESIGN.md)."""
    ident = {k: meta.get(k) for k in ("study", "optimizer_id", "optimizer_variant", "task_id", "task_type", "seed")}
    out = []
    for r in rows:
        costs = r.get("costs")
        out.append({
            **ident,
            "trial": r["trial"],
            "config": dumps(r["config"]),
            "fidelity": r.get("fidelity"),
            "trial_seed": r.get("trial_seed"),
            "budget_used": r["budget_used"],
            "cost": (costs[0] if costs else math.nan),
            "costs": costs,
            "status": r["status"],
            "optimizer_time": r["optimizer_time"],
            "objective_time": r["objective_time"],
            "virtual_time": r["virtual_time"],
            "start_time": r["start_time"],
            "end_time": r["end_time"],
            "incumbent_cost": r.get("incumbent_cost"),
            "error": r.get("error"),
            "info": dumps(r["info"]) if r.get("info") else None,
        })
    return out


def trial_arrow_schema():
    """Arrow types of TRIAL_COLUMNS (pyarrow imported lazily: the core stays light to import)."""
    import pyarrow as pa

    return pa.schema([
        ("study", pa.string()), ("optimizer_id", pa.string()), ("optimizer_variant", pa.string()),
        ("task_id", pa.string()), ("task_type", pa.string()), ("seed", pa.int64()), ("trial", pa.int64()),
        ("config", pa.string()), ("fidelity", pa.float64()), ("trial_seed", pa.int64()), ("budget_used", pa.float64()),
        ("cost", pa.float64()), ("costs", pa.list_(pa.float64())), ("status", pa.string()),
        ("optimizer_time", pa.float64()), ("objective_time", pa.float64()), ("virtual_time", pa.float64()),
        ("start_time", pa.float64()), ("end_time", pa.float64()), ("incumbent_cost", pa.float64()), ("error", pa.string()),
        ("info", pa.string()),
    ])


def write_trials_parquet(path: Path, rows: list[dict], meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = trial_arrow_schema().with_metadata({"carps_like_run": dumps({k: v for k, v in meta.items() if k != "status"})})
    table = pa.Table.from_pylist(trial_table_rows(meta, rows), schema=schema)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def iter_run_dirs(root: str | os.PathLike) -> Iterator[Path]:
    """Every run directory below `root` (skips archived attempts)."""
    for dirpath, dirnames, filenames in os.walk(root):
        if "attempts" in dirnames:
            dirnames.remove("attempts")
        dirnames[:] = [d for d in dirnames if d not in ("optimizer",) and not d.startswith(".")]
        if RUN_FILE in filenames:
            yield Path(dirpath)
