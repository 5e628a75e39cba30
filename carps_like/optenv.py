"""Per-optimizer environments: an optimizer that needs other package versions than the lock.

An optimizer YAML may declare `requirements: ["bayesian-optimization==3.4.0"]` (PEP 508 strings).
When the running environment satisfies them, nothing changes: the optimizer runs in-process.
When it does not, the optimizer runs in an isolated environment:

* **Layered.** `.venv-opt/<key>/` is a virtual environment of the main interpreter, made by uv,
  holding only the packages that must differ from the main environment: uv resolves the
  optimizer's requirements with the lock (and requirements-nodeps.txt) as constraints for every
  package the requirements do not name, and installs the resolved pins that the main environment
  lacks or has in another version (`--no-deps`). A `.pth` file then appends the main environment's
  site-packages *after* its own, and the repository root: its own versions shadow the lock's, and
  everything else (torch, ConfigSpace, carps-like's dependencies) comes from the main environment.
* **Keyed and cached.** `<key>` hashes requirements.lock, requirements-nodeps.txt, the
  requirements, the interpreter and the repository root: built once, reused until one changes.
  Builders take a file lock, so concurrent studies build it once; an environment counts as built
  only when its info file (written last) exists.
* **One choice point.** The study's plan (carps_like.plan.build) records the interpreter in each
  cell (without building it: `--dry-run` says it would), the study builds the missing environments
  once before its first run, and carps_like.plan.execute runs a cell whose interpreter is not the running one in a
  subprocess of that interpreter: the local pool, submitit and Ray all go through it.
  `make check-optimizer` and `make compare` run the conformance suite with it (`conformance_commands`).

    python -m carps_like.optenv python OPT          # the interpreter OPT runs with (building it if needed)
    python -m carps_like.optenv conformance OPT [pytest args]   # the conformance suite, in OPT's environment
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

from .errors import UserError

ROOT = Path(__file__).resolve().parents[1]
ENV_ROOT = Path(os.environ.get("CARPS_LIKE_OPT_ENVS", ROOT / ".venv-opt"))
LOCK_FILES = (ROOT / "requirements.lock", ROOT / "requirements-nodeps.txt")
INFO = "carps-like-env.json"  # written last: the environment is complete
LAYER_PTH = "zz_carps_like_main_env.pth"
FORMAT = 1  # bump when the layout of an environment changes: every key changes with it


# -- requirements ---------------------------------------------------------------------------------
def requirements_of(cfg: dict) -> list[str]:
    return [str(r) for r in (cfg or {}).get("requirements") or []]


def check_requirements(value, source: str) -> None:
    """An optimizer config's `requirements`: a list of PEP 508 strings (registry.check_optimizer_config)."""
    if value is None:
        return
    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise UserError(f"{source}: requirements must be a list of PEP 508 strings, e.g. "
                        f"[\"bayesian-optimization==3.4.0\"], got {value!r}")
    for text in value:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise UserError(f"{source}: requirement {text!r} is not a PEP 508 requirement: {exc}") from None
        if req.url:
            raise UserError(f"{source}: requirement {text!r} names a URL; name a released version instead")


def _unmet_one(text: str, depth: int = 0) -> str | None:
    from packaging.requirements import Requirement

    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate():
        return None
    try:
        dist = importlib.metadata.distribution(req.name)
    except importlib.metadata.PackageNotFoundError:
        return f"{text} (not installed here)"
    if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
        return f"{text} (installed here: {dist.version})"
    if depth == 0:  # an extra's own requirements, one level deep
        for extra in req.extras:
            for dep in dist.requires or []:
                dep_req = Requirement(dep)
                if dep_req.marker is not None and dep_req.marker.evaluate({"extra": extra}) \
                        and not dep_req.marker.evaluate({"extra": ""}):
                    dep_req.marker = None
                    missing = _unmet_one(str(dep_req), depth + 1)
                    if missing:
                        return f"{text}: {missing}"
    return None


def unmet(requirements: Iterable[str]) -> list[str]:
    """The requirements the running interpreter does not satisfy, each with what it has."""
    return [m for m in (_unmet_one(r) for r in requirements) if m]


def requirement_versions(cfg: dict, name: str) -> dict[str, str]:
    """Installed versions of the packages an optimizer config requires (for run provenance).
    Refuses to run it here when they are not satisfied: only the isolated environment can."""
    reqs = requirements_of(cfg)
    if not reqs:
        return {}
    missing = unmet(reqs)
    if missing:
        raise UserError(f"optimizer {name!r} needs {missing[0]}, which this environment ({sys.prefix}) cannot "
                        "provide; it runs in its isolated environment, which make run / make compare / "
                        "make check-optimizer use (python -m carps_like.optenv python " + name + ")")
    from packaging.requirements import Requirement

    names = [Requirement(r).name for r in reqs]
    return {n: importlib.metadata.version(n) for n in names}


# -- where an optimizer runs -----------------------------------------------------------------------
def python_for(cfg: dict, name: str, build: bool = True) -> str | None:
    """The interpreter a (concrete) optimizer config must run with: None for this one (its
    requirements are satisfied here, or it has none), else its isolated environment's python,
    built first when needed (with build=False: where it will be, built or not; a plan or a dry
    run must not spend minutes installing)."""
    reqs = requirements_of(cfg)
    if not reqs or not unmet(reqs):
        return None
    return str(_python(ensure(reqs, name) if build else ENV_ROOT / env_key(reqs)))


def is_current(python: str) -> bool:
    """Does `python` belong to the environment this process runs in?"""
    return Path(python).parent.parent.resolve() == Path(sys.prefix).resolve()


def _python(env: Path) -> Path:
    return env / "bin" / "python"


@functools.lru_cache(maxsize=1)
def _main_env() -> dict:
    """The main environment: this one, or the one an isolated environment layers on."""
    own = Path(sys.prefix) / INFO
    if own.exists():
        info = json.loads(own.read_text())
        return {"python": info["main_python"], "paths": info["main_paths"]}
    paths = list(dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib")))
    return {"python": sys.executable, "paths": paths}


def env_key(requirements: Iterable[str]) -> str:
    from packaging.requirements import Requirement

    h = hashlib.sha256(f"carps-like optimizer env {FORMAT}\n".encode())
    for path in LOCK_FILES:
        h.update(path.read_bytes() if path.exists() else b"")
    main = _main_env()
    h.update(json.dumps([sorted(str(Requirement(r)) for r in requirements), sys.version, main["python"],
                         main["paths"], str(ROOT)]).encode())
    return h.hexdigest()[:16]


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@contextlib.contextmanager
def _file_lock(path: Path, what: str) -> Iterator[None]:
    import fcntl

    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process building {what} ...", file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure(requirements: list[str], name: str) -> Path:
    """The isolated environment for these requirements: reused when built, else built now."""
    env = ENV_ROOT / env_key(requirements)
    if (env / INFO).exists():
        return env
    ENV_ROOT.mkdir(parents=True, exist_ok=True)
    ignore = ENV_ROOT / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    with _file_lock(ENV_ROOT / f"{env.name}.lock", f"the isolated environment {_shown(env)}"):
        if (env / INFO).exists():  # another process built it while this one waited
            return env
        print(f"building isolated environment for {name} ({', '.join(requirements)}) in {_shown(env)} ...",
              file=sys.stderr, flush=True)
        t0 = time.monotonic()
        shutil.rmtree(env, ignore_errors=True)  # what an interrupted build left
        try:
            layer = _build(env, requirements, name)
        except BaseException:
            shutil.rmtree(env, ignore_errors=True)
            raise
        seconds = time.monotonic() - t0
        main = _main_env()
        info = {"requirements": requirements, "layer": layer, "main_python": main["python"],
                "main_paths": main["paths"], "built": time.time(), "seconds": round(seconds, 1)}
        tmp = env / f".{INFO}.tmp"
        tmp.write_text(json.dumps(info, indent=1))
        tmp.replace(env / INFO)
        print(f"built isolated environment for {name} in {seconds:.1f} s (own packages: {', '.join(layer) or 'none'})",
              file=sys.stderr, flush=True)
        _remove_superseded(env, requirements)
    return env


def _remove_superseded(env: Path, requirements: list[str]) -> None:
    """Remove the environments built earlier for the same requirements: the lock or the main
    interpreter changed since (the key changed), so nothing here uses them again, and each holds
    tens of MB. An environment of other requirements is kept."""
    for old in sorted(ENV_ROOT.iterdir()):
        info = old / INFO
        if old == env or not info.is_file():
            continue
        try:
            same = json.loads(info.read_text()).get("requirements") == requirements
        except (OSError, ValueError):
            continue
        if same:
            shutil.rmtree(old, ignore_errors=True)
            (ENV_ROOT / f"{old.name}.lock").unlink(missing_ok=True)
            print(f"removed the superseded isolated environment {_shown(old)} (same requirements, older lock or "
                  "interpreter)", file=sys.stderr, flush=True)


def _uv() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise UserError("uv is not installed, and optimizers with their own requirements need it: run `make install` "
                    "(uv is pinned in requirements.lock)")


def _uv_run(args: list[str], failure: str) -> str:
    env = {**os.environ, "NO_COLOR": "1", "UV_PYTHON_DOWNLOADS": "never"}
    proc = subprocess.run([_uv(), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise UserError(f"{failure}: {_one_line(proc.stderr or proc.stdout)}")
    return proc.stdout


def _one_line(text: str, limit: int = 600) -> str:
    """uv's error report (boxes, arrows, indented lines) as one line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    parts = [re.sub(r"^[\s×╰─▶│├└┬:]*((error|cause|caused by):\s*)?", "", line, flags=re.I).strip()
             for line in text.splitlines()]
    line = ": ".join(p for p in parts if p and not p.lower().startswith(("hint:", "help:")))
    line = re.sub(r"\s+", " ", line)
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _build(env: Path, requirements: list[str], name: str) -> list[str]:
    """Resolve, create the layered venv, install what differs, link the main environment; returns
    the pins installed in the layer."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    main = _main_env()
    named = {canonicalize_name(Requirement(r).name) for r in requirements}
    with tempfile.TemporaryDirectory(prefix="carps-like-optenv-") as tmp:
        req_file, constraints = Path(tmp) / "requirements.in", Path(tmp) / "constraints.txt"
        req_file.write_text("\n".join(requirements) + "\n")
        lines = []
        for path in LOCK_FILES:
            for line in (path.read_text().splitlines() if path.exists() else []):
                text = line.split("#", 1)[0].strip()
                if text and canonicalize_name(Requirement(text).name) not in named:
                    lines.append(text)
        constraints.write_text("\n".join(lines) + "\n")
        pins = _uv_run(["pip", "compile", str(req_file), "--constraints", str(constraints), "--python", main["python"],
                        "--no-header", "--no-annotate", "--quiet"],
                       f"cannot build the isolated environment for {name}: its requirements "
                       f"({', '.join(requirements)}) cannot be installed with the lock's other pins")
    have = {canonicalize_name(d.metadata["Name"]): d.version
            for d in importlib.metadata.distributions(path=main["paths"]) if d.metadata["Name"]}
    layer = []
    for line in pins.splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        pin = Requirement(text)
        installed = have.get(canonicalize_name(pin.name))
        if installed is None or not pin.specifier.contains(installed, prereleases=True):
            layer.append(str(pin))
    failure = f"cannot build the isolated environment for {name} ({', '.join(requirements)})"
    _uv_run(["venv", "--quiet", "--python", main["python"], str(env)], failure)
    if layer:
        _uv_run(["pip", "install", "--quiet", "--no-deps", "--python", str(_python(env)), *layer], failure)
    site = Path(subprocess.run([str(_python(env)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / LAYER_PTH).write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in main["paths"])
                                  + f"{ROOT}\n")
    check = subprocess.run([str(_python(env)), "-m", "carps_like.optenv", "verify", *requirements],
                           capture_output=True, text=True, cwd=ROOT)
    if check.returncode != 0:
        raise UserError(f"{failure}: the built environment does not satisfy them: "
                        f"{_one_line(check.stderr or check.stdout)}")
    return layer


# -- the conformance suite in the right environment ------------------------------------------------
def conformance_commands(optimizer: str, pytest_args: list[str]) -> list[list[str]]:
    """`python -m pytest tests/conformance --optimizer ...` for each interpreter the named
    optimizers need (names, comma-separated; a dispatcher is each of its variants; YAML paths)."""
    import yaml

    from . import registry

    groups: dict[str | None, list[str]] = {}
    names = [str(Path(n).resolve()) if n.endswith((".yaml", ".yml")) else n for n in optimizer.split(",") if n]
    for name in names:
        if name.endswith((".yaml", ".yml")):
            cfg = yaml.safe_load(Path(name).read_text()) or {}
            members = [(name, cfg)]
        else:
            cfg = registry.get_optimizer_config(name)
            members = [(m, registry.get_optimizer_config(m)) for m in (cfg.get("by_task_type") or {}).values()] \
                or [(name, cfg)]
        for member, member_cfg in members:
            python = python_for({**member_cfg, **({"requirements": cfg["requirements"]} if cfg.get("requirements") else {})},
                                member)
            groups.setdefault(python, []).append(member)
    if len(groups) == 1:  # the usual case: the names as given
        groups = {next(iter(groups)): names}
    return [[python or sys.executable, "-m", "pytest", *pytest_args, str(ROOT / "tests" / "conformance"),
             "--optimizer", ",".join(dict.fromkeys(members))] for python, members in groups.items()]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if command == "python" and len(args) == 1:
            from . import registry

            print(python_for(registry.get_optimizer_config(args[0]), args[0]) or sys.executable)
            return 0
        if command == "conformance" and args:
            rc = 0
            for cmd in conformance_commands(args[0], args[1:]):
                if cmd[0] != sys.executable:
                    print(f"conformance suite in the isolated environment {_shown(Path(cmd[0]).parent.parent)}",
                          file=sys.stderr, flush=True)
                rc = max(rc, subprocess.call(cmd, cwd=ROOT))
            return rc
        if command == "verify":  # run inside a freshly built environment
            missing = unmet(args)
            if missing:
                print(f"not satisfied: {'; '.join(missing)}", file=sys.stderr)
                return 1
            import carps_like.plan  # noqa: F401 - the harness itself imports from the layered paths
            return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("usage: python -m carps_like.optenv python OPT | conformance OPT [pytest args]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
