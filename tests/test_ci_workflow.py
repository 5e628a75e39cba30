"""The compare workflow cannot run here: check it is valid and uses only documented make commands."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "compare.yml"


def _steps():
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc["name"] == "compare"
    assert "pull_request" in doc[True]  # YAML 1.1 reads the key `on` as True
    (job,) = doc["jobs"].values()
    return job["steps"]


def test_workflow_is_valid_and_uses_pinned_python_and_actions():
    steps = _steps()
    uses = [s["uses"] for s in steps if "uses" in s]
    assert {u.split("@")[0] for u in uses} == {"actions/checkout", "actions/setup-python", "actions/cache",
                                               "actions/upload-artifact"}
    assert all("@v" in u for u in uses)
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "3.11"


def test_workflow_runs_only_make_targets_the_docs_document():
    readme = "\n".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    makefile = (ROOT / "Makefile").read_text()
    targets = []
    for step in _steps():
        for line in step.get("run", "").splitlines():
            line = line.strip()
            for m in re.finditer(r"\bmake(?: -s)? ([a-z-]+)", line):
                targets.append(m.group(1))
            assert not re.search(r"\b(pip|python3?|pytest)\b", line), f"not a documented make command: {line}"
    assert {"install", "changed-optimizers", "compare"} <= set(targets)
    for t in targets:
        assert re.search(rf"^{t}:", makefile, re.M), f"make {t} is not a Makefile target"
        assert f"make {t}" in readme, f"make {t} is not in the README or docs/"
    assert "GITHUB_STEP_SUMMARY" in WORKFLOW.read_text() and "compare/" in WORKFLOW.read_text()


def test_no_expression_is_expanded_inside_a_shell_script():
    """Names reach the shell through environment variables: `${{ }}` inside `run:` would paste a
    branch or optimizer name into the script (shell injection)."""
    for step in _steps():
        assert "${{" not in step.get("run", ""), step


def test_environments_are_cached_on_the_lock_and_the_optimizer_requirements():
    cache = next(s for s in _steps() if s.get("uses", "").startswith("actions/cache"))
    paths = cache["with"]["path"].split()
    assert {".venv", ".venv-opt"} <= set(paths)
    key = cache["with"]["key"]
    assert "requirements.lock" in key and "configs/optimizer/*.yaml" in key


def test_the_summary_is_commented_on_the_pull_request_where_the_token_allows():
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc["permissions"]["pull-requests"] == "write"
    comment = next(s for s in _steps() if "gh pr comment" in s.get("run", ""))
    assert comment["continue-on-error"] is True and "PR_NUMBER" in comment["env"]
