"""Learned tiny-LM surrogates (benchmarks.lm.surrogate), the tinylm tasks and the fidelity report.

Runs on the shipped dataset as it is (a sweep may still be appending to it), so nothing here
depends on the exact number of runs; synthetic datasets stand in where the answer must be known.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from helpers import random_search_run, sample_configs

from benchmarks.lm import fitted_kernel, report, tinylm
from benchmarks.lm import surrogate as sg
from benchmarks.lm.sweep import PROFILES
from benchmarks.lm.sweep import sample_configs as sobol_configs
from carps_like.objective import describe
from carps_like.types import TaskType

LN256 = math.log(256)
SPECS = [s for s in tinylm.task_specs() if "instance" not in s.kwargs]  # the original instance (instances: test_benchmarks_lm_instances.py)
BY_ID = {s.id: s for s in SPECS}
TOKENS = [4096 * 2**i for i in range(7)]


@pytest.fixture(scope="module")
def dataset():
    return sg.load_dataset()


@pytest.fixture(scope="module")
def fitted(dataset):
    return sg.get_surrogate(dataset)


def random_hparams(n, seed=0):
    """n random points of the cpu profile (Sobol-free: a plain RNG over the task's space)."""
    obj = BY_ID["tinylm/bb"].build()
    return [obj.hparams(c) for c in sample_configs(obj, n, seed=seed)]


def synthetic_record(cid, hp, seed=0, shift=0.0, diverged=False):
    """A run record with the fields the surrogate reads; loss falls with tokens, lowest near lr 3e-3."""
    base = 2.5 + 0.3 * (math.log10(hp["learning_rate"]) + 2.5) ** 2 + shift
    val = [base + 2.0 * (TOKENS[-1] / t) ** 0.3 / 64 ** 0.3 for t in TOKENS]
    if diverged:
        val = val[:3] + [LN256] * 4
    return {"config_id": cid, "profile": "cpu", "hparams": hp, "seed": seed, "tokens": TOKENS[-1],
            "checkpoint_tokens": TOKENS, "val_loss": val, "final_val_loss": val[-1], "diverged": diverged,
            "tokens_trained": TOKENS[-1], "timing": {"train_time_s": 1e-5 * hp["d_model"] * TOKENS[-1] / 64}}


def write_runs(path, records, tail=b""):
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    path.write_bytes(data + tail)
    return hashlib.sha256(data).hexdigest()


# --- data and targets --------------------------------------------------------------------------------
def test_dataset_skips_a_partial_last_line_and_hashes_the_lines_used(tmp_path):
    configs = sobol_configs("cpu", 4)
    records = [synthetic_record(cid, hp) for cid, hp in configs] + [synthetic_record(configs[0][0], configs[0][1], 1)]
    path = tmp_path / "runs.jsonl"
    sha = write_runs(path, records, tail=b'{"config_id": "c0004", "val')
    d = sg.load_dataset(path)
    assert (d.n_runs, d.n_configs, d.skipped_lines, d.sha256) == (5, 4, 1, sha)
    assert d.checkpoint_tokens == tuple(TOKENS) and list(d.n_seeds) == [2, 1, 1, 1]


def test_target_curves_are_monotone_and_diverged_runs_sit_at_ln256():
    hp = sobol_configs("cpu", 1)[0][1]
    spiky = synthetic_record("c", hp)
    spiky["val_loss"][2] = 7.9  # a transient spike above ln 256
    y = sg.target_curve(spiky)
    assert np.all(np.diff(y) <= 0) and y[-1] == spiky["val_loss"][-1] and y.max() <= LN256
    assert np.all(sg.target_curve(synthetic_record("c", hp, diverged=True)) == LN256)


def test_shipped_dataset_is_usable(dataset):
    assert dataset.n_configs >= 2 and dataset.checkpoint_tokens == tuple(TOKENS)
    assert np.all(np.diff(dataset.curves, axis=1) <= 0)
    assert np.all((dataset.curves > 1.0) & (dataset.curves <= LN256))
    assert len(dataset.sha256) == 64 and dataset.manifest.get("profile") == "cpu"


# --- the surrogate -----------------------------------------------------------------------------------
def test_two_fits_give_identical_predictions(dataset, fitted):
    hps = random_hparams(50, seed=1)
    assert np.array_equal(sg.fit(dataset).predict_curves(hps), fitted.predict_curves(hps))
    assert sg.get_surrogate(dataset) is fitted  # fitted once per process


def test_shipped_kernel_hyperparameters_are_what_the_search_finds(dataset, fitted):
    """The shipped .gp-kernel.json must be current (else: make lm-surrogate): the search here finds
    no more likely values (its end point moves with the CPU's BLAS kernels, so the values are not
    compared bit for bit); and a surrogate fitted
    from searched values equals one fitted from the same values read back from JSON, bit for bit."""
    assert fitted.model.hyperparameters_from == "shipped", fitted_kernel.stale_reason(dataset)
    X = sg.features(dataset.hparams)
    searched = sg.make_model("gp", dataset.checkpoint_tokens).fit(X, dataset.curves, dataset.diverged_share)
    assert searched.hyperparameters_from == "search"
    shipped = fitted_kernel.load(dataset)
    assert shipped.keys() == searched.kernel_params.keys()
    found_lml = searched.log_marginal_likelihood
    shipped_lml = fitted.model.log_marginal_likelihood
    assert shipped_lml >= found_lml - fitted_kernel.LML_RTOL * abs(found_lml), (shipped_lml, found_lml)
    round_trip = json.loads(json.dumps(searched.kernel_params))
    from_json = sg.make_model("gp", dataset.checkpoint_tokens).fit(X, dataset.curves, dataset.diverged_share,
                                                                   kernel_params=round_trip)
    Xq = sg.features(random_hparams(30, seed=5))
    assert np.array_equal(from_json.predict(Xq), searched.predict(Xq))
    assert np.allclose(fitted.model.predict(Xq), searched.predict(Xq), rtol=0, atol=1e-3)


def test_a_shipped_kernel_at_another_optimum_is_stale(dataset, monkeypatch):
    """The check still finds a file whose values are not the search's optimum."""
    shipped = fitted_kernel.load(dataset)
    moved = {k: (np.asarray(v) * 1.5).tolist() if isinstance(v, list) else v * 1.5 for k, v in shipped.items()}
    monkeypatch.setattr(fitted_kernel, "load", lambda d: moved)
    assert "the search finds" in fitted_kernel.stale_reason(dataset)


def test_kernel_file_of_other_data_is_ignored_and_check_says_stale(tmp_path, capsys):
    records = [synthetic_record(cid, hp, shift=0.01 * i) for i, (cid, hp) in enumerate(sobol_configs("cpu", 12))]
    path = tmp_path / "runs-x.jsonl"
    write_runs(path, records)
    kernel_file = fitted_kernel.path_for(path)
    assert kernel_file.name == "runs-x.gp-kernel.json"
    assert sg.fit(sg.load_dataset(path)).model.hyperparameters_from == "search"  # no file
    assert fitted_kernel.main([str(path)]) == 0 and kernel_file.exists()
    d = sg.load_dataset(path)
    assert sg.fit(d).model.hyperparameters_from == "shipped"
    assert fitted_kernel.main(["--check", str(path)]) == 0 and "current" in capsys.readouterr().out
    write_runs(path, records[:-1])  # the data changed: the file's sha256 no longer matches
    assert sg.fit(sg.load_dataset(path)).model.hyperparameters_from == "search"
    assert fitted_kernel.main(["--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "stale" in out and "sha256 differs" in out and "make lm-surrogate" in out
    record = json.loads(kernel_file.read_text())
    record["kernel_params"]["k2__noise_level"] *= 2  # same data, other values: --check notices
    write_runs(path, records)
    kernel_file.write_text(json.dumps(record))
    assert fitted_kernel.main(["--check", str(path)]) == 1
    assert "log marginal likelihood: shipped" in capsys.readouterr().out


def test_predicted_curves_are_monotone_finite_and_sane(fitted):
    curves = fitted.predict_curves(random_hparams(300, seed=2))
    assert curves.shape == (300, 7) and np.all(np.isfinite(curves))
    assert np.all(np.diff(curves, axis=1) <= 0)
    assert np.all((curves > 1.0) & (curves <= LN256))
    assert sg.monotone_share(curves) == 1.0


@pytest.mark.parametrize("model", [m for m in sg.MODELS if m not in (sg.DEFAULT_MODEL, "mlp")])
def test_other_models_give_monotone_sane_curves(dataset, model):
    curves = sg.fit(dataset, model).predict_curves(random_hparams(100, seed=3))
    assert np.all(np.diff(curves, axis=1) <= 0) and np.all((curves > 1.0) & (curves <= LN256))


@pytest.mark.slow
def test_mlp_gives_monotone_sane_curves(dataset):
    curves = sg.fit(dataset, "mlp").predict_curves(random_hparams(100, seed=3))
    assert np.all(np.diff(curves, axis=1) <= 0) and np.all((curves > 0.0) & (curves <= LN256))


def test_interpolation_hits_checkpoints_and_stays_between(fitted):
    hps = random_hparams(20, seed=4)
    curves = fitted.predict_curves(hps)
    for i, t in enumerate(TOKENS):
        assert np.allclose(fitted.predict_at(hps, t), curves[:, i], rtol=0, atol=1e-12)
    mid = fitted.predict_at(hps, math.sqrt(TOKENS[2] * TOKENS[3]))
    assert np.allclose(mid, (curves[:, 2] + curves[:, 3]) / 2)
    assert np.array_equal(fitted.predict_at(hps, 10), curves[:, 0])  # clipped to the recorded range


def test_training_time_grows_with_tokens_and_model_size(fitted):
    small, big = {**random_hparams(1)[0], "d_model": 32, "n_layers": 1}, {**random_hparams(1)[0], "d_model": 128,
                                                                            "n_layers": 4}
    t = fitted.predict_train_seconds([small, small, big], [1e4, 2e4, 2e4])
    assert np.all(t > 0) and t[1] == pytest.approx(2 * t[0]) and t[2] > t[1]


# --- held-out metrics and the report ----------------------------------------------------------------
def test_heldout_metrics_on_known_answers():
    y = np.array([2.0, 2.5, 3.0, 4.0, 5.0])
    assert sg.heldout_metrics(y, y) == pytest.approx({"r2": 1.0, "spearman": 1.0, "kendall": 1.0})
    rev = sg.heldout_metrics(y, -y)
    assert rev["spearman"] == pytest.approx(-1.0) and rev["kendall"] == pytest.approx(-1.0)
    shifted = sg.heldout_metrics(y, y + 0.5)  # ranks intact, R^2 = 1 - n c^2 / sum (y - mean)^2
    assert shifted["spearman"] == pytest.approx(1.0)
    assert shifted["r2"] == pytest.approx(1 - 5 * 0.25 / np.sum((y - y.mean()) ** 2))
    assert math.isnan(sg.heldout_metrics(y, np.ones(5))["spearman"])


def test_cross_validation_and_report_on_a_synthetic_dataset(tmp_path):
    configs = sobol_configs("cpu", 32)
    records = [synthetic_record(cid, hp) for cid, hp in configs]
    records += [synthetic_record(configs[0][0], configs[0][1], seed=1, shift=0.01)]
    path = tmp_path / "runs.jsonl"
    write_runs(path, records)
    d = sg.load_dataset(path)
    cv = sg.cross_validate(d, "et", n_splits=4)
    assert (cv["n_configs"], cv["n_runs"], cv["n_splits"]) == (32, 33, 4)
    assert cv["final"]["spearman"] > 0.8 and cv["final"]["r2"] > 0.6  # loss depends on lr alone here
    assert cv["monotone_share"] == 1.0 and len(cv["per_checkpoint"]) == 7
    check = report.lmscaling_optimum_check()
    assert check["n_tasks"] == 11 and check["max_abs_error"] < 1e-9
    results = report.evaluate_models(d, ["et"], 4)
    noise = report.seed_noise(d)
    assert noise["n_multi_seed_configs"] == 1 and noise["seed_spread"] > 0
    for markdown in (False, True):
        text = report.render(d, results, noise, check, markdown=markdown)
        assert d.sha256 in text and "Spearman" in text and "262144" in text
        assert ("| et |" in text) == markdown and f"tasks use `{sg.DEFAULT_MODEL}`" in text


def test_report_cli_rejects_unknown_models():
    with pytest.raises(SystemExit):
        report.main(["--models", "nope"])


# --- the tinylm tasks ----------------------------------------------------------------------------------
def test_task_ids_types_and_no_heavy_imports():
    types = [s.build().task_type.value for s in SPECS]
    assert {t: types.count(t) for t in set(types)} == {"bb": 3, "mf": 2, "mo": 1, "momf": 1}
    assert all(s.id.startswith("tinylm/") and s.id.split("/")[1].split("_")[0] == t for s, t in zip(SPECS, types))
    code = ("import sys, benchmarks.lm.tinylm as t; [s.build() for s in t.task_specs()]; "
            "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_every_task_builds_and_evaluates_a_sampled_config(spec, dataset):
    obj = spec.build()
    m = len(obj.objectives)
    fidelities = [None] if obj.fidelity is None else [None, obj.fidelity.min, 3e4, obj.fidelity.max]
    for config in sample_configs(obj, 3, seed=5):
        for z in fidelities:
            ev = obj.evaluate(config, z, seed=1)
            assert len(ev.values) == m and all(isinstance(v, float) and math.isfinite(v) for v in ev.values)
            assert 1.0 < ev.values[0] <= LN256 and ev.virtual_time > 0
            if m == 2:
                hp = obj.hparams(config)
                tokens = obj.max_tokens if z is None else z
                assert ev.values[1] == pytest.approx(tinylm.flops_per_token(hp["d_model"], hp["n_layers"], 128) * tokens)
    record = describe(obj)
    json.dumps(record)
    assert (record["domain"], record["approximation"], record["optimum"]) == ("lm", "surrogate", None)
    assert record["deterministic"] == (spec.kwargs.get("noise", 0) == 0)
    extra = record["extra"]
    # no diverged run in runs-cpu-v1: version 2 computes version 1's function there and says so (baselines comparable)
    assert extra["dataset_sha256"] == dataset.sha256 and extra["surrogate_version"] == "1"
    assert extra["n_runs"] == dataset.n_runs
    if obj.task_type.multi_fidelity:
        assert "checkpoints of one fixed-horizon run" in record["fidelity_semantics"]
        assert (obj.fidelity.name, obj.fidelity.min, obj.fidelity.max) == ("tokens", 4096, 262144)
    if obj.task_type.multi_objective:
        assert extra["reference_point"][0] == pytest.approx(LN256)
    sizes = {"d_model", "n_layers"} & set(obj.configspace)
    assert sizes == (set() if "d_model" in spec.kwargs else {"d_model", "n_layers"})


def test_space_follows_the_sweep_ranges():
    space = BY_ID["tinylm/bb"].build().configspace
    ranges = PROFILES["cpu"]["ranges"]
    assert set(space) == set(ranges)
    assert (space["learning_rate"].lower, space["learning_rate"].upper, space["learning_rate"].log) == (1e-4, 1e-1, True)
    assert list(space["d_model"].sequence) == ranges["d_model"][1]
    assert list(space["schedule"].choices) == ranges["schedule"][1]


def test_mf_loss_never_rises_with_tokens():
    obj = BY_ID["tinylm/mf"].build()
    grid = np.geomspace(obj.fidelity.min, obj.fidelity.max, 25)
    for config in sample_configs(obj, 20, seed=6):
        losses = [e.values[0] for e in obj.evaluate_batch([config] * len(grid), list(grid))]
        assert np.all(np.diff(losses) <= 1e-12)
    bb = BY_ID["tinylm/bb"].build()
    config = sample_configs(obj, 1, seed=7)[0]
    assert obj.evaluate(config).values == bb.evaluate(config).values == obj.evaluate(config, obj.fidelity.max).values


def test_batch_equals_one_by_one():
    obj = BY_ID["tinylm/momf"].build()
    configs = sample_configs(obj, 12, seed=8)
    fids = [None if i % 3 == 0 else float(f) for i, f in enumerate(np.geomspace(4096, 262144, 12))]
    one = [obj.evaluate(c, f) for c, f in zip(configs, fids)]
    batch = obj.evaluate_batch(configs, fids)
    assert [(e.values, e.virtual_time) for e in batch] == [(e.values, e.virtual_time) for e in one]


def test_noise_is_seeded_monotone_and_off_by_default():
    obj = BY_ID["tinylm/bb_noisy"].build()
    obj._surrogate = dataclasses.replace(obj.surrogate, seed_spread=0.02)  # known spread, whatever the data
    clean = BY_ID["tinylm/bb"].build()
    config = sample_configs(obj, 1, seed=9)[0]
    a, b, c = (obj.evaluate(config, seed=s).values[0] for s in (1, 1, 2))
    assert a == b and a != c and abs(math.log(a / clean.evaluate(config).values[0])) < 0.02 * 6
    assert clean.evaluate(config, seed=1).values == clean.evaluate(config, seed=2).values
    mf = tinylm.TinyLMSurrogate(token_fidelity=True, noise=1.0)
    mf._surrogate = obj._surrogate
    losses = [mf.evaluate(config, z, seed=3).values[0] for z in np.geomspace(4096, 262144, 9)]
    assert np.all(np.diff(losses) <= 1e-12)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="both"):
        tinylm.TinyLMSurrogate(d_model=64)
    with pytest.raises(ValueError, match="compute"):
        tinylm.TinyLMSurrogate(compute_objective=True, d_model=64, n_layers=2)
    with pytest.raises(ValueError, match="range"):
        tinylm.TinyLMSurrogate(d_model=48, n_layers=2)
    with pytest.raises(ValueError, match="model"):
        tinylm.TinyLMSurrogate(model="nope")
    with pytest.raises(ValueError, match="noise"):
        tinylm.TinyLMSurrogate(noise=-1)


@pytest.mark.parametrize("task_id", ["tinylm/bb", "tinylm/mf", "tinylm/mo", "tinylm/momf"])
def test_random_search_runs_each_task_type(task_id):
    spec = BY_ID[task_id]
    task, result = random_search_run(spec, n_trials=12)
    if task.task_type in (TaskType.BLACKBOX, TaskType.MULTI_FIDELITY):
        assert 1.0 < result.incumbent["cost"] < LN256
