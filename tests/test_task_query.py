"""Listing and filtering tasks: the Python API and `make tasks` agree and reject bad filters."""
from __future__ import annotations

import subprocess
import sys

import pytest

from carps_like import find_tasks
from carps_like.errors import UserError


def test_keyword_and_term_filters_agree():
    by_kw = find_tasks(type="bb", collection="bbob", min_dim=5, max_dim=10)
    by_terms = find_tasks("type=bb", "collection=bbob", "dim>=5", "dim<=10")
    assert [e.id for e in by_kw] == [e.id for e in by_terms]
    assert len(by_kw) == 24 * 2 * 3 and {e.metadata["dimensions"] for e in by_kw} == {5, 10}


def test_glob_substring_and_conditional_filters():
    assert {e.id for e in find_tasks("bbob/f1_d2_*")} == {f"bbob/f1_d2_i{i}" for i in (1, 2, 3)}
    conditional = find_tasks(conditional=True)
    assert "toy/bb_mixed" in {e.id for e in conditional} and all(e.metadata["n_conditions"] > 0 for e in conditional)
    assert all(e.metadata["approximation"] == "synthetic" for e in find_tasks(approximation="synthetic"))


@pytest.mark.parametrize("term,message", [("size=3", "unknown filter key 'size'"), ("type<bb", "only dim compares"),
                                          ("dim>=x", "dim needs an integer")])
def test_bad_filters_say_what_is_accepted(term, message):
    with pytest.raises(UserError, match=message):
        find_tasks(term)


def test_cli_lists_counts_per_type():
    out = subprocess.run([sys.executable, "-m", "carps_like.cli_list", "tasks", "collection=toy"], capture_output=True, text=True)
    assert out.returncode == 0 and "6 tasks: bb 3, mf 1, mo 1, momf 1" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "carps_like.cli_list", "tasks", "size=3"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown filter key" in bad.stderr and "Traceback" not in bad.stderr
