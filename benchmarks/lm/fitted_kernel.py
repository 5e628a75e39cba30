"""The `gp` surrogate's kernel hyperparameters, found once and shipped next to the dataset.

Fitting the `gp` surrogate is two steps: a maximum-marginal-likelihood search for the kernel's
hyperparameters (about 3.5 s on 2 cores), then one Cholesky factorization with them fixed (a few
ms). Every process that evaluates a tinylm task used to pay the search: once per joblib worker,
once per queue worker, but once per *run* under submitit or Ray, which start a process per run.
The search result is 15 numbers per GP (one GP on runs-cpu-v1; two on the tinylm instances, whose
final loss has its own kernel: keys prefixed "final:", surrogate.FINAL_KERNEL); this module writes
them to `<dataset>.gp-kernel.json` (with the dataset's sha256) and reads them back, so a process only
does the second step. The log marginal likelihood compared below is the sum over the GPs.

The surrogate is the same either way: `GaussianProcessIncrements` always finishes with the fixed
fit, from the searched values or from this file, so both paths give bit-identical predictions
when the values agree. The file is used only when its sha256 is the dataset's and its
`surrogate_version` the one the dataset's gp has now (a file without it was written for version 1):
a regenerated or edited dataset, or another model version, falls back to the search (and `make
lm-surrogate` writes a new file).
`tests/test_benchmarks_lm_surrogate.py` checks that the search here finds no more likely values than
the shipped ones (LML_RTOL: the search's end point moves with the CPU, so bits are not compared),
and `make lm-surrogate` rewrites only missing or stale files.

    python -m benchmarks.lm.fitted_kernel [DATASET ...]      # search and write each dataset's file
    python -m benchmarks.lm.fitted_kernel --check [DATASET ...]  # exit 1 unless every shipped file is current

Without DATASET: every `runs-*.jsonl` under benchmarks/lm/data (the original `cpu` instance and each
tinylm instance of benchmarks.lm.sweep.INSTANCES; each has its own file, keyed by its own sha256).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
#: a shipped file is current when its hyperparameters are as likely as the ones a search finds here,
#: to this relative tolerance of the log marginal likelihood: the search's end point moves with the
#: CPU's BLAS kernels (1e-4 relative between an AVX-512 and an AVX2 machine, same libraries) while
#: the likelihood there is flat to ~1e-9; rewriting the file on every machine would change the tasks
#: (values along flat directions move more: one length scale by 37 %, at a likelihood 1e-7 lower)
LML_RTOL = 1e-6


def path_for(dataset_path: Path | str) -> Path:
    """`runs-cpu-v1.jsonl` -> `runs-cpu-v1.gp-kernel.json` (same folder)."""
    dataset_path = Path(dataset_path)
    return dataset_path.with_name(dataset_path.name.removesuffix(".jsonl") + ".gp-kernel.json")


def kernel_params(kernel) -> dict[str, Any]:
    """The kernel's hyperparameter values as JSON-exact plain floats (repr round-trips a float64)."""
    return {hp.name: (np.asarray(kernel.get_params()[hp.name], dtype=float).tolist())
            for hp in kernel.hyperparameters}


def load(dataset) -> dict[str, Any] | None:
    """The shipped hyperparameters of `dataset` (a surrogate.Dataset), or None when there is no file
    or it belongs to other data."""
    from .surrogate import surrogate_version

    path = path_for(dataset.path)
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record.get("format") != FORMAT or record.get("dataset_sha256") != dataset.sha256:
        return None
    if record.get("surrogate_version", "1") != surrogate_version("gp", dataset):  # fitted for another model
        return None
    return record["kernel_params"]


def _fit_gp(dataset, params: dict[str, Any] | None):
    """The gp surrogate fitted on `dataset` with these kernel hyperparameters (None: searched)."""
    from . import surrogate as sg

    model = sg.make_model("gp", dataset.checkpoint_tokens)
    return model.fit(sg.features(dataset.hparams), dataset.curves, dataset.diverged_share, kernel_params=params)


def search(dataset) -> tuple[dict[str, Any], float]:
    """Run the maximum-likelihood search on `dataset`: (hyperparameters, log marginal likelihood)."""
    model = _fit_gp(dataset, None)
    return model.kernel_params, model.log_marginal_likelihood


def write(dataset) -> Path:
    """Search and write the file next to the dataset (atomically)."""
    import sklearn

    from .surrogate import surrogate_version

    params, lml = search(dataset)
    record = {"format": FORMAT, "dataset": dataset.path.name, "dataset_sha256": dataset.sha256, "model": "gp",
              "surrogate_version": surrogate_version("gp", dataset), "kernel_params": params, "log_marginal_likelihood": lml,
              "fitted_with": {"scikit-learn": sklearn.__version__, "numpy": np.__version__}}
    path = path_for(dataset.path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def log_marginal_likelihood(dataset, params: dict[str, Any]) -> float:
    """The gp surrogate's log marginal likelihood on `dataset` with these kernel hyperparameters."""
    return _fit_gp(dataset, params).log_marginal_likelihood


def stale_reason(dataset) -> str | None:
    """Why the shipped file is not what the search finds here (a clearly more likely optimum), or
    None when it is current."""
    shipped = load(dataset)
    if shipped is None:
        return (f"{path_for(dataset.path).name} is missing or belongs to other data (sha256 differs) or another "
                "surrogate version")
    found, found_lml = search(dataset)
    if set(found) != set(shipped):
        return f"hyperparameters: shipped {sorted(shipped)}, the search has {sorted(found)}"
    shipped_lml = log_marginal_likelihood(dataset, shipped)
    if shipped_lml < found_lml - LML_RTOL * max(1.0, abs(found_lml)):
        return f"log marginal likelihood: shipped {shipped_lml:.9g}, the search finds {found_lml:.9g}"
    return None


def main(argv: list[str] | None = None) -> int:
    from . import surrogate as sg

    parser = argparse.ArgumentParser(prog="python -m benchmarks.lm.fitted_kernel", description=__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="*", help="runs files (default: every runs-*.jsonl under benchmarks/lm/data)")
    parser.add_argument("--check", action="store_true", help="compare the shipped files with a fresh search; exit 1 if stale")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.dataset] or sg.shipped_datasets()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        parser.error(f"no such dataset: {', '.join(missing)}")
    status = 0
    for path in paths:
        dataset = sg.load_dataset(path)
        if args.check:
            reason = stale_reason(dataset)
            print(f"{path_for(dataset.path)}: " + ("current" if reason is None else f"stale: {reason}; run make lm-surrogate"))
            status = status or (0 if reason is None else 1)
        elif load(dataset) is not None and stale_reason(dataset) is None:
            print(f"{path_for(dataset.path)}: current, kept (rewriting it would move the tasks' values by "
                  "this machine's last bits)", flush=True)
        else:
            print(f"wrote {write(dataset)}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
