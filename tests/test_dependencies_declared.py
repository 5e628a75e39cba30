"""Every third-party distribution the code imports directly is declared: in requirements.in, in
requirements-nodeps.txt (HEBO's --no-deps install) or, for an optimizer run in its own environment,
in its YAML's `requirements:`. No direct import rests on another package happening to pull it in
(issue 20, item 6)."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: product and test code
SOURCES = ("carps_like", "benchmarks", "optimizers", "analysis", "workflows", "hydra_plugins", "perf", "tests", "scripts")
#: directories whose modules import each other by bare name (pytest's rootdir insertion, perf's sys.path)
SCRIPT_DIRS = ("tests", "perf")
REQUIREMENTS = ("requirements.in", "requirements-nodeps.txt")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def declared() -> set[str]:
    lines = [line for rel in REQUIREMENTS for line in (ROOT / rel).read_text().splitlines()]
    for path in (ROOT / "configs" / "optimizer").glob("*.yaml"):
        lines += (yaml.safe_load(path.read_text()) or {}).get("requirements") or []
    names = (re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0]) for line in lines)
    return {_normalized(m.group(1)) for m in names if m}


def imported_modules() -> dict[str, str]:
    """Top-level module name -> first file importing it (absolute imports only)."""
    found: dict[str, str] = {}
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def first_party() -> set[str]:
    """The repository's packages and the modules and packages tests and perf scripts import from
    their own directory (helpers.py, conformance/)."""
    return set(SOURCES) | {p.stem for d in SCRIPT_DIRS for p in (ROOT / d).glob("*.py")} | {
        p.parent.name for d in SCRIPT_DIRS for p in (ROOT / d).glob("*/__init__.py")}


def undeclared(modules: dict[str, str], declared_names: set[str]) -> list[str]:
    providers = importlib.metadata.packages_distributions()
    local = first_party()
    problems = []
    for module, where in sorted(modules.items()):
        if module in sys.stdlib_module_names or module in local:
            continue
        dists = {_normalized(d) for d in providers.get(module, [])}
        if not dists:
            problems.append(f"{module} (imported in {where}) comes from no installed distribution")
        elif not dists & declared_names:
            problems.append(f"{' or '.join(sorted(dists))} (module {module}, imported in {where})")
    return problems


def test_every_directly_imported_distribution_is_declared():
    problems = undeclared(imported_modules(), declared())
    assert not problems, "imported directly but missing from requirements.in:\n  " + "\n  ".join(problems)


def test_the_check_names_a_missing_distribution():
    names = declared() - {"pyyaml"}
    assert any(p.startswith("pyyaml (module yaml") for p in undeclared({"yaml": "x.py"}, names))
    assert undeclared({"yaml": "x.py", "json": "x.py", "carps_like": "x.py", "helpers": "x.py"}, {"pyyaml"}) == []
    # an adapter named like its library (optimizers/optuna.py) does not hide the library
    assert undeclared({"optuna": "optimizers/optuna.py"}, set()) == ["optuna (module optuna, imported in optimizers/optuna.py)"]
