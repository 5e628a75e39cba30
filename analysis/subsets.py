"""Representative task subsets: full-set data -> embedding -> star-discrepancy selection -> tasksets.

    python -m analysis.subsets select              # shipped data -> configs/taskset/subset_<type>{,_dev,_test}.yaml
    python -m analysis.subsets select --refresh    # adopt a fresh search instead of keeping the current subsets

Everything is driven by configs/subsets.yaml. `select` keeps the current subsets while they are valid
(their baselines stay usable) and reports a fresh search beside them. It reads only the shipped Parquet
file and the current subset files, so
`make subsets` regenerates the shipped subset files byte for byte (the search is deterministic
for a seed and an evaluation budget). `select` prints, and writes into each subset header, the
tasks the embedding excluded (with the reason) or averaged over fewer seeds (NaN seed scores),
so a defect in the full-set data never shapes a subset unseen.

The full-set data itself (`make subset-data`: full tasksets, reference runs, collection into
analysis/data/<data_version>.parquet) is made by workflows/subsets.py, which launches the runs.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from carps_like import registry

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "subsets.yaml"
DATA_DIR = ROOT / "analysis" / "data"
TYPES = ("bb", "mf", "mo", "momf")
FINAL_COLUMNS = ["task_id", "task_type", "optimizer_id", "seed", "run_status", "score", "has_incumbent", "final_cost",
                 "final_value", "hv", "igd_plus"]


def load_config(path: Path = CONFIG) -> dict:
    cfg = yaml.safe_load(path.read_text())
    unknown = set(cfg["types"]) - set(TYPES)
    if unknown:
        raise ValueError(f"{path}: unknown task types {sorted(unknown)}; accepted: {', '.join(TYPES)}")
    return cfg


def full_set(cfg: dict) -> dict[str, list[str]]:
    """Every benchmark task per type (collections in exclude_collections left out)."""
    out: dict[str, list[str]] = defaultdict(list)
    for task_id, entry in sorted(registry.tasks().items()):
        if task_id.split("/")[0] in cfg["exclude_collections"]:
            continue
        out[entry.task_type.value].append(task_id)
    return dict(out)


def pending_tasks(cfg: dict) -> dict[str, list[str]]:
    """Tasks of the full set that this data version does not cover yet, per type: those matching a
    `pending_tasks` pattern of configs/subsets.yaml (registered after the full-set runs were made;
    they become subset candidates once `make subset-data` has run them)."""
    import fnmatch

    patterns = cfg.get("pending_tasks") or []
    if not patterns:
        return {}
    return {t: [i for i in ids if any(fnmatch.fnmatchcase(i, p) for p in patterns)] for t, ids in full_set(cfg).items()}


def budget_cap(cfg: dict, task_type: str, task_id: str) -> int | None:
    """The full-set budget cap of a task: budget_caps' "<type>/<collection>" entry, else its
    "<collection>" entry, else budget_cap (None: the task's own default budget)."""
    caps = cfg.get("budget_caps") or {}
    collection = task_id.split("/")[0]
    return caps.get(f"{task_type}/{collection}", caps.get(collection, cfg.get("budget_cap")))


def merge_by_task(shipped: pd.DataFrame | None, fresh: pd.DataFrame) -> pd.DataFrame:
    """Rows of `fresh` for every task it covers; `shipped` rows only for tasks `fresh` lacks.

    Scores are normalized per task from all of that task's runs, so a task's rows must come from
    one gather: a task is taken whole from one side, never mixed (so a run directory that holds
    only part of a task's runs replaces all of its shipped rows)."""
    if shipped is None or shipped.empty:
        return fresh
    if fresh.empty:  # a concat with it would turn all-NaN float columns into object ones
        return shipped
    kept = shipped[~shipped["task_id"].isin(set(fresh["task_id"]))]
    return pd.concat([kept, fresh], ignore_index=True)


def full_set_runs(cfg: dict, g):
    """Only the full-set runs of a gather: reference optimizers of the run's type, seeds 1..seeds.
    The same study also holds the baselines' extra seeds (`make baselines`), which must not enter
    the full-set normalization."""
    refs = {(t, o) for t, spec in cfg["types"].items() for o in spec["reference"]}
    runs = g.runs
    keep = [(t, o) in refs for t, o in zip(runs["task_type"], runs["optimizer_id"])]
    runs = runs[pd.Series(keep, index=runs.index) & runs["seed"].between(1, int(cfg["seeds"]))]
    return g.restricted_to(runs)


def load_full_set_results(cfg: dict) -> pd.DataFrame:
    path = DATA_DIR / f"{cfg['data_version']}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make subset-data` (hours) to generate the full-set results")
    manifest = json.loads(path.with_suffix(".json").read_text())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != manifest["sha256"]:
        raise ValueError(f"{path}: sha256 {digest[:12]} does not match its manifest ({manifest['sha256'][:12]})")
    return pd.read_parquet(path)


def _mean_ranks(final: pd.DataFrame, task_type: str, tasks: list[str] | None) -> pd.Series:
    from .ranking import per_task_ranks

    f = final[final["task_type"] == task_type]
    if tasks is not None:
        f = f[f["task_id"].isin(tasks)]
    return per_task_ranks(f).mean()


def ranking_agreement(final: pd.DataFrame, task_type: str, tasks: list[str], among: list[str] | None = None) -> float:
    """Kendall tau between the reference optimizers' mean-rank order on `tasks` and on the full set
    (`among`: the tasks a subset could be drawn from, i.e. the embedded ones; default every task)."""
    from scipy.stats import kendalltau

    full = _mean_ranks(final, task_type, among)
    sub = _mean_ranks(final, task_type, tasks).reindex(full.index)
    tau = kendalltau(full.to_numpy(), sub.to_numpy()).statistic
    return float(tau) if tau == tau else 1.0  # all tied on both: perfect agreement


def rank_gap(final: pd.DataFrame, task_type: str, tasks: list[str], among: list[str] | None = None) -> float:
    """Largest |mean rank on `tasks` - mean rank on the full set (`among`, as above)| over the reference
    optimizers: finer than tau, which has only four values for three optimizers."""
    full = _mean_ranks(final, task_type, among)
    sub = _mean_ranks(final, task_type, tasks).reindex(full.index)
    return float((sub - full).abs().max())


def random_subset_discrepancy(points, k: int, seed: int, n_draws: int = 200) -> float:
    """Median exact discrepancy of `n_draws` random k-subsets: what picking tasks blindly gives."""
    from .star_discrepancy import star_discrepancy_value

    rng = np.random.default_rng(seed)
    return float(np.median([star_discrepancy_value(points[rng.choice(len(points), k, replace=False)])
                            for _ in range(n_draws)]))


@dataclass
class Selection:
    task_type: str
    k: int
    dev: list[str]
    test: list[str]
    dev_discrepancy: float
    test_discrepancy: float
    tau_dev: float
    tau_test: float
    n_candidates: int
    excluded: dict[str, str]
    evaluations: int
    gap_dev: float
    gap_test: float
    random_median: float
    nan_seeds: dict[str, str] = field(default_factory=dict)
    fresh_dev_discrepancy: float = float("nan")    # what the search found on this data
    fresh_test_discrepancy: float = float("nan")
    searched: bool = True                          # False: kept subsets, not the search's
    not_kept: str = ""                             # why the current subsets could not stay (asked to keep them)


def embedding_notes(sel: Selection) -> list[str]:
    """What the embedding left out or averaged over fewer seeds, per task (empty: nothing), for the
    subset header and `select`'s output: nothing is dropped silently."""
    def listing(d: dict[str, str]) -> str:
        return "; ".join(f"{t} ({why})" for t, why in sorted(d.items()))

    notes = [f"excluded ({len(sel.excluded)}): {listing(sel.excluded)}"] if sel.excluded else []
    if sel.nan_seeds:
        notes.append(f"NaN seed scores, mean over the finite seeds ({len(sel.nan_seeds)}): {listing(sel.nan_seeds)}")
    return notes


def shipped_subsets(task_type: str, directory: Path | None = None) -> tuple[list[str], list[str]] | None:
    """The dev and test tasks of the current subset files (None: there are none yet)."""
    directory = directory or ROOT / "configs" / "taskset"
    paths = [directory / f"subset_{task_type}_{which}.yaml" for which in ("dev", "test")]
    if not all(p.exists() for p in paths):
        return None
    dev, test = (list(yaml.safe_load(p.read_text())["tasks"]) for p in paths)
    return dev, test


def why_not_kept(current: tuple[list[str], list[str]] | None, k: int, candidates: list[str]) -> str | None:
    """Why the current subsets cannot stay (None: they can): missing, another k, overlapping halves,
    or a task that is no longer a candidate (removed, or the embedding excluded it)."""
    if current is None:
        return "no subset files yet"
    dev, test = current
    if len(dev) != k or len(test) != k:
        return f"they hold {len(dev)} / {len(test)} tasks, k is {k}"
    if set(dev) & set(test):
        return f"dev and test share {sorted(set(dev) & set(test))}"
    gone = sorted(set(dev + test) - set(candidates))
    return f"no longer candidates: {', '.join(gone)}" if gone else None


def select_type(cfg: dict, final: pd.DataFrame, task_type: str, k: int | None = None,
                current: tuple[list[str], list[str]] | None = None, keep: bool = False) -> Selection:
    """Search dev and test subsets; with `keep`, keep `current` (the shipped ones) where they are still
    valid (else `not_kept` says why) and report the fresh search next to them. Subsets and their
    baselines change only on purpose (`--refresh`), not whenever tasks are added: the search has
    many near-equal optima, so a re-search after adding 3 % more tasks swapped most of the 140 dev
    and test tasks for gains of 0.01-0.04 in discrepancy."""
    from .embedding import embed
    from .star_discrepancy import star_discrepancy_value
    from .subset_search import select_dev_test, select_dev_then_test

    modes = {"joint": select_dev_test, "sequential": select_dev_then_test}
    mode = cfg.get("search_mode", "joint")
    if mode not in modes:
        raise ValueError(f"search_mode {mode!r}; accepted: {', '.join(modes)}")
    spec = cfg["types"][task_type]
    k = int(spec["k"] if k is None else k)
    if k < 1:
        raise ValueError(f"{task_type}: k must be an integer >= 1, got {k}")
    emb = embed(final, task_type, spec["reference"])
    if len(emb.task_ids) < 2 * k:
        raise ValueError(f"{task_type}: {len(emb.task_ids)} embedded tasks cannot give two disjoint subsets of {k}")
    res = modes[mode](emb.points, k, seed=int(cfg["search_seed"]), budget=int(cfg["search_budget"]))
    fresh = (sorted(emb.task_ids[i] for i in res.dev.indices), sorted(emb.task_ids[i] for i in res.test.indices))
    not_kept = why_not_kept(current, k, emb.task_ids) if keep else None
    dev, test = fresh if not_kept or not keep else (sorted(current[0]), sorted(current[1]))
    row = {t: i for i, t in enumerate(emb.task_ids)}

    def discrepancy(tasks: list[str]) -> float:
        return float(star_discrepancy_value(emb.points[[row[t] for t in tasks]]))

    return Selection(task_type, k, dev, test, discrepancy(dev), discrepancy(test),
                     # compared with the embedded tasks: an excluded task (a reference optimizer lacks runs
                     # there) has partial ranks and could never be in a subset
                     ranking_agreement(final, task_type, dev, emb.task_ids),
                     ranking_agreement(final, task_type, test, emb.task_ids),
                     len(emb.task_ids), emb.excluded, int(res.evaluations),
                     rank_gap(final, task_type, dev, emb.task_ids), rank_gap(final, task_type, test, emb.task_ids),
                     random_subset_discrepancy(emb.points, k, int(cfg["search_seed"])), emb.nan_seeds,
                     float(res.dev.discrepancy), float(res.test.discrepancy), (dev, test) == fresh, not_kept or "")


def _k_list(text: str) -> list[int]:
    """--sweep-k 10,15,20 -> [10, 15, 20]."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--sweep-k takes a comma list of integers >= 1 (e.g. 10,15,20), got {text!r}") from None


BEHAVIOUR = {"bb": "uniform / TPE / CMA-ES", "mf": "uniform at full fidelity / DE in Hyperband brackets / TPE + Hyperband",
             "mo": "uniform / NSGA-II / MOTPE", "momf": "uniform / NSGA-II / MOTPE, the latter two at full fidelity"}


def markdown_row(cfg: dict, sel: Selection) -> str:
    """One row of the subset table in docs/subsets.md."""
    refs = ", ".join(f"`{o}`" for o in cfg["types"][sel.task_type]["reference"])
    return (f"| {sel.task_type} | {refs} ({BEHAVIOUR.get(sel.task_type, '')}) | {sel.n_candidates} | {sel.k} | "
            f"{sel.dev_discrepancy:.4f} / {sel.test_discrepancy:.4f} | {sel.fresh_dev_discrepancy:.4f} / "
            f"{sel.fresh_test_discrepancy:.4f} | {sel.random_median:.4f} | {sel.tau_dev:.2f} / "
            f"{sel.tau_test:.2f} | {sel.gap_dev:.3f} / {sel.gap_test:.3f} |")


def search_text(cfg: dict, sel: Selection) -> str:
    """How the subsets came about: this data's search, or kept with the search's figures beside them."""
    search = f"{cfg.get('search_mode', 'joint')} search, seed {cfg['search_seed']}, {sel.evaluations} exact evaluations"
    if sel.searched:
        return search
    return (f"kept subsets, exact on this data: a fresh {search} gives dev {sel.fresh_dev_discrepancy:.4f}, test "
            f"{sel.fresh_test_discrepancy:.4f}; `make subsets ARGS=--refresh` adopts it, then `make baselines`")


def _header(cfg: dict, sel: Selection, which: str) -> str:
    spec = cfg["types"][sel.task_type]
    infinite = any("infinite score" in why for why in sel.excluded.values())
    excluded_why = "a reference optimizer has no usable run" + (" or an infinite score" if infinite else "")
    lines = [
        f"Representative {sel.task_type} tasks ({which}), chosen by minimizing the L-infinity star discrepancy.",
        "Generated by `make subsets` (python -m analysis.subsets select) from analysis/data/"
        f"{cfg['data_version']}.parquet; do not edit.",
        f"data version: {cfg['data_version']}; reference optimizers: {', '.join(spec['reference'])}; "
        f"k = {sel.k} of {sel.n_candidates} embedded tasks ({len(sel.excluded)} excluded: {excluded_why})",
        f"star discrepancy: dev {sel.dev_discrepancy:.4f}, test {sel.test_discrepancy:.4f} ({search_text(cfg, sel)}; "
        f"median of 200 random {sel.k}-subsets {sel.random_median:.4f})",
        f"Kendall tau of the reference optimizers' mean-rank order vs the full set: dev {sel.tau_dev:.3f}, test {sel.tau_test:.3f}; "
        f"largest mean-rank difference: dev {sel.gap_dev:.3f}, test {sel.gap_test:.3f}",
        *embedding_notes(sel),
    ]
    return "".join(f"# {ln}\n" for ln in lines)


def write_selection(cfg: dict, sel: Selection, directory: Path | None = None) -> list[Path]:
    directory = directory or ROOT / "configs" / "taskset"
    paths = []
    for name, tasks, which in ((f"subset_{sel.task_type}_dev", sel.dev, "dev"), (f"subset_{sel.task_type}_test", sel.test, "test"),
                               (f"subset_{sel.task_type}", sel.dev, "= dev")):
        path = directory / f"{name}.yaml"
        path.write_text(_header(cfg, sel, which) + yaml.safe_dump({"tasks": tasks}, sort_keys=False))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_sel = sub.add_parser("select", help="shipped full-set data -> configs/taskset/subset_<type>{,_dev,_test}.yaml")
    p_sel.add_argument("--types", default=",".join(TYPES))
    p_sel.add_argument("--sweep-k", default=None, help="comma list of k: print discrepancy and tau per k, write nothing")
    p_sel.add_argument("--out-dir", type=Path, default=None, help="write the subset files here (default configs/taskset)")
    p_sel.add_argument("--markdown", action="store_true", help="also print the table rows of docs/subsets.md")
    p_sel.add_argument("--refresh", action="store_true",
                       help="adopt this data's search instead of keeping the current subsets (then `make baselines`)")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("tasksets", "run", "collect"):
        print(f"error: `{argv[0]}` launches or gathers the full-set runs: python -m workflows.subsets {argv[0]} "
              "(make subset-data)", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    cfg = load_config()
    if args.command == "select":
        try:
            final = load_full_set_results(cfg)
            rows: list[str] = []
            for t in [t.strip() for t in args.types.split(",") if t.strip()]:
                if t not in cfg["types"]:
                    raise ValueError(f"unknown task type {t!r}; accepted: {', '.join(cfg['types'])}")
                for i, k in enumerate(_k_list(args.sweep_k) if args.sweep_k else [None]):
                    keep = not (args.sweep_k or args.refresh)
                    before = shipped_subsets(t)  # the current files: configs/taskset, whatever --out-dir says
                    sel = select_type(cfg, final, t, k, before if keep else None, keep=keep)
                    if sel.not_kept:
                        print(f"  {t}: searched new subsets; the current ones cannot stay: {sel.not_kept}")
                    print(f"{t}: k={sel.k} of {sel.n_candidates}: discrepancy dev {sel.dev_discrepancy:.4f} test "
                          f"{sel.test_discrepancy:.4f} (random subsets {sel.random_median:.4f}); Kendall tau dev "
                          f"{sel.tau_dev:.3f} test {sel.tau_test:.3f}; rank gap dev {sel.gap_dev:.3f} test {sel.gap_test:.3f}",
                          flush=True)
                    if not sel.searched:
                        print(f"  {t}: kept the current subsets; a fresh search gives dev {sel.fresh_dev_discrepancy:.4f} "
                              f"test {sel.fresh_test_discrepancy:.4f} (`--refresh` adopts it; the baselines then need "
                              "`make baselines`)")
                    for note in embedding_notes(sel) if i == 0 else []:  # the embedding does not depend on k
                        print(f"  {t}: {note}")
                    pending = pending_tasks(cfg).get(t, []) if i == 0 else []
                    if pending:
                        print(f"  {t}: {len(pending)} tasks of full_{t} are not in {cfg['data_version']} yet and are no "
                              f"candidates (pending_tasks in configs/subsets.yaml; make subset-data runs them): "
                              f"{', '.join(pending[:4])}{', ...' if len(pending) > 4 else ''}")
                    if not args.sweep_k:
                        for p in write_selection(cfg, sel, args.out_dir):
                            print(f"  wrote {p}")
                        if before and (sorted(before[0]), sorted(before[1])) != (sel.dev, sel.test):
                            print(f"  {t}: these subsets differ from configs/taskset's, whose baselines then no longer "
                                  "match: run `make baselines` (python -m workflows.baselines check says which types)")
                    if args.markdown:
                        rows.append(markdown_row(cfg, sel))
            for row in rows:
                print(row)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
