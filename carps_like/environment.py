"""Run-level provenance: package versions, git revision, host. Computed once per process."""
from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path

PACKAGES = ("carps-like", "ConfigSpace", "smac", "HEBO", "numpy", "scipy", "pandas", "pyarrow", "hydra-core", "ioh", "pymoo", "torch")
REPO_ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        rev = out.stdout.strip()
        if not rev:
            return None
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5)
        return rev + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def host_info() -> dict[str, str | int]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "python": platform.python_version(),
            "platform": platform.platform(), "pythonhashseed": os.environ.get("PYTHONHASHSEED")}
