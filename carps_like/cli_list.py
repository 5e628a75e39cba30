"""`make tasks` / `make optimizers`: list what can be run, filtered, with counts per task type.

    python -m carps_like.cli_list tasks [FILTER ...]
FILTER terms: a substring or glob of the id (bbob/f1_*), or key=value on metadata:
type=mf, collection=bbob, dim=5 (also dim<=10, dim>=3), approximation=real, conditional=yes.
"""
from __future__ import annotations

import signal
import sys
from collections import Counter

from . import registry
from .errors import UserError
from .task_query import find_tasks

def list_tasks(terms: list[str]) -> int:
    entries = find_tasks(*terms)
    width = max((len(e.id) for e in entries), default=10)
    print(f"{'task id':<{width}}  type  dims  approximation  budget")
    for e in entries:
        m = e.metadata
        b = e.config.get("budget", {})
        print(f"{e.id:<{width}}  {m['type']:<4}  {m.get('dimensions', '?'):>4}  {m.get('approximation', '?'):<13}  {b.get('n_trials')}")
    counts = Counter(e.metadata["type"] for e in entries)
    print(f"\n{len(entries)} tasks: " + ", ".join(f"{t} {counts.get(t, 0)}" for t in ("bb", "mf", "mo", "momf")))
    sets = registry.tasksets()
    print("tasksets: " + ", ".join(f"{n} ({len(s.get('tasks') or [])})" for n, s in sets.items()))
    return 0


def list_optimizers() -> int:
    """One line per optimizer config with its declared capabilities (see docs/adding-an-optimizer.md)."""
    from .optimizer import HYPERPARAMETER_KINDS
    from .reference_docs import capabilities

    mark = {True: "yes", False: "-"}
    print(f"{'optimizer':<22} {'types':<13} {'cond':<4} {'forb':<4} {'batch':<5} {'noise':<10} hyperparameters (float, integer, categorical, ordinal)")
    for name, cfg in registry.optimizers().items():
        if cfg.get("by_task_type"):
            variants = ", ".join(f"{t}: {v}" for t, v in cfg["by_task_type"].items())
            print(f"{name:<22} picks per task type -> {variants}")
            continue
        caps = capabilities(name)  # full_fidelity variants also run the mf twin of each type
        kinds = ", ".join(caps["hyperparameters"][k] for k in HYPERPARAMETER_KINDS)
        print(f"{name:<22} {','.join(caps['task_types']):<13} {mark[caps['conditions']]:<4} {mark[caps['forbiddens']]:<4} "
              f"{mark[caps['batch_ask']]:<5} {caps['noise_handling']:<10} {kinds}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `make tasks | head` ends quietly
    try:
        if not argv or argv[0] not in ("tasks", "optimizers"):
            raise UserError("usage: python -m carps_like.cli_list tasks [FILTER ...] | optimizers")
        return list_tasks(argv[1:]) if argv[0] == "tasks" else list_optimizers()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
