"""A study's plan: every cell resolved once, executed unchanged by whichever launcher runs it.

The study front end resolves names, the optimizer variant per task type (`OPT=smac` ->
`smac_bb`, ...), the batch size, budgets and the user's `optimizer.*` / `task.*` overrides, and
writes the resulting cells (one per task and seed) to a JSON file. Every launcher executes these
cells as they are: `python -m carps_like.execute` (local processes, the default; no Hydra compose
and no re-exec per run) and Hydra's submitit and Ray launchers through
`python -m carps_like.run plan=<file> cell=<i>`. So an override reaches the run or is refused up
front, and nothing resolves a name a second time.

The plan also fixes the interpreter of each cell: an optimizer whose YAML `requirements` the
main environment does not satisfy gets its isolated environment's python (carps_like.optenv).
Planning does not build it (a dry run or a queue registration must not spend minutes installing):
the study builds the missing ones once before its first run (`build_environments`), and `execute`
builds one still missing (a queue worker on another machine), then runs such a cell in a subprocess
of that interpreter (`python -m carps_like.plan`), whichever launcher called it.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
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
    the task config with its budget, the seed, and the interpreter of the optimizer's isolated
    environment (None: the running one)."""

    label: str
    variant: str
    optimizer: dict
    task: dict
    seed: int
    python: str | None = None

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
    from .optenv import python_for

    resolved: dict[str, tuple] = {}
    cells = []
    for tid in tasks:
        entry = registry.get_task(tid)
        task_type = TaskType(entry.metadata["type"])
        if task_type not in resolved:
            label, variant, variant_cfg = resolve_optimizer(requested, task_type)
            resolved[task_type] = label, variant, variant_cfg, python_for(variant_cfg, variant, build=False)
        label, variant, variant_cfg, python = resolved[task_type]
        task_cfg = registry.deep_merge(copy.deepcopy(entry.config), task_extra)
        task_cfg["budget"] = budgets[tid].as_dict()
        cells += [Cell(label, variant, variant_cfg, task_cfg, seed, python) for seed in seeds]
    return cells, launcher


def unbuilt_environments(cells: list[Cell]) -> dict[str, Cell]:
    """The isolated interpreters the cells are planned with that are not built yet (one cell each)."""
    return {c.python: c for c in cells if c.python and not Path(c.python).exists()}


def build_environments(cells: list[Cell]) -> None:
    """Build the isolated environments the cells need, once, before any run starts (so parallel
    runs do not wait on one build each, and a failed build stops the study with one error)."""
    from .optenv import python_for

    for cell in unbuilt_environments(cells).values():
        python_for(cell.optimizer, cell.variant)


def save(cells: list[Cell], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps([asdict(c) for c in cells]))
    tmp.replace(path)
    return path


def load(path: str | Path) -> list[Cell]:
    return [Cell(**c) for c in json.loads(Path(path).read_text())]


def execute(cell: Cell, out: str | Path, study: str, redo: bool = False, retry_failed: bool = False):
    """Run one cell as planned (carps_like.experiment.run_cell with the resolved variant), in a
    subprocess of the cell's interpreter when that is not the running one."""
    from .experiment import run_cell
    from .optenv import is_current, python_for

    if cell.python and not is_current(cell.python):
        python = cell.python if Path(cell.python).exists() else python_for(cell.optimizer, cell.variant)
        if python and not is_current(python):
            return _execute_in(python, cell, out, study, redo, retry_failed)
    return run_cell(cell.optimizer, cell.task, cell.seed, out=out, study=study, redo=redo, retry_failed=retry_failed,
                    label=cell.label)


class CellError(Exception):
    """A cell that could not be set up in its isolated environment (the message says why)."""


def _execute_in(python: str, cell: Cell, out, study: str, redo: bool, retry_failed: bool):
    """`python -m carps_like.plan`: the cell (JSON on stdin) run by `python`; its outcome comes
    back through a file (stdout and stderr stay the run's own)."""
    from .errors import UserError
    from .experiment import CellOutcome
    from .runner import RunResult

    fd, result_file = tempfile.mkstemp(prefix="carps-like-cell-", suffix=".json")
    os.close(fd)
    try:
        cmd = [python, "-m", "carps_like.plan", "--out", str(out), "--study", study, "--result", result_file]
        cmd += (["--redo"] if redo else []) + (["--retry-failed"] if retry_failed else [])
        proc = subprocess.run(cmd, input=json.dumps(asdict(cell)), text=True)
        text = Path(result_file).read_text()
    finally:
        os.unlink(result_file)
    if not text:
        raise CellError(f"the run process ({python}) exited with status {proc.returncode} and no result")
    res = json.loads(text)
    if "user_error" in res:
        raise UserError(res["user_error"])
    if "error" in res:
        raise CellError(f"{res['error']} (in {python})")
    result = None if res["result"] is None else RunResult(**res["result"])
    return CellOutcome(Path(res["directory"]), res["action"], result, res["reason"])


def _main(argv: list[str] | None = None) -> int:
    """The subprocess side of `_execute_in`."""
    import argparse

    from .errors import UserError

    parser = argparse.ArgumentParser(prog="carps_like.plan", description="run one planned cell (JSON on stdin)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--redo", action="store_true")
    parser.add_argument("--retry-failed", action="store_true")
    args = parser.parse_args(argv)
    cell = Cell(**{**json.loads(sys.stdin.read()), "python": None})  # run here, whatever the plan said
    try:
        outcome = execute(cell, args.out, args.study, args.redo, args.retry_failed)
        result = None if outcome.result is None else {"status": outcome.result.status, **outcome.result.summary()}
        res = {"directory": str(outcome.directory), "action": outcome.action, "reason": outcome.reason, "result": result}
    except UserError as exc:
        res = {"user_error": str(exc)}
    except Exception as exc:  # a task or store that cannot be set up; the run itself never raises
        res = {"error": f"{type(exc).__name__}: {exc}"}
        if os.environ.get("CARPS_LIKE_DEBUG"):
            raise
    Path(args.result).write_text(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
