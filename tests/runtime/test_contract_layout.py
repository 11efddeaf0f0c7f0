"""The Agent_Memory layout: paths filled from checked ids, the one YAML form, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from orchdsl_runtime.contract import layout


def test_paths_are_filled_from_checked_parts() -> None:
    assert layout.path(layout.TACTICAL_TASK, instruction_id="I1", domain="backend", task_id="TT1.2") == \
        "I1/tasks/tactical/backend/TT1.2.yaml"
    at = 1736154000.0  # 2025-01-06T09:00:00Z
    assert layout.path(layout.NOTICE_FILE, recipient="qa-lead", type="sla_warning", YYYYMMDD_HHMMSS=at, seq=7) \
        == "_communication/inbox/qa-lead/sla_warning_20250106_090000_7.yaml"
    assert layout.path(layout.WEEKLY_FILE, **{"from": "a", "to": "b", "NN": 2}) == \
        "_communication/reports/weekly/a_to_b_week_02.yaml"
    assert layout.fields(layout.HANDOFF_FILE) == ["from_domain", "to_domain", "YYYYMMDD_HHMMSS"]


@pytest.mark.parametrize("bad", ["../x", "a/b", "/etc/x", ".", "..", "a\nb", "x" * 101, "CON", ""])
def test_an_unsafe_id_never_becomes_a_path(bad: str) -> None:
    with pytest.raises(ValueError, match="unusable as a file name"):
        layout.path(layout.STRATEGIC_TASK, instruction_id="I1", task_id=bad)


def test_missing_unknown_and_malformed_parts() -> None:
    with pytest.raises(ValueError, match="needs `task_id`"):
        layout.path(layout.STRATEGIC_TASK, instruction_id="I1")
    with pytest.raises(ValueError, match="has no colour"):
        layout.path(layout.STRATEGIC_TASK, instruction_id="I1", task_id="ST1", colour="red")
    with pytest.raises(ValueError, match="whole number"):
        layout.path(layout.PROTOCOL_ESCALATION_FILE, seq="1/../x")
    with pytest.raises(ValueError, match="a time"):
        layout.path(layout.DELEGATION_FILE, recipient="a", YYYYMMDD_HHMMSS="now")


def test_yaml_form() -> None:
    text = layout.yaml_text({"tiers": [1, 2, 3], "budget": layout.Flow(text="4h", value=14400), "long": ["x" * 50] * 3})
    assert text.splitlines()[:2] == ["tiers: [1, 2, 3]", "budget: {text: 4h, value: 14400}"]
    assert "\n- " in text  # a long list goes one item per line


def test_atomic_writes_leave_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.yaml"
    layout.write_text(target, "one\n")
    layout.write_text(target, "two\n", tmp_dir=tmp_path / ".tmp")
    assert target.read_text() == "two\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["b.yaml"]
    with pytest.raises(IsADirectoryError):
        layout.write_text(tmp_path / "a", "x")
    assert sorted(p.name for p in (tmp_path).iterdir()) == [".tmp", "a"]
    assert not [p for p in tmp_path.rglob("*.tmp") if p.is_file()]
