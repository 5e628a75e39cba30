"""`analysis/` is pure data -> tables / figures / tasksets (issue 20, item 5): orchestration (launching
studies, the conformance suite, git) lives in `workflows/`. Every module of the analysis package
is parsed, not imported, so an import added later anywhere in it (top level, in a function,
under `if TYPE_CHECKING`, through importlib) fails here."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ANALYSIS = ROOT / "analysis"

#: modules analysis/ must not import (a name or any of its submodules)
FORBIDDEN = ("subprocess", "pytest", "carps_like.study", "carps_like.experiment", "workflows")

#: the only exceptions, each with why: module path -> forbidden names it may import
ALLOWED = {
    # compiles the generated tables with pdflatex (data -> PDF tables), launches no study or test
    "analysis/latex_check.py": {"subprocess"},
}


def _forbidden(name: str) -> str | None:
    return next((f for f in FORBIDDEN if name == f or name.startswith(f + ".")), None)


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a module of the analysis package: `import x`,
    `from x import y` (also as `x.y`: `from carps_like import study`), relative imports resolved
    against the package, and `importlib.import_module("x")` / `__import__("x")` with a literal name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base:
                out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}" if base else a.name) for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__"):
                out.append((node.lineno, node.args[0].value))
    return out


MODULES = sorted(ANALYSIS.rglob("*.py"))


def test_the_analysis_package_is_found():
    names = {p.name for p in MODULES}
    assert {"__init__.py", "gather.py", "report.py", "comparison.py", "subsets.py"} <= names
    assert not {"compare.py", "baselines.py", "changed_optimizers.py"} & names  # moved to workflows/


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_analysis_does_not_launch_anything(path):
    rel = str(path.relative_to(ROOT))
    allowed = ALLOWED.get(rel, set())
    bad = [f"{rel}:{line}: imports {name}" for line, name in imported_modules(path)
           if (f := _forbidden(name)) is not None and f not in allowed]
    assert not bad, ("analysis/ is pure data -> tables/figures; orchestration (studies, pytest, git, "
                     "subprocesses) belongs in workflows/:\n  " + "\n  ".join(bad))


def test_the_check_catches_every_form_of_import(tmp_path):
    fake = tmp_path / "analysis" / "bad.py"
    fake.parent.mkdir()
    fake.write_text("import subprocess as sp\n"
                    "from carps_like import study\n"
                    "def f():\n"
                    "    from carps_like.experiment import run_cell\n"
                    "    import importlib\n"
                    "    importlib.import_module('workflows.compare')\n"
                    "    __import__('pytest')\n"
                    "from .. import workflows\n")
    found = {name for _, name in imported_modules(fake, tmp_path) if _forbidden(name)}
    assert {"subprocess", "carps_like.study", "carps_like.experiment", "carps_like.experiment.run_cell",
            "workflows.compare", "pytest", "workflows"} <= found
