"""Reference tables in docs/ generated from the code, so counts and capabilities cannot drift.

    python -m carps_like.reference_docs          # rewrite the generated blocks in docs/
    python -m carps_like.reference_docs --check  # exit 1 and name the stale files (the test suite runs this)

A generated block sits between `<!-- generated: NAME -->` and `<!-- end generated -->` in a
docs page; the prose around it is hand-written. Blocks: `summary` (README.md, the inventory line),
`optimizers` (docs/optimizers.md, from each adapter's declared `capabilities()`), `task-counts`
(docs/tasks.md, from the task configs).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

from . import registry

ROOT = Path(__file__).resolve().parents[1]
TYPES = ("bb", "mf", "mo", "momf")
FULL_FIDELITY_TYPES = {"bb": "mf", "mo": "momf"}  # what `full_fidelity: true` adds


def capabilities(name: str) -> dict:
    """The declared capabilities of a concrete optimizer config; `full_fidelity: true` variants
    also run the multi-fidelity twin of each declared type, at the maximum fidelity."""
    caps = registry.optimizer_class(name).capabilities()
    if registry.get_optimizer_config(name).get("full_fidelity"):
        extra = {FULL_FIDELITY_TYPES[t] for t in caps["task_types"] if t in FULL_FIDELITY_TYPES}
        caps["task_types"] = sorted({*caps["task_types"], *extra}, key=TYPES.index)
    return caps


def optimizers_table() -> str:
    from .optimizer import ENCODINGS, HYPERPARAMETER_KINDS

    mark = {True: "yes", False: "-"}
    rows = ["| optimizer | task types | conditions | forbiddens | batch ask | noise | "
            + " | ".join(HYPERPARAMETER_KINDS) + " |", "|" + "---|" * (6 + len(HYPERPARAMETER_KINDS))]
    configs = registry.optimizers()
    for name, cfg in configs.items():
        if cfg.get("by_task_type"):
            picks = ", ".join(f"{t}: `{v}`" for t, v in cfg["by_task_type"].items())
            rows.append(f"| `{name}` | dispatcher: {picks} |" + " |" * (4 + len(HYPERPARAMETER_KINDS)))
            continue
        c = capabilities(name)
        kinds = " | ".join(c["hyperparameters"][k].replace("|", "/") for k in HYPERPARAMETER_KINDS)
        rows.append(f"| `{name}` | {', '.join(c['task_types'])} | {mark[c['conditions']]} | {mark[c['forbiddens']]} | "
                    f"{mark[c['batch_ask']]} | {c['noise_handling']} | {kinds} |")
    concrete = sum(1 for cfg in configs.values() if not cfg.get("by_task_type"))
    legend = "; ".join(f"`{encoding}`: {meaning}" for encoding, meaning in ENCODINGS.items())
    return (f"{concrete} concrete variants and {len(configs) - concrete} dispatchers "
            f"({len(configs)} names `OPT=` accepts).\n\n" + "\n".join(rows)
            + f"\n\nHyperparameter kinds: how each reaches the library ({legend}); the note in parentheses "
            "says more; `unsupported`: tasks with that kind are refused.")


def task_counts_table() -> str:
    entries = registry.tasks().values()
    by = Counter((e.id.split("/", 1)[0], e.metadata["type"]) for e in entries)
    collections = sorted({c for c, _ in by})
    rows = ["| collection | " + " | ".join(TYPES) + " | total |", "|---|" + "---:|" * (len(TYPES) + 1)]
    for c in collections:
        counts = [by.get((c, t), 0) for t in TYPES]
        rows.append(f"| `{c}` | " + " | ".join(str(n) for n in counts) + f" | {sum(counts)} |")
    totals = [sum(by.get((c, t), 0) for c in collections) for t in TYPES]
    rows.append("| **all** | " + " | ".join(f"**{n}**" for n in totals) + f" | **{sum(totals)}** |")
    sets = registry.tasksets()
    listed = ", ".join(f"`{n}` {len(sets[n].get('tasks') or [])}" for n in sorted(sets))
    return "\n".join(rows) + f"\n\nTask sets ({len(sets)}; `TASK=<name>`), with their number of tasks: {listed}."


def summary_line() -> str:
    """The README's one-line inventory."""
    tasks = registry.tasks().values()
    by_type = Counter(e.metadata["type"] for e in tasks)
    configs = registry.optimizers()
    concrete = [n for n, c in configs.items() if not c.get("by_task_type")]
    families = {registry.optimizer_class(n).__module__ for n in concrete}
    collections = {e.id.split("/", 1)[0] for e in tasks}
    return (f"**{len(tasks):,} tasks** in {len(collections)} collections ("
            + ", ".join(f"{t} {by_type.get(t, 0)}" for t in TYPES) + f"); **{len(concrete)} optimizer variants** "
            f"in {len(families)} families, plus {len(configs) - len(concrete)} dispatchers that pick a variant per task type.")


BLOCKS = {"summary": ("README.md", summary_line),
          "optimizers": ("docs/optimizers.md", optimizers_table),
          "task-counts": ("docs/tasks.md", task_counts_table)}
_BLOCK = r"(<!-- generated: {name} -->\n)(.*?)(<!-- end generated -->)"


def render(text: str, name: str, body: str) -> str:
    pattern = re.compile(_BLOCK.format(name=re.escape(name)), re.S)
    if not pattern.search(text):
        raise ValueError(f"no '<!-- generated: {name} -->' ... '<!-- end generated -->' block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(3), text, count=1)


def stale(root: Path = ROOT, write: bool = False) -> list[str]:
    """Files whose generated blocks differ from the code (rewritten when `write`)."""
    out = []
    for name, (rel, make) in BLOCKS.items():
        path = root / rel
        text = path.read_text()
        new = render(text, name, make())
        if new != text:
            out.append(f"{rel} (block {name})")
            if write:
                path.write_text(new)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    args = parser.parse_args(argv)
    changed = stale(write=not args.check)
    if args.check and changed:
        print("stale generated docs (run `make docs`): " + ", ".join(changed), file=sys.stderr)
        return 1
    print(("rewrote: " + ", ".join(changed)) if changed else "generated docs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
