"""Loading the compiled model: format version, schema, references and indexes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from orchdsl_runtime import ModelError, load_model
from orchdsl_runtime.contract import model as contract

from orchdsl.generate import model_schema


def test_the_schema_is_generated_from_the_contract(v2_data: dict[str, Any]) -> None:
    schema = model_schema()
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(v2_data))
    assert set(schema["$defs"]) == {p.__name__ for p in contract.PARTS} - {"CompiledModel"}
    assert schema["$defs"]["Budget"]["properties"]["value"]["description"].startswith("seconds, tokens")
    assert "from" in schema["$defs"]["Standup"]["required"] and "from_" not in schema["$defs"]["Standup"]["properties"]


def test_v2_indexes(v2_data: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(v2_data))
    m = load_model(path)
    assert m.initial == "PENDING" and m.tiers == frozenset({1, 2, 3, 4})
    assert len(m.states) == 11
    assert m.agents["backend-developer-2"].domain == "backend"
    assert m.agents["backend-developer-2"].kind == "member"
    assert m.agents["backend-lead"].kind == "lead"
    assert m.domain_lead_role["frontend"] == "frontend-lead"
    assert m.domain_members["backend"] == ("backend-developer-1", "backend-developer-2", "senior-developer")
    assert m.role_ancestors["backend-developer"] == ("backend-lead", "tech-lead", "engineering-manager")
    rec = m.states["PENDING"].out["ASSIGNED"]
    assert rec.actors.relations == {"@lead"} and rec.guard is not None
    assert set(rec.guard_vars) == {"tier", "task.kind"}
    assert m.states["DOMAIN_REVIEW"].out["COMPLETED"].gates_at(2) == ("domain_review", "validation")
    assert [t.target for t in m.states["BLOCKED"].automatic] == ["ESCALATED"]
    assert m.gates["peer_review"].opens == {"UNDER_REVIEW": frozenset({2, 3, 4})}
    assert m.candidates["senior-developer"].skills["python"] == 1.0
    assert m.fit == {"simple": 0, "moderate": 1, "high": 2}
    assert m.agents_for("@lead", "qa") == ("qa-lead",)
    assert len(m.digest) == 64 and load_model(v2_data).digest == m.digest


def test_format_version(v2_data: dict[str, Any]) -> None:
    data = dict(v2_data, format_version=2)
    with pytest.raises(ModelError, match="format_version is 2"):
        load_model(data)


def test_schema_violations_are_reported(v2_data: dict[str, Any]) -> None:
    data = copy.deepcopy(v2_data)
    del data["org"]
    data["agents"][0]["role"] = 42
    with pytest.raises(ModelError) as info:
        load_model(data)
    assert "/: missing `org`" in str(info.value)
    assert "/agents/0/role: expected a string, got a number" in str(info.value)


def test_broken_references(v2_data: dict[str, Any]) -> None:
    data = copy.deepcopy(v2_data)
    data["lifecycle"]["states"][0]["transitions"][0]["target"] = "NOWHERE"
    with pytest.raises(ModelError, match="unknown state"):
        load_model(data)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "bad.json")
