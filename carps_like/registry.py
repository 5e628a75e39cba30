"""Names users type (optimizers, tasks, tasksets) resolved from the Hydra config tree.

Reads YAML only (no optimizer or benchmark library is imported), so listing thousands of tasks
and checking compatibility before a study starts is fast.
"""
from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import IncompatibleError, UserError, unknown_name
from .types import TaskType

CONFIG_DIR = Path(os.environ.get("CARPS_LIKE_CONFIGS", Path(__file__).resolve().parents[1] / "configs"))


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 1,000+ task files parse ~10x faster


def _yaml(path: Path) -> dict:
    with open(path) as fh:
        return yaml.load(fh, Loader=_Loader) or {}


@dataclass(frozen=True)
class TaskEntry:
    id: str
    path: Path
    config: dict

    @property
    def task_type(self) -> TaskType:
        return TaskType.parse(self.config["metadata"]["type"])

    @property
    def metadata(self) -> dict:
        return self.config.get("metadata", {})

    @property
    def requires(self) -> list[str]:
        return list(self.config.get("requires") or [])

    @property
    def collection(self) -> str:
        return self.id.split("/", 1)[0]


@functools.lru_cache(maxsize=None)
def tasks(config_dir: Path = CONFIG_DIR) -> dict[str, TaskEntry]:
    """All tasks, keyed by id (the path below configs/task without .yaml)."""
    root = config_dir / "task"
    out = {}
    for path in sorted(root.rglob("*.yaml")):
        task_id = path.relative_to(root).with_suffix("").as_posix()
        cfg = _yaml(path)
        if cfg.get("id") != task_id:
            raise UserError(f"{path}: id {cfg.get('id')!r} does not match its path ({task_id!r})")
        out[task_id] = TaskEntry(task_id, path, cfg)
    return out


@functools.lru_cache(maxsize=None)
def optimizers(config_dir: Path = CONFIG_DIR) -> dict[str, dict]:
    return {p.stem: _yaml(p) for p in sorted((config_dir / "optimizer").glob("*.yaml"))}


@functools.lru_cache(maxsize=None)
def tasksets(config_dir: Path = CONFIG_DIR) -> dict[str, dict]:
    return {p.stem: _yaml(p) for p in sorted((config_dir / "taskset").glob("*.yaml"))}


def get_task(task_id: str) -> TaskEntry:
    all_tasks = tasks()
    if task_id not in all_tasks:
        sets = tasksets()
        raise unknown_name("task", task_id, list(all_tasks) + list(sets), "make tasks",
                           f"{len(all_tasks)} tasks and {len(sets)} task sets")
    return all_tasks[task_id]


def get_optimizer_config(name: str) -> dict:
    """The config of configs/optimizer/<name>.yaml, its keys checked (check_optimizer_config)."""
    all_opts = optimizers()
    if name not in all_opts:
        raise unknown_name("optimizer", name, all_opts, "make optimizers")
    _checked(name)
    return all_opts[name]


#: top-level keys of an optimizer config (docs/adding-an-optimizer.md)
OPTIMIZER_KEYS = ("id", "adapter", "by_task_type", "batch_size", "full_fidelity", "requirements", "compare")
COMPARE_KEYS = ("seeds", "types", "max_minutes")  # `make compare` defaults for this optimizer (docs/compare.md)
RUNNER_ARGUMENTS = ("self", "task", "seed", "workdir")  # what the runner passes every adapter itself


@functools.lru_cache(maxsize=None)
def _checked(name: str) -> None:
    """check_optimizer_config once per process: a study looks an optimizer up once per task."""
    path = CONFIG_DIR / "optimizer" / f"{name}.yaml"
    try:
        path = path.relative_to(Path.cwd())
    except ValueError:
        pass
    check_optimizer_config(optimizers()[name], str(path))


def check_optimizer_config(cfg: dict, source: str) -> None:
    """Refuse an unknown key before any run starts: a typo in an adapter setting would otherwise
    fail every run (each marked failed, skipped until --retry-failed), and a top-level one would
    be ignored. The adapter's settings are the keyword parameters of its class's constructor."""
    if not isinstance(cfg, dict) or not all(isinstance(cfg.get(k) or {}, dict) for k in ("adapter", "by_task_type")):
        raise UserError(f"{source}: an optimizer config is a mapping: id, adapter: {{_target_: ..., settings}}, ...")
    _refuse_unknown(cfg, list(OPTIMIZER_KEYS), source, "key", "accepted")
    _refuse_unknown(cfg.get("by_task_type") or {}, [t.value for t in TaskType], source, "by_task_type key", "accepted")
    _refuse_unknown(cfg.get("compare") or {}, list(COMPARE_KEYS), source, "compare key", "accepted")
    from .optenv import check_requirements  # `requirements`: run in an isolated environment when unmet (optenv)

    check_requirements(cfg.get("requirements"), source)
    adapter = cfg.get("adapter") or {}
    if not adapter.get("_target_"):
        return  # a dispatcher (by_task_type), or `no adapter._target_`, said where the adapter is needed
    cls = import_target(adapter["_target_"])
    accepted = _keyword_parameters(cls.__init__, RUNNER_ARGUMENTS)
    if accepted is not None:
        _refuse_unknown(adapter, ["_target_"] + accepted, source, "adapter setting", f"{adapter['_target_']} accepts")
    for name, (target, set_by_adapter) in (cls.nested_settings(adapter) if hasattr(cls, "nested_settings") else {}).items():
        given = adapter.get(name)
        inner = _keyword_parameters(target, ("self", *set_by_adapter))
        if isinstance(given, dict) and inner is not None:
            _refuse_unknown(given, inner, source, f"{name} setting", f"{target.__qualname__} accepts")


def _keyword_parameters(function, leave_out: tuple[str, ...]) -> list[str] | None:
    """The keyword parameters of `function` (a class: its constructor), or None when it takes **kwargs."""
    params = inspect.signature(function).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.name not in leave_out and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


DISPATCH_KEYS = ("id", "by_task_type", "batch_size")


def dispatched_config(optimizer_cfg: dict, task_type: TaskType) -> tuple[str, dict]:
    """(variant, its config) for a dispatcher config such as `smac`. Settings given on top of the
    dispatcher (Hydra overrides like `++optimizer.adapter.n_init=5`) are merged into the chosen
    variant's config and checked there, so they reach the run or are refused with the reason."""
    variant = optimizer_variant(optimizer_cfg["id"], task_type)
    merged = deep_merge(get_optimizer_config(variant), {k: v for k, v in optimizer_cfg.items() if k not in DISPATCH_KEYS})
    if "batch_size" in optimizer_cfg and batch_size_of(optimizer_cfg) != 1:
        merged["batch_size"] = optimizer_cfg["batch_size"]
    if merged != get_optimizer_config(variant):
        check_optimizer_config(merged, f"{optimizer_cfg['id']} -> {variant} (with your overrides)")
    return variant, merged


def deep_merge(base: dict, extra: dict) -> dict:
    """`extra` laid over `base`, nested mappings merged key by key."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _refuse_unknown(mapping: dict, accepted: list, source: str, what: str, accepted_by: str) -> None:
    unknown = [k for k in mapping if k not in accepted]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), accepted, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"{source}: unknown {what} {unknown[0]!r}{hint}; {accepted_by}: {', '.join(accepted)}")


def resolve_task_names(name: str) -> list[str]:
    """A taskset name, a task id, or a comma-separated list of either -> task ids (order kept)."""
    ids: list[str] = []
    for part in [p.strip() for p in str(name).split(",") if p.strip()]:
        if part in tasksets():
            members = tasksets()[part].get("tasks") or []
            for member in members:
                get_task(member)  # a taskset naming a missing task is an error, not a silent drop
            ids.extend(members)
        else:
            ids.append(get_task(part).id)
    if not ids:
        raise UserError(f"no tasks in {name!r}")
    seen = set()
    return [i for i in ids if not (i in seen or seen.add(i))]


def optimizer_variant(name: str, task_type: TaskType) -> str:
    """The concrete optimizer config for a task type: `smac` -> `smac_bb`, `smac_hyperband`, ..."""
    cfg = get_optimizer_config(name)
    by_type = cfg.get("by_task_type")
    if not by_type:
        return name
    variant = by_type.get(task_type.value)
    if variant is None:
        supported = ", ".join(sorted(by_type))
        raise IncompatibleError(f"optimizer {name!r} has no variant for task type {task_type.value!r} (it has: {supported})")
    get_optimizer_config(variant)
    return variant


def optimizer_class(variant: str):
    """Import the adapter class of a concrete optimizer config (its module defers library imports)."""
    target = get_optimizer_config(variant).get("adapter", {}).get("_target_")
    if not target:
        raise UserError(f"optimizer config {variant!r} has no adapter._target_")
    return import_target(target)


def import_target(target: str):
    """'package.module.Class' -> the class, with a clear error when it does not exist."""
    module, _, attr = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"cannot import {target!r}: {exc}") from None


def incompatibility(optimizer_name: str, entry: TaskEntry, batch_size: int = 1) -> str | None:
    """Why `optimizer_name` cannot run the task here (optimizer or machine), or None."""
    from .requirements import unmet_requirement

    missing = unmet_requirement(entry.requires)
    if missing:
        return f"task {missing}"
    try:
        variant = optimizer_variant(optimizer_name, entry.task_type)
    except IncompatibleError as exc:
        return str(exc)
    cls = optimizer_class(variant)
    if batch_size > 1 and not cls.batch_ask:
        return batch_refusal(cls, batch_size)
    return cls.incompatibility(seen_task_type(get_optimizer_config(variant), entry.task_type), entry.metadata)


def check_batch_size(q) -> int:
    """A batch size: trials asked together with `ask_batch`, evaluated, then told; None or 1 is
    the sequential loop."""
    if q is None:
        return 1
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise UserError(f"batch_size must be an integer >= 1 (1: one trial at a time), got {q!r}")
    return q


def batch_size_of(optimizer_cfg) -> int:
    """The batch size an optimizer config asks for (its `batch_size`, default 1)."""
    return check_batch_size(optimizer_cfg.get("batch_size", 1))


def chosen_batch_size(optimizer_name: str, requested: int | None) -> tuple[int, int | None]:
    """(batch size, override): `BATCH=` when given, else the optimizer config's; the override is
    what a launch or queue cell must set because it differs from the config's (None: keep it)."""
    configured = batch_size_of(get_optimizer_config(optimizer_name))
    q = configured if requested is None else check_batch_size(requested)
    return q, (None if q == configured else q)


def run_label(optimizer_name: str, batch_size: int) -> str:
    """The name runs are filed and reported under: the same optimizer asking batches of q is
    another contender (`hebo_q4` next to `hebo`), never mixed with its sequential runs."""
    return optimizer_name if batch_size == 1 else f"{optimizer_name}_q{batch_size}"


def batch_refusal(cls, batch_size: int) -> str:
    return (f"{cls.__name__} does not declare batch_ask, so it cannot propose batches of {batch_size} "
            f"(batch_size 1 runs it one trial at a time)")


def seen_task_type(variant_cfg: dict, task_type: TaskType) -> TaskType:
    """The task type the optimizer sees: `full_fidelity: true` in its config turns mf into bb and
    momf into mo (the runner then evaluates every trial at the maximum fidelity)."""
    if variant_cfg.get("full_fidelity") and task_type.multi_fidelity:
        return TaskType.of(2 if task_type.multi_objective else 1, has_fidelity=False)
    return task_type
