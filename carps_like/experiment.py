"""One run from its configuration: resolve names, prepare the run directory, run, record.

Shared by the Hydra entry point (`python -m carps_like.run`), the study front end and tests.
Decides whether a run must happen at all (complete runs are skipped, incomplete ones archived
and restarted, `redo` archives even complete ones), so every launcher gets resume for free.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import registry
from .environment import git_revision, host_info, package_versions
from .errors import IncompatibleError, UserError
from .objective import instantiate_objective
from .optenv import requirement_versions
from .requirements import unmet_requirement
from .runner import RunResult, run_trials
from .store import RunHandle, RunLockedError, read_run_json, run_dir
from .task import Budget, Task
from .types import TaskType


@dataclass
class CellOutcome:
    """What happened to one (optimizer, task, seed) cell."""

    directory: Path
    action: str  # ran | skipped_complete | skipped_failed | skipped_locked
    result: RunResult | None = None
    reason: str = ""  # why a skipped_locked cell did not run (who holds the lock, when it is taken over)

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result.status
        meta = read_run_json(self.directory) or {}
        return meta.get("status", "missing")


def _plain(cfg: Any) -> Any:
    """OmegaConf containers -> plain dicts/lists (no-op for plain data)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, (DictConfig, ListConfig)):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return cfg


def resolve_optimizer(optimizer_cfg: Mapping, task_type: TaskType) -> tuple[str, str, dict]:
    """(run label, concrete variant, variant config); `smac` dispatches per task type. The label is
    the id, with `_q<n>` for a batch size n > 1 (registry.run_label), which the variant config keeps."""
    opt_id = optimizer_cfg.get("id")
    if not opt_id:
        raise UserError("optimizer config has no 'id'")
    batch_size = registry.batch_size_of(optimizer_cfg)
    label = registry.run_label(opt_id, batch_size)
    if optimizer_cfg.get("by_task_type"):
        variant, variant_cfg = registry.dispatched_config(dict(optimizer_cfg), task_type)
        return label, variant, variant_cfg
    return label, opt_id, dict(optimizer_cfg)


def build_task(task_cfg: Mapping) -> Task:
    task_cfg = _plain(task_cfg)
    return Task(id=task_cfg["id"], objective_function=instantiate_objective(task_cfg), budget=Budget.from_mapping(task_cfg.get("budget")))


def _budget_mismatch(meta: dict, budget: Budget) -> str | None:
    old = meta.get("budget")
    if old is not None and old != budget.as_dict():
        return f"it was run with budget {old}, now {budget.as_dict()}"
    return None


def run_cell(optimizer_cfg: Mapping, task_cfg: Mapping, seed: int, out: str | Path = "runs", study: str = "default",
             redo: bool = False, retry_failed: bool = False, label: str | None = None) -> CellOutcome:
    """Run one cell, or skip it when it is already done. Raises UserError for bad input.
    `label` given: `optimizer_cfg` is an already resolved variant config (carps_like.plan), filed
    under `label`; otherwise the config (possibly a dispatcher such as `smac`) is resolved here."""
    optimizer_cfg, task_cfg = _plain(optimizer_cfg), _plain(task_cfg)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    task_type = TaskType.parse(task_cfg.get("metadata", {}).get("type", "bb"))
    opt_id, variant, variant_cfg = _resolved(optimizer_cfg, task_type, label)
    budget = Budget.from_mapping(task_cfg.get("budget"))
    directory = run_dir(out, study, opt_id, task_cfg["id"], seed)

    meta_before = read_run_json(directory)
    skip = _skip(directory, meta_before, budget, variant_cfg, redo, retry_failed)
    if skip is not None:
        return skip

    prepared = prepare_run(variant_cfg, task_cfg, seed, study, label=opt_id)
    handle = RunHandle(directory)
    try:
        handle.acquire()
    except RunLockedError as exc:
        return CellOutcome(directory, "skipped_locked", reason=str(exc))
    try:
        meta_now = read_run_json(directory)
        if _version(meta_now) != _version(meta_before):
            # another process ran it between our read and the lock: its result is what REDO or
            # RETRY_FAILED asked for, so it is judged as a plain re-run would judge it
            skip = _skip(directory, meta_now, budget, variant_cfg, False, False)
            if skip is not None:
                return skip
        handle.archive_previous()
        result = prepared.execute(handle, handle.optimizer_workdir())
    finally:
        handle.release()
    return CellOutcome(directory, "ran", result)


def _version(meta: dict | None) -> tuple | None:
    return None if meta is None else (meta.get("status"), meta.get("started"), meta.get("finished"))


def _skip(directory: Path, meta: dict | None, budget: Budget, variant_cfg: dict, redo: bool,
          retry_failed: bool) -> CellOutcome | None:
    """The outcome of a cell that must not run given its run.json, or None to run it."""
    if meta is None or redo:
        return None
    status = meta.get("status")
    if status == "complete":
        mismatch = _budget_mismatch(meta, budget)
        old_settings = meta.get("optimizer_config")
        if not mismatch and old_settings is not None and old_settings != variant_cfg:
            mismatch = f"it was run with other optimizer settings ({old_settings.get('adapter')})"
        if mismatch:
            raise UserError(f"run {directory} is complete but {mismatch}; use another study name or redo it (REDO=1)")
        return CellOutcome(directory, "skipped_complete")
    if status == "failed" and not retry_failed:
        return CellOutcome(directory, "skipped_failed")
    return None


@dataclass
class PreparedRun:
    """Everything a run needs, resolved and checked before anything is written; `execute` runs it
    into any handle with start/append_trial/finish (a run directory or the experiment queue)."""

    task: Task
    adapter_cls: type
    settings: dict
    seed: int
    meta: dict
    batch_size: int = 1

    def execute(self, handle, workdir: Path) -> RunResult:
        handle.start(self.meta)

        def make_optimizer():
            return self.adapter_cls(task=self.task, seed=self.seed, workdir=workdir, **self.settings)

        result = run_trials(self.task, make_optimizer, handle, batch_size=self.batch_size)
        handle.finish(result.status, result.summary(), result.rows)
        return result


def _resolved(optimizer_cfg: dict, task_type: TaskType, label: str | None) -> tuple[str, str, dict]:
    if label is None:
        return resolve_optimizer(optimizer_cfg, task_type)
    return label, optimizer_cfg["id"], optimizer_cfg


def prepare_run(optimizer_cfg: Mapping, task_cfg: Mapping, seed: int, study: str, label: str | None = None) -> PreparedRun:
    """Resolve the variant (unless `label` says it is resolved), build the task, check
    compatibility; raises UserError/IncompatibleError."""
    optimizer_cfg, task_cfg = _plain(optimizer_cfg), _plain(task_cfg)
    task_type = TaskType.parse(task_cfg.get("metadata", {}).get("type", "bb"))
    opt_id, variant, variant_cfg = _resolved(optimizer_cfg, task_type, label)
    budget = Budget.from_mapping(task_cfg.get("budget"))
    missing = unmet_requirement(task_cfg.get("requires") or [])
    if missing:
        raise IncompatibleError(f"task {task_cfg['id']} {missing}")
    task = build_task(task_cfg)
    task_type_recorded = task.task_type
    if variant_cfg.get("full_fidelity"):
        task = task.at_full_fidelity()
    adapter_cfg = dict(variant_cfg.get("adapter") or {})
    if "_target_" not in adapter_cfg:
        raise UserError(f"optimizer config {variant!r} has no adapter._target_")
    own_versions = requirement_versions(variant_cfg, variant)  # YAML `requirements`: refused where unmet
    cls = registry.import_target(adapter_cfg["_target_"])
    cls.check_task(task)  # IncompatibleError before anything is written
    batch_size = registry.batch_size_of(variant_cfg)
    if batch_size > 1 and not cls.batch_ask:
        raise IncompatibleError(registry.batch_refusal(cls, batch_size))
    meta = {
        "study": study, "optimizer_id": opt_id, "optimizer_variant": variant, "optimizer_config": variant_cfg,
        "task_id": task.id, "task_type": task_type_recorded.value, "task_metadata": task_cfg.get("metadata", {}),
        "seed": seed, "budget": budget.as_dict(), "versions": {**package_versions(), **own_versions}, "git_revision": git_revision(),
        **host_info(),
    }
    settings = {k: v for k, v in adapter_cfg.items() if k != "_target_"}
    return PreparedRun(task, cls, settings, seed, meta, batch_size)
