"""Generated reference tables in docs/ match the code (issue 19: counts disagreed across pages)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_generated_docs_are_up_to_date():
    from carps_like.reference_docs import stale

    assert stale() == [], "run `make docs` and commit docs/"


def test_capability_table_lists_every_optimizer_name_once():
    from carps_like import registry
    from carps_like.reference_docs import optimizers_table

    table = optimizers_table()
    for name in registry.optimizers():
        assert len(re.findall(rf"^\| `{re.escape(name)}` \|", table, re.M)) == 1, name


def test_counts_in_docs_come_from_the_catalogue():
    from carps_like import registry
    from carps_like.reference_docs import task_counts_table

    n = len(registry.tasks())
    assert f"| **{n}** |" in task_counts_table()
    assert f"| **{n}** |" in (ROOT / "docs" / "tasks.md").read_text()


def test_a_hand_edit_inside_a_generated_block_is_found(tmp_path):
    from carps_like import reference_docs as R

    for name, (rel, _) in R.BLOCKS.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text().replace("| **", "| **9", 1) if name == "task-counts"
                                    else (ROOT / rel).read_text())
    assert R.stale(tmp_path) == ["docs/tasks.md (block task-counts)"]
    with pytest.raises(ValueError, match="no '<!-- generated: x -->'"):
        R.render("text", "x", "body")


def test_unknown_task_error_counts_tasks_and_task_sets_apart():
    from carps_like import registry
    from carps_like.errors import UserError

    with pytest.raises(UserError) as err:
        registry.get_task("bbob/f99")
    assert f"({len(registry.tasks())} tasks and {len(registry.tasksets())} task sets)" in str(err.value)
