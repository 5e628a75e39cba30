"""Hydra entry point for one run, or a multirun of many:

    python -m carps_like.run optimizer=smac task=bbob/f1_d2_i1 seed=1
    python -m carps_like.run -m optimizer=randomsearch task=bbob/f1_d2_i1,bbob/f2_d2_i1 seed=1,2

Names are checked before Hydra composes anything, so a typo gives one line naming the closest
valid names instead of a traceback.
"""
from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from . import lifeline, registry
from .errors import UserError
from .experiment import run_cell


def _check_overrides(argv: list[str]) -> None:
    """Validate optimizer=/task= overrides up front (Hydra's own message lists every option)."""
    chosen = {"task": None}
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, _, value = arg.partition("=")
        key = key.lstrip("+~")
        if key in ("optimizer", "task"):
            for name in value.split(","):
                if key == "optimizer":
                    registry.get_optimizer_config(name)
                else:
                    registry.get_task(name)
            chosen[key] = value
    if chosen["task"] is None and not any(a.startswith("plan=") for a in argv) and not any(a in ("--help", "-h", "--cfg", "-c", "--info") or a.startswith("--cfg") for a in argv):
        raise UserError("missing task=<task id>; list tasks with `make tasks` (or use `make run TASK=<taskset>`)")


def _format_result(outcome) -> str:
    if outcome.action != "ran":
        return f"{outcome.action.replace('_', ' ')}: {outcome.directory}"
    r = outcome.result
    inc = r.incumbent
    best = f"front of {len(inc['pareto_front'])}" if "pareto_front" in inc else f"best cost {inc.get('cost')}"
    line = f"{r.status}: {r.n_trials} trials, budget {r.budget_used:g}, {best}, {r.wall_time:.2f}s -> {outcome.directory}"
    if r.error:
        line += "\n" + r.error.strip().splitlines()[-1]
    return line


@hydra.main(config_path=str(registry.CONFIG_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> str:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        if cfg.get("plan"):  # a cell the study planned (carps_like.plan): run it unchanged
            from . import plan

            outcome = plan.execute(plan.load(cfg.plan)[int(cfg.cell)], cfg.out, cfg.study, bool(cfg.redo),
                                   bool(cfg.retry_failed))
        else:
            outcome = run_cell(cfg.optimizer, cfg.task, int(cfg.seed), out=cfg.out, study=cfg.study,
                               redo=bool(cfg.redo), retry_failed=bool(cfg.retry_failed))
    except UserError as exc:
        if multirun:  # the study front end reports it; one bad cell must not stop the others
            print(f"error: {exc}", file=sys.stderr)
            return "error"
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:  # a task or store that cannot be set up; the run itself never raises
        where = f"plan {cfg.plan} cell {cfg.cell}" if cfg.get("plan") else f"task {cfg.task.id} seed {cfg.seed}"
        print(f"error: {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("CARPS_LIKE_DEBUG"):
            raise
        if multirun:
            return "error"
        sys.exit(2)
    if not multirun:
        print(_format_result(outcome))
        if outcome.status == "failed":
            sys.exit(1)
    return outcome.status


def _reproducible_env() -> None:
    """Re-execute with PYTHONHASHSEED=0 and OMP_NUM_THREADS=1 unless set. SMAC orders candidates
    through sets of Configurations, so runs reproduce across processes only with a fixed hash
    seed; one BLAS/OpenMP thread per run keeps parallel runs from oversubscribing the cores."""
    missing = {k: v for k, v in (("PYTHONHASHSEED", "0"), ("OMP_NUM_THREADS", "1")) if os.environ.get(k) is None}
    if missing:
        os.environ.update(missing)
        os.execv(sys.executable, [sys.executable, "-m", "carps_like.run", *sys.argv[1:]])


def cli() -> None:
    _reproducible_env()
    try:
        _check_overrides(sys.argv[1:])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    lifeline.watch_study()
    main()


if __name__ == "__main__":
    cli()
