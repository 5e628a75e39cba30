"""A throwaway PostgreSQL server on 127.0.0.1 for the tests.

The queue must be tested against a real server (its locking, reconnects after a restart and crash
recovery are what matter), so the tests run `initdb` + `postgres` themselves on a free loopback port
instead of relying on a system service. `make test` (so `.ci/run`) installs Debian's `postgresql` package when the
binaries are missing (scripts/ensure-postgres.sh); elsewhere the tests skip with
`postgres_unavailable_reason()`.
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

INSTALL_HINT = "install Debian's `postgresql` package (`make test` does, via scripts/ensure-postgres.sh, as root)"
UNPRIVILEGED_USER = "carps-postgres"  # created only when running as root without a `postgres` user
_BINDIR_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")
_LIVE: "weakref.WeakSet[PostgresServer]" = weakref.WeakSet()


class PostgresError(RuntimeError):
    """The server could not be created, started or stopped (the message has the log tail)."""


def _version_key(path: str) -> tuple:
    nums = re.findall(r"\d+", path)
    return tuple(int(n) for n in nums) or (0,)


def find_postgres_bindir() -> Path | None:
    """Directory holding both `initdb` and `postgres`: $CARPS_PG_BINDIR, then PATH, then the
    distribution locations (Debian's /usr/lib/postgresql/<version>/bin, newest version first)."""
    candidates: list[str] = []
    if os.environ.get("CARPS_PG_BINDIR"):
        candidates.append(os.environ["CARPS_PG_BINDIR"])
    on_path = shutil.which("initdb")
    if on_path:
        # Debian symlinks into /usr/lib/postgresql/<v>/bin; `postgres` may only be there.
        candidates += [os.path.dirname(on_path), os.path.dirname(os.path.realpath(on_path))]
    for pattern in _BINDIR_GLOBS:
        candidates += sorted(glob.glob(pattern), key=_version_key, reverse=True)
    for cand in candidates:
        d = Path(cand)
        if all(os.access(d / exe, os.X_OK) for exe in ("initdb", "postgres")):
            return d
    return None


def _unprivileged_user(create: bool = True) -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: the `postgres` system user, else our own system user
    (created with useradd), else `nobody`."""
    for name in ("postgres", UNPRIVILEGED_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    if create and shutil.which("useradd"):
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", UNPRIVILEGED_USER],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )  # may race with another xdist worker: look the user up again either way
        try:
            return pwd.getpwnam(UNPRIVILEGED_USER)
        except KeyError:
            pass
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


def postgres_unavailable_reason() -> str | None:
    """Why a test server cannot be run here, or None when it can (nothing is started)."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        return f"psycopg is not importable ({exc}); run `make install`"
    if find_postgres_bindir() is None:
        return f"PostgreSQL server binaries not found; {INSTALL_HINT}"
    if os.geteuid() == 0 and _unprivileged_user(create=False) is None and not shutil.which("useradd"):
        return "running as root and no unprivileged user to run PostgreSQL as (no `postgres`/`nobody`, no useradd)"
    return None


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the server retries another one if it loses the race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _traversable_by(path: Path, pw: pwd.struct_passwd) -> bool:
    """Can `pw` reach `path` (x on every ancestor)? PostgreSQL needs it for its data dir."""
    for p in [path, *path.parents]:
        st = p.stat()
        if st.st_uid == pw.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == pw.pw_gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


class PostgresServer:
    """initdb + postgres on 127.0.0.1:<free port>, TCP only (no unix socket), trust auth.

    `start()` is idempotent and restarts on the same port and data dir (after `stop()` or `kill()`,
    the latter with crash recovery); `close()` (or leaving the `with` block) stops the server and
    removes the directory it created.
    """

    def __init__(self, base_dir: str | os.PathLike | None = None, *, user: str = "postgres",
                 dbname: str = "carps", port: int | None = None, settings: dict | None = None,
                 start_timeout: float = 30.0):
        reason = postgres_unavailable_reason()
        if reason:
            raise PostgresError(reason)
        self.bindir = find_postgres_bindir()
        self.user = user  # the database superuser name (trust auth, no password)
        self.dbname = dbname
        self.host = "127.0.0.1"
        self.start_timeout = start_timeout
        self.settings = {"fsync": "off", "shared_buffers": "32MB", **(settings or {})}
        # fsync=off is safe for kill(): committed WAL is written to the OS page cache at commit
        # (synchronous_commit stays on), which survives the processes; only an OS crash loses it.
        self._os_user = _unprivileged_user() if os.geteuid() == 0 else None
        if os.geteuid() == 0 and self._os_user is None:
            raise PostgresError("running as root and found no unprivileged user to run PostgreSQL as")
        self._owns_dir = base_dir is None
        if base_dir is not None:
            base = Path(base_dir).resolve()
            base.mkdir(parents=True, exist_ok=True)
            if self._os_user and not _traversable_by(base, self._os_user):
                base = None  # e.g. pytest's tmp_path under /root: use a world-traversable place
                self._owns_dir = True
        else:
            base = None
        if base is None:
            tmp = "/tmp" if self._os_user else None  # $TMPDIR may not be traversable by that user
            base = Path(tempfile.mkdtemp(prefix="carps-pg-", dir=tmp))
        self.base_dir = base
        self.data_dir = base / "data"
        self.log_path = base / "server.log"
        if self._os_user:
            os.chown(base, self._os_user.pw_uid, self._os_user.pw_gid)
        self.port = port
        self._fixed_port = port is not None
        self._proc: subprocess.Popen | None = None
        self._db_created = False
        self._initdb()
        _LIVE.add(self)

    # ---------------------------------------------------------------- helpers
    def _popen_kwargs(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        kw: dict = {"cwd": str(self.base_dir), "env": env, "stdin": subprocess.DEVNULL}
        if self._os_user:
            kw.update(user=self._os_user.pw_uid, group=self._os_user.pw_gid, extra_groups=[])
            env.update(HOME=str(self.base_dir), USER=self._os_user.pw_name, LOGNAME=self._os_user.pw_name)
        return kw

    def log_tail(self, n: int = 40) -> str:
        """Last lines of the server log (initdb and postgres output), for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    def _initdb(self) -> None:
        cmd = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user, "-A", "trust",
               "-E", "UTF8", "--locale=C", "--no-sync"]
        with open(self.log_path, "ab") as log:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **self._popen_kwargs()).returncode
        if rc != 0:
            raise PostgresError(f"initdb failed (exit {rc}) in {self.data_dir}:\n{self.log_tail()}")

    def conninfo(self, dbname: str = "postgres") -> dict:
        """psycopg.connect(**server.conninfo(db)) keyword arguments."""
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": dbname}

    def url_for(self, dbname: str) -> str:
        """SQLAlchemy URL of another database on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the server's default database (`dbname`)."""
        return self.url_for(self.dbname)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while running."""
        return self._proc.pid if self.running else None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> "PostgresServer":
        """Start (or restart on the same port and data dir) and wait until it accepts connections;
        after `kill()` this runs crash recovery. No-op when already running."""
        if self.running:
            return self
        first = self.port is None and not self._fixed_port
        for attempt in range(5):
            if self.port is None:
                self.port = free_port()
            try:
                self._spawn_and_wait()
                break
            except PostgresError as exc:
                lost_port = "could not bind" in str(exc) or "could not create any TCP/IP sockets" in str(exc)
                if not (first and lost_port and attempt < 4):
                    raise
                self.port = None  # another process took the port between free_port() and bind
        if not self._db_created:
            self.create_database(self.dbname)
            self._db_created = True
        return self

    def _spawn_and_wait(self) -> None:
        cmd = [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
               "-c", f"listen_addresses={self.host}", "-c", "unix_socket_directories="]
        for k, v in self.settings.items():
            cmd += ["-c", f"{k}={v}"]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **self._popen_kwargs())
        import psycopg

        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                new_log = self.log_path.read_bytes()[log_start:].decode(errors="replace")
                self._proc = None
                raise PostgresError(f"postgres exited on start (port {self.port}):\n{new_log[-4000:]}")
            try:
                with psycopg.connect(**self.conninfo(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:  # not listening yet / recovering
                last = exc
            time.sleep(0.1)
        self.kill()
        raise PostgresError(f"postgres did not accept connections on {self.host}:{self.port} within "
                            f"{self.start_timeout:.0f} s (last error: {last}):\n{self.log_tail()}")

    def stop(self, mode: str = "fast", timeout: float = 60.0) -> None:
        """Shut down cleanly: smart (wait for clients), fast (disconnect them, the usual) or
        immediate (no checkpoint; recovery on the next start)."""
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        if not self.running:
            self._proc = None
            return
        self._proc.send_signal(sig)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise PostgresError(f"postgres did not stop ({mode}) within {timeout:.0f} s; killed it:\n{self.log_tail()}")
        self._proc = None

    def kill(self) -> None:
        """Simulate a crash: SIGKILL the postmaster and its child processes (a crashed server's
        backends would otherwise linger, holding shared memory, and block the restart). `start()`
        then runs crash recovery; committed transactions survive."""
        if not self.running:
            self._proc = None
            return
        pm = self._proc.pid
        os.kill(pm, signal.SIGSTOP)  # no new children between listing and killing them
        children = _children(pm)
        for pid in children:
            _signal_quietly(pid, signal.SIGKILL)
        os.kill(pm, signal.SIGKILL)
        self._proc.wait()
        self._proc = None
        deadline = time.monotonic() + 10
        while children and time.monotonic() < deadline:
            children = [p for p in children if _alive(p)]
            time.sleep(0.02)

    def create_database(self, name: str) -> None:
        """CREATE DATABASE (autocommit, on the `postgres` maintenance db)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(**self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Terminate the database's connections, then DROP DATABASE IF EXISTS."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(**self.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force))

    def close(self) -> None:
        """Stop the server (killing it if a clean stop fails) and remove the directory we made."""
        try:
            self.stop("fast", timeout=30)
        except PostgresError:
            pass
        finally:
            if self.running:
                self.kill()
            if self._owns_dir:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            _LIVE.discard(self)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PostgresServer {self.host}:{self.port} {state} data={self.data_dir}>"


def _children(ppid: int) -> list[int]:
    """Direct children of `ppid`, from /proc (Linux); postgres backends setsid(), so no killpg."""
    out = []
    for stat_file in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat_file).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == ppid:
            out.append(int(stat_file.split("/")[2]))
    return out


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie: a zombie holds no shared memory)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _signal_quietly(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


@atexit.register
def _stop_leftovers() -> None:
    """A test session that ends without teardown must not leave postgres processes behind."""
    for server in list(_LIVE):
        server.close()
