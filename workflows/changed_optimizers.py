"""Optimizer configs a change touches: what the CI compare job runs `make compare` for.

    python -m workflows.changed_optimizers origin/main     # prints names, space-separated

A config counts as changed when its YAML changed, or the adapter module its `_target_` names
(optimizers/<file>.py) changed. Dispatchers (`smac`, `optuna`, `ax`) are left out: their
variants are listed themselves.
"""
from __future__ import annotations

import subprocess
import sys

from analysis.subsets import ROOT
from carps_like import registry


def changed_files(base: str) -> list[str]:
    out = subprocess.run(["git", "diff", "--name-only", f"{base}...HEAD"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"git diff against {base!r} failed: {out.stderr.strip()}")
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def changed_optimizers(files: list[str]) -> list[str]:
    names = []
    for name, cfg in sorted(registry.optimizers().items()):
        if cfg.get("by_task_type"):
            continue
        target = (cfg.get("adapter") or {}).get("_target_", "")
        module = target.rpartition(".")[0].replace(".", "/") + ".py"
        if f"configs/optimizer/{name}.yaml" in files or module in files:
            names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m workflows.changed_optimizers <git base ref, e.g. origin/main>", file=sys.stderr)
        return 2
    try:
        print(" ".join(changed_optimizers(changed_files(argv[0]))))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
