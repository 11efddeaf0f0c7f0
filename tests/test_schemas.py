"""The generated JSON Schemas: valid draft 2020-12, generated from the spec, and
they accept the generated Agent_Memory files and the hand-written agent files."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from orchdsl.generate import build_files
from orchdsl.generate.schemas import agent_file_schemas
from orchdsl.model import Organisation
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLES = ROOT / "examples"
V2 = SPECS / "orchestration_v2.orch"
AGENT_FILES = EXAMPLES / "agent_files"

# Each hand-written agent file and the V2 schema it must satisfy.
EXAMPLE_SCHEMAS = {
    "strategic_task.yaml": "strategic-task",
    "tactical_task.yaml": "tactical-task",
    "delegation.yaml": "delegation",
    "acknowledgement.yaml": "acknowledgement",
    "consultation.yaml": "consultation",
    "broadcast.yaml": "broadcast",
    "handoff.yaml": "handoff",
    "ic_daily_report.yaml": "standup-ic-daily",
    "lead_daily_report.yaml": "standup-lead-daily",
    "tech_lead_weekly_report.yaml": "standup-tech-lead-weekly",
    "capacity_team.yaml": "capacity-team",
    "strategic_plan.yaml": "strategic-plan",
    "peer_review.yaml": "review",
    "risk_assessment.yaml": "review",
}

# Generated Agent_Memory files that have a schema.
MEMORY_SCHEMAS = {
    "_system/capacity/system_wide.yaml": "capacity-system-wide",
    "_system/skills/skill_taxonomy.yaml": "skill-taxonomy",
    "_system/config/task_state_machine.yaml": "task-state-machine",
    "_system/config/communication_protocols.yaml": "communication-protocols",
}


@functools.cache
def model(path: Path) -> Organisation:
    # Whether every spec checks clean is test_examples' concern; generation
    # needs only the model that lowering produced.
    result = check_files([path])
    assert result.model is not None, [d.message for d in result.diagnostics]
    return result.model


@functools.cache
def v2_schemas() -> dict[str, dict[str, Any]]:
    return agent_file_schemas(model(V2))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(v2_schemas()[name], format_checker=Draft202012Validator.FORMAT_CHECKER)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def errors(name: str, data: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(name).iter_errors(data)]


# ------------------------------------------------------------------ schemas are schemas


GOOD_SPECS = sorted(SPECS.glob("*.orch")) + sorted(EXAMPLES.glob("*.orch"))


@pytest.mark.parametrize("spec", GOOD_SPECS, ids=lambda p: p.name)
def test_every_schema_is_valid_draft_2020_12(spec: Path) -> None:
    schemas = agent_file_schemas(model(spec))
    assert {"strategic-task", "tactical-task", "delegation", "acknowledgement", "broadcast",
            "handoff", "capacity-team", "capacity-system-wide", "skill-taxonomy",
            "task-state-machine", "communication-protocols"} <= set(schemas)
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith(f"/{name}.schema.json")


def test_compiled_model_schema_is_valid_and_accepts_the_model() -> None:
    import json

    files = build_files(model(V2))
    schema = json.loads(files["schemas/compiled-model.schema.json"])
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(json.loads(files["model.json"])))


def test_written_schema_files_are_the_agent_file_schemas() -> None:
    import json

    files = build_files(model(V2))
    for name, schema in v2_schemas().items():
        assert json.loads(files[f"schemas/{name}.schema.json"]) == schema


def values(schema: dict[str, Any], node: dict[str, Any]) -> list[Any]:
    """The enum a property allows, following a `$ref` into the schema's `$defs`."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    if "anyOf" in node:
        return [v for alt in node["anyOf"] for v in values(schema, alt)]
    return list(node.get("enum", []))


def test_schemas_are_spec_specific() -> None:
    s = v2_schemas()
    states = [st.name for st in model(V2).lifecycle.states]
    tactical, broadcast = s["tactical-task"], s["broadcast"]
    assert values(tactical, tactical["properties"]["status"]) == states
    assert values(s["strategic-task"], s["strategic-task"]["properties"]["status"]) == states
    assert values(broadcast, broadcast["properties"]["to"]) == [
        "all", "domain-leads", "tech-leads", "frontend-team", "backend-team", "qa-team",
        "devops-team", "data-team", "security-team"]
    assert values(broadcast, broadcast["properties"]["announcement_type"]) == [
        "priority_change", "resource_shift", "milestone", "blocker", "celebration"]
    assert values(broadcast, broadcast["properties"]["priority"]) == ["critical", "high", "normal", "info"]
    assert values(s["delegation"], s["delegation"]["properties"]["priority"]) == [
        "critical", "high", "normal", "low"]
    assignee = values(tactical, tactical["properties"]["assigned_to"])
    assert "backend-developer-1" in assignee and "backend-lead" not in assignee
    # `$defs` hold only what the schema uses
    assert set(tactical["$defs"]) == {"state", "domain", "ic", "skill", "agent"}
    v1_schemas = agent_file_schemas(model(SPECS / "orchestration_v1.orch"))
    v1 = v1_schemas["tactical-task"]
    assert values(v1, v1["properties"]["status"]) == ["PENDING", "IN_PROGRESS", "BLOCKED", "COMPLETED"]


# ------------------------------------------------------------------ files validate


@pytest.mark.parametrize("spec", GOOD_SPECS, ids=lambda p: p.name)
def test_generated_memory_files_validate(spec: Path) -> None:
    org = model(spec)
    files = build_files(org)
    schemas = agent_file_schemas(org)
    checked = 0
    for rel, text in files.items():
        if not rel.startswith("Agent_Memory/") or not rel.endswith(".yaml"):
            continue
        inner = rel.removeprefix("Agent_Memory/")
        name = "capacity-team" if inner.endswith("/team.yaml") else MEMORY_SCHEMAS.get(inner)
        if name is None:
            continue
        found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                 for e in Draft202012Validator(schemas[name]).iter_errors(yaml.safe_load(text))]
        assert found == [], rel
        checked += 1
    assert checked == len(org.domains) + len(MEMORY_SCHEMAS)


def test_agent_file_examples_are_all_mapped() -> None:
    assert sorted(p.name for p in AGENT_FILES.glob("*.yaml")) == sorted(EXAMPLE_SCHEMAS)


@pytest.mark.parametrize("file,schema", sorted(EXAMPLE_SCHEMAS.items()))
def test_agent_file_examples_validate(file: str, schema: str) -> None:
    assert errors(schema, load(AGENT_FILES / file)) == []


# ------------------------------------------------------------------ and reject what is wrong


def _example(file: str) -> Any:
    return copy.deepcopy(load(AGENT_FILES / file))


def test_task_with_unknown_status_fails() -> None:
    for file, schema in (("tactical_task.yaml", "tactical-task"), ("strategic_task.yaml", "strategic-task")):
        data = _example(file)
        data["status"] = "DONE"
        assert any(e.startswith("status:") for e in errors(schema, data))


def test_standup_status_words_of_the_original_fail() -> None:
    # The original reports said `in_progress`; the lifecycle's state is IN_PROGRESS.
    data = _example("ic_daily_report.yaml")
    data["my_tasks"][0]["status"] = "in_progress"
    assert errors("standup-ic-daily", data)


@pytest.mark.parametrize("file,schema,change", [
    ("tactical_task.yaml", "tactical-task", {"assigned_to": "backend-lead"}),
    ("tactical_task.yaml", "tactical-task", {"assigned_to": "backend-developer-3"}),
    ("tactical_task.yaml", "tactical-task", {"id": "T1 .2"}),
    ("tactical_task.yaml", "tactical-task", {"complexity": "trivial"}),
    ("tactical_task.yaml", "tactical-task", {"estimated_effort": "six hours"}),
    ("tactical_task.yaml", "tactical-task", {"domain": "mobile"}),
    ("tactical_task.yaml", "tactical-task", {"deadline": None}),
    ("tactical_task.yaml", "tactical-task", {"colour": "red"}),
    ("strategic_task.yaml", "strategic-task", {"id": "../TT1.1"}),
    ("delegation.yaml", "delegation", {"priority": "urgent"}),
    ("delegation.yaml", "delegation", {"to": "qa-engineer-3"}),
    ("broadcast.yaml", "broadcast", {"to": "mobile-team"}),
    ("broadcast.yaml", "broadcast", {"announcement_type": "party"}),
    ("broadcast.yaml", "broadcast", {"priority": "low"}),
    ("acknowledgement.yaml", "acknowledgement", {"accepted": "yes"}),
    ("capacity_team.yaml", "capacity-team", {"domain": "mobile"}),
    ("strategic_plan.yaml", "strategic-plan", {"strategic_tasks": []}),
    ("consultation.yaml", "consultation", {"consultation": "tea-break"}),
    ("consultation.yaml", "consultation", {"kind": "reply"}),
    ("peer_review.yaml", "review", {"gate": "style_review"}),
    ("peer_review.yaml", "review", {"outcome": "PASS"}),  # an outcome of another gate
    ("risk_assessment.yaml", "review", {"outcome": "APPROVE_MAYBE"}),
])
def test_wrong_values_fail(file: str, schema: str, change: dict[str, Any]) -> None:
    data = _example(file)
    data.update(change)
    assert errors(schema, data)


def test_missing_required_field_fails() -> None:
    data = _example("delegation.yaml")
    del data["delegation"]["scope"]
    assert errors("delegation", data)
    data = _example("delegation.yaml")
    data["delegation"]["authority"] = {"decision_making": "autonomous"}  # authority given: all of it
    assert errors("delegation", data)
    data = _example("handoff.yaml")
    data["acceptance"]["downstream_lead"] = "frontend-developer-1"
    assert errors("handoff", data)


def test_handoff_may_be_rejected_when_the_spec_has_a_rejection_path() -> None:
    data = _example("handoff.yaml")
    data["acceptance"].update(acknowledged=False, rejected=True, rejection_reason="no staging")
    assert errors("handoff", data) == []
    v1 = model(SPECS / "orchestration_v1.orch")
    assert not any(h.on_reject for h in v1.handoffs)
    assert "rejected" not in agent_file_schemas(v1)["handoff"]["properties"]["acceptance"]["properties"]


def test_config_files_with_unknown_names_fail() -> None:
    files = build_files(model(V2))
    sm = yaml.safe_load(files["Agent_Memory/_system/config/task_state_machine.yaml"])
    assert errors("task-state-machine", sm) == []
    sm["transitions"][0]["to"] = "DONE"
    assert errors("task-state-machine", sm)
    sm = yaml.safe_load(files["Agent_Memory/_system/config/task_state_machine.yaml"])
    del sm["states"]["BLOCKED"]
    assert errors("task-state-machine", sm)
    protocols = yaml.safe_load(files["Agent_Memory/_system/config/communication_protocols.yaml"])
    protocols["broadcast"]["channels"][0]["name"] = "mobile-team"
    assert errors("communication-protocols", protocols)
    protocols = yaml.safe_load(files["Agent_Memory/_system/config/communication_protocols.yaml"])
    protocols["delegation"]["fields"].append({"a": "not a list"})
    assert errors("communication-protocols", protocols)


def test_risk_scores_follow_the_gate() -> None:
    data = _example("risk_assessment.yaml")
    data["scores"]["security_sensitivity"] = 11  # the scale is 1 to 10
    assert errors("review", data)
    data = _example("risk_assessment.yaml")
    del data["scores"]["data_integrity_risk"]  # every category is scored
    assert errors("review", data)
    data = _example("risk_assessment.yaml")
    data["scores"]["team_morale"] = 2
    assert errors("review", data)
