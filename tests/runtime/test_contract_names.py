"""The one rule for names that become paths (orchdsl_runtime.contract.names)."""

from __future__ import annotations

import pytest
from orchdsl_runtime.contract.names import MAX_NAME, is_safe_name, name_problem


@pytest.mark.parametrize("name", ["TT1.2", "ST3", "backend-lead", "I1", "H12", "ok_1", "a", "backend-team",
                                  "x" * MAX_NAME, "v1.0"])
def test_safe_names(name: str) -> None:
    assert name_problem(name) is None
    assert is_safe_name(name)


@pytest.mark.parametrize(("name", "says"), [
    ("../x", "separator `/`"),
    ("a/b", "separator `/`"),
    ("a\\b", "separator `\\`"),
    ("/etc/x", "separator `/`"),
    (".", "starts with a letter"),
    ("..", "`..`"),
    ("a..b", "`..`"),
    ("-x", "starts with a letter"),
    ("a.", "does not end with `.`"),
    ("", "empty"),
    ("a b", "a space"),
    ("a\nb", "U+000A"),
    ("a\x00b", "U+0000"),
    ("a\x1bb", "U+001B"),
    ("é", "`é`"),
    ("CON", "reserves"),
    ("nul.yaml", "reserves"),
    ("Com1", "reserves"),
    ("x" * (MAX_NAME + 1), f"at most {MAX_NAME}"),
    ("x" * 10_000, "10000 characters"),
])
def test_unsafe_names(name: str, says: str) -> None:
    problem = name_problem(name)
    assert problem is not None and says in problem
    assert not is_safe_name(name)


def test_not_a_text() -> None:
    assert name_problem(3) == "a name is a text"
