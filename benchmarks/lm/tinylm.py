"""Learned-surrogate tiny-LM training tasks (collection `tinylm`), all four task types.

The objective is the validation loss (nats per byte) of the tiny byte-level GPT of benchmarks.lm.train
on the stdlib corpus, predicted by a surrogate fitted on the recorded CPU runs
(benchmarks/lm/data/runs-cpu-v1.jsonl; benchmarks.lm.surrogate: model, target, features, held-out
metrics). Default model: a Gaussian process on (final loss, non-negative increments), held out by
configuration on the 288 runs / 256 configurations: R^2 0.94, Spearman 0.97, Kendall 0.85 at the final
budget, Spearman 0.89-0.97 at the earlier checkpoints (`make lm-report`). Fitting happens at the first
evaluation in a process (9 ms with the shipped kernel hyperparameters, benchmarks.lm.fitted_kernel;
about 3 s where they must be searched), deterministically; building a task only reads the data
(metadata.extra names the dataset sha256, run count and surrogate version).

Search space: the `cpu` profile of benchmarks.lm.sweep (imported, not repeated), with the trainer's
DEFAULTS as defaults (lr 3e-3, batch 16, warmup 0.05, weight decay 0.1, beta2 0.99, cosine, d 64, 2 layers):
    learning_rate    float, log       [1e-4, 1e-1]
    batch_size       integer, log     [4, 64] sequences of 128 bytes
    warmup_fraction  float            [0, 0.2]
    weight_decay     float            [0, 0.3]
    beta2            float            [0.9, 0.999] (the sweep sampled 1 - beta2 log-uniformly: the data
                                      are denser near 0.999; ConfigSpace has no log(1 - x) scale)
    schedule         categorical      cosine | linear | constant | wsd
    d_model          ordinal          32, 64, 96, 128
    n_layers         integer          [1, 4]
seq_len is fixed at 128; beta1 0.9, gradient clipping 1.0 and min_lr_ratio 0.1 as in the trainer.

Tasks (ids stable)
    tinylm/bb            loss after 2^18 tokens (the full run), 8 hyperparameters.
    tinylm/bb_d64_l2     the same with the model fixed at d_model 64, 2 layers (6 hyperparameters).
    tinylm/bb_noisy      tinylm/bb with seed noise (noise=1.0, below).
    tinylm/mf            fidelity "tokens" in [2^12, 2^18] (float): the loss at that many tokens of one
                         2^18-token run (checkpoints of one fixed-horizon run: the schedule is set for
                         2^18 tokens and has not decayed at lower budgets), linearly interpolated in
                         ln tokens between the 7 recorded checkpoints 2^12, 2^13, ..., 2^18.
                         Non-increasing in tokens for every configuration.
    tinylm/mf_d64_l2     tinylm/mf with the model fixed at d_model 64, 2 layers.
    tinylm/mo            objectives (loss, compute), compute = training FLOPs
                         flops_per_token(d_model, n_layers, 128) * 2^18 (6 N + 6 n_layers seq_len d
                         per token, benchmarks.lm.model): the model size trades loss against compute.
    tinylm/momf          tinylm/mo with the tokens fidelity; compute counts the evaluated tokens.
Instances (issue 22): besides the original instance above (profile `cpu`, data runs-cpu-v1.jsonl, ids
unchanged), the family benchmarks.lm.sweep.INSTANCES: every combination of a corpus slice (help: the
English help() text; asyncio: the asyncio package's Python source; benchmarks.lm.corpus.SLICES), a
model-size band (s: d_model 32/64/96 x 1-2 layers; l: d_model 64/96/128 x 2-4 layers) and a token
budget (2^16 or 2^17), named <slice>-<band><log2 tokens> (help-s16 ... asyncio-l17), and two long-run
instances, asyncio-s20 and help-s20 (2^20 tokens, the budget at which the batch profile found the batch optimum
leaving its bound: docs/tasks.md). Each has its own
run dataset benchmarks/lm/data/runs-<instance>.jsonl (its own sweep, manifest with the slice's sha256,
shipped gp kernel file) and its own surrogate (the same gp model, fitted on that data), and the four
tasks
    tinylm/<instance>/bb     loss after the instance's token budget (8 hyperparameters)
    tinylm/<instance>/mf     tokens fidelity in [budget/64, budget] (checkpoints of one run, as above)
    tinylm/<instance>/mo     (loss, training FLOPs)
    tinylm/<instance>/momf   (loss, FLOPs) with the tokens fidelity
with the widened ranges of the instances (learning rate log [1e-4, 1], batch size integer log [1, 64]
sequences of 64 bytes; seq_len 64; see benchmarks.lm.sweep for why). ``instance_names()`` lists them;
``TinyLMSurrogate(instance=...)`` is the one place an instance name becomes ranges, data and metadata.

Optimum: unknown (None); MO tasks carry reference_point = (ln 256, 1.1 x the largest compute), a
point every non-diverged configuration dominates (bounds, not a measured front's nadir).

virtual_time: the predicted training wall time in seconds (not recorded times: a log-linear fit of
the recorded times, see benchmarks.lm.surrogate) for the evaluated tokens, on the 2-core CPU that
recorded the data; validation time excluded.

Noise: deterministic by default (the surrogate's mean prediction). `noise` > 0 multiplies the whole
curve by exp(noise * s * z), z ~ N(0, 1), s the pooled seed spread of ln(final loss) measured on the
configurations run with several seeds whose seeds all converged (noise = 1: the measured spread); z is drawn from (seed, configuration)
when `seed` is given (repeatable; the same draw at every fidelity, so curves stay monotone) and
unseeded otherwise; the loss stays at most ln 256.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ConfigSpace import ConfigurationSpace

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Fidelity, Objective

from . import surrogate as sg
from .model import flops_per_token
from .sweep import INSTANCES, PROFILES, hyperparameter, instance_dataset
from .train import DIVERGED_LOSS, FIDELITY_SEMANTICS

PROFILE = "cpu"
COMPUTE_MARGIN = 1.1


class TinyLMSurrogate(ObjectiveFunction):
    """Tiny-LM validation loss from a learned surrogate (all task types; see the module docstring).

    d_model, n_layers: fix the model size (both or neither). token_fidelity: tokens become the
    fidelity. compute_objective: add training FLOPs as second objective (needs a free model size).
    noise: multiple of the measured seed spread (0: deterministic). instance: a name of
    benchmarks.lm.sweep.INSTANCES (its ranges and data), None for the original `cpu` instance.
    dataset: a file name under benchmarks/lm/data or a path (default: the instance's).
    model: a key of benchmarks.lm.surrogate.MODELS.
    """

    def __init__(self, token_fidelity: bool = False, compute_objective: bool = False, d_model: int | None = None,
                 n_layers: int | None = None, noise: float = 0.0, dataset: str | None = None,
                 model: str = sg.DEFAULT_MODEL, instance: str | None = None) -> None:
        if instance is not None and instance not in INSTANCES:
            raise ValueError(f"unknown tinylm instance {instance!r}; known: {', '.join(INSTANCES)}")
        self.instance = instance
        self.profile = PROFILE if instance is None else instance
        self.ranges: dict[str, tuple] = PROFILES[self.profile]["ranges"]
        profile_fixed: dict[str, Any] = PROFILES[self.profile]["fixed"]
        if dataset is None:
            dataset = sg.DEFAULT_DATASET.name if instance is None else instance_dataset(instance).name
        if (d_model is None) != (n_layers is None):
            raise ValueError("fix both d_model and n_layers, or neither")
        if compute_objective and d_model is not None:
            raise ValueError("compute_objective needs a free model size (else compute is constant)")
        if model not in sg.MODELS:
            raise ValueError(f"unknown surrogate model {model!r}; accepted: {', '.join(sg.MODELS)}")
        if not (noise >= 0.0 and math.isfinite(noise)):
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        self.fixed: dict[str, Any] = dict(profile_fixed)
        if d_model is not None:
            for name, value in (("d_model", d_model), ("n_layers", n_layers)):
                spec = self.ranges[name]
                ok = value in spec[1] if spec[0] == "choice" else spec[1] <= value <= spec[2]
                if not ok:
                    raise ValueError(f"{name}={value!r} is outside the data's range {spec[1:]}")
                self.fixed[name] = int(value)
        self.noise = float(noise)
        self.model_name = model
        path = Path(dataset)
        self.dataset = sg.load_dataset(path if len(path.parts) > 1 else sg.DATA_DIR / path)
        self._surrogate: sg.CurveSurrogate | None = None
        self.compute_objective = bool(compute_objective)

        self.configspace = ConfigurationSpace(name="tinylm" if instance is None else f"tinylm-{instance}", space=[
            hyperparameter(name, spec) for name, spec in self.ranges.items() if name not in self.fixed])
        tokens = self.dataset.checkpoint_tokens
        self.max_tokens = float(tokens[-1])
        self.fidelity = Fidelity("tokens", float(tokens[0]), self.max_tokens) if token_fidelity else None
        self.objectives = ((Objective("loss"), Objective("compute")) if self.compute_objective
                           else (Objective("loss"),))

        d = self.dataset
        extra: dict[str, Any] = {
            "model": f"learned surrogate ({model}) of tiny byte-level GPT validation-loss curves, fitted at "
                     "first use on the recorded runs (benchmarks.lm.surrogate)",
            "surrogate_version": sg.surrogate_version(model, self.dataset), "surrogate_model": model,
            "dataset": d.name, "dataset_sha256": d.sha256, "n_runs": d.n_runs, "n_configs": d.n_configs,
            "corpus_sha256": (d.manifest.get("corpus") or {}).get("sha256"),
            "profile": self.profile, "fixed": dict(self.fixed), "tokens": int(self.max_tokens),
            "checkpoint_tokens": list(tokens), "unit": "nats per byte (vocabulary 256)",
            "target": "best validation loss so far at each checkpoint (mean over seeds); a configuration whose "
                      "run diverged is at ln 256 at every fidelity",
            "virtual_time": "predicted training wall time (s, validation excluded) for the evaluated tokens on "
                            "the 2-core CPU that recorded the data (log-linear fit of recorded times)",
            "noise": (f"seed noise: loss * exp({self.noise:g} * seed_spread * z), z ~ N(0, 1) from (seed, config)"
                      if self.noise else "none: the surrogate's mean prediction"),
            "diverged_loss": DIVERGED_LOSS,
        }
        if instance is not None:
            sl = d.manifest.get("corpus_slice") or {}
            extra.update(instance=instance, corpus_slice={k: sl.get(k) for k in ("name", "definition", "sha256", "bytes")},
                         model_band=PROFILES[instance]["band"], n_diverged=d.n_diverged)
        if self.compute_objective:
            sizes, layers = self.ranges["d_model"][1], self.ranges["n_layers"]
            max_compute = max(flops_per_token(d_, n_, profile_fixed["seq_len"]) for d_ in sizes
                              for n_ in range(layers[1], layers[2] + 1)) * self.max_tokens
            extra.update(compute="training FLOPs: flops_per_token(d_model, n_layers, seq_len) * tokens",
                         reference_point=[DIVERGED_LOSS, COMPUTE_MARGIN * float(max_compute)])
        self.metadata = ObjectiveMetadata(
            domain="lm", approximation="surrogate", deterministic=self.noise == 0.0, optimum=None,
            fidelity_semantics=(FIDELITY_SEMANTICS + "; interpolated linearly in ln tokens between the recorded "
                                "checkpoints") if token_fidelity else None,
            extra=extra)

    @property
    def surrogate(self) -> sg.CurveSurrogate:
        """The fitted surrogate (fitted at first use, shared by every task of the process)."""
        if self._surrogate is None:
            self._surrogate = sg.get_surrogate(self.dataset, self.model_name)
        return self._surrogate

    def hparams(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The trainer's hyperparameters for a configuration (fixed values added)."""
        return {**self.fixed, **{k: config[k] for k in self.ranges if k not in self.fixed}}

    def _noise_factor(self, config: Mapping[str, Any], seed: int | None) -> float:
        if self.noise == 0.0:
            return 1.0
        if seed is None:
            rng = np.random.default_rng()
        else:
            key = zlib.crc32(repr(sorted((k, str(v)) for k, v in config.items())).encode())
            rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, key])
        return math.exp(self.noise * self.surrogate.seed_spread * float(rng.standard_normal()))

    def evaluate_batch(self, configs: Sequence[Mapping[str, Any]], fidelities: Sequence[float | None] | None = None,
                       seeds: Sequence[int | None] | None = None) -> list[Evaluation]:
        m = len(configs)
        if m == 0:
            return []
        fidelities = [None] * m if fidelities is None or self.fidelity is None else fidelities
        seeds = [None] * m if seeds is None else seeds
        hps = [self.hparams(c) for c in configs]
        tokens = np.array([self.max_tokens if f is None else float(f) for f in fidelities])
        loss = self.surrogate.predict_at(hps, tokens)
        seconds = self.surrogate.predict_train_seconds(hps, tokens)
        out = []
        for i, (config, hp) in enumerate(zip(configs, hps)):
            value = min(DIVERGED_LOSS, float(loss[i]) * self._noise_factor(config, seeds[i]))
            values: tuple[float, ...] = (value,)
            if self.compute_objective:
                values += (float(flops_per_token(int(hp["d_model"]), int(hp["n_layers"]), int(hp["seq_len"])))
                           * float(tokens[i]),)
            out.append(Evaluation(values=values, virtual_time=float(seconds[i]), info={"tokens": float(tokens[i])}))
        return out

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        return self.evaluate_batch([config], [fidelity], [seed])[0]


# --- the collection --------------------------------------------------------------------------------
_TARGET = "benchmarks.lm.tinylm.TinyLMSurrogate"
FIXED_SIZE = {"d_model": 64, "n_layers": 2}


#: the tasks of every instance: (type suffix, kwargs)
INSTANCE_TASKS = (("bb", {}), ("mf", {"token_fidelity": True}), ("mo", {"compute_objective": True}),
                  ("momf", {"token_fidelity": True, "compute_objective": True}))


def instance_names() -> list[str]:
    """The instances of the family (benchmarks.lm.sweep.INSTANCES), in table order."""
    return list(INSTANCES)


def task_specs() -> list[TaskSpec]:
    return _original_specs() + [
        TaskSpec(id=f"tinylm/{name}/{suffix}", target=_TARGET, kwargs={"instance": name, **kwargs}, n_trials=100)
        for name in instance_names() for suffix, kwargs in INSTANCE_TASKS]


def _original_specs() -> list[TaskSpec]:
    """The tasks of the original instance (ids and kwargs stable since results exist)."""
    return [
        TaskSpec(id="tinylm/bb", target=_TARGET, kwargs={}, n_trials=100),
        TaskSpec(id="tinylm/bb_d64_l2", target=_TARGET, kwargs=dict(FIXED_SIZE), n_trials=100),
        TaskSpec(id="tinylm/bb_noisy", target=_TARGET, kwargs={"noise": 1.0}, n_trials=100),
        TaskSpec(id="tinylm/mf", target=_TARGET, kwargs={"token_fidelity": True}, n_trials=100),
        TaskSpec(id="tinylm/mf_d64_l2", target=_TARGET, kwargs={"token_fidelity": True, **FIXED_SIZE}, n_trials=100),
        TaskSpec(id="tinylm/mo", target=_TARGET, kwargs={"compute_objective": True}, n_trials=100),
        TaskSpec(id="tinylm/momf", target=_TARGET, kwargs={"token_fidelity": True, "compute_objective": True},
                 n_trials=100),
    ]
