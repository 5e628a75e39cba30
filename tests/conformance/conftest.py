"""After the conformance suite, say which checks ran and why any did not (per test function)."""
from __future__ import annotations

from collections import defaultdict

_RESULTS: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))


def pytest_runtest_logreport(report):
    if "tests/conformance/" not in report.nodeid.replace("\\", "/"):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        name, _, case = report.nodeid.split("::")[-1].partition("[")
        outcome = report.outcome
        if outcome == "skipped" and isinstance(report.longrepr, tuple):
            outcome = "skipped: " + report.longrepr[2].removeprefix("Skipped: ")
        _RESULTS[name][outcome].append(case.rstrip("]") or name)


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    write = terminalreporter.write_line
    write("")
    write("conformance checks (docs/adding-an-optimizer.md explains each):")
    for name, outcomes in _RESULTS.items():
        for outcome, cases in sorted(outcomes.items()):
            write(f"  {name}: {outcome}: {', '.join(cases)}")
