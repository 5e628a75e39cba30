"""Tiny-LM corpus, model, trainer and sweep (benchmarks/lm): real training on tiny configurations."""
from __future__ import annotations

import json
import lzma
import math
import subprocess
import sys

import pytest

from benchmarks.lm import corpus as lm_corpus
from benchmarks.lm.model import flops_per_token, non_embedding_params
from benchmarks.lm.train import DIVERGED_LOSS, checkpoint_tokens, lr_factor, resolve_hparams

torch = pytest.importorskip("torch")

TINY = {"d_model": 32, "n_layers": 1, "batch_size": 8, "learning_rate": 1e-2}


def without_timing(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "timing"}


@pytest.fixture(scope="module")
def tiny_run():
    from benchmarks.lm.train import train

    return train(TINY, 8192, seed=0, device="cpu")


def test_corpus_checksum_and_split():
    data = lm_corpus.load_corpus()
    assert len(data) == lm_corpus.CORPUS_BYTES == 4 * 2**20
    assert lm_corpus.sha256(data) == lm_corpus.expected_sha256()
    train, val = lm_corpus.split_corpus(data)
    assert (len(train), len(val)) == (3_984_589, 209_715)
    assert train + val == data
    assert data.startswith(b"help('")  # the pydoc topics come first


def test_corrupted_corpus_is_rejected(tmp_path):
    data = bytearray(lm_corpus.load_corpus())
    data[1000] ^= 0xFF
    bad = tmp_path / "corpus-v1.bin.xz"
    bad.write_bytes(lzma.compress(bytes(data), preset=0))
    with pytest.raises(lm_corpus.CorpusChecksumError, match="sha256"):
        lm_corpus.load_corpus(bad)
    packed = bytearray(lm_corpus.CORPUS_FILE.read_bytes())
    packed[5000] ^= 0xFF
    bad.write_bytes(bytes(packed))
    with pytest.raises(lm_corpus.CorpusChecksumError, match="not a valid xz"):
        lm_corpus.load_corpus(bad)


@pytest.mark.skipif(sys.version.split()[0] != lm_corpus.BUILT_WITH.split()[-1],
                    reason=f"the shipped corpus was built with {lm_corpus.BUILT_WITH}")
def test_build_corpus_reproduces_shipped_bytes():
    assert lm_corpus.sha256(lm_corpus.build_corpus()) == lm_corpus.expected_sha256()


def test_importing_lm_modules_does_not_import_torch():
    code = ("import sys, benchmarks.lm.corpus, benchmarks.lm.model, benchmarks.lm.train, benchmarks.lm.sweep; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("d_model,n_layers", [(32, 1), (64, 2), (96, 3), (256, 2)])
def test_non_embedding_parameter_formula(d_model, n_layers):
    from benchmarks.lm.model import build_model

    model = build_model(d_model, n_layers, seq_len=16)
    embeddings = model.tok.weight.numel() + model.pos.weight.numel()
    assert sum(p.numel() for p in model.parameters()) - embeddings == non_embedding_params(d_model, n_layers)
    n = non_embedding_params(d_model, n_layers)
    assert flops_per_token(d_model, n_layers, 16) == 6 * n + 6 * n_layers * 16 * d_model


def test_learning_rate_schedules():
    hp = resolve_hparams({"warmup_fraction": 0.1})
    n = 100
    assert [lr_factor(s, n, hp) for s in range(3)] == pytest.approx([0.1, 0.2, 0.3])
    for schedule in ("cosine", "linear", "wsd"):
        factors = [lr_factor(s, n, {**hp, "schedule": schedule}) for s in range(n)]
        assert factors[9] == pytest.approx(1.0) and factors[-1] == pytest.approx(hp["min_lr_ratio"])
        assert all(a >= b - 1e-12 for a, b in zip(factors[9:], factors[10:]))
    wsd = [lr_factor(s, n, {**hp, "schedule": "wsd"}) for s in range(n)]
    assert wsd[79] == 1.0 and wsd[80] < 1.0
    assert {lr_factor(s, n, {**hp, "schedule": "constant"}) for s in range(10, n)} == {1.0}
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        resolve_hparams({"lr": 1e-3})


def test_training_is_deterministic_and_learns(tiny_run):
    from benchmarks.lm.train import train

    again = train(TINY, 8192, seed=0, device="cpu")
    assert without_timing(again) == without_timing(tiny_run)
    assert json.loads(json.dumps(tiny_run)) == tiny_run  # plain JSON
    other = train(TINY, 8192, seed=1, device="cpu")
    assert other["val_loss"] != tiny_run["val_loss"]
    assert abs(tiny_run["initial_val_loss"] - math.log(256)) < 0.3
    assert tiny_run["final_val_loss"] < tiny_run["initial_val_loss"] - 0.3
    assert not tiny_run["diverged"] and tiny_run["steps_done"] == tiny_run["steps"] == 8


def test_checkpoints_at_documented_token_counts(tiny_run):
    assert checkpoint_tokens(8192, 7) == [128, 256, 512, 1024, 2048, 4096, 8192]
    assert tiny_run["checkpoint_tokens"] == [128, 256, 512, 1024, 2048, 4096, 8192]
    assert tiny_run["tokens_per_step"] == 8 * 128
    assert tiny_run["checkpoint_steps"] == [1, 1, 1, 1, 2, 4, 8]  # ceil(tokens / tokens_per_step), at least 1
    assert tiny_run["checkpoint_tokens_seen"] == [1024, 1024, 1024, 1024, 2048, 4096, 8192]
    assert len(tiny_run["val_loss"]) == len(tiny_run["train_loss"]) == 7
    assert tiny_run["flops"] == tiny_run["flops_per_token"] * 8192


def test_training_leaves_global_torch_state_alone():
    from benchmarks.lm.train import train

    rng, det, threads = torch.get_rng_state(), torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # the run uses CPU_THREADS threads and gives the caller's count back
        train(TINY, 1024, seed=3, device="cpu", checkpoints=2, val_tokens=256)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.are_deterministic_algorithms_enabled() == det


def test_huge_learning_rate_is_flagged_diverged():
    from benchmarks.lm.train import train

    record = train({**TINY, "learning_rate": 10.0, "warmup_fraction": 0.0}, 8192, seed=0, device="cpu")
    assert record["diverged"] and record["diverged_step"] is not None
    assert record["final_val_loss"] == DIVERGED_LOSS == record["final_train_loss"]
    assert all(math.isfinite(v) for v in record["val_loss"])


def test_sobol_configs_are_a_stable_prefix():
    from benchmarks.lm.sweep import sample_configs

    eight = sample_configs("cpu", 8)
    assert sample_configs("cpu", 5) == eight[:5]
    assert {hp["d_model"] for _, hp in sample_configs("cpu", 64)} == {32, 64, 96, 128}


def test_sweep_appends_resumes_and_writes_manifest(tmp_path):
    from benchmarks.lm.sweep import manifest_path, read_runs, sweep

    out = tmp_path / "runs.jsonl"
    kwargs = dict(profile="smoke", n_configs=2, seeds_subset=1, n_seeds=2, tokens=1024, val_tokens=512,
                  checkpoints=3, progress=False)
    first = sweep(out, **kwargs)
    runs = read_runs(out)
    assert [(r["config_id"], r["seed"]) for r in runs] == [("c0000", 0), ("c0001", 0), ("c0000", 1)]
    assert first["n_runs"] == first["n_runs_planned"] == 3
    assert first["schema_version"] == 1 and first["corpus"]["sha256"] == lm_corpus.expected_sha256()
    assert first["torch_version"] == [torch.__version__] and first["device"] == ["cpu"]
    assert first["git_revision"] is None or len(first["git_revision"]) == 40

    with open(out, "a") as f:
        f.write('{"config_id": "c00')  # a write cut off by an interruption
    second = sweep(out, **kwargs)
    assert out.read_text().count("\n") == 3 and read_runs(out) == runs  # nothing redone, partial line dropped
    assert second["n_runs"] == 3 and second["created"] == first["created"]
    assert json.loads(manifest_path(out).read_text()) == second

    with pytest.raises(ValueError, match="differs from the planned one"):
        sweep(out, **{**kwargs, "sobol_seed": 1})


@pytest.mark.slow
def test_sweep_parallel_workers_match_serial(tmp_path):
    from benchmarks.lm.sweep import read_runs, sweep

    kwargs = dict(profile="smoke", n_configs=2, seeds_subset=0, n_seeds=1, tokens=1024, val_tokens=512,
                  checkpoints=3, progress=False)
    sweep(tmp_path / "serial.jsonl", jobs=1, **kwargs)
    sweep(tmp_path / "parallel.jsonl", jobs=2, **kwargs)
    serial = sorted((without_timing(r) for r in read_runs(tmp_path / "serial.jsonl")), key=lambda r: r["config_id"])
    parallel = sorted((without_timing(r) for r in read_runs(tmp_path / "parallel.jsonl")), key=lambda r: r["config_id"])
    assert serial == parallel


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_runs():
    from benchmarks.lm.train import train

    record = train(TINY, 8192, seed=0, device="cuda")
    assert record["device"] == "cuda" and record["dtype"] == "bfloat16-autocast"
    assert all(math.isfinite(v) for v in record["val_loss"])
    assert record["final_val_loss"] < record["initial_val_loss"]
