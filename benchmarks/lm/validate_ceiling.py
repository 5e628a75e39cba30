"""How right is the fidelity report's noise ceiling? Synthetic datasets with known true means and known noise.

    python -m benchmarks.lm.validate_ceiling [--datasets 16] [--seed 0] [--cases normal,t3,...]

For each layout (an instance: 192 configurations, 72 with seeds 0 and 1, 64 of them among the best 96 as the
refine stage places them, the others single-seed; the cpu dataset: 256 configurations, 16 random ones with
seeds 0, 1 and 2) and each noise case, `--datasets` datasets are drawn (true means from a skewed distribution,
a dense good region below a long tail, as on the shipped data; each configuration one of 100 shapes), the
report's ceiling is estimated from the data alone (report.noise_ceiling) and held against the true ceiling of
the known generator (by simulation). Printed per layout and case: the mean error and its sd over datasets, per
best share, and on how many datasets the report's own check (seed 0 vs seed 1, observed against the model)
lies beyond 2 sd (instances only: the cpu layout has too few two-seed configurations).

Noise cases (sd in nats, loss units; seed s of configuration i: offset_s + sd_i (sqrt(share) g(s, shape) +
sqrt(1 - share) e), e standard normal or t(3)):
    normal      sd 0.03, independent
    t3          0.02 x t(3) (a heavy tail: a seed that lands far off), independent
    by loss     sd 0.01 in the best quarter, 0.08 elsewhere, independent
    shared      sd 0.015, seed offsets +-0.012 common to all configurations and a share 0.4 common to a shape
                within a seed (the seeds as common random numbers, as in the sweeps; the largest offset and
                about the noise of the instances' good regions)
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import report
from . import surrogate as sg

N_SHAPES = 100
TRUTH_DRAWS = 400


@dataclass(frozen=True)
class Case:
    """A known noise generator."""

    name: str
    sd: Callable[[np.ndarray], np.ndarray]  # each configuration's noise scale, from the true means
    heavy_tail: bool = False
    share: float = 0.0
    offset: float = 0.0  # seed 0 +offset, seed 1 -offset, others 0


CASES = (Case("normal", lambda mu: np.full(len(mu), 0.03)),
         Case("t3", lambda mu: np.full(len(mu), 0.02), heavy_tail=True),
         Case("by loss", lambda mu: np.where(mu <= np.quantile(mu, 0.25), 0.01, 0.08)),
         Case("shared", lambda mu: np.full(len(mu), 0.015), share=0.4, offset=0.012))


@dataclass(frozen=True)
class Layout:
    """Which configurations run which seeds."""

    name: str
    n: int
    seeds: int  # seeds of a multi-seed configuration
    multi_random: int  # multi-seed configurations drawn at random
    multi_best: int = 0  # and this many more among the best 1.5 x multi_best (a refine stage)


LAYOUTS = (Layout("instance", 192, 2, 8, 64), Layout("cpu", 256, 3, 16))


def draw_design(layout: Layout, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True means, which seeds each configuration ran ((n, S) bool) and each one's shape."""
    mu = 2.4 + rng.gamma(1.2, 0.35, layout.n)
    ran = np.zeros((layout.n, layout.seeds), dtype=bool)
    ran[:, 0] = True
    best = np.argsort(mu)[:int(1.5 * layout.multi_best)]
    multi = rng.choice(best, layout.multi_best, replace=False) if layout.multi_best else np.zeros(0, dtype=int)
    rest = np.setdiff1d(np.arange(layout.n), multi)
    ran[np.concatenate([multi, rng.choice(rest, layout.multi_random, replace=False)])] = True
    return mu, ran, rng.integers(0, N_SHAPES, layout.n)


def seed_losses(case: Case, mu: np.ndarray, ran: np.ndarray, shape: np.ndarray, rng: np.random.Generator,
                draws: int) -> np.ndarray:
    """(draws, n, S) final losses of every seed (NaN where a configuration did not run the seed)."""
    n, s = ran.shape
    own = rng.standard_t(3, (draws, n, s)) if case.heavy_tail else rng.standard_normal((draws, n, s))
    common = rng.standard_normal((draws, N_SHAPES, s))[:, shape]
    offsets = np.array([case.offset, -case.offset, *[0.0] * (s - 2)])[:s]
    e = offsets + case.sd(mu)[None, :, None] * (math.sqrt(case.share) * common + math.sqrt(1 - case.share) * own)
    return np.where(ran, mu[None, :, None] + e, np.nan)


def write_runs(path: Path, losses: np.ndarray, ran: np.ndarray, shape: np.ndarray) -> sg.Dataset:
    """One dataset's runs file (the fields the report reads) and the dataset loaded from it."""
    lines = []
    for i in range(len(ran)):
        hp = {"d_model": 32 * (1 + int(shape[i]) % 10), "n_layers": 1 + int(shape[i]) // 10, "batch_size": 4,
              "seq_len": 64, "learning_rate": 1e-3}
        for s in np.flatnonzero(ran[i]):
            # ids that sort as i: the loaded dataset keeps the order of mu
            lines.append(json.dumps({"config_id": f"c{i:04d}", "profile": "synthetic", "hparams": hp, "seed": int(s),
                                     "checkpoint_tokens": [4096], "val_loss": [float(losses[i, s])],
                                     "diverged": False}) + "\n")
    path.write_text("".join(lines))
    return sg.load_dataset(path)


def one_dataset(layout: Layout, case: Case, rng: np.random.Generator, folder: Path) -> dict:
    """Estimated minus true ceiling per best share, and the check's z per count, on one synthetic dataset."""
    mu, ran, shape = draw_design(layout, rng)
    d = write_runs(folder / f"runs-{layout.name}.jsonl", seed_losses(case, mu, ran, shape, rng, 1)[0], ran, shape)
    targets = np.nanmean(seed_losses(case, mu, ran, shape, rng, TRUTH_DRAWS), axis=2)
    true = report.ceiling_of(mu, targets - mu)
    est = report.noise_ceiling(d)
    z = [(o["spearman"] - m["spearman"]) / m["spearman_sd"]
         for o, m in zip(est["check"]["observed"], est["check"]["model"])
         if not (math.isnan(o["spearman"]) or math.isnan(m["spearman"]))]
    return {"errors": [e["spearman"] - t["spearman"] for e, t in zip(est["subsets"], true)], "z": z}


def validate(n_datasets: int, seed: int = 0, layouts: Iterable[Layout] = LAYOUTS,
             cases: Iterable[Case] = CASES) -> list[dict]:
    """One row per layout and case: mean and sd of the ceiling's error per best share, check flags."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for layout in layouts:
            for case in cases:
                rng = np.random.default_rng(seed)
                results = [one_dataset(layout, case, rng, Path(tmp)) for _ in range(n_datasets)]
                errors = np.array([r["errors"] for r in results])
                z = [v for r in results for v in r["z"]]
                rows.append({"layout": layout.name, "case": case.name, "datasets": n_datasets,
                             "mean_error": errors.mean(0).tolist(), "error_sd": errors.std(0).tolist(),
                             "check_beyond_2sd": sum(abs(v) > 2 for v in z), "checks": len(z)})
    return rows


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=16, help="synthetic datasets per layout and case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", default=",".join(c.name for c in CASES), help="comma-separated noise cases")
    a = parser.parse_args(list(argv) if argv is not None else None)
    names = [n.strip() for n in a.cases.split(",") if n.strip()]
    unknown = sorted(set(names) - {c.name for c in CASES})
    if unknown:
        parser.error(f"unknown cases {unknown}; accepted: {', '.join(c.name for c in CASES)}")
    header = ["layout", "case", *(f"error {label} (sd)" for label, _ in report.SUBSETS), "check beyond 2 sd"]
    rows = [[r["layout"], r["case"], *(f"{m:+.3f} ({s:.3f})" for m, s in zip(r["mean_error"], r["error_sd"])),
             f"{r['check_beyond_2sd']} of {r['checks']}" if r["checks"] else "n/a"]
            for r in validate(a.datasets, a.seed, cases=[c for c in CASES if c.name in names])]
    print(f"noise ceiling estimated - true, Spearman, over {a.datasets} synthetic datasets per row")
    print(report.table(header, rows, markdown=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
