"""Train the tiny byte-level GPT (benchmarks.lm.model) on the stdlib corpus; one run -> one record.

``train(hparams, tokens, seed)`` returns a plain JSON-able dict (see ``train`` for the fields).

Hyperparameters (``DEFAULTS`` fills the missing ones; unknown names are an error):
learning_rate (peak), batch_size (sequences of seq_len bytes), warmup_fraction (of the steps),
weight_decay (AdamW, on matrices and embeddings only; biases and LayerNorms get none), beta2,
schedule (cosine | linear | constant | wsd), d_model, n_layers; fixed unless given: seq_len 128,
beta1 0.9, grad_clip 1.0 (global norm), min_lr_ratio 0.1, wsd_decay_fraction 0.2.

Steps: n_steps = ceil(tokens / (batch_size seq_len)), so at least `tokens` tokens are trained.
Learning rate at step s (0-based), w = round(warmup_fraction n_steps) warmup steps:
s < w: lr (s + 1) / w; afterwards with p = (s - w) / max(1, n_steps - w - 1) in [0, 1] and
m = min_lr_ratio: cosine m + (1 - m)(1 + cos(pi p)) / 2; linear 1 - (1 - m) p; constant 1;
wsd (warmup-stable-decay) 1 until the last wsd_decay_fraction of all steps, then linear to m.

Fidelity semantics: "checkpoints of one fixed-horizon run". The schedule is set for the full
`tokens` horizon; the validation loss is recorded at ``checkpoints`` log-spaced token counts
c_i = tokens 64^(i/(k-1) - 1), i = 0..k-1 (default k = 7: tokens/64, tokens/32, ..., tokens),
after step ceil(c_i / (batch_size seq_len)) (at least 1, at most n_steps); a low checkpoint is
therefore part-way through a longer run whose learning rate has not decayed, not a run
completed at that budget.

Validation: ``val_tokens`` / seq_len fixed windows evenly spaced over the validation split
(the last 5 % of the corpus), the same for every run and seed; loss in nats per byte. Training
batches are drawn uniformly from the training split with a private torch.Generator seeded by
`seed`; the model is initialised under torch.manual_seed(seed) inside torch.random.fork_rng,
so the global RNG state is left as it was.

Divergence: a run is diverged when a training or validation loss is NaN/inf, or when the
mean training loss over the last DIVERGENCE_WINDOW = 32 steps (all steps for shorter runs)
exceeds DIVERGENCE_THRESHOLD = ln 256 + 1 nats; checked every CHECK_EVERY = 16 steps, at each
checkpoint and at the end. A sustained window, not a single step, because at high learning
rates the loss often spikes far above ln 256 for a few steps and recovers (measured: d 64 x 2,
2^17 tokens, no warmup: lr 0.03 spikes to 7.7 and ends at 3.17; lr 0.3 peaks at 18.7 and ends
at 3.22, about the unigram entropy 3.20 of the corpus, while lr 3e-3 reaches 2.81; lr 10
stays above 1,000 and is flagged). Such spikes stay in the recorded losses as measured. On
divergence training stops; the checkpoints not yet evaluated and the final losses get
DIVERGED_LOSS = ln 256 = 5.545 (the uniform predictor's loss, "the divergence level");
earlier checkpoints keep their measured values.

Determinism: on CPU a fixed seed gives identical records (timings aside) on one machine and torch
build, whatever the caller's thread count: a CPU run sets torch.use_deterministic_algorithms(True)
and CPU_THREADS = 1 intra-op thread (torch.set_num_threads), and restores both afterwards. The
thread count matters: the same run with 1 and 2 threads differs in the last bits, and at high
learning rates training amplifies that (measured: 2^16 tokens, d 32 x 1, lr 0.077: final loss
3.309 with 1 thread, 3.278 with 2). Across machines it is not reproducible: torch picks kernels by
the CPU's instruction set (AVX-512, AVX2, ...; ATEN_CPU_CAPABILITY, read once at import), and MKL /
oneDNN dispatch by the CPU too, so another CPU type gives other last bits, amplified the same way (20
configurations of tinylm-live/cpu_mo evaluated here with torch's AVX-512 and AVX2 kernels: final
losses moved by up to 0.08 nats from lr 5e-3 up, by under 2e-6 below lr 3e-3). One thread is also
what the sweep and studies (OMP_NUM_THREADS=1) use, so their speed is unchanged. CUDA: bf16 autocast, TF32 matmuls (flags restored afterwards) and fused AdamW; CUDA runs are not
bitwise reproducible. No torch.compile: compiling costs 30-60 s per shape, more than any shipped
task's run of a model this size takes, so no task could reach it (records before 2026-12-06 carry
"compiled": false).
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from .corpus import CORPUS_NAME, load_corpus, sha256, split_corpus
from .model import VOCAB, default_heads, flops_per_token, non_embedding_params

RECORD_VERSION = 1
SCHEDULES = ("cosine", "linear", "constant", "wsd")
DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-3, "batch_size": 16, "warmup_fraction": 0.05, "weight_decay": 0.1, "beta2": 0.99,
    "schedule": "cosine", "d_model": 64, "n_layers": 2, "seq_len": 128, "beta1": 0.9, "grad_clip": 1.0,
    "min_lr_ratio": 0.1, "wsd_decay_fraction": 0.2,
}
UNIFORM_LOSS = math.log(VOCAB)
DIVERGED_LOSS = UNIFORM_LOSS
DIVERGENCE_THRESHOLD = UNIFORM_LOSS + 1.0
CHECK_EVERY = 16
DIVERGENCE_WINDOW = 32
FIRST_CHECKPOINT_FRACTION = 1 / 64
CPU_THREADS = 1  # torch intra-op threads of a CPU run (the caller's count is restored after it)
VAL_TOKENS = 8192
FIDELITY_SEMANTICS = ("checkpoints of one fixed-horizon run: the learning-rate schedule is set for the full token "
                      "budget, so a lower fidelity is the validation loss part-way through that run (schedule not "
                      "decayed), not a separate run completed at that budget")


def resolve_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """DEFAULTS overridden by `hparams`, with types normalised; unknown names raise."""
    unknown = set(hparams) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown hyperparameters {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    hp = {**DEFAULTS, **hparams}
    for key in ("batch_size", "d_model", "n_layers", "seq_len"):
        hp[key] = int(hp[key])
    for key in ("learning_rate", "warmup_fraction", "weight_decay", "beta2", "beta1", "grad_clip", "min_lr_ratio",
                "wsd_decay_fraction"):
        hp[key] = float(hp[key])
    if hp["schedule"] not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {hp['schedule']!r}")
    return hp


def lr_factor(step: int, n_steps: int, hp: Mapping[str, Any]) -> float:
    """Multiplier of the peak learning rate at 0-based `step` (formulas in the module docstring)."""
    warmup = round(hp["warmup_fraction"] * n_steps)
    if step < warmup:
        return (step + 1) / warmup
    m, schedule = hp["min_lr_ratio"], hp["schedule"]
    if schedule == "constant":
        return 1.0
    if schedule == "wsd":
        start = max(warmup, n_steps - round(hp["wsd_decay_fraction"] * n_steps))
        p = 0.0 if step < start else (step - start + 1) / max(1, n_steps - start)
        return 1.0 - (1.0 - m) * p
    p = (step - warmup) / max(1, n_steps - warmup - 1)
    if schedule == "linear":
        return 1.0 - (1.0 - m) * p
    return m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * p))


def checkpoint_tokens(tokens: int, k: int) -> list[int]:
    """k log-spaced token counts from tokens/64 to tokens (k = 7: the powers of two tokens/64 ... tokens)."""
    if k < 1:
        raise ValueError("need at least one checkpoint")
    if k == 1:
        return [int(tokens)]
    ratio = 1 / FIRST_CHECKPOINT_FRACTION
    return [max(1, round(tokens * ratio ** (i / (k - 1) - 1))) for i in range(k)]


@contextlib.contextmanager
def _torch_state(device):
    """Fork the RNGs and set per-run flags (deterministic algorithms and CPU_THREADS threads on CPU,
    TF32 on CUDA); restore on exit."""
    import torch

    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.get_num_threads())
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        try:
            if device.type == "cpu":
                torch.use_deterministic_algorithms(True)
                torch.set_num_threads(CPU_THREADS)
            else:
                torch.backends.cuda.matmul.allow_tf32 = True
                torch.backends.cudnn.allow_tf32 = True
            yield
        finally:
            torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[2], saved[3]
            if torch.get_num_threads() != saved[4]:
                torch.set_num_threads(saved[4])


def _diverging(history, checked: int, done: int, n_steps: int) -> bool:
    """Non-finite loss since the last check, or the mean of the last DIVERGENCE_WINDOW losses
    above DIVERGENCE_THRESHOLD (judged once that many steps, or all n_steps, are done)."""
    recent = history[checked:done]
    if not bool(recent.isfinite().all()):
        return True
    window = min(DIVERGENCE_WINDOW, n_steps)
    return done >= window and history[done - window:done].mean().item() > DIVERGENCE_THRESHOLD


def _val_batch(val, seq_len: int, val_tokens: int):
    """Fixed validation windows (inputs and targets), evenly spaced over the validation split."""
    import torch

    n = max(1, val_tokens // seq_len)
    starts = torch.linspace(0, len(val) - seq_len - 1, n).round().long()
    windows = val[starts[:, None] + torch.arange(seq_len + 1)].long()
    return windows[:, :-1], windows[:, 1:]


def train(hparams: Mapping[str, Any], tokens: int, seed: int, device: str | None = None, checkpoints: int = 7, *,
          val_tokens: int = VAL_TOKENS, corpus: bytes | None = None) -> dict[str, Any]:
    """Train one model for `tokens` training tokens and return its record.

    device None or "auto": CUDA when available, else CPU. corpus: the bytes to use instead of the
    shipped corpus.

    Record fields: hparams (resolved), seed, tokens (requested), tokens_per_step, steps (planned),
    steps_done, tokens_trained, checkpoint_tokens (nominal c_i), checkpoint_steps,
    checkpoint_tokens_seen, val_loss (one per checkpoint), train_loss (mean training loss of the
    steps since the previous checkpoint), initial_val_loss, final_val_loss,
    final_train_loss (mean of the last up to 16 steps), diverged, diverged_step, n_heads,
    n_params_nonembedding, n_params_total, flops_per_token, flops (flops_per_token x tokens_trained),
    device, device_name, dtype, torch_version, corpus, corpus_sha256,
    fidelity_semantics, record_version, and timing {wall_time_s, train_time_s, eval_time_s,
    tokens_per_s} (the only fields that differ between identical CPU runs).
    """
    import torch

    from .model import build_model

    wall0 = time.perf_counter()
    hp = resolve_hparams(hparams)
    auto = device in (None, "auto")
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if auto else device)
    cuda = dev.type == "cuda"
    data = corpus if corpus is not None else load_corpus()
    train_bytes, val_bytes = split_corpus(data)
    seq, bsz = hp["seq_len"], hp["batch_size"]
    tps = bsz * seq
    n_steps = max(1, math.ceil(tokens / tps))
    cks = checkpoint_tokens(tokens, checkpoints)
    ck_steps = [min(n_steps, max(1, math.ceil(c / tps))) for c in cks]
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else contextlib.nullcontext

    with _torch_state(dev):
        torch.manual_seed(seed)
        model = build_model(hp["d_model"], hp["n_layers"], seq).to(dev)
        gen = torch.Generator().manual_seed(seed)
        train_t = torch.frombuffer(bytearray(train_bytes), dtype=torch.uint8).to(dev)
        val_x, val_y = (t.to(dev) for t in _val_batch(torch.frombuffer(bytearray(val_bytes), dtype=torch.uint8),
                                                      seq, val_tokens))
        offsets = torch.arange(seq + 1, device=dev)
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=hp["learning_rate"], betas=(hp["beta1"], hp["beta2"]), eps=1e-8,
                                **({"fused": True} if cuda else {}))

        def evaluate() -> float:
            model.eval()
            with torch.no_grad(), autocast():
                losses = [model(val_x[i:i + 64], val_y[i:i + 64]) * len(val_x[i:i + 64])
                          for i in range(0, len(val_x), 64)]
            model.train()
            return float(torch.stack(losses).sum().item() / len(val_x))

        t = time.perf_counter()
        initial_val = evaluate()
        eval_time = time.perf_counter() - t
        loop_eval_time = 0.0

        history = torch.zeros(n_steps, device=dev)
        val_at: dict[int, float] = {}
        diverged_step, checked = None, 0
        train0 = time.perf_counter()
        step = 0
        for step in range(n_steps):
            for group in opt.param_groups:
                group["lr"] = hp["learning_rate"] * lr_factor(step, n_steps, hp)
            starts = torch.randint(0, len(train_t) - seq - 1, (bsz,), generator=gen).to(dev)
            window = train_t[starts[:, None] + offsets].long()
            with autocast():
                loss = model(window[:, :-1], window[:, 1:])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), hp["grad_clip"])
            opt.step()
            opt.zero_grad(set_to_none=True)
            history[step] = loss.detach()
            done = step + 1
            if done in ck_steps or done - checked >= CHECK_EVERY or done == n_steps:
                if _diverging(history, checked, done, n_steps):
                    diverged_step = done
                    break
                checked = done
                if done in ck_steps:
                    t = time.perf_counter()
                    val_at[done] = evaluate()
                    loop_eval_time += time.perf_counter() - t
                    if not math.isfinite(val_at[done]):
                        del val_at[done]
                        diverged_step = done
                        break
        if cuda:
            torch.cuda.synchronize()
        train_time = time.perf_counter() - train0 - loop_eval_time
        eval_time += loop_eval_time
        steps_done = step + 1
        last = history[max(0, steps_done - CHECK_EVERY):steps_done].tolist()
        bounds = [0, *sorted(set(ck_steps))]
        train_at = {b: history[a:b].mean().item() for a, b in pairwise(bounds) if b in val_at}

    diverged = diverged_step is not None
    val_loss = [val_at.get(s, DIVERGED_LOSS) for s in ck_steps]  # only a diverged run misses some
    train_loss = [train_at.get(s, DIVERGED_LOSS) for s in ck_steps]
    tokens_trained = steps_done * tps
    fpt = flops_per_token(hp["d_model"], hp["n_layers"], seq)
    train_only = max(train_time, 1e-9)
    return {
        "record_version": RECORD_VERSION,
        "hparams": hp,
        "seed": int(seed),
        "tokens": int(tokens),
        "tokens_per_step": tps,
        "steps": n_steps,
        "steps_done": steps_done,
        "tokens_trained": tokens_trained,
        "checkpoint_tokens": cks,
        "checkpoint_steps": ck_steps,
        "checkpoint_tokens_seen": [s * tps for s in ck_steps],
        "val_loss": val_loss,
        "train_loss": train_loss,
        "initial_val_loss": initial_val,
        "final_val_loss": val_loss[-1],
        "final_train_loss": DIVERGED_LOSS if diverged else sum(last) / len(last),
        "diverged": diverged,
        "diverged_step": diverged_step,
        "n_heads": default_heads(hp["d_model"]),
        "n_params_nonembedding": non_embedding_params(hp["d_model"], hp["n_layers"]),
        "n_params_total": sum(p.numel() for p in model.parameters()),
        "flops_per_token": fpt,
        "flops": fpt * tokens_trained,
        "device": dev.type,
        "device_name": torch.cuda.get_device_name(dev) if cuda else "cpu",
        "dtype": "bfloat16-autocast" if cuda else "float32",
        "torch_version": torch.__version__,
        "corpus": CORPUS_NAME,
        "corpus_sha256": sha256(data),
        "fidelity_semantics": FIDELITY_SEMANTICS,
        "timing": {
            "wall_time_s": time.perf_counter() - wall0,
            "train_time_s": train_only,
            "eval_time_s": eval_time,
            "tokens_per_s": tokens_trained / train_only,
        },
    }
