"""Live tiny-LM tasks (collection `tinylm-live`): every evaluation really trains the tiny GPT.

The objective is the trainer itself (benchmarks.lm.train, model benchmarks.lm.model, corpus
benchmarks.lm.corpus): a byte-level GPT is built from the configuration, trained from scratch for
the token budget and scored by its final validation loss (nats per byte; ln 256 = 5.545 for a
uniform predictor, DIVERGED_LOSS for a diverged run). approximation "real", optimum None (unknown),
Evaluation.virtual_time None: the measured wall time is the cost.

Objectives
    loss   final validation loss (train(...)["final_val_loss"]; one checkpoint, at the end).
    flops  (MO / MOMF tasks) training compute of the planned budget,
               flops = C(d_model, n_layers, seq_len) * tokens,
               C = 6 N + 6 n_layers seq_len d_model,  N = n_layers (12 d^2 + 13 d) + 2 d
           (benchmarks.lm.model.flops_per_token, Kaplan et al. 2020), tokens = the evaluated
           budget. The nominal budget, not the tokens actually trained: a diverged run stops early
           and would otherwise look cheap (and Pareto-optimal); the trainer's ceil(tokens / batch)
           rounding (< 1 %) would tie the objective to the batch size. The actually trained FLOPs
           are in info["flops"]. d_model and n_layers are hyperparameters there, so a bigger model
           buys a lower loss with more compute.

Fidelity (MF / MOMF): "tokens", integer in [tokens * min_token_fraction, tokens]; None = tokens.
    Each evaluation is a separate run trained from scratch to that budget, with the learning-rate
    schedule (warmup fraction, decay) set for that budget. This differs from the trainer's own
    checkpoint semantics (checkpoints of one fixed-horizon run, used by the recorded datasets):
    here a low fidelity is a complete, shorter run, as in the analytic lmscaling MF tasks. Low
    fidelities are biased (a short run prefers other learning rates and batch sizes).

Search space (names and ranges of benchmarks.lm.sweep.PROFILES, imported, not copied):
    learning_rate log float, batch_size log integer (sequences of seq_len bytes),
    warmup_fraction float, weight_decay float, beta2 float, schedule categorical
    (cosine | linear | constant | wsd); MO / MOMF add d_model (ordinal) and n_layers (integer).
    beta2 is "log1m" in the sweep (1 - beta2 log-uniform); ConfigSpace has no such scale, so it is
    a plain uniform float on the same bounds here. Defaults are the trainer's DEFAULTS (lr 3e-3,
    batch 16, warmup 0.05, wd 0.1, beta2 0.99, cosine, d 64, 2 layers), clipped into the ranges.
    Live profiles:
        cpu   the "cpu" sweep ranges for lr [1e-4, 1e-1], warmup, wd, beta2, schedule; batch_size
              [4, 16] and seq_len 64 from the "smoke" profile (cpu's [4, 64] x 128 would give too
              few steps at these budgets); d_model {32, 64} and n_layers [1, 2] (the two smallest
              values of the cpu ranges: one evaluation stays near a second); val_tokens 8192.
        gpu   the "gpu" sweep profile unchanged: lr [5e-5, 5e-2], batch [8, 256] x seq_len 256,
              d_model {64, ..., 768}, n_layers [2, 12], val_tokens 65536; device "cuda".

Tasks (ids stable; n_trials in full-fidelity equivalents)
    tinylm-live/cpu_bb     d 64 x 1 layer (N = 50,112), 2^16 tokens, 6 hps, 30 trials
    tinylm-live/cpu_mf     as cpu_bb, fidelity tokens in [2^12, 2^16]
    tinylm-live/cpu_mo     d_model {32, 64} x n_layers [1, 2], 2^16 tokens, loss + flops, 30 trials
    tinylm-live/cpu_momf   as cpu_mo, fidelity tokens in [2^12, 2^16]
    tinylm-live/gpu_bb     d 256 x 4 layers (N = 3.16 M), 2^24 tokens, 50 trials, requires cuda
    tinylm-live/gpu_mf     as gpu_bb, fidelity tokens in [2^22, 2^24]
    tinylm-live/gpu_mo     gpu d_model x n_layers ranges, 2^24 tokens, loss + flops, 50 trials
    tinylm-live/gpu_momf   as gpu_mo, fidelity tokens in [2^22, 2^24]
    Measured here (2 busy cores, torch CPU, 1 thread, 9 random configurations each): cpu_bb
    0.9-1.6 s per evaluation (45-83 k tokens/s), cpu_mo 0.6-1.9 s (d 32 x 1 fastest, d 64 x 2
    slowest); the first evaluation in a process adds 2-4 s (importing torch, decompressing and
    hashing the corpus). SMAC with 5 trials: 15-25 s per CPU task, start-up included. The CPU
    fidelity spans 16x (three Hyperband rungs at eta 3; 4-16 steps at the lowest budget); the GPU
    one spans 4x so that even the largest batch (65,536 tokens per step) trains 64 steps at the
    lowest budget. GPU timings are not measured yet (estimate: seconds for d 256 x 4 at 2^24 tokens
    on an H100, about a minute for d 768 x 12).

Seeds and determinism
    CPU tasks: the model initialisation and batch order come from the task's `seed` (default 0);
    the `seed` argument of evaluate is ignored, as in benchmarks.sklearn_ml: SMAC passes a
    run-dependent seed even to deterministic tasks, which would give optimizers different
    functions. The trainer runs CPU training with deterministic algorithms on one torch thread
    (whatever the caller's thread count; restored afterwards), so the same configuration and
    fidelity give the same loss bit for bit on one machine, in any process:
    metadata.deterministic True (SMAC and Nevergrad are told so: re-evaluating gives the same value).
    Not across CPU types (torch's kernels follow the instruction set, MKL's the CPU): at learning
    rates from 5e-3 up training amplifies last-bit differences, and final losses of the same
    configurations moved by up to 0.08 nats between torch's AVX-512 and AVX2 kernels (under 2e-6
    below lr 3e-3; benchmarks.lm.train's "Determinism"). Results of these tasks compare only
    between runs on the same kind of machine.
    GPU tasks (use_trial_seed=True): CUDA training (bf16 autocast) is not bitwise reproducible,
    so metadata.deterministic is False and the trial seed is used where an optimizer gives one
    (else the task's seed): re-evaluations by optimizers that handle noise are independent seed
    replicates. Seeds are masked to 31 bits.

Machine requirements: GPU tasks carry requires=("cuda",): registered everywhere, skipped by
studies / refused by runs without CUDA (carps_like.requirements). Building any task (what
`describe()` and `make task-configs` do) needs neither torch nor CUDA: torch is imported by the
trainer inside evaluate, and evaluate on a CUDA task without CUDA raises a RuntimeError that says so.

info per evaluation: diverged, n_params (non-embedding N), flops (actually trained),
tokens_per_s (training only), tokens_trained, steps, seed, final_train_loss, train_time_s, device.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ConfigSpace import ConfigurationSpace

from carps_like.catalog import TaskSpec
from carps_like.objective import ObjectiveFunction, ObjectiveMetadata
from carps_like.types import Evaluation, Fidelity, Objective

from .corpus import CORPUS_NAME, expected_sha256
from .model import flops_per_token, non_embedding_params
from .sweep import PROFILES, hyperparameter
from .train import DIVERGED_LOSS

#: training hyperparameters every live task tunes, in ConfigSpace order
TRAINING_HPS = ("learning_rate", "batch_size", "warmup_fraction", "weight_decay", "beta2", "schedule")
MODEL_HPS = ("d_model", "n_layers")
DEFAULT_SEED = 0
FIDELITY_SEMANTICS = ("separate runs trained from scratch to each budget: every evaluation sets its learning-rate "
                      "schedule (warmup, decay) for the evaluated token budget, so a low fidelity is a complete "
                      "shorter run; the best learning rate and batch size move with the budget")


def _live_profiles() -> dict[str, dict[str, Any]]:
    """Ranges per live profile, taken from benchmarks.lm.sweep.PROFILES (see the module docstring)."""
    cpu, smoke, gpu = PROFILES["cpu"], PROFILES["smoke"], PROFILES["gpu"]
    d_choices = cpu["ranges"]["d_model"][1][:2]
    layers_lo = cpu["ranges"]["n_layers"][1]
    cpu_ranges = {**{k: cpu["ranges"][k] for k in TRAINING_HPS}, "batch_size": smoke["ranges"]["batch_size"],
                  "d_model": ("choice", d_choices), "n_layers": ("int", layers_lo, layers_lo + 1)}
    return {
        "cpu": {"ranges": cpu_ranges, "seq_len": smoke["fixed"]["seq_len"], "val_tokens": cpu["val_tokens"],
                "device": "cpu"},
        "gpu": {"ranges": dict(gpu["ranges"]), "seq_len": gpu["fixed"]["seq_len"], "val_tokens": gpu["val_tokens"],
                "device": "cuda"},
    }


LIVE_PROFILES = _live_profiles()


class TinyLMLive(ObjectiveFunction):
    """Train the tiny GPT per evaluation (all task types; see the module docstring).

    profile: "cpu" or "gpu" (ranges, seq_len, val_tokens, default device).
    tokens: the full token budget. token_fidelity: tokens become the fidelity, integer in
    [tokens * min_token_fraction, tokens]. flops_objective: add training FLOPs as a second objective.
    d_model / n_layers: an int fixes the model size; None makes it a hyperparameter (profile range).
    seed: the task's training seed; use_trial_seed: use evaluate's seed instead where given.
    device: overrides the profile's ("cpu", "cuda", "cuda:1", ...); checked only in evaluate.
    """

    def __init__(self, profile: str = "cpu", tokens: int = 2**16, token_fidelity: bool = False,
                 min_token_fraction: float = 1 / 16, flops_objective: bool = False, d_model: int | None = None,
                 n_layers: int | None = None, seed: int = DEFAULT_SEED, use_trial_seed: bool = False,
                 device: str | None = None) -> None:
        if profile not in LIVE_PROFILES:
            raise ValueError(f"unknown profile {profile!r}; accepted: {', '.join(LIVE_PROFILES)}")
        prof = LIVE_PROFILES[profile]
        self.profile, self.tokens = profile, int(tokens)
        self.seq_len, self.val_tokens = int(prof["seq_len"]), int(prof["val_tokens"])
        self.device = device or prof["device"]
        self.seed, self.use_trial_seed = int(seed), bool(use_trial_seed)
        self.fixed = {"seq_len": self.seq_len}
        for name, value in (("d_model", d_model), ("n_layers", n_layers)):
            if value is not None:
                self.fixed[name] = int(value)
        varying = [n for n in MODEL_HPS if n not in self.fixed]
        if flops_objective and not varying:
            raise ValueError("flops_objective needs d_model or n_layers as a hyperparameter (else FLOPs are constant)")
        self.flops_objective = bool(flops_objective)

        self.configspace = ConfigurationSpace(
            name=f"tinylm-live-{profile}",
            space=[hyperparameter(n, prof["ranges"][n]) for n in (*TRAINING_HPS, *varying)])
        self.fidelity = None
        if token_fidelity:
            self.fidelity = Fidelity("tokens", float(max(1, round(self.tokens * min_token_fraction))),
                                     float(self.tokens), integer=True)
        self.objectives = (Objective("loss"), Objective("flops")) if self.flops_objective else (Objective("loss"),)

        extra: dict[str, Any] = {
            "model": "real: a byte-level GPT (benchmarks.lm.model) trained from scratch per evaluation "
                     "(benchmarks.lm.train); the loss is measured, not predicted",
            "profile": profile, "device": self.device, "tokens": self.tokens, "seq_len": self.seq_len,
            "val_tokens": self.val_tokens, "fixed_hparams": {k: v for k, v in self.fixed.items() if k != "seq_len"},
            "corpus": CORPUS_NAME, "corpus_sha256": expected_sha256(),
            "diverged_loss": DIVERGED_LOSS, "loss_unit": "nats per byte (vocabulary 256)",
            "seed": self.seed,
            "seed_policy": "trial seed where given, else the task seed" if self.use_trial_seed
            else "task seed; the trial seed is ignored",
            "cost_model": "measured wall time (virtual_time None)",
        }
        if self.flops_objective:
            extra["flops_formula"] = "(6 N + 6 n_layers seq_len d_model) * tokens, N = n_layers (12 d^2 + 13 d) + 2 d"
        else:
            extra["n_params"] = non_embedding_params(self.fixed["d_model"], self.fixed["n_layers"])
        self.metadata = ObjectiveMetadata(
            domain="lm", approximation="real", deterministic=self.device == "cpu" and not self.use_trial_seed,
            optimum=None, fidelity_semantics=FIDELITY_SEMANTICS if token_fidelity else None, extra=extra)

    def hparams(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Trainer hyperparameters for a configuration: the tuned ones plus the fixed ones."""
        return {**{name: config[name] for name in self.configspace}, **self.fixed}

    def flops(self, config: Mapping[str, Any], tokens: int) -> float:
        """The FLOPs objective: flops_per_token of the configuration's model times the token budget."""
        hp = self.hparams(config)
        return float(flops_per_token(int(hp["d_model"]), int(hp["n_layers"]), self.seq_len) * int(tokens))

    def _run_seed(self, seed: int | None) -> int:
        return (int(seed) if self.use_trial_seed and seed is not None else self.seed) & 0x7FFFFFFF

    def _check_device(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise RuntimeError(f"this task trains on {self.device!r}, but torch.cuda.is_available() is False here "
                                   "(GPU tasks carry requires: [cuda] and are skipped by studies)")

    def evaluate(self, config: Mapping[str, Any], fidelity: float | None = None, seed: int | None = None) -> Evaluation:
        from .train import train

        tokens = self.tokens if fidelity is None or self.fidelity is None else round(float(fidelity))
        run_seed = self._run_seed(seed)
        self._check_device()
        record = train(self.hparams(config), tokens, run_seed, device=self.device, checkpoints=1,
                       val_tokens=self.val_tokens)
        loss = float(record["final_val_loss"])
        values = (loss, self.flops(config, tokens)) if self.flops_objective else (loss,)
        timing = record["timing"]
        info = {
            "diverged": bool(record["diverged"]), "n_params": int(record["n_params_nonembedding"]),
            "flops": float(record["flops"]), "tokens_per_s": float(timing["tokens_per_s"]),
            "tokens_trained": int(record["tokens_trained"]), "steps": int(record["steps_done"]), "seed": run_seed,
            "final_train_loss": float(record["final_train_loss"]), "train_time_s": float(timing["train_time_s"]),
            "device": record["device_name"],
        }
        return Evaluation(values=values, virtual_time=None, info=info)


# --- the collection --------------------------------------------------------------------------------
_TARGET = "benchmarks.lm.live.TinyLMLive"
CPU_TOKENS, CPU_MIN_FRACTION, CPU_MODEL, CPU_TRIALS = 2**16, 1 / 16, {"d_model": 64, "n_layers": 1}, 30
GPU_TOKENS, GPU_MIN_FRACTION, GPU_MODEL, GPU_TRIALS = 2**24, 1 / 4, {"d_model": 256, "n_layers": 4}, 50


def task_specs() -> list[TaskSpec]:
    specs = []
    for name, base, requires, trials in (
            ("cpu", {"profile": "cpu", "tokens": CPU_TOKENS}, (), CPU_TRIALS),
            ("gpu", {"profile": "gpu", "tokens": GPU_TOKENS, "use_trial_seed": True}, ("cuda",), GPU_TRIALS)):
        model = CPU_MODEL if name == "cpu" else GPU_MODEL
        fid = {"token_fidelity": True, "min_token_fraction": CPU_MIN_FRACTION if name == "cpu" else GPU_MIN_FRACTION}
        variants = {"bb": {**base, **model}, "mf": {**base, **model, **fid},
                    "mo": {**base, "flops_objective": True}, "momf": {**base, "flops_objective": True, **fid}}
        for kind, kwargs in variants.items():
            specs.append(TaskSpec(id=f"tinylm-live/{name}_{kind}", target=_TARGET, kwargs=kwargs, n_trials=trials,
                                  requires=requires))
    return specs


__all__ = ["FIDELITY_SEMANTICS", "LIVE_PROFILES", "TinyLMLive", "task_specs"]
