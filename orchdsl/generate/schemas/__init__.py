"""Stage 4, generation: JSON Schemas (draft 2020-12) of every file an agent reads or writes.

The model in, plain dicts out. The schemas are generated from the spec: the
enums of task states, roles, agents, domains, channels, priorities and
announcement types are the spec's own, so a file that names a state the
lifecycle lacks fails validation. ``agent_file_schemas(org)`` is what the
runtime and the tests use; ``build_files`` writes each one as
``schemas/{name}.schema.json``.

Timestamps and dates are strings (ISO 8601); YAML files must quote them, or be
read with a loader that keeps them as text.

The modules follow the language's areas: ``base`` (schema nodes and the
spec's enums), ``lifecycle`` (tasks, reviews, gate decisions, escalations,
the task state machine), ``protocols`` (messages, notices, standups, the
communication protocols) and ``resources`` (capacity, skills).
"""

from __future__ import annotations

from orchdsl.generate.schemas.base import Enums, Schema, field_list
from orchdsl.generate.schemas.lifecycle import (
    escalation,
    gate_decision,
    review,
    strategic_plan,
    strategic_task,
    tactical_task,
    task_state_machine,
)
from orchdsl.generate.schemas.protocols import (
    NOTICE_TYPES,
    acknowledgement,
    broadcast,
    communication_protocols,
    consultation,
    delegation,
    handoff,
    notice,
    standup,
    standup_name,
)
from orchdsl.generate.schemas.resources import capacity_system_wide, capacity_team, skill_taxonomy
from orchdsl.model import Organisation


def agent_file_schemas(org: Organisation) -> dict[str, Schema]:
    """Every schema of a file an agent reads or writes, by name (``schemas/{name}.schema.json``)."""
    e = Enums(org)
    out: dict[str, Schema] = {
        "strategic-task": strategic_task(org, e),
        "tactical-task": tactical_task(org, e),
        "delegation": delegation(org, e),
        "acknowledgement": acknowledgement(org, e),
        "consultation": consultation(org, e),
        "broadcast": broadcast(org, e),
        "handoff": handoff(org, e),
        "strategic-plan": strategic_plan(org, e),
        "review": review(org, e),
        "notice": notice(org, e),
        "escalation": escalation(org, e),
        "gate-decision": gate_decision(org, e),
    }
    for i, st in enumerate(org.standups):
        out[standup_name(st.name)] = standup(org, e, i)
    out["capacity-team"] = capacity_team(org, e)
    out["capacity-system-wide"] = capacity_system_wide(org, e)
    out["skill-taxonomy"] = skill_taxonomy(org, e)
    out["task-state-machine"] = task_state_machine(org, e)
    out["communication-protocols"] = communication_protocols(org, e)
    return out



__all__ = ["NOTICE_TYPES", "Schema", "agent_file_schemas", "field_list", "standup_name"]
