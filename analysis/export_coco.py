"""Export BBOB runs in the COCO data format, so cocopp (and IOHanalyzer) can read them.

    python -m analysis.export runs/ --format coco --out export/coco
    python -m cocopp export/coco/randomsearch export/coco/ng_de

Why: cocopp compares against decades of archived BBOB results (best 2009, ...) with COCO's own
targets and ECDFs. Only `bbob/f<f>_d<d>_i<i>` tasks are exported: COCO's bbob suite defines
exactly those problems (our BBOB functions are ioh's implementation of COCO's, same function ids
and instances). Every other task is skipped, with the reason in `ExportResult.skipped`.

Hand-written, because nothing installed writes this format: cocoex's logger only observes COCO's
own problems and cannot replay recorded values. The layout follows COCO's bbob logger
(code-experiments/src/logger_bbob.c, data format 'bbob-new2'), per algorithm folder:
- `bbobexp_f<f>.info`: per dimension three lines, `suite = 'bbob', funcId = .., DIM = ..,
  Precision = 1.000e-08, algId = '..', coco_version = .., logger = 'bbob', data_format =
  'bbob-new2'`, a `%` comment line, then `data_f<f>/bbobexp_f<f>_DIM<d>.dat` followed by
  `, <instance>:<evaluations>|<final best f - Fopt>` for each run, in file order.
- `data_f<f>/bbobexp_f<f>_DIM<d>.dat` / `.tdat`: per run a header line `% f evaluations |
  g evaluations | best noise-free fitness - Fopt (<Fopt>) + sum g_i+ | measured fitness | best
  measured fitness or single-digit g-values | x1 | x2...`, then rows `f-evals g-evals best-Fopt
  f best-f x1..xd` (`%+10.9e`, x as `%+5.4e`; g-evaluations are 0: no constraints).

Choices: f evaluations = trials (BBOB tasks are blackbox: one trial, one evaluation). A crashed
trial counts as an evaluation but has no value: its measured fitness is `nan` and it never
improves the best. Fopt = the task's known optimum
(task_metadata optimum[0]), which is the optimum of the very function our costs come from.
`.dat` has every strict improvement, the first value included (a superset of COCO's target
triggers: cocopp aligns on its own targets); `.tdat` has COCO's evaluation triggers
(floor(10**(i/20)) and d*{1,2,5}*10**k) plus the last evaluation, written as COCO does with the
best point. Evaluations before the first successful trial get no row (COCO always logs the first
evaluation, but a crash has no value and cocopp loops forever on an infinite best), so a run that
starts with crashes starts at its first success and cocopp warns that its first evaluation was
not recorded. One run per seed; several seeds on one instance repeat the instance number.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .export_ioh import (
    BBOB_TASK,
    ExportResult,
    Run,
    Skip,
    clear_previous,
    point,
    safe_name,
    select_runs,
    value_mask,
)

log = logging.getLogger(__name__)

PRECISION = 1e-8
HEADER = ("% f evaluations | g evaluations | best noise-free fitness - Fopt ({fopt:13.12e}) + sum g_i+ | "
          "measured fitness | best measured fitness or single-digit g-values | x1 | x2...")
INFO_HEADER = ("suite = 'bbob', funcId = {f}, DIM = {d}, Precision = {p:.3e}, algId = '{alg}', "
               "coco_version = 'carps_like export', logger = 'bbob', data_format = 'bbob-new2'")


def export_coco(gathered, out_dir) -> ExportResult:
    """Write every usable BBOB run of `gathered` below `out_dir` (one folder per optimizer).
    Returns the files written; `.skipped` lists the runs left out and why."""
    out_dir = Path(out_dir)
    skipped: list[Skip] = []
    runs = select_runs(gathered, skipped, reject=_not_bbob)
    runs = [r for r in runs if _has_value(r, skipped)]
    by_optimizer: dict[str, list[Run]] = {}
    for run in runs:
        by_optimizer.setdefault(run.optimizer_id, []).append(run)
    files = []
    for optimizer_id, opt_runs in sorted(by_optimizer.items()):
        files += _write_optimizer(optimizer_id, opt_runs, out_dir)
    for skip in skipped:
        log.info("coco export skipped %s", skip)
    return ExportResult(files, skipped)


def _not_bbob(task_id: str, meta: dict) -> str | None:
    if not BBOB_TASK.match(task_id):
        return "not a BBOB task: COCO's bbob suite has only bbob/f<f>_d<d>_i<i>"
    optimum = meta.get("optimum")
    if not optimum or optimum[0] is None or not math.isfinite(optimum[0]):
        return "no known optimum (Fopt) in the task metadata"
    return None


def _has_value(run: Run, skipped: list[Skip]) -> bool:
    if value_mask(run.trials, run.meta).any():
        return True
    skipped.append(Skip(run.optimizer_id, run.task_id, run.seed, "no successful trial: nothing to show"))
    return False


def _bbob_identity(task_id: str) -> tuple[int, int, int]:
    f, d, i = (int(g) for g in BBOB_TASK.match(task_id).groups())
    return f, d, i


def _write_optimizer(optimizer_id: str, runs: list[Run], out_dir: Path) -> list[Path]:
    folder = out_dir / safe_name(optimizer_id)
    clear_previous(folder, ("bbobexp_f*.info",), "data_f*")
    groups: dict[tuple[int, int], list[Run]] = {}
    for run in runs:
        f, d, _ = _bbob_identity(run.task_id)
        groups.setdefault((f, d), []).append(run)
    info_blocks: dict[int, list[str]] = {}
    files = []
    for (f, d), group in sorted(groups.items()):
        group.sort(key=lambda r: (_bbob_identity(r.task_id)[2], r.seed))
        block, written = _write_dimension(folder, optimizer_id, f, d, group)
        info_blocks.setdefault(f, []).append(block)
        files += written
    for f, blocks in info_blocks.items():
        info = folder / f"bbobexp_f{f}.info"
        info.write_text("\n".join(blocks) + "\n")
        files.append(info)
    return sorted(files)


def _write_dimension(folder: Path, optimizer_id: str, f: int, d: int, runs: list[Run]) -> tuple[str, list[Path]]:
    """The .dat/.tdat files of one (function, dimension) and its three-line .info block."""
    rel = f"data_f{f}/bbobexp_f{f}_DIM{d}"
    dat, tdat, entries = [], [], []
    for run in runs:
        rows = run_rows(run, d)
        header = HEADER.format(fopt=rows.fopt)
        dat += [header, *rows.dat]
        tdat += [header, *rows.tdat]
        entries.append(f"{_bbob_identity(run.task_id)[2]}:{rows.evaluations}|{rows.final_delta:.1e}")
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    dat_file, tdat_file = path.with_name(path.name + ".dat"), path.with_name(path.name + ".tdat")
    dat_file.write_text("\n".join(dat) + "\n")
    tdat_file.write_text("\n".join(tdat) + "\n")
    comment = f"% exported by carps_like from runs of {optimizer_id}: one run per seed; f evaluations = trials"
    block = "\n".join([INFO_HEADER.format(f=f, d=d, p=PRECISION, alg=safe_name(optimizer_id)), comment,
                       ", ".join([f"{rel}.dat", *entries])])
    return block, [dat_file, tdat_file]


@dataclass
class RunRows:
    """The .dat and .tdat rows of one run, its evaluation count and final best f - Fopt."""

    fopt: float
    dat: list[str]
    tdat: list[str]
    evaluations: int
    final_delta: float


def run_rows(run: Run, dim: int) -> RunRows:
    """Replay a run as COCO's logger would have logged it."""
    fopt = float(run.meta["optimum"][0])
    values = np.where(value_mask(run.trials, run.meta), run.trials["cost"].to_numpy(dtype=float), np.nan)
    configs = run.trials["config"].tolist()
    n = len(values)
    triggers = tdat_triggers(dim, n)
    dat, tdat = [], []
    best, best_x = math.inf, None
    for e, (value, config) in enumerate(zip(values, configs), start=1):
        x = point(config, dim)
        improved = not math.isnan(value) and value < best
        if improved:
            best, best_x = float(value), x
        if best_x is None:
            continue  # no value yet: nothing to write (cocopp cannot align an infinite best)
        line = _line(e, best - fopt, value, best, x)
        if improved:
            dat.append(line)
        if e in triggers:
            tdat.append(line)
    if n not in triggers:  # COCO's logger closes the .tdat with the best point
        tdat.append(_line(n, best - fopt, best, best, best_x))
    return RunRows(fopt, dat, tdat, n, best - fopt)


def _line(evaluations: int, delta: float, value: float, best: float, x: list[float] | None) -> str:
    xs = "".join(f" {v:+5.4e}" for v in x) if x is not None and len(x) < 22 else ""
    return f"{evaluations} 0 {delta:+10.9e} {value:+10.9e} {best:+10.9e}{xs}"


def tdat_triggers(dim: int, n: int) -> set[int]:
    """COCO's evaluation triggers up to n: floor(10**(i/20)) and dim * {1, 2, 5} * 10**k."""
    out, i = set(), 0
    while (e := math.floor(10 ** (i / 20))) <= n:
        out.add(e)
        i += 1
    k = 0
    while dim * 10 ** k <= n:
        out.update(b * dim * 10 ** k for b in (1, 2, 5) if b * dim * 10 ** k <= n)
        k += 1
    return out


def parse_info(text: str) -> list[dict]:
    """The blocks of a .info file as dicts (header fields, data file, runs): for tests and checks."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    blocks = []
    for header, comment, data in zip(lines[0::3], lines[1::3], lines[2::3]):
        fields = dict(part.split(" = ", 1) for part in header.split(", "))
        parts = data.split(", ")
        runs = [(int(p.split(":")[0]), int(p.split(":")[1].split("|")[0]), float(p.split("|")[1])) for p in parts[1:]]
        blocks.append({"header": {k: v.strip("'") for k, v in fields.items()}, "comment": comment,
                       "data_file": parts[0], "runs": runs})
    return blocks

