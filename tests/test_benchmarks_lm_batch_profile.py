"""The batch-size profile of a tinylm instance (benchmarks.lm.batch_profile, issue 22 item 3).

The plan and summary on the shipped data and on hand-made records; one tiny real run through the CLI
(2^10 tokens) and its resume; the shipped profile's table in docs/tasks.md.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.lm import batch_profile as bp
from benchmarks.lm import surrogate as sg
from benchmarks.lm.sweep import CODE_KEYS, instance_dataset, manifest_path, read_runs


def _record(seq: int, tpb: int, lr: float, seed: int, loss: float, diverged: bool = False, tokens: int = 2**16) -> dict:
    return {"hparams": {"seq_len": seq, "batch_size": tpb // seq, "learning_rate": lr}, "seed": seed,
            "tokens": tokens, "final_val_loss": loss, "diverged": diverged}


def test_the_plan_varies_batch_sequence_and_lr_around_the_best_measured_configuration():
    base_id, runs = bp.plan("help-s16", [64, 32], [16, 32, 64, 96, 128], [0.5, 2.0], [0, 1])
    dataset = sg.load_dataset(instance_dataset("help-s16"))
    converged = dataset.diverged_share == 0
    assert dataset.curves[list(dataset.config_ids).index(base_id), -1] == dataset.curves[converged, -1].min()
    base = dataset.hparams[list(dataset.config_ids).index(base_id)]
    cells = {(r["hparams"]["seq_len"], r["hparams"]["batch_size"]) for r in runs}
    # 16 < one sequence of 32 or 64, and 96 is not a whole number of 64-byte sequences: skipped
    assert cells == {(64, 1), (64, 2), (32, 1), (32, 2), (32, 3), (32, 4)}
    assert len(runs) == len(cells) * 2 * 2 and [r["seed"] for r in runs[:12]] == [0] * 12
    assert sorted({round(r["hparams"]["learning_rate"] / base["learning_rate"], 12) for r in runs}) == [0.5, 2.0]
    kept = {k: v for k, v in base.items() if k not in ("seq_len", "batch_size", "learning_rate")}
    assert all({k: r["hparams"][k] for k in kept} == kept for r in runs)
    assert {r["tokens"] for r in runs} == {2**16}


def test_the_summary_takes_each_cell_at_its_own_best_learning_rate():
    runs = [_record(64, 64, 1e-3, 0, 2.30), _record(64, 64, 1e-3, 1, 2.20),  # mean 2.25
            _record(64, 64, 2e-3, 0, 2.26), _record(64, 64, 2e-3, 1, 2.22),  # mean 2.24: best, at the edge
            _record(64, 128, 1e-3, 0, 2.5), _record(64, 128, 2e-3, 0, 2.1), _record(64, 128, 4e-3, 0, 2.2),
            _record(64, 128, 4e-3, 1, 0.0, diverged=True),  # counts as ln 256: 4e-3 averages above 2.1
            _record(16, 16, 1e-3, 0, 1.95), _record(16, 32, 1e-3, 0, 1.9)]
    rows = bp.summary(runs)
    assert [(r["seq_len"], r["tokens_per_batch"]) for r in rows] == [(64, 64), (64, 128), (16, 16), (16, 32)]
    first, second = rows[0], rows[1]
    assert (first["learning_rate"], first["lr_at_edge"], first["n_seeds"]) == (2e-3, True, 2)
    assert first["loss"] == pytest.approx(2.24)
    assert (second["learning_rate"], second["loss"], second["lr_at_edge"]) == (2e-3, 2.1, False)
    # seed sd: only the 64-token cell has two seeds at its best lr, residuals +-0.02 -> sd 0.02 sqrt(2)
    assert bp.seed_noise_sd(rows) == pytest.approx(0.02 * math.sqrt(2))
    text = bp.render(rows)
    # 2.24 - 2.1 = 0.14 > 2 sd sqrt(1 + 1/2) = 0.069: told apart; 1.95 - 1.9 = 0.05 < 2 sd sqrt(2) = 0.08: not
    assert ("65536 tokens, seq_len 64: best 128 tokens per batch (2 sequences), at the upper end; within the seeds' "
            "noise of it (2 sd of a difference, seed sd 0.0283): 128 tokens per batch") in text
    assert "65536 tokens, seq_len 16: best 32 tokens per batch (2 sequences), at the upper end; " in text
    assert text.endswith("seed sd 0.0283): 16, 32 tokens per batch")
    interior = bp.render(bp.summary(runs[:8] + [_record(64, 256, 1e-3, 0, 2.4)]))
    assert "best 128 tokens per batch (2 sequences), interior" in interior
    # an interior best the seeds cannot tell from the smallest batch is not called an interior optimum alone
    unresolved = bp.render(bp.summary(runs[:4] + [_record(64, 128, 1e-3, 0, 2.2), _record(64, 256, 1e-3, 0, 2.4)]))
    assert ("best 128 tokens per batch (2 sequences), interior, but not told apart from the smallest batch tried "
            "(64 tokens); within the seeds' noise of it (2 sd of a difference, seed sd 0.0283): 64, 128 tokens per "
            "batch") in unresolved
    # a grid that starts above one sequence: its first cell is the smallest batch tried, not an interior optimum
    smallest = bp.render(bp.summary([_record(16, 32, 1e-3, 0, 1.8), _record(16, 64, 1e-3, 0, 1.9),
                                     _record(16, 128, 1e-3, 0, 2.0)]))
    assert smallest.endswith("best 32 tokens per batch (2 sequences), at the smallest batch tried (the range starts at "
                             "one sequence; smaller batches were not run); no seed noise measured (one seed)")
    lower = bp.render(bp.summary([_record(16, 16, 1e-3, 0, 1.8), _record(16, 32, 1e-3, 0, 1.9)]))
    assert lower.endswith("best 16 tokens per batch (1 sequence), at the lower bound (one sequence); "
                          "no seed noise measured (one seed)")


def test_a_real_profile_runs_resumes_and_summarizes(tmp_path, capsys):
    out = tmp_path / "profile.jsonl"
    args = ["--instance", "asyncio-s16", "--seq-lens", "32", "--tokens-per-batch", "32,64", "--lr-factors", "1",
            "--seeds", "0", "--tokens", "1024", "--out", str(out)]
    assert bp.main(args) == 0
    runs = read_runs(out)
    assert sorted(r["config_id"] for r in runs) == ["s32-t32-lr1", "s32-t64-lr1"]
    assert {r["hparams"]["seq_len"] for r in runs} == {32} and {r["tokens"] for r in runs} == {1024}
    assert {r["corpus_slice"] for r in runs} == {"asyncio"} and all(math.isfinite(r["final_val_loss"]) for r in runs)
    first = capsys.readouterr()
    assert "| 1024 | 32 | 32 | 1 |" in first.out and "1024 tokens, seq_len 32: best" in first.out
    assert bp.main(args) == 0  # resumed: nothing left to run
    assert "2/2 runs already done, 0 to go" in capsys.readouterr().err and len(read_runs(out)) == 2
    assert bp.main([*args[:-4], "--tokens", "2048", "--out", str(out)]) == 0  # another budget, same file
    manifest = json.loads(manifest_path(out).read_text())
    assert [g["tokens"] for g in manifest["grids"]] == [1024, 2048] and manifest["n_runs"] == 4
    assert "2048 tokens, seq_len 32: best" in capsys.readouterr().out
    # each grid keeps the revision it was first run with; rerunning it later neither repeats nor re-dates it
    assert all(set(CODE_KEYS) <= set(g) for g in manifest["grids"])
    manifest["grids"][0]["git_revision"] = "0" * 40
    manifest_path(out).write_text(json.dumps(manifest))
    assert bp.main(args) == 0
    grids = json.loads(manifest_path(out).read_text())["grids"]
    assert [g["tokens"] for g in grids] == [1024, 2048] and grids[0]["git_revision"] == "0" * 40
    capsys.readouterr()
    manifest = json.loads(manifest_path(out).read_text())
    manifest["base_config_id"] = "c0000"  # as if the instance's best configuration had changed since
    manifest_path(out).write_text(json.dumps(manifest))
    with pytest.raises(SystemExit):
        bp.main(args)
    assert "profiles configuration c0000, the instance's best is now" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--seq-lens", "0"], ["--lr-factors", "-1"], ["--tokens", "0"],
                                 ["--seq-lens", "64", "--tokens-per-batch", "32"]])
def test_impossible_settings_are_refused_with_what_is_accepted(bad, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bp.main(["--instance", "help-s16", "--out", str(tmp_path / "x.jsonl"), *bad])
    err = capsys.readouterr().err
    assert "must be positive" in err or "no (sequence length, tokens per batch) pair" in err


@pytest.mark.parametrize("path", sorted(sg.DATA_DIR.glob("batch-profile-*.jsonl")), ids=lambda p: p.stem)
def test_docs_show_each_shipped_profile_as_its_summary_prints_it(path):
    """docs/tasks.md holds `python -m benchmarks.lm.batch_profile --instance X --summary`'s output."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "tasks.md").read_text()
    for line in bp.render(bp.summary(read_runs(path))).splitlines():
        assert line in docs, f"docs/tasks.md: stale batch profile line of {path.name}; regenerate it: {line}"
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["runs_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    instance = path.stem.removeprefix("batch-profile-")
    assert manifest["base_config_id"] == bp.best_configuration(instance)[0], "the instance's best has changed"
    runs = read_runs(path)
    assert len(runs) == manifest["n_runs"] and np.isfinite([r["final_val_loss"] for r in runs]).all()
    assert {r["corpus_slice"] for r in runs} == {manifest["slice"]}
