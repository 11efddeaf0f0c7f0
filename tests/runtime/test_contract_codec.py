"""The contract's codec: typed data from JSON, checked field by field, and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

import pytest
from orchdsl_runtime.contract import model as c
from orchdsl_runtime.contract.codec import MAX_NUMBER, ContractError, from_data, to_data

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "lower"


@pytest.mark.parametrize("name", ["orchestration_v1", "orchestration_v2"])
def test_compiled_models_round_trip_byte_for_byte(name: str) -> None:
    text = (GOLDEN / f"{name}.model.json").read_text(encoding="utf-8")
    model = from_data(c.CompiledModel, json.loads(text))
    assert isinstance(model.lifecycle.states[0], c.State)
    assert json.dumps(to_data(model), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def problems(cls: Any, data: Any) -> list[str]:
    with pytest.raises(ContractError) as info:
        from_data(cls, data, "the thing")
    assert str(info.value).startswith("the thing does not match its format: ")
    return info.value.problems


def test_every_problem_is_located() -> None:
    got = problems(c.State, {"name": 3, "initial": "yes", "sla": [{"budget": {"kind": "weeks", "value": 1,
                                                                               "text": "1w"}}], "colour": 1})
    assert got == [
        "/name: expected a string, got a number",
        "/initial: expected true or false, got a string",
        "/sla/0/budget/kind: expected one of `time`, `tokens`, `estimate`, `multiple`, got `weeks`",
        "/colour: unknown field of State",
    ]


def test_missing_fields_and_defaults() -> None:
    assert problems(c.Budget, {"kind": "time", "text": "4h"}) == ["/: missing `value`"]
    state = from_data(c.State, {"name": "A"})
    assert state == c.State(name="A") and state.transitions == () and state.terminal is None


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 10**309, MAX_NUMBER * 4, True])
def test_numbers_are_finite_and_bounded(bad: Any) -> None:
    [p] = problems(c.Budget, {"kind": "time", "value": bad, "text": "x"})
    assert p.startswith("/value: ")


def test_integers_are_not_booleans_or_floats() -> None:
    assert problems(c.Level, {"name": "a", "value": True}) == ["/value: expected an integer, got a boolean"]
    assert problems(c.Level, {"name": "a", "value": 1.5}) == ["/value: expected an integer, got a number"]
    assert from_data(c.Budget, {"kind": "time", "value": 3, "text": "3s"}).value == 3.0


def test_unions_fixed_tuples_and_aliases() -> None:
    con = from_data(c.Consultation, {"name": "q", "from": "a", "to": "b", "default": 4})
    assert con.from_ == "a" and con.default == 4
    assert to_data(con)["from"] == "a" and "from_" not in to_data(con)
    assert problems(c.Consultation, {"name": "q", "from": "a", "to": "b", "default": [1]}) == [
        "/default: expected a string, got a list"]
    h = from_data(c.Handoff, {"from_domain": "a", "to_domain": "b", "on_accept": ["X", "Y"]})
    assert h.on_accept == ("X", "Y")
    assert problems(c.Handoff, {"from_domain": "a", "to_domain": "b", "on_accept": ["X"]}) == [
        "/on_accept: expected a list of 2 items, got a list"]


def test_omitted_none_fields() -> None:
    assert to_data(c.GuardVariable(type="bool")) == {"type": "bool"}
    assert to_data(c.GuardVariable(type="enum", values=("a",))) == {"type": "enum", "values": ["a"]}


def test_problems_are_capped() -> None:
    with pytest.raises(ContractError) as info:
        from_data(tuple[c.Level, ...], [{"name": 1, "value": "x"}] * 30)
    assert len(info.value.problems) == 20 and str(info.value).endswith("(and 40 more)")


class Moved(TypedDict, total=False):
    task: str
    attest: list[str]


def test_typed_dicts_are_checked_and_kept_as_dicts() -> None:
    assert from_data(Moved, {"task": "T1"}) == {"task": "T1"}
    assert problems(Moved, {"task": 1, "x": 2}) == ["/task: expected a string, got a number",
                                                     "/x: unknown field of Moved"]
