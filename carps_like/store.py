"""Run store: one directory per (study, optimizer, task, seed), safe against kill -9 and races.

Layout of a run directory::

    <out>/<study>/<optimizer_id>/<task_id>/seed_<seed>/
        run.json        metadata; "status" is running | complete | failed (rewritten atomically)
        trials.jsonl    one JSON line per finished trial, flushed as it completes
        trials.parquet  the same trials as a typed table, written before the run is marked complete
        lock            exists while a process works on the run (host + pid inside; born whole: hard-linked
                        from a fully written temporary file, so an empty lock is never a live one)
        optimizer/      the optimizer's own working files (e.g. SMAC's output)
        attempts/<n>/   earlier incomplete or redone attempts, moved aside, never deleted

Trials are flushed to the OS on every write (no fsync: a killed process keeps them, a power cut
may lose the last ones). A run is complete only when run.json says so; that write is an atomic
rename, so a reader never sees a half-written status.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sys
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


def _private_sibling(path: Path, suffix: str) -> Path:
    """A name beside `path` that no other process or thread uses: host, pid and thread. The host
    matters on a shared file system, where jobs on two nodes (containers, above all) often have
    the same pid: one's temporary lock file would be overwritten by the other's."""
    return path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.{threading.get_ident()}.{suffix}")


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over the target."""
    tmp = _private_sibling(path, "tmp")
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


def read_trial_log(directory: Path) -> tuple[list[dict], str]:
    """Trials of a run from its JSON lines, and a note ('' when clean) on lines that could not be
    read: a torn last line (its writer was killed mid-write) is left out, but never silently."""
    rows, bad, torn = [], [], ""
    try:
        with open(directory / TRIALS_FILE) as fh:
            lines = fh.readlines()
    except FileNotFoundError:
        return rows, ""
    for i, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))  # a whole record, even if its newline was not written
        except json.JSONDecodeError:
            if i == len(lines) and not line.endswith("\n"):
                torn = (f"{TRIALS_FILE} ends in a torn line ({len(line)} characters; its writer was killed "
                        f"or the disk filled while writing it), left out")
            else:
                bad.append(i)
    notes = [f"{TRIALS_FILE} line(s) {', '.join(map(str, bad))} are not JSON, left out"] if bad else []
    return rows, "; ".join(notes + ([torn] if torn else []))


def read_trials(directory: Path) -> list[dict]:
    """Trials of a run from its JSON lines (read_trial_log says what was left out)."""
    return read_trial_log(directory)[0]


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


def _holder(text: bytes) -> dict | None:
    try:
        holder = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return holder if isinstance(holder, dict) else None


def _lock_is_stale(lock: Path, text: bytes, host: str) -> str:
    """Why the lock with contents `text` belongs to no live process ('' if it may): empty or
    unreadable (locks are born whole, see _create_lock), same host and its pid is gone, or
    another host's (a SLURM job killed at its time limit, a lost node) unrefreshed for
    LOCK_STALE_SECONDS."""
    holder = _holder(text)
    if holder is None:
        return ("it is empty" if not text.strip() else "it is not a JSON lock") + \
            " (its writer was killed or the disk filled while writing it)"
    if holder.get("host") == host and isinstance(holder.get("pid"), int):
        return "" if _pid_alive(holder["pid"]) else f"its process (pid {holder['pid']} on this host) is gone"
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return "it is gone"
    return f"host {holder.get('host')} has not refreshed it for {age:.0f} s" if age > LOCK_STALE_SECONDS else ""


def lock_reason(directory: Path) -> str:
    """One line on who holds a run's lock and when it is taken over ('' when it is not locked):
    why `make run` did not start a run."""
    lock = Path(directory) / LOCK_FILE
    try:
        text, age = lock.read_bytes(), time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return ""
    stale = _lock_is_stale(lock, text, socket.gethostname())
    if stale:
        return f"stale lock {lock}: {stale}; the next run takes it over"
    holder = _holder(text) or {}
    who = f"pid {holder.get('pid')} on {holder.get('host')}"
    if holder.get("slurm_job"):
        who += f" (SLURM job {holder['slurm_job']})"
    if holder.get("host") == socket.gethostname():
        return f"locked by {who}, which is running"
    return (f"locked by {who}, refreshed {age:.0f} s ago; taken over once {LOCK_STALE_SECONDS:.0f} s pass "
            f"without a refresh; remove {lock} if that process is gone")


def _create_lock(lock: Path, text: str) -> bool:
    """Create `lock` holding `text`, atomically and exclusively: write a temporary file, then
    hard-link it to the lock path (link fails if the lock exists). A kill or a full disk leaves no
    lock at all, never an empty one. False if a lock exists."""
    tmp = _private_sibling(lock, "tmp")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
        os.link(tmp, lock)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise UserError(f"cannot write the lock {lock} ({exc.strerror or exc}); "
                        f"free disk space or fix the mount") from None
    finally:
        tmp.unlink(missing_ok=True)


def _remove_if_unchanged(lock: Path, seen: bytes) -> bool:
    """Remove the lock if it still holds `seen`. Another process may have taken it over since we
    read it: move it aside, compare, and put a fresh lock back (only a third process creating a
    lock in the microseconds between could still slip in; plain files allow no tighter check)."""
    aside = _private_sibling(lock, "stale")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return False
    try:
        if aside.read_bytes() == seen:
            return True
        os.link(aside, lock)
        return False
    except FileExistsError:
        return False
    finally:
        aside.unlink(missing_ok=True)


class _LockToucher(threading.Thread):
    def __init__(self, lock: Path) -> None:
        super().__init__(daemon=True, name="run-lock-touch")
        self.lock, self.stop_event = lock, threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(LOCK_TOUCH_SECONDS):
            try:
                os.utime(self.lock)
            except OSError:
                pass  # moved aside for a moment by a process checking it; refreshed next time


class RunHandle:
    """Exclusive writer of one run directory for the duration of a run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._trials_fh = None
        self._meta: dict = {}
        self._toucher: _LockToucher | None = None
        self._lock_text = ""
        self.notes: dict = {}  # what happened before start (a lock taken over, an attempt archived): kept in run.json

    # -- locking -----------------------------------------------------------------------------
    def acquire(self) -> None:
        """Create the lock exclusively; a stale lock (see _lock_is_stale) is taken over, saying so."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = self.directory / LOCK_FILE
        host = socket.gethostname()
        text = json.dumps({"host": host, "pid": os.getpid(), "since": time.time(),
                           "slurm_job": os.environ.get("SLURM_JOB_ID"), "token": os.urandom(6).hex()})
        for _ in range(3):
            if _create_lock(lock, text):
                self._lock_text = text
                self._toucher = _LockToucher(lock)
                self._toucher.start()
                return
            try:
                seen = lock.read_bytes()
            except FileNotFoundError:
                continue
            why = _lock_is_stale(lock, seen, host)
            if not why:
                raise RunLockedError(f"run {self.directory} is {lock_reason(self.directory) or 'locked'}")
            if _remove_if_unchanged(lock, seen):
                print(f"warning: took over the stale lock {lock}: {why}", file=sys.stderr, flush=True)
                self.notes["lock_taken_over"] = why
        raise RunLockedError(f"could not lock {self.directory}: other processes keep taking its lock")

    def release(self) -> None:
        """Remove the lock, only if it is still ours (not taken over as stale meanwhile)."""
        if self._toucher is not None:
            self._toucher.stop_event.set()
            self._toucher = None
        lock = self.directory / LOCK_FILE
        try:
            if self._lock_text and lock.read_text() == self._lock_text:
                lock.unlink()
        except FileNotFoundError:
            pass

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
        old = read_run_json(self.directory) or {}
        for name in present:
            shutil.move(str(self.directory / name), str(target / name))
        rows, note = read_trial_log(target)
        self.notes["previous_attempt"] = {"path": f"attempts/{n}", "status": old.get("status"),
                                          "n_trials": len(rows), "trial_log": note}
        if note:
            print(f"warning: run {self.directory}: the earlier attempt moved to attempts/{n} kept {len(rows)} trials; "
                  f"{note}", file=sys.stderr, flush=True)
        return target

    # -- writing -----------------------------------------------------------------------------
    def start(self, meta: dict) -> None:
        self._meta = dict(meta, **self.notes, status="running", started=time.time())
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


#: The one trial schema (docs/results.md): each field the runner records per trial, in order, with
#: its type. trials.jsonl lines hold exactly these fields; trials.parquet holds them after the run's
#: identity columns, `json` fields (maps whose keys differ by task) as JSON text. Nothing is derived
#: or duplicated on the way (there is no `cost` copy of `costs[0]`).
TRIAL_SCHEMA = (
    ("trial", "int64"), ("config", "json"), ("fidelity", "float64"), ("trial_seed", "int64"),
    ("budget_used", "float64"), ("costs", "list<float64>"), ("status", "string"), ("optimizer_time", "float64"),
    ("objective_time", "float64"), ("virtual_time", "float64"), ("start_time", "float64"), ("end_time", "float64"),
    ("incumbent_cost", "float64"), ("error", "string"), ("info", "json"),
)
TRIAL_FIELDS = tuple(name for name, _ in TRIAL_SCHEMA)
JSON_FIELDS = tuple(name for name, kind in TRIAL_SCHEMA if kind == "json")
#: who ran the trial: copied from run.json onto every row of trials.parquet
RUN_IDENTITY = (("study", "string"), ("optimizer_id", "string"), ("optimizer_variant", "string"),
                ("task_id", "string"), ("task_type", "string"), ("seed", "int64"))
TRIAL_COLUMNS = tuple(name for name, _ in RUN_IDENTITY) + TRIAL_FIELDS


def trial_table_rows(meta: dict, rows: list[dict]) -> list[dict]:
    """The runner's rows with the run's identity joined on and `json` fields as JSON text."""
    ident = {name: meta.get(name) for name, _ in RUN_IDENTITY}
    out = []
    for r in rows:
        row = {**ident, **{k: r.get(k) for k in TRIAL_FIELDS}}
        for k in JSON_FIELDS:
            if row[k] is not None and not isinstance(row[k], str):
                row[k] = dumps(row[k])
        out.append(row)
    return out


def trial_arrow_schema():
    """Arrow schema of TRIAL_COLUMNS (pyarrow imported lazily: the core stays light to import)."""
    import pyarrow as pa

    types = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string(), "json": pa.string(),
             "list<float64>": pa.list_(pa.float64())}
    return pa.schema([(name, types[kind]) for name, kind in RUN_IDENTITY + TRIAL_SCHEMA])


def write_trials_parquet(path: Path, rows: list[dict], meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = trial_arrow_schema().with_metadata({"carps_like_run": dumps({k: v for k, v in meta.items() if k != "status"})})
    table = pa.Table.from_pylist(trial_table_rows(meta, rows), schema=schema)
    tmp = _private_sibling(path, "tmp")
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
