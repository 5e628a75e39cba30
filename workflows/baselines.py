"""Shipped baselines: the reference optimizers on every dev and test subset, `baseline_seeds` seeds.

    python -m workflows.baselines run       # the runs; seeds 1..<seeds> are the full-set runs, reused
    python -m workflows.baselines collect   # -> baselines/<data_version>/{trials,runs}.parquet + manifest.json
    python -m workflows.baselines check     # are the shipped baselines those of the current subset files?

A new optimizer is compared against them without re-running anything:
`make report RUNS="runs baselines/<data_version>"` (gather reads the shipped tables as a source).
The runs use the same budget caps as the full set (configs/subsets.yaml), so a comparison must
run with the same caps; the per-run budgets are in runs.parquet (`budget_n_trials`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import yaml

from analysis.subsets import CONFIG, ROOT, TYPES, load_config

from .subsets import run_reference

BASELINE_DIR = ROOT / "baselines"
TASKSET_DIR = ROOT / "configs" / "taskset"


def subset_file(task_type: str, which: str) -> Path:
    return TASKSET_DIR / f"subset_{task_type}_{which}.yaml"


def subset_tasks(cfg: dict, task_types: list[str] | None = None) -> dict[str, list[str]]:
    """Dev and test tasks per type, read from the generated subset files."""
    out = {}
    for t in task_types or list(cfg["types"]):
        ids: list[str] = []
        for which in ("dev", "test"):
            path = subset_file(t, which)
            if not path.exists():
                raise FileNotFoundError(f"{path.relative_to(ROOT)} is missing: run `make subsets` first")
            ids += yaml.safe_load(path.read_text())["tasks"]
        out[t] = ids
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def baseline_dir(cfg: dict) -> Path:
    return BASELINE_DIR / cfg["data_version"]


def select_baseline_runs(runs: pd.DataFrame, cfg: dict, tasks: dict[str, list[str]]) -> pd.DataFrame:
    """The run rows that make up the baselines: reference optimizer of the task's type, a subset
    task, seed 1..baseline_seeds."""
    wanted = {(t, task, opt) for t, ids in tasks.items() for task in ids for opt in cfg["types"][t]["reference"]}
    key = list(zip(runs["task_type"], runs["task_id"], runs["optimizer_id"]))
    mask = pd.Series([k in wanted for k in key], index=runs.index)
    mask &= runs["seed"].between(1, int(cfg["baseline_seeds"]))
    return runs[mask]


def _keep_shipped_tasks(cfg: dict, fresh, shipped_dir: Path):
    """Fresh runs plus the shipped baselines' runs of every task the run directory lacks, so a
    change of the subsets only needs runs of the tasks that came in (a task is taken whole from
    one side: `analysis.subsets.merge_by_task`)."""
    from analysis.gather import RUNS_TABLE, Gathered, gather
    from analysis.subsets import merge_by_task

    if not (shipped_dir / RUNS_TABLE).exists():
        return fresh
    shipped = gather([shipped_dir])
    runs = merge_by_task(shipped.runs, fresh.runs)
    kept = set(runs["run_key"])
    trials = pd.concat([shipped.trials[shipped.trials["run_key"].isin(kept - set(fresh.runs["run_key"]))], fresh.trials],
                       ignore_index=True)
    return Gathered(trials=trials, runs=runs)


def collect(cfg: dict, tasks: dict[str, list[str]] | None = None, out: Path | None = None) -> Path:
    """Gather the baseline runs from the full-set study into compact zstd Parquet tables with
    paths relative to the study (the shipped tables must not name this machine's directories).
    `tasks` defaults to the subset files' dev + test tasks, `out` to baselines/<data_version>."""
    from analysis.gather import RUNS_TABLE, TRIALS_TABLE, Gathered, gather, write_gathered

    tasks = subset_tasks(cfg) if tasks is None else tasks
    runs_root = ROOT / cfg["out"]
    g = gather([runs_root / cfg["data_version"]], runs_root / f".{cfg['data_version']}-gather", progress=True)
    prefix = str(runs_root.resolve()) + "/"
    for frame in (g.trials, g.runs):
        frame["run_key"] = frame["run_key"].str.removeprefix(prefix)
    g = _keep_shipped_tasks(cfg, g, out or baseline_dir(cfg))
    runs = select_baseline_runs(g.runs, cfg, tasks)
    expected = sum(len(ids) * len(cfg["types"][t]["reference"]) for t, ids in tasks.items()) * int(cfg["baseline_seeds"])
    unusable = runs[~runs["status"].isin(["complete", "failed"])]
    if len(runs) != expected or len(unusable):
        raise ValueError(f"baselines need {expected} finished runs, found {len(runs)} ({len(unusable)} not finished: "
                         f"{unusable['status'].value_counts().to_dict()}); run `python -m workflows.baselines run` first")
    trials = g.trials[g.trials["run_key"].isin(set(runs["run_key"]))].copy()
    runs = runs.copy()
    runs["path"] = runs["run_key"]
    order = ["task_type", "task_id", "optimizer_id", "seed"]
    runs = runs.sort_values(order).reset_index(drop=True)
    trials = trials.sort_values(order + ["trial"]).reset_index(drop=True)
    out = out or baseline_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    write_gathered(Gathered(trials=trials, runs=runs), out, compression="zstd")
    versions = sorted({v for v in runs["versions"].dropna()})
    manifest = {
        "data_version": cfg["data_version"], "seeds": int(cfg["baseline_seeds"]),
        "reference": {t: cfg["types"][t]["reference"] for t in tasks},
        "tasks": tasks, "runs": int(len(runs)), "trials": int(len(trials)),
        "run_statuses": runs["status"].value_counts().to_dict(),
        "budget_n_trials": {task: int(b) if b == b else None
                            for task, b in runs.groupby("task_id")["budget_n_trials"].first().items()},
        "library_versions": [json.loads(v) if v.startswith("{") else v for v in versions],
        "git_revisions": sorted({str(r) for r in runs["git_revision"].dropna()}),
        "files_sha256": {name: _sha256(out / name) for name in (TRIALS_TABLE, RUNS_TABLE)},
        "regenerate": "make baselines  (python -m workflows.baselines run && python -m workflows.baselines collect)",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return out


def check(cfg: dict) -> list[str]:
    """Problems that make the shipped baselines unusable for the current subsets (empty: fine)."""
    out = baseline_dir(cfg)
    path = out / "manifest.json"
    if not path.exists():
        return [f"{path.relative_to(ROOT)} is missing: run `make baselines`"]
    manifest = json.loads(path.read_text())
    problems = []
    for name, digest in manifest["files_sha256"].items():
        if _sha256(out / name) != digest:
            problems.append(f"{name} does not match its manifest sha256")
    # the task lists decide, not the files' bytes: `make subsets` rewrites the headers' figures
    # whenever the full-set data grows, and a dev/test split of the same tasks needs no new runs
    current = subset_tasks(cfg)
    stale = sorted(t for t, ids in current.items() if sorted(manifest["tasks"].get(t, [])) != sorted(ids))
    if stale:
        problems.append(f"the {', '.join(stale)} subsets hold other tasks than the baselines were run on: run `make baselines`")
    if manifest["seeds"] != int(cfg["baseline_seeds"]):
        problems.append(f"baselines have {manifest['seeds']} seeds, configs/subsets.yaml asks for {cfg['baseline_seeds']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workflows.baselines", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run the reference optimizers on the dev and test subsets (resumable)")
    p_run.add_argument("--types", default=",".join(TYPES))
    p_run.add_argument("--jobs", type=int, default=None)
    p_run.add_argument("--dry-run", action="store_true")
    sub.add_parser("collect", help="baseline runs -> baselines/<data_version>/")
    sub.add_parser("check", help="exit 1 when the shipped baselines do not belong to the current subset files")
    args = parser.parse_args(argv)
    cfg = load_config(CONFIG)
    try:
        if args.command == "run":
            types = [t.strip() for t in args.types.split(",") if t.strip()]
            bad = [t for t in types if t not in cfg["types"]]
            if bad:
                raise ValueError(f"unknown task types {bad}; accepted: {', '.join(cfg['types'])}")
            return run_reference(cfg, subset_tasks(cfg, types), str(cfg["baseline_seeds"]), args.jobs, args.dry_run)
        if args.command == "collect":
            print(f"wrote {collect(cfg).relative_to(ROOT)}/")
            return 0
        problems = check(cfg)
        for p in problems:
            print(f"baselines: {p}", file=sys.stderr)
        if not problems:
            print(f"baselines {baseline_dir(cfg).relative_to(ROOT)} match the current subset files")
        return 1 if problems else 0
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
