"""Resumable data generation for the tiny-LM surrogates: Sobol configurations x seeds -> JSONL runs.

    python -m benchmarks.lm.sweep --out benchmarks/lm/data/runs-cpu-v1.jsonl --profile cpu \\
        --n-configs 64 --seeds-subset 8 --n-seeds 3 --tokens 262144 --device auto

Configurations: the first n_configs points of a scrambled Sobol sequence
(scipy.stats.qmc.Sobol, seed --sobol-seed, default 0; the sequence is a prefix, so a larger
--n-configs keeps the earlier configurations and their ids c0000, c0001, ...), one dimension
per sampled hyperparameter in the order d_model, n_layers, learning_rate, batch_size, schedule,
warmup_fraction, beta2, weight_decay (see ``_ranges`` for why), mapped to the ranges below (log: log-uniform;
int_log: log-uniform integer; uniform; log1m: 1 - x log-uniform, for beta2; choice: uniform
over the listed values; int: uniform integer). Hyperparameters not listed keep the trainer's
DEFAULTS (beta1 0.9, grad_clip 1.0, min_lr_ratio 0.1); seq_len is fixed per profile.

    name             cpu                         gpu                               smoke (tests)
    learning_rate    log [1e-4, 1e-1]            log [5e-5, 5e-2]                  log [1e-3, 3e-2]
    batch_size       int_log [4, 64] seqs        int_log [8, 256] seqs             int_log [4, 16]
    warmup_fraction  uniform [0, 0.2]            uniform [0, 0.2]                  uniform [0, 0.2]
    weight_decay     uniform [0, 0.3]            uniform [0, 0.3]                  uniform [0, 0.3]
    beta2            log1m [0.9, 0.999]          log1m [0.9, 0.999]                log1m [0.9, 0.999]
    schedule         cosine|linear|constant|wsd  same                              same
    d_model          choice 32, 64, 96, 128      choice 64 ... 768 (8 values)      choice 32
    n_layers         int [1, 4]                  int [2, 12]                       int [1, 1]
    seq_len          128                         256                               64
    tokens (default) 2^18                        2^24                              2^13

Instances (``INSTANCES``, ``--instance NAME``; issue 22): the tinylm family, one profile per corpus
slice x model-size band x token budget, named <slice>-<band><log2 tokens>:

    slice            help (the English help() text) | asyncio (Python source)    benchmarks.lm.corpus.SLICES
    band s           d_model choice 32, 64, 96; n_layers int [1, 2]              N 13k-224k
    band l           d_model choice 64, 96, 128; n_layers int [2, 4]             N 100k-793k
    tokens           2^16 | 2^17 (val_tokens 4096); and asyncio-s20, help-s20: 2^20, the long-run instances
    learning_rate    log [1e-4, 1]
    batch_size       int_log [1, 64] sequences of seq_len 64 (64-4096 tokens)
    warmup, beta2, weight_decay, schedule as above

--instance sets the profile, the dataset file benchmarks/lm/data/runs-<instance>.jsonl and the plan
(INSTANCE_PLAN: n_configs, seeds_subset, n_seeds, refine, refine_rounds); each run trains on the instance's slice (its own
train/validation split) and its record adds `instance` and `corpus_slice` (its corpus_sha256 is the
slice's). Every instance uses Sobol seed 0, so configuration cNNNN has the same coordinates in every
instance (the same hyperparameters where the bands agree): the slices and budgets can be compared
pairwise. Run seed s is the same in every configuration (its batch order, and for equal shapes its initial
weights): common random numbers, so a seed's noise is partly shared across configurations, as the
report's noise ceiling models it (seed offsets, a shape's share; docs/tasks.md, "The seeds share noise").
Why these ranges (issue 22 item 3; the cpu profile's runs never diverged, high learning rates plateaued
and the best runs sat on the lowest batch size): lr up to 1 reaches divergence with Adam and clipping
(a pilot, d 64 x 2 at 2^16 tokens: lr 0.3 ends on the unigram plateau, lr 1 diverges);
seq_len 64 and batch from 1 sequence halve the lowest batch to 64 tokens (the same pilot: 1-2
sequences of 64 bytes about equal, 4 and 8 worse; at seq_len 128 one sequence, the smallest batch
possible, was still the best). It did not make the batch optimum interior: the batch profile
(benchmarks.lm.batch_profile, docs/tasks.md) finds one or two sequences best at sequence lengths 64, 32
and 16 alike, so at these budgets the lower bound stays where the optimum is. Smaller models and
2^16-2^17 tokens kept 8 instances x 136 runs within an hour of one CPU core (56.5 CPU-minutes of
training, 2026-12-06). At 2^20 tokens (same ranges and plan) the surrogate's batch optimum is
interior on asyncio-s20 (3-4 sequences for every model size) and on help-s20 off the bound for 4 of 6 sizes by
less than the seeds' noise (docs/tasks.md).

Runs: every configuration with seed 0, then seeds 1 .. n_seeds-1 for the first seeds_subset
configurations (ordered by seed, then configuration, so an interrupted sweep has covered as
many configurations as possible). Then, with --refine K (every instance's plan: 32), the refine
stage (benchmarks.lm.design): once every Sobol run is in the file, K configurations r0000 ... where
the surrogate fitted on those runs predicts the best losses, each with seeds 0 and 1; with
--refine-rounds R (the instances' plan: 2) once those are in, K more (r0032 ...) chosen by the
surrogate fitted on every run so far, and so on. Each round's choice is stored in the manifest
(`refine`, a list of rounds) and reused when the sweep resumes. Each finished run is appended to --out as one JSON line
(the trainer's record plus config_id and profile) and flushed. Resuming: a run whose key
(config_id, seed, tokens) is already in the file is skipped, so rerunning the same command
continues an interrupted sweep; a truncated last line (a write cut off) is removed first, and
a stored configuration that differs from the planned one under the same id is an error (another
profile, range or Sobol seed: use another --out). Failed runs are reported and not written, so
the next call retries them. --max-minutes stops starting new runs after that long (device
sessions are time-boxed).

A manifest, <out without .jsonl>.manifest.json, is rewritten after every run: schema version,
corpus name and sha256, torch version(s), device name(s), git revision (`git rev-parse HEAD`,
None when unavailable) and git_dirty (tracked files changed against it: the code that ran is not exactly that
commit), number of runs, the plan (profile, ranges, tokens, seeds), created and
updated timestamps; for an instance also the slice (name, definition, sha256, sizes) and runs_sha256,
the sha256 of the runs file as written. --jobs N runs N worker processes (spawned, one torch thread
each).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from carps_like.estimate import fmt_seconds

from .train import SCHEDULES

SCHEMA_VERSION = 1
SCHEDULE_CHOICES = list(SCHEDULES)  # a list, as the manifests have always written it


def _ranges(learning_rate: tuple, batch_size: tuple, d_model: list[int], n_layers: tuple) -> dict[str, tuple]:
    """Ranges in Sobol dimension order: model size first (dimensions 1-2 of a Sobol sequence form a
    (0, m, 2)-net, so every d_model x n_layers cell is hit equally), weight decay last (with the
    seed-0 scrambling, dimensions 2 and 8 are the one pair that covers only half of the 4 x 4
    cells at 64 points)."""
    return {"d_model": ("choice", d_model), "n_layers": ("int", *n_layers), "learning_rate": ("log", *learning_rate),
            "batch_size": ("int_log", *batch_size), "schedule": ("choice", SCHEDULE_CHOICES),
            "warmup_fraction": ("uniform", 0.0, 0.2), "beta2": ("log1m", 0.9, 0.999),
            "weight_decay": ("uniform", 0.0, 0.3)}


PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {"ranges": _ranges((1e-4, 1e-1), (4, 64), [32, 64, 96, 128], (1, 4)),
            "fixed": {"seq_len": 128}, "tokens": 2**18, "val_tokens": 8192},
    "gpu": {"ranges": _ranges((5e-5, 5e-2), (8, 256), [64, 128, 192, 256, 384, 512, 640, 768], (2, 12)),
            "fixed": {"seq_len": 256}, "tokens": 2**24, "val_tokens": 65536},
    "smoke": {"ranges": _ranges((1e-3, 3e-2), (4, 16), [32], (1, 1)),
              "fixed": {"seq_len": 64}, "tokens": 2**13, "val_tokens": 2048},
}

# --- tinylm instances (issue 22): corpus slice x model-size band x token budget ----------------------
#: widened ranges of every instance (issue 22 item 3; see INSTANCES)
INSTANCE_LR = (1e-4, 1.0)
INSTANCE_BATCH = (1, 64)
INSTANCE_SEQ_LEN = 64
#: model-size bands: (d_model choices, n_layers range)
SIZE_BANDS: dict[str, tuple[list[int], tuple[int, int]]] = {"s": ([32, 64, 96], (1, 2)), "l": ([64, 96, 128], (2, 4))}
INSTANCE_SLICES = ("help", "asyncio")
#: the plan every instance was swept with: seed 0 for each of 128 Sobol configurations, seed 1 for the first 8 (136
#: runs), then the refine stage (benchmarks.lm.design.REFINE_PLAN): 2 rounds of 32 configurations x 2 seeds (264 runs
#: in all)
INSTANCE_PLAN = {"n_configs": 128, "seeds_subset": 8, "n_seeds": 2, "refine": 32, "refine_rounds": 2}


def _instance(slice_name: str, band: str, log2_tokens: int) -> dict[str, Any]:
    widths, layers = SIZE_BANDS[band]
    return {"ranges": _ranges(INSTANCE_LR, INSTANCE_BATCH, widths, layers), "fixed": {"seq_len": INSTANCE_SEQ_LEN},
            "tokens": 2**log2_tokens, "val_tokens": 4096, "slice": slice_name, "band": band,
            "plan": dict(INSTANCE_PLAN)}


#: (slice, band, log2 tokens) of every instance: the full factorial at 2^16-2^17, then one long-run instance per
#: slice (band s, 2^20 tokens, 2.2-2.4 passes over the slice's training bytes) at the budget where the batch profile
#: found the batch optimum off its bound (docs/tasks.md); each took 130-142 CPU-minutes (two workers, 65-72 minutes
#: on 2 cores, 2026-12-07), so not the full factorial
INSTANCE_KEYS = [(sl, band, t) for sl in INSTANCE_SLICES for band in SIZE_BANDS for t in (16, 17)] + [
    (sl, "s", 20) for sl in ("asyncio", "help")]
#: instance name -> profile (a PROFILES entry with its corpus slice); name = <slice>-<band><log2 tokens>
INSTANCES: dict[str, dict[str, Any]] = {f"{sl}-{band}{t}": _instance(sl, band, t) for sl, band, t in INSTANCE_KEYS}
PROFILES.update(INSTANCES)
REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(__file__).resolve().parent / "data"


def instance_dataset(name: str) -> Path:
    """The run dataset of instance `name`: benchmarks/lm/data/runs-<name>.jsonl."""
    if name not in INSTANCES:
        raise ValueError(f"unknown tinylm instance {name!r}; known: {', '.join(INSTANCES)}")
    return DATA_DIR / f"runs-{name}.jsonl"


def file_sha256(path: Path) -> str:
    from .corpus import sha256

    return sha256(path.read_bytes() if path.exists() else b"")


def _map(u: float, spec: tuple) -> Any:
    """Map a unit-interval coordinate to a hyperparameter value (see the module docstring)."""
    kind = spec[0]
    if kind == "log":
        return math.exp(math.log(spec[1]) + u * (math.log(spec[2]) - math.log(spec[1])))
    if kind == "int_log":
        lo, hi = spec[1], spec[2]
        return min(hi, int(math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo)))))
    if kind == "uniform":
        return spec[1] + u * (spec[2] - spec[1])
    if kind == "log1m":
        lo, hi = 1 - spec[2], 1 - spec[1]
        return 1 - math.exp(math.log(lo) + (1 - u) * (math.log(hi) - math.log(lo)))
    if kind == "choice":
        return spec[1][min(len(spec[1]) - 1, int(u * len(spec[1])))]
    if kind == "int":
        return min(spec[2], spec[1] + int(u * (spec[2] - spec[1] + 1)))
    raise ValueError(f"unknown range kind {kind!r}")


def hyperparameter(name: str, spec: tuple):
    """A ConfigSpace hyperparameter for a range spec (the kinds of `_map`), default = the trainer's default
    clipped into the range: the one builder of the live and the surrogate tasks' spaces, next to the ranges."""
    from ConfigSpace import Categorical, Float, Integer, OrdinalHyperparameter

    from .train import DEFAULTS

    kind, *args = spec
    default = DEFAULTS.get(name)
    if kind == "choice":
        values = list(args[0])
        default = default if default in values else values[0]
        if all(isinstance(v, int) for v in values):
            return OrdinalHyperparameter(name, values, default_value=default)
        return Categorical(name, values, default=default)
    lo, hi = args
    default = min(max(default, lo), hi)
    if kind in ("log", "int_log"):
        cls = Float if kind == "log" else Integer
        return cls(name, (lo, hi), log=True, default=default)
    if kind in ("uniform", "log1m"):  # log1m: no 1 - x log scale in ConfigSpace (module docstring)
        return Float(name, (lo, hi), default=default)
    if kind == "int":
        return Integer(name, (lo, hi), default=int(default))
    raise ValueError(f"unknown range kind {kind!r} for {name}")


def sobol_points(profile: str, n: int, sobol_seed: int = 0) -> np.ndarray:
    """The first n points of the profile's scrambled Sobol sequence in the unit cube (n, dimensions)."""
    from scipy.stats import qmc

    m = max(0, math.ceil(math.log2(max(n, 1))))
    return qmc.Sobol(d=len(PROFILES[profile]["ranges"]), scramble=True, seed=sobol_seed).random_base2(m)[:n]


def to_hparams(profile: str, point: Iterable[float]) -> dict[str, Any]:
    """A unit-cube point as the profile's hyperparameters (its ranges, plus its fixed values)."""
    prof = PROFILES[profile]
    return {**{name: _map(float(u), spec) for (name, spec), u in zip(prof["ranges"].items(), point)}, **prof["fixed"]}


def sample_configs(profile: str, n: int, sobol_seed: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """The first n Sobol configurations of a profile, as (config_id, hparams)."""
    return [(f"c{i:04d}", to_hparams(profile, row)) for i, row in enumerate(sobol_points(profile, n, sobol_seed))]


def plan_runs(configs: list[tuple[str, dict]], n_seeds: int, seeds_subset: int, tokens: int) -> list[dict]:
    """Seed 0 for every configuration, then the extra seeds for the first `seeds_subset`."""
    return [{"config_id": cid, "hparams": hp, "seed": seed, "tokens": tokens}
            for seed in range(n_seeds) for i, (cid, hp) in enumerate(configs) if seed == 0 or i < seeds_subset]


def run_key(record: dict) -> tuple[str, int, int]:
    return record["config_id"], int(record["seed"]), int(record["tokens"])


def read_runs(path: Path) -> list[dict]:
    """Records already in the dataset; a truncated last line (interrupted write) is cut off the file."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        keep = raw.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(keep)
        raw = raw[:keep]
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], check=False, cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_revision() -> str | None:
    """HEAD's commit (None outside a git checkout)."""
    return _git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """Whether tracked files differ from HEAD (so the code that ran is not exactly `git_revision`); untracked
    files, such as the dataset being written, do not count. None outside a git checkout."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


#: the manifest keys that say which code ran (benchmarks.lm.batch_profile records them per grid too)
CODE_KEYS = ("git_revision", "git_dirty")


def code_state() -> dict[str, Any]:
    """The CODE_KEYS now: HEAD's commit and whether tracked files differ from it."""
    return {"git_revision": git_revision(), "git_dirty": git_dirty()}


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".manifest.json")


def write_manifest(out: Path, runs: list[dict], plan: dict[str, Any]) -> dict:
    """(Re)write the manifest next to the dataset, keeping the original creation time."""
    from .corpus import CORPUS_NAME, expected_sha256
    from .train import FIDELITY_SEMANTICS, RECORD_VERSION

    path = manifest_path(out)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    created = json.loads(path.read_text()).get("created", now) if path.exists() else now
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "record_version": RECORD_VERSION,
        "dataset": out.name,
        "corpus": {"name": CORPUS_NAME, "sha256": expected_sha256()},
        **({"corpus_slice": _slice_info(plan["slice"])} if plan.get("slice") else {}),
        "runs_sha256": file_sha256(out),
        "torch_version": sorted({r["torch_version"] for r in runs}) or [_torch_version()],
        "device": sorted({r["device_name"] for r in runs}),
        **code_state(),
        "python_version": sys.version.split()[0],
        "n_runs": len(runs),
        "token_budgets": sorted({int(r["tokens"]) for r in runs}),
        "n_configs_done": len({r["config_id"] for r in runs}),
        "n_diverged": sum(bool(r["diverged"]) for r in runs),
        **plan,
        "fidelity_semantics": FIDELITY_SEMANTICS,
        "created": created,
        "updated": now,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)
    return manifest


def _slice_info(name: str) -> dict[str, Any]:
    from .corpus import SLICES, load_slice, split_corpus

    kind, arg, digest, what = SLICES[name]
    data = load_slice(name)
    train, val = split_corpus(data)
    return {"name": name, "definition": {kind: list(arg) if isinstance(arg, tuple) else arg}, "what": what,
            "sha256": digest, "bytes": len(data), "train_bytes": len(train), "validation_bytes": len(val)}


def _torch_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _run_one(run: dict, device: str | None, checkpoints: int, val_tokens: int, profile: str) -> dict:
    from .corpus import load_slice
    from .train import train

    slice_name = PROFILES[profile].get("slice")
    record = train(run["hparams"], run["tokens"], run["seed"], device=device, checkpoints=checkpoints,
                   val_tokens=val_tokens, corpus=load_slice(slice_name) if slice_name else None)
    if slice_name:  # the record's corpus_sha256 is then the slice's
        return {"config_id": run["config_id"], "profile": profile, "instance": profile, "corpus_slice": slice_name,
                **record}
    return {"config_id": run["config_id"], "profile": profile, **record}


def sweep(out: Path | str, profile: str = "cpu", n_configs: int = 64, seeds_subset: int = 8, n_seeds: int = 3,
          tokens: int | None = None, device: str = "auto", jobs: int = 1, checkpoints: int = 7,
          val_tokens: int | None = None, sobol_seed: int = 0, max_minutes: float | None = None,
          progress: bool = True, refine: dict[str, int] | None = None) -> dict:
    """Run the missing runs of the plan, appending each to `out`; returns the final manifest. With `refine`
    (benchmarks.lm.design.REFINE_PLAN's keys), a refine stage follows once every Sobol run is done."""
    out = Path(out)
    prof = PROFILES[profile]
    tokens = int(tokens or prof["tokens"])
    val_tokens = int(val_tokens or prof["val_tokens"])
    configs = sample_configs(profile, n_configs, sobol_seed)
    planned = plan_runs(configs, n_seeds, seeds_subset, tokens)
    plan = {"profile": profile, **({"instance": profile, "slice": prof["slice"], "band": prof["band"]}
                                   if "slice" in prof else {}),
            "ranges": {k: list(v) for k, v in prof["ranges"].items()}, "fixed": prof["fixed"],
            "tokens": tokens, "checkpoints": checkpoints, "val_tokens": val_tokens, "n_configs": n_configs,
            "n_seeds": n_seeds, "seeds_subset": seeds_subset, "sobol_seed": sobol_seed,
            "n_runs_planned": len(planned), "device_requested": device}

    if refine:  # the refine stage's model, loaded before the first run: editing it while the sweep trains (an
        # hour or more) cannot make later rounds use another surrogate version than the sweep started with
        from . import design, fitted_kernel, surrogate  # noqa: F401 (fitted_kernel, surrogate: loaded, used by design)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = read_runs(out)
    check_stored(out, runs, configs)
    rounds = _stored_refine(out, refine)  # chosen by earlier calls: planned from the start, so counts are whole
    for chosen in rounds:
        planned += _refine_runs(chosen, tokens)
        check_stored(out, runs, chosen["configs"])
    if rounds:
        plan["refine"], plan["n_runs_planned"] = rounds, len(planned)
    t0, deadline = time.monotonic(), None if max_minutes is None else time.monotonic() + 60 * max_minutes
    args = (None if device == "auto" else device, checkpoints, val_tokens, profile)
    failed = execute_runs(out, runs, plan, planned, args, jobs, deadline, progress)
    while (refine and len(rounds) < refine.get("rounds", 1) and not failed
           and {run_key(r) for r in planned} <= {run_key(r) for r in runs}):
        if progress:
            print(f"{out}: {'Sobol stage' if not rounds else f'refine round {len(rounds) - 1}'} done; choosing "
                  f"{refine['n_configs']} refine configurations (round {len(rounds)}) from {refine['pool']} "
                  "predicted ones", file=sys.stderr, flush=True)
        chosen = {**design.choose(out, profile, refine["n_configs"], refine["pool"], refine["candidates"], sobol_seed,
                           round_index=len(rounds), first_id=sum(len(r["configs"]) for r in rounds)),
                  "n_seeds": refine["n_seeds"]}
        rounds.append(chosen)
        planned += _refine_runs(chosen, tokens)
        plan["refine"], plan["n_runs_planned"] = rounds, len(planned)
        failed = execute_runs(out, runs, plan, planned, args, jobs, deadline, progress)
    if progress:
        print(f"{out}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return write_manifest(out, runs, plan)


def check_stored(out: Path, runs: list[dict], configs: Iterable) -> None:
    """Refuse a file in which a planned configuration id holds other hyperparameters (another plan made it)."""
    stored = {r["config_id"]: r["hparams"] for r in runs}
    for cid, hp in configs:
        if cid in stored and any(stored[cid][k] != v for k, v in hp.items()):
            raise ValueError(f"{out}: configuration {cid} differs from the planned one ({stored[cid]} vs {hp}); "
                             "the file was made with another profile, range or Sobol seed: use another --out")


def _stored_refine(out: Path, refine: dict[str, int] | None) -> list[dict]:
    """The refine rounds earlier calls chose (manifest; a single record, as written before rounds existed, is
    round 0), each checked against the stage asked for now."""
    from .design import rounds_of

    path = manifest_path(out)
    rounds = rounds_of(json.loads(path.read_text())) if path.exists() else []
    if rounds and refine is not None:
        asked = {k: refine[k] for k in ("n_configs", "n_seeds", "pool", "candidates")}
        for i, chosen in enumerate(rounds):
            had = {k: chosen.get(k) for k in asked}
            if asked != had:
                raise ValueError(f"{out}: its refine round {i} was chosen with {had}, not {asked}; use another --out")
        if len(rounds) > refine.get("rounds", 1):
            raise ValueError(f"{out}: it holds {len(rounds)} refine rounds, more than the {refine.get('rounds', 1)} "
                             "asked for; use another --out")
    return rounds


def _refine_runs(refine: dict[str, Any], tokens: int) -> list[dict]:
    return plan_runs([tuple(c) for c in refine["configs"]], refine["n_seeds"], len(refine["configs"]), tokens)


def execute_runs(out: Path, runs: list[dict], plan: dict[str, Any], planned: list[dict], args: tuple, jobs: int,
             deadline: float | None, progress: bool) -> list[dict]:
    """Run the planned runs not in `runs` yet (appending each to `out`, rewriting the manifest); the failed ones."""
    done_keys = {run_key(r) for r in runs}
    todo = [r for r in planned if run_key(r) not in done_keys]
    total, n_before = len(planned), len(planned) - len(todo)
    write_manifest(out, runs, plan)
    if progress:
        print(f"{out}: {n_before}/{total} runs already done, {len(todo)} to go ({plan['profile']} profile, "
              f"{plan['tokens']} tokens)", file=sys.stderr, flush=True)
    t0, finished, failed = time.monotonic(), 0, []

    def record(result: dict) -> None:
        nonlocal finished
        with open(out, "a") as f:
            f.write(json.dumps(result) + "\n")
            f.flush()
        runs.append(result)
        finished += 1
        write_manifest(out, runs, plan)
        if progress:
            elapsed = time.monotonic() - t0
            eta = elapsed / finished * (len(todo) - finished - len(failed))
            tag = " diverged" if result["diverged"] else ""
            print(f"\r[{n_before + finished}/{total}] {result['config_id']} seed {result['seed']}: val "
                  f"{result['final_val_loss']:.3f}{tag} ({result['timing']['wall_time_s']:.1f} s) | "
                  f"{fmt_seconds(elapsed)} elapsed, ETA {fmt_seconds(eta)}   ", end="", file=sys.stderr, flush=True)

    def fail(run: dict, exc: BaseException) -> None:
        failed.append(run)
        print(f"\nrun {run_key(run)} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    queue = iter(todo)
    if jobs <= 1:
        for run in queue:
            if deadline is not None and time.monotonic() > deadline:
                break
            try:
                record(_run_one(run, *args))
            except Exception as exc:  # keep going: the next call retries it
                fail(run, exc)
    else:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker) as pool:
            pending: dict[cf.Future, dict] = {}
            while True:
                while len(pending) < jobs and (deadline is None or time.monotonic() <= deadline):
                    run = next(queue, None)
                    if run is None:
                        break
                    pending[pool.submit(_run_one, run, *args)] = run
                if not pending:
                    break
                finished_futures, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in finished_futures:
                    run = pending.pop(fut)
                    try:
                        record(fut.result())
                    except Exception as exc:
                        fail(run, exc)
    if progress:
        n_done = len({run_key(r) for r in runs} & {run_key(r) for r in planned})
        print(f"\n{out}: {n_done}/{total} runs done"
              + (f", {len(failed)} failed (rerun to retry)" if failed else ""), file=sys.stderr, flush=True)
    return failed


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Resumable tiny-LM sweep (see the module docstring).")
    parser.add_argument("--out", type=Path, default=None,
                        help="dataset file (JSON lines), appended to (default for an --instance: "
                             "benchmarks/lm/data/runs-<instance>.jsonl; required otherwise)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("--instance", choices=sorted(INSTANCES), default=None,
                        help="a tinylm instance: its profile, dataset file and plan (overrides --profile)")
    parser.add_argument("--n-configs", type=int, default=None, help="default: the instance's plan, else 64")
    parser.add_argument("--seeds-subset", type=int, default=None,
                        help="configurations that get the extra seeds (default: the instance's plan, else 8)")
    parser.add_argument("--n-seeds", type=int, default=None, help="default: the instance's plan, else 3")
    parser.add_argument("--tokens", type=int, default=None, help="training tokens per run (default: the profile's)")
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1 ...")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one torch thread each)")
    parser.add_argument("--checkpoints", type=int, default=7)
    parser.add_argument("--val-tokens", type=int, default=None)
    parser.add_argument("--sobol-seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=None, help="start no new run after this long")
    parser.add_argument("--refine", type=int, default=None,
                        help="configurations of the refine stage, chosen where the surrogate fitted on the Sobol "
                             "runs predicts the best losses, each run with 2 seeds (benchmarks.lm.design; default: "
                             "the instance's plan, else 0 = none; a stage already chosen, in the manifest, is "
                             "kept and completed)")
    parser.add_argument("--refine-rounds", type=int, default=None,
                        help="rounds of the refine stage, each chosen by the surrogate fitted on every run before it "
                             "(default: the instance's plan, else 1)")
    parser.add_argument("--dry-run", action="store_true", help="print the planned configurations and exit")
    a = parser.parse_args(list(argv) if argv is not None else None)
    from .design import REFINE_PLAN

    plan = {"n_configs": 64, "seeds_subset": 8, "n_seeds": 3}
    if a.instance:
        a.profile = a.instance
        a.out = a.out or instance_dataset(a.instance)
        plan = INSTANCES[a.instance]["plan"]
    if a.refine is not None and not 0 <= a.refine <= REFINE_PLAN["candidates"]:
        parser.error(f"--refine must be 0 (no refine stage) to {REFINE_PLAN['candidates']} configurations, "
                     f"got {a.refine}")
    if a.refine_rounds is not None and a.refine_rounds < 1:
        parser.error(f"--refine-rounds must be 1 or more, got {a.refine_rounds}")
    if a.out is None and not a.dry_run:
        parser.error("--out is required without --instance")
    for key, value in plan.items():
        if not key.startswith("refine") and getattr(a, key) is None:
            setattr(a, key, value)
    if a.dry_run:
        configs = sample_configs(a.profile, a.n_configs, a.sobol_seed)
        for cid, hp in configs:
            print(cid, json.dumps(hp))
        print(f"{len(plan_runs(configs, a.n_seeds, a.seeds_subset, a.tokens or 0))} runs planned")
        return 0
    instance_plan = INSTANCES.get(a.profile, {}).get("plan", {})
    n_refine = a.refine if a.refine is not None else instance_plan.get("refine", 0)
    rounds = a.refine_rounds or instance_plan.get("refine_rounds", 1)
    sweep(a.out, a.profile, a.n_configs, a.seeds_subset, a.n_seeds, a.tokens, a.device, a.jobs, a.checkpoints,
          a.val_tokens, a.sobol_seed, a.max_minutes,
          refine={**REFINE_PLAN, "n_configs": n_refine, "rounds": rounds} if n_refine else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
