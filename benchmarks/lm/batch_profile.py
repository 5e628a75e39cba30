"""Batch-size profile of a tinylm instance (issue 22 item 3): where does the batch optimum lie, and would a
shorter sequence (the batch's unit) put it inside the range?

    python -m benchmarks.lm.batch_profile --instance help-s16 [--seq-lens 64,32,16]
        [--tokens-per-batch 16,32,64,128,256] [--lr-factors 0.5,1,2,4] [--seeds 0,1] [--tokens N] [--jobs 2]
    python -m benchmarks.lm.batch_profile --instance help-s16 --summary

Takes the instance's best measured configuration (lowest mean final loss of a converged configuration) and
trains it again with every (sequence length, tokens per batch) pair, batch size = tokens per batch / sequence
length sequences (pairs that are not a whole number of sequences are skipped), at each learning rate factor times
its learning rate: the surrogate data put the learning-rate optimum on a ridge in (lr, batch), so a batch size
is compared at its own best learning rate, not at one lr. Everything else (size, warmup, weight decay, beta2,
schedule, token budget) stays as it was.

Runs are appended to benchmarks/lm/data/batch-profile-<instance>.jsonl (the sweep's record, resumable the same
way: a run already in the file is skipped; several grids, e.g. token budgets, may share a file) with a manifest.
The summary (`--summary`, also printed after the runs) gives per cell the mean over seeds of the final loss at
the cell's best learning rate (marked where that lr is at the grid's edge: then the loss is an upper bound),
then per budget and sequence length the best batch and every batch the seeds cannot tell from it. Why this
exists: the surrogates put the batch optimum on its lower bound (docs/tasks.md), and a model's optimum on a
bound is no evidence; these runs measure it.
"""
from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import sweep as sw

DEFAULT_SEQ_LENS = (64, 32, 16)
DEFAULT_TOKENS_PER_BATCH = (16, 32, 64, 128, 256)
DEFAULT_LR_FACTORS = (0.5, 1.0, 2.0, 4.0)
DEFAULT_SEEDS = (0, 1)
CHECKPOINTS = 7  # validation checkpoints per run, as in the instances' sweep


def profile_path(instance: str) -> Path:
    return sw.DATA_DIR / f"batch-profile-{instance}.jsonl"


def best_configuration(instance: str) -> tuple[str, dict[str, Any]]:
    """(config id, hparams) of the instance's converged configuration with the lowest mean final loss."""
    from .surrogate import load_dataset

    dataset = load_dataset(sw.instance_dataset(instance))
    final = np.where(dataset.diverged_share == 0, dataset.curves[:, -1], np.inf)
    i = int(np.argmin(final))
    return dataset.config_ids[i], dict(dataset.hparams[i])


def cell_id(seq_len: int, tokens_per_batch: int, lr_factor: float) -> str:
    return f"s{seq_len}-t{tokens_per_batch}-lr{lr_factor:g}"


def plan(instance: str, seq_lens: Sequence[int], tokens_per_batch: Sequence[int], lr_factors: Sequence[float],
         seeds: Sequence[int], tokens: int | None = None) -> tuple[str, list[dict]]:
    """The base configuration's id and the planned runs at `tokens` (default: the instance's budget), seed by
    seed (an interrupted profile covers every cell once before any twice)."""
    base_id, base = best_configuration(instance)
    tokens = int(tokens or sw.INSTANCES[instance]["tokens"])
    cells = [(s, t, f) for s in seq_lens for t in tokens_per_batch if t >= s and t % s == 0 for f in lr_factors]
    runs = [{"config_id": cell_id(s, t, f),
             "hparams": {**base, "seq_len": s, "batch_size": t // s, "learning_rate": base["learning_rate"] * f},
             "seed": seed, "tokens": tokens} for seed in seeds for s, t, f in cells]
    return base_id, runs


def summary(runs: Iterable[dict]) -> list[dict[str, Any]]:
    """Per (token budget, seq_len, tokens per batch): the best learning rate's mean final loss over seeds (diverged runs count
    as ln 256), that learning rate, whether it is at the grid's edge, and the number of seeds."""
    from .surrogate import DIVERGED_LOSS

    by_cell: dict[tuple[int, int, int], dict[float, list[float]]] = {}
    for r in runs:
        hp = r["hparams"]
        loss = DIVERGED_LOSS if r["diverged"] else float(r["final_val_loss"])
        key = (int(r["tokens"]), int(hp["seq_len"]), int(hp["seq_len"]) * int(hp["batch_size"]))
        by_cell.setdefault(key, {}).setdefault(float(hp["learning_rate"]), []).append(loss)
    rows = []
    for (tokens, seq, tpb), by_lr in sorted(by_cell.items(), key=lambda kv: (kv[0][0], -kv[0][1], kv[0][2])):
        lrs = sorted(by_lr)
        means = {lr: float(np.mean(v)) for lr, v in by_lr.items()}
        best = min(lrs, key=lambda lr: means[lr])
        rows.append({"tokens": tokens, "seq_len": seq, "tokens_per_batch": tpb, "batch_size": tpb // seq, "loss": means[best],
                     "learning_rate": best, "lr_at_edge": len(lrs) > 1 and best in (lrs[0], lrs[-1]),
                     "n_seeds": min(len(v) for v in by_lr.values()), "losses": by_lr[best]})
    return rows


def seed_noise_sd(rows: Sequence[dict[str, Any]]) -> float:
    """Pooled sd of one seed's final loss around its cell's mean (at each cell's best learning rate); NaN when
    no cell has two seeds. The summary judges the gap between two cells against it."""
    residuals = [(x - np.mean(r["losses"])) ** 2 for r in rows if len(r["losses"]) > 1 for x in r["losses"]]
    dof = sum(len(r["losses"]) - 1 for r in rows if len(r["losses"]) > 1)
    return math.sqrt(sum(residuals) / dof) if dof else math.nan


def render(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table, then per (token budget, sequence length) where its batch optimum lies and which cells
    are within the seeds' noise of it (a gap of at most 2 sd of the difference of two cell means, the seed
    noise pooled over the cells of that budget): the data cannot tell those apart."""
    lines = ["| tokens | seq_len | tokens per batch | sequences | best lr | seeds | final loss (mean over seeds) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        edge = " (grid edge)" if r["lr_at_edge"] else ""
        lines.append(f"| {r['tokens']} | {r['seq_len']} | {r['tokens_per_batch']} | {r['batch_size']} | "
                     f"{r['learning_rate']:.2e}{edge} | {r['n_seeds']} | {r['loss']:.4f} |")
    lines.append("")
    for tokens, seq in dict.fromkeys((r["tokens"], r["seq_len"]) for r in rows):
        cells = [r for r in rows if (r["tokens"], r["seq_len"]) == (tokens, seq)]
        best = min(cells, key=lambda r: r["loss"])
        sd = seed_noise_sd([r for r in rows if r["tokens"] == tokens])
        near = [r for r in cells if r["loss"] - best["loss"]
                <= 2 * sd * math.sqrt(1 / len(best["losses"]) + 1 / len(r["losses"]))]  # none when sd is NaN
        where = ("at the lower bound (one sequence)" if best["batch_size"] == 1 else
                 "at the smallest batch tried (the range starts at one sequence; smaller batches were not run)"
                 if best is cells[0] else
                 "at the upper end" if best is cells[-1] else
                 f"interior, but not told apart from the smallest batch tried ({cells[0]['tokens_per_batch']} "
                 "tokens)" if cells[0] in near else "interior")
        n = best["batch_size"]
        line = (f"{tokens} tokens, seq_len {seq}: best {best['tokens_per_batch']} tokens per batch ({n} "
                f"sequence{'' if n == 1 else 's'}), {where}")
        if len(cells) > 1 and math.isnan(sd):
            line += "; no seed noise measured (one seed)"
        elif len(cells) > 1:
            line += (f"; within the seeds' noise of it (2 sd of a difference, seed sd {sd:.4f}): "
                     f"{', '.join(str(r['tokens_per_batch']) for r in near)} tokens per batch")
        lines.append(line)
    return "\n".join(lines)


def run_profile(out: Path, instance: str, seq_lens: Sequence[int], tokens_per_batch: Sequence[int],
                lr_factors: Sequence[float], seeds: Sequence[int], tokens: int | None = None, jobs: int = 1) -> list[dict]:
    """Run the grid's missing runs, appending to `out`; the failed runs. The manifest lists every grid run into
    the file (`grids`); a file profiled around another base configuration (the instance's data grew) is refused."""
    base_id, planned = plan(instance, seq_lens, tokens_per_batch, lr_factors, seeds, tokens)
    if not planned:
        raise ValueError("no (sequence length, tokens per batch) pair holds a whole number of sequences; "
                         f"got sequence lengths {list(seq_lens)} and tokens per batch {list(tokens_per_batch)}")
    path = sw.manifest_path(out)
    stored = json.loads(path.read_text()) if path.exists() else {}
    if stored.get("base_config_id", base_id) != base_id:
        raise ValueError(f"{out} profiles configuration {stored['base_config_id']}, the instance's best is now {base_id}; "
                         "use another --out")
    grid = {"seq_lens": list(seq_lens), "tokens_per_batch": list(tokens_per_batch), "lr_factors": list(lr_factors),
            "seeds": list(seeds), "tokens": planned[0]["tokens"]}
    # each grid keeps the code revision it was first run with (the manifest's own git_revision is the last writer's)
    known = [{k: v for k, v in g.items() if k not in sw.CODE_KEYS} for g in stored.get("grids", [])]
    grids = stored.get("grids", []) + ([{**grid, **sw.code_state()}] if grid not in known else [])
    prof = sw.INSTANCES[instance]
    meta = {"profile": instance, "instance": instance, "slice": prof["slice"], "band": prof["band"],
            "kind": "batch profile", "base_config_id": base_id, "grids": grids,
            "tokens": sorted({g["tokens"] for g in grids}), "checkpoints": CHECKPOINTS, "val_tokens": prof["val_tokens"],
            "device_requested": "cpu"}
    runs = sw.read_runs(out)
    sw.check_stored(out, runs, [(r["config_id"], r["hparams"]) for r in planned])
    # execute_runs rewrites the manifest before the first run and after each one
    return sw.execute_runs(out, runs, meta, planned, ("cpu", CHECKPOINTS, prof["val_tokens"], instance), jobs, None,
                           True)


def main(argv: Iterable[str] | None = None) -> int:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",")]

    parser = argparse.ArgumentParser(description="Batch-size profile of a tinylm instance (module docstring).")
    parser.add_argument("--instance", required=True, choices=sorted(sw.INSTANCES))
    parser.add_argument("--seq-lens", type=ints, default=list(DEFAULT_SEQ_LENS))
    parser.add_argument("--tokens-per-batch", type=ints, default=list(DEFAULT_TOKENS_PER_BATCH))
    parser.add_argument("--lr-factors", type=lambda t: [float(x) for x in t.split(",")], default=list(DEFAULT_LR_FACTORS))
    parser.add_argument("--seeds", type=ints, default=list(DEFAULT_SEEDS))
    parser.add_argument("--tokens", type=int, default=None, help="training tokens per run (default: the instance's)")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/lm/data/batch-profile-<instance>.jsonl")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one torch thread each)")
    parser.add_argument("--summary", action="store_true", help="print the summary of the runs in --out and exit")
    a = parser.parse_args(list(argv) if argv is not None else None)
    bad = [v for v in (*a.seq_lens, *a.tokens_per_batch, *([a.tokens] if a.tokens is not None else [])) if v < 1] + [f for f in a.lr_factors if not f > 0]
    if bad or any(s < 0 for s in a.seeds):
        parser.error(f"sequence lengths, tokens per batch and --tokens must be positive integers, learning-rate factors "
                     f"positive and seeds non-negative; got {bad or a.seeds}")
    out = a.out or profile_path(a.instance)
    if not a.summary:
        try:
            failed = run_profile(out, a.instance, a.seq_lens, a.tokens_per_batch, a.lr_factors, a.seeds, a.tokens,
                                 a.jobs)
        except ValueError as exc:
            parser.error(str(exc))
        if failed:
            return 1
    runs = sw.read_runs(out)
    if not runs:
        parser.error(f"{out}: no runs yet; run without --summary first")
    print(render(summary(runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
