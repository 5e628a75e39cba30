"""Export runs for outside analysis tools: IOHanalyzer (`--format ioh`) or cocopp (`--format coco`).

    python -m analysis.export runs/ --format ioh --out export/ioh
    python -m analysis.export runs/ other/trials.parquet --format coco --out export/coco

Sources are whatever `analysis.gather` reads (run roots, study or run directories, gathered
Parquet tables). Runs a format cannot hold are skipped and listed with the reason, so nothing
vanishes silently. Bad input (unknown format, missing source, a source without runs, nothing to
export) is one `error:` line and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

FORMATS = ("coco", "ioh")


class BadInput(Exception):
    """Input the user must fix; its message is the whole error line."""


def _exporter(fmt: str):
    if fmt == "ioh":
        from .export_ioh import export_ioh
        return export_ioh
    if fmt == "coco":
        from .export_coco import export_coco
        return export_coco
    raise BadInput(f"unknown format {fmt!r} (accepted: {', '.join(FORMATS)})")


def _check_source(src: str) -> None:
    """A missing path, or a directory with no run.json below it and no gathered tables."""
    from carps_like.store import iter_run_dirs

    from .gather import RUNS_TABLE, TRIALS_TABLE

    path = Path(src)
    if not path.exists():
        raise BadInput(f"{src}: no such run directory or table")
    if path.is_file():
        if path.suffix != ".parquet":
            raise BadInput(f"{src}: expected a directory of runs or a gathered trials.parquet")
        return
    if (path / TRIALS_TABLE).exists() and (path / RUNS_TABLE).exists():
        return
    if next(iter(iter_run_dirs(path)), None) is None:
        raise BadInput(f"{src}: no runs found (no run.json below it, no gathered {TRIALS_TABLE})")


def skipped_summary(skipped) -> list[str]:
    """One line per reason: how many runs, of which optimizers on which tasks."""
    by_reason: dict[str, Counter] = {}
    for skip in skipped:
        by_reason.setdefault(skip.reason, Counter())[f"{skip.optimizer_id} on {skip.task_id}"] += 1
    lines = []
    for reason, cells in sorted(by_reason.items(), key=lambda kv: -sum(kv[1].values())):
        names = ", ".join(sorted(cells)[:5]) + (f", ... ({len(cells)} optimizer-task pairs)" if len(cells) > 5 else "")
        lines.append(f"  skipped {sum(cells.values())} runs: {reason} [{names}]")
    return lines


def run(sources: list[str], fmt: str, out: str) -> int:
    from .gather import gather

    export = _exporter(fmt)
    for src in sources:
        _check_source(src)
    try:
        gathered = gather(sources)
    except (FileNotFoundError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    result = export(gathered, out)
    n_runs = len(gathered.runs) - len(result.skipped)
    if not result:
        raise BadInput(f"nothing to export as {fmt}: all {len(result.skipped)} runs skipped "
                       f"({'; '.join(sorted({s.reason for s in result.skipped}))})")
    print(f"{fmt}: {n_runs} runs -> {len(result)} files in {out}")
    for line in skipped_summary(result.skipped):
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", metavar="RUNS", help="run roots, study or run directories, gathered trials.parquet")
    parser.add_argument("--format", required=True, help=f"one of: {', '.join(FORMATS)}")
    parser.add_argument("--out", default=None, help="output directory (one folder per optimizer is written there; "
                                                     "default export/<format>, so formats never share a folder)")
    args = parser.parse_args(argv)
    try:
        return run(args.sources, args.format, args.out or str(Path("export") / args.format))
    except (BadInput, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
