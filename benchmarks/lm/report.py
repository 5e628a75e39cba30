"""Fidelity report of the LM tasks (`make lm-report`): how faithful are the surrogates?

    python -m benchmarks.lm.report [--dataset FILE] [--models et,et_div,...] [--splits 5] [--markdown]

For each learned surrogate model of benchmarks.lm.surrogate (the one the tinylm tasks use is
marked): held-out R^2, Spearman and Kendall of the predicted loss against the held-out
configurations' target curves (GroupKFold by configuration id: seeds of one configuration stay in
one fold), at the final budget and at every checkpoint token count; the share of predicted curves
that are non-increasing in tokens (raw model output and as shipped); the numbers of runs, configurations and
diverged runs; the dataset sha256 and dates; the seed noise (pooled spread of ln final loss, and
the share of the final-loss variance that is within-configuration seed noise, a ceiling on R^2).

Plus the analytic check of the lmscaling tasks: each bb and mf task evaluated at its optimum
configuration (`optimal_config()`, full fidelity) against the Chinchilla L(N, D) of its law; the
largest absolute error is printed (0 up to rounding when the tasks are right).

--markdown prints the same tables as Markdown (for docs/tasks.md). Sklearn fits run with one thread
(set OMP_NUM_THREADS=1 on a shared machine); the whole report takes about a minute.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import surrogate as sg


def _f(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool) -> str:
    """A Markdown table or a plain aligned text table."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells[1:]])
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])


def seed_noise(dataset: sg.Dataset) -> dict[str, float]:
    """Seed spread of ln(final loss) and the within-configuration share of the final-loss variance."""
    finals: dict[str, list[float]] = {}
    for r in dataset.runs:
        finals.setdefault(r["config_id"], []).append(float(sg.target_curve(r)[-1]))
    multi = [np.array(v) for v in finals.values() if len(v) > 1]
    total = float(np.var([v[0] for v in finals.values()], ddof=1)) if len(finals) > 1 else float("nan")
    within = (float(np.mean([np.var(v, ddof=1) for v in multi])) if multi else float("nan"))
    return {"seed_spread": sg.seed_spread(dataset), "n_multi_seed_configs": len(multi),
            "within_share": within / total if multi and total > 0 else float("nan")}


def time_model_fit(dataset: sg.Dataset) -> dict[str, float]:
    """The virtual-time model on its own data: R^2 of ln(seconds per token), median relative error."""
    coef = sg.fit_time_model(dataset.runs)
    y = np.log([r["timing"]["train_time_s"] / max(1, r["tokens_trained"]) for r in dataset.runs])
    p = sg._time_design([r["hparams"] for r in dataset.runs]) @ coef
    ss = float(((y - y.mean()) ** 2).sum())
    return {"r2": 1.0 - float(((y - p) ** 2).sum()) / ss if ss > 0 else float("nan"),
            "median_rel_error": float(np.median(np.abs(np.exp(p - y) - 1.0))), "b": float(coef[1]), "c": float(coef[2])}


def lmscaling_optimum_check() -> dict[str, Any]:
    """Every lmscaling bb/mf task at its optimum configuration vs L(N, D): max absolute error."""
    from .scaling import task_specs

    errors = {}
    for spec in task_specs():
        obj = spec.build()
        if obj.task_type.multi_objective:
            continue
        loss = obj.evaluate(obj.optimal_config()).values[0]
        errors[spec.id] = abs(loss - float(obj.law.loss(obj.n_fixed, obj.d_fixed)))
    return {"n_tasks": len(errors), "max_abs_error": max(errors.values()), "errors": errors}


def evaluate_models(dataset: sg.Dataset, models: Iterable[str], n_splits: int = 5) -> list[dict[str, Any]]:
    results = []
    for name in models:
        t0 = time.perf_counter()
        cv = sg.cross_validate(dataset, name, n_splits)
        cv["seconds"] = time.perf_counter() - t0
        results.append(cv)
    return results


def render(dataset: sg.Dataset, results: list[dict[str, Any]], noise: dict[str, float], check: dict[str, Any],
           markdown: bool = False) -> str:
    m = dataset.manifest
    n_div = sum(bool(r["diverged"]) for r in dataset.runs)
    timing = time_model_fit(dataset)
    n_changed = sum(not r["diverged"] and float(np.min(r["val_loss"])) < float(r["val_loss"][-1]) for r in dataset.runs)
    head = "## " if markdown else ""
    out = [f"{head}Tiny-LM surrogate fidelity (held out by configuration)", "",
           (f"dataset {dataset.name}: {dataset.n_runs} runs, {dataset.n_configs} configurations, {n_div} diverged; "
            f"sha256 {dataset.sha256}"),
           (f"data updated {m.get('updated', 'n/a')} (planned runs: {m.get('n_runs_planned', 'n/a')}); "
            f"report {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}; surrogate version "
            f"{sg.SURROGATE_VERSION}; tasks use `{sg.DEFAULT_MODEL}`"),
           (f"target: best-so-far validation loss per checkpoint (ln 256 for diverged runs), mean over seeds; "
            f"{n_changed} converged runs end above their best checkpoint"),
           (f"seed noise: spread of ln(final loss) {_f(noise['seed_spread'], 4)} over "
            f"{noise['n_multi_seed_configs']} multi-seed configurations; seed noise is "
            f"{_f(100 * noise['within_share'], 1)}% of the final-loss variance"),
           (f"virtual time: ln(s/token) = a {timing['b']:+.2f} ln(FLOPs/token) {timing['c']:+.2f} ln(tokens/step), "
            f"in-sample R^2 {_f(timing['r2'])}, median relative error {_f(100 * timing['median_rel_error'], 0)}%"), ""]
    if markdown:
        out = [line + ("  " if line and not line.startswith("#") else "") for line in out]
    rows = [[r["model"] + (" (tasks)" if r["model"] == sg.DEFAULT_MODEL else ""), _f(r["final"]["r2"]),
             _f(r["final"]["spearman"]), _f(r["final"]["kendall"]), _f(r["monotone_share"], 2),
             _f(r["monotone_share_raw"], 2), f"{r['n_splits']}", f"{r['seconds']:.1f}"] for r in results]
    out += [f"{head}Final budget ({dataset.checkpoint_tokens[-1]} tokens)" if markdown else
            f"Final budget ({dataset.checkpoint_tokens[-1]} tokens)", "",
            table(["model", "R^2", "Spearman", "Kendall", "monotone", "monotone raw", "folds", "CV s"], rows,
                  markdown), ""]
    for metric, label in (("r2", "R^2"), ("spearman", "Spearman"), ("kendall", "Kendall")):
        rows = [[r["model"], *(_f(c[metric]) for c in r["per_checkpoint"])] for r in results]
        title = f"{label} by checkpoint (tokens)"
        out += [f"{head}{title}" if markdown else title, "",
                table(["model", *(str(t) for t in dataset.checkpoint_tokens)], rows, markdown), ""]
    title = "Analytic lmscaling tasks at their optimum vs Chinchilla L(N, D)"
    out += [f"{head}{title}" if markdown else title, "",
            (f"{check['n_tasks']} bb/mf tasks evaluated at optimal_config(); max |loss - L(N, D)| = "
             f"{check['max_abs_error']:.3g}"), ""]
    return "\n".join(out)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fidelity report of the LM surrogates (see the module docstring).")
    parser.add_argument("--dataset", type=Path, default=sg.DEFAULT_DATASET)
    parser.add_argument("--models", default=",".join(sg.MODELS), help=f"comma-separated, of {', '.join(sg.MODELS)}")
    parser.add_argument("--splits", type=int, default=5, help="GroupKFold folds (by configuration)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    a = parser.parse_args(list(argv) if argv is not None else None)
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in sg.MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; accepted: {', '.join(sg.MODELS)}")
    dataset = sg.load_dataset(a.dataset)
    print(render(dataset, evaluate_models(dataset, models, a.splits), seed_noise(dataset), lmscaling_optimum_check(),
                 a.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
