"""A study's plan: every cell resolved once, executed unchanged by whichever launcher runs it.

The study front end resolves names, the optimizer variant per task type (`OPT=smac` ->
`smac_bb`, ...), the batch size, budgets and the user's `optimizer.*` / `task.*` overrides, and
writes the resulting cells (one per task and seed) to a JSON file. Every launcher executes these
cells as they are: `python -m carps_like.execute` (local processes, the default; no Hydra compose
and no re-exec per run) and Hydra's submitit and Ray launchers through
`python -m carps_like.run plan=<file> cell=<i>`. So an override reaches the run or is refused up
front, and nothing resolves a name a second time.
"""
from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from . import registry
from .errors import UserError
from .task import Budget
from .types import TaskType

OVERRIDE_ROOTS = ("optimizer", "task", "hydra")


@dataclass(frozen=True)
class Cell:
    """One run, fully resolved: the label it is filed under, the concrete variant and its config,
    the task config with its budget, and the seed."""

    label: str
    variant: str
    optimizer: dict
    task: dict
    seed: int

    @property
    def task_id(self) -> str:
        return self.task["id"]


def parse_overrides(overrides: list[str]) -> tuple[dict, dict, list[str]]:
    """Hydra override strings -> (optimizer settings, task settings, hydra.* overrides), parsed by
    Hydra's own grammar; anything else is refused with what is accepted."""
    if not overrides:  # the common case: no Hydra import in the study's start-up
        return {}, {}, []
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise UserError(f"cannot parse the overrides {overrides}: {str(exc).splitlines()[0]} (Hydra's override "
                        "grammar: key=value, +key=value, ++key=value)") from None
    trees: dict[str, dict] = {"optimizer": {}, "task": {}}
    launcher = []
    for text, ov in zip(overrides, parsed):
        root, _, rest = ov.key_or_group.partition(".")
        if root == "hydra":
            launcher.append(text)
            continue
        if root not in trees or not rest or ov.is_delete() or ov.is_sweep_override():
            raise UserError(f"override {text!r} is not accepted; accepted: optimizer.<setting>=<value>, "
                            "task.<setting>=<value> (a single value each) and hydra.<launcher setting>=<value>")
        if root == "task" and rest.split(".")[0] == "budget":  # the plan sets each run's budget itself
            raise UserError(f"override {text!r} is not accepted: set budgets with N_TRIALS= / TIME_LIMIT= "
                            "(--n-trials / --time-limit), which every run and the resume check use")
        node = trees[root]
        *path, last = rest.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = ov.value()
    return trees["optimizer"], trees["task"], launcher


def build(optimizer: str, tasks: list[str], seeds: list[int], budgets: dict[str, Budget], overrides: list[str] = (),
          batch_override: int | None = None) -> tuple[list[Cell], list[str]]:
    """The cells of a study (tasks x seeds) and the hydra.* overrides meant for its launcher."""
    opt_extra, task_extra, launcher = parse_overrides(list(overrides))
    requested = registry.deep_merge(registry.get_optimizer_config(optimizer), opt_extra)
    if batch_override is not None:
        requested["batch_size"] = batch_override
    if opt_extra and not requested.get("by_task_type"):
        registry.check_optimizer_config(requested, f"{optimizer} (with your overrides)")
    from .experiment import resolve_optimizer

    resolved: dict[str, tuple] = {}
    cells = []
    for tid in tasks:
        entry = registry.get_task(tid)
        task_type = TaskType(entry.metadata["type"])
        if task_type not in resolved:
            resolved[task_type] = resolve_optimizer(requested, task_type)
        label, variant, variant_cfg = resolved[task_type]
        task_cfg = registry.deep_merge(copy.deepcopy(entry.config), task_extra)
        task_cfg["budget"] = budgets[tid].as_dict()
        cells += [Cell(label, variant, variant_cfg, task_cfg, seed) for seed in seeds]
    return cells, launcher


def save(cells: list[Cell], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps([asdict(c) for c in cells]))
    tmp.replace(path)
    return path


def load(path: str | Path) -> list[Cell]:
    return [Cell(**c) for c in json.loads(Path(path).read_text())]


def execute(cell: Cell, out: str | Path, study: str, redo: bool = False, retry_failed: bool = False):
    """Run one cell as planned (carps_like.experiment.run_cell with the resolved variant)."""
    from .experiment import run_cell

    return run_cell(cell.optimizer, cell.task, cell.seed, out=out, study=study, redo=redo, retry_failed=retry_failed,
                    label=cell.label)
