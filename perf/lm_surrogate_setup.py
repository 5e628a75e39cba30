"""What a fresh process pays before its first tinylm evaluation: shipped gp hyperparameters vs the search.

    .venv/bin/python perf/lm_surrogate_setup.py [--repeats 3] [--dataset benchmarks/lm/data/runs-help-s16.jsonl]

Each repeat starts two Python processes, one after the other, that import the surrogate, fit it
on the shipped runs and predict one curve:
  * `shipped`  the dataset as shipped (default runs-cpu-v1; --dataset for an instance, whose gp also fits
               its divergence part), with its `.gp-kernel.json` (benchmarks.lm.fitted_kernel),
  * `search`   a copy of the dataset in a temporary folder without that file, so the kernel's
               hyperparameters are searched by maximum marginal likelihood (the baseline: what
               every process paid before the file existed).
Prints the median wall time of each (process start to prediction), their ratio, and whether both
predicted the same curve; then, in this process with the libraries already imported, the fit step
alone (`surrogate.fit`) both ways. That cost is paid once per process: once per joblib or queue worker,
once per run under submitit and Ray.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.lm import fitted_kernel
from benchmarks.lm import surrogate as sg

CHILD = """
import json, sys
from benchmarks.lm import surrogate as sg
s = sg.get_surrogate(sys.argv[1])
hp = dict(s.dataset.hparams[0])
print(json.dumps({"from": s.model.hyperparameters_from, "curve": s.predict_curves([hp])[0].tolist()}))
"""


def one_process(dataset: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(dataset)], cwd=ROOT, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", type=Path, default=sg.DEFAULT_DATASET, help="a shipped runs file")
    args = parser.parse_args()
    shipped = args.dataset.resolve()
    if not fitted_kernel.path_for(shipped).exists():
        sys.exit(f"{fitted_kernel.path_for(shipped)} is missing: run make lm-surrogate first")
    times = {"shipped": [], "search": []}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / shipped.name
        shutil.copy(shipped, bare)
        for i in range(args.repeats):
            for mode, path in (("shipped", shipped), ("search", bare)):
                seconds, result = one_process(path)
                if result["from"] != mode:
                    sys.exit(f"{mode}: the surrogate's hyperparameters came from {result['from']!r}")
                times[mode].append(seconds)
                results[mode] = result["curve"]
            print(f"  repeat {i + 1}/{args.repeats}: shipped {times['shipped'][-1]:.2f} s, search {times['search'][-1]:.2f} s",
                  flush=True)
    med = {mode: statistics.median(v) for mode, v in times.items()}
    same = results["shipped"] == results["search"]
    print(f"\nfresh process to first tinylm prediction (median of {args.repeats}):")
    print(f"  search (baseline)     {med['search']:.2f} s")
    print(f"  shipped kernel file   {med['shipped']:.2f} s   ratio {med['shipped'] / med['search']:.2f}x")
    print(f"  same predicted curve: {'yes, bit for bit' if same else 'NO'}")
    fit_step(args.repeats, shipped)


def fit_step(repeats: int, shipped: Path) -> None:
    import sklearn.gaussian_process  # noqa: F401  imported before timing: only the fit is measured

    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / shipped.name
        shutil.copy(shipped, bare)
        datasets = {"shipped": sg.load_dataset(shipped), "search": sg.load_dataset(bare)}
        times = {mode: [] for mode in datasets}
        for _ in range(repeats):
            for mode, dataset in datasets.items():
                t0 = time.perf_counter()
                sg.fit(dataset)
                times[mode].append(time.perf_counter() - t0)
    med = {mode: statistics.median(v) for mode, v in times.items()}
    print(f"\nthe fit step alone, libraries imported (median of {repeats}):")
    print(f"  search (baseline)     {med['search'] * 1e3:.0f} ms")
    print(f"  shipped kernel file   {med['shipped'] * 1e3:.0f} ms   ratio {med['shipped'] / med['search']:.3f}x")


if __name__ == "__main__":
    main()
