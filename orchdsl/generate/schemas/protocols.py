"""Stage 4, generation: the schemas of the protocols' messages.

In: the model and its ``Enums``. Out: the schemas of delegations and their
acknowledgements, consultations, broadcasts, handoffs, inbox notices, one
schema per standup (its sections shaped when known, free-form otherwise), and
the compiled communication protocols
(``_system/config/communication_protocols.yaml``).
"""

from __future__ import annotations

from orchdsl_runtime.contract import layout

from orchdsl.generate.common import WEEK
from orchdsl.generate.schemas.base import (
    BOOL,
    BUDGET,
    COUNT,
    DATE,
    PERCENT,
    ST_ID,
    STRING,
    STRINGS,
    TIMESTAMP,
    Enums,
    Schema,
    arr,
    budget_schema,
    const,
    document,
    enum,
    nullable,
    obj,
)
from orchdsl.model import Organisation

ARTIFACT_TYPES = ["documentation", "code", "deployment", "data", "api_contract"]
ARTIFACT_STATUS = ["complete", "in_progress", "incomplete"]
CHECK_STATUS = ["complete", "incomplete"]
DECISION_MAKING = ["autonomous", "review_required", "consult_required"]
ACK_STATUS = ["pending", "accepted", "declined"]
BLOCKER_TYPES = ["missing_dependency", "technical_uncertainty", "external_dependency", "scope_ambiguity"]
PROGRESS_STATUS = ["on_track", "at_risk", "blocked"]
NOTICE_TYPES = list(layout.NOTICE_TYPES)
"""What the runtime notifies an agent of in its inbox (the runtime's layout declares them)."""


def delegation(org: Organisation, e: Enums) -> Schema:
    body = obj({
        "task_id": STRING,
        "strategic_tasks": arr({"type": "string", "pattern": ST_ID}),
        "scope": STRING,
        "authority": obj({
            "decision_making": enum(DECISION_MAKING),
            "escalation_path": arr(e.ref("actor")),
        }),
        "resources": obj({
            "team_members": arr(e.ref("actor")),
            "tools_access": STRINGS,
        }, []),
        "success_criteria": arr(STRING, 1),
        "constraints": STRINGS,
        "deadline": TIMESTAMP,
        "estimated_effort": BUDGET,
    }, ["scope"])
    props: dict[str, Schema] = {
        "type": const("delegation"),
        "from": e.ref("actor"),
        "to": e.ref("actor"),
        "timestamp": TIMESTAMP,
        "instruction_id": nullable(STRING),
        "priority": e.of(e.delegation_priorities, STRING),
        "message": STRING,
        "delegation": body,
        "context": obj({"why_this_matters": STRING, "related_work": STRINGS, "risks": STRINGS}, []),
        "acknowledgement_required": BOOL,
        "response_deadline": TIMESTAMP,
        "acknowledgement": obj({
            "status": enum(ACK_STATUS),
            "acknowledged_at": nullable(TIMESTAMP),
            "notes": STRING,
            "overdue": {"type": "boolean", "description": "the deadline passed unacknowledged and "
                                                         "the delegation was escalated"},
        }, ["status"], description="where the acknowledgement stands (kept by the runtime)"),
        "id": {"type": "string", "description": "the delegation's id in the run (D1, D2, ...): "
                                                "what `orchdsl run ack` takes"},
    }
    return document(org, e, "delegation", "Delegation message",
                    obj(props, ["type", "from", "to", "timestamp", "instruction_id", "priority",
                                "message", "delegation", "acknowledgement_required"]))


def consultation(org: Organisation, e: Enums) -> Schema:
    """A question to a consultant, or its answer; both go to the other side's inbox."""
    names = [k.name for k in org.consultations]
    props: dict[str, Schema] = {
        "type": const("consultation"),
        "consultation": e.of(names, STRING, "the consultation of the spec"),
        "kind": enum(["question", "answer"]),
        "from": e.ref("actor"),
        "to": e.ref("actor"),
        "timestamp": TIMESTAMP,
        "instruction_id": STRING,
        "question": STRING,
        "answer": STRING,
        "default_used": {"type": "boolean", "description": "the answer is the spec's default, "
                                                            "given because the timeout passed"},
    }
    return document(org, e, "consultation", "Consultation message",
                    obj(props, ["type", "consultation", "kind", "from", "to", "timestamp", "question"]))


def acknowledgement(org: Organisation, e: Enums) -> Schema:
    props: dict[str, Schema] = {
        "type": const("acknowledgement"),
        "from": e.ref("actor"),
        "to": e.ref("actor"),
        "timestamp": TIMESTAMP,
        "delegation_ref": {"type": "string", "description":
                           "the acknowledged delegation: its file name in the recipient's inbox"},
        "accepted": BOOL,
        "notes": STRING,
    }
    return document(org, e, "acknowledgement", "Acknowledgement of a delegation",
                    obj(props, ["type", "from", "to", "timestamp", "delegation_ref", "accepted"]))


def broadcast(org: Organisation, e: Enums) -> Schema:
    props: dict[str, Schema] = {
        "type": const("broadcast"),
        "from": e.ref("actor"),
        "to": e.ref("channel", "the channel"),
        "timestamp": TIMESTAMP,
        "announcement_type": e.of(e.kinds, STRING),
        "priority": e.of(e.broadcast_priorities, STRING),
        "subject": STRING,
        "message": STRING,
        "impact": obj({
            "affected_instructions": STRINGS,
            "affected_domains": arr(e.ref("domain")),
            "action_required": BOOL,
        }, []),
        "action_items": arr(obj({
            "role": e.ref("actor"),
            "action": STRING,
            "deadline": TIMESTAMP,
        }, ["role", "action"])),
        "context": obj({"reason": STRING, "background": STRING}, []),
    }
    return document(org, e, "broadcast", "Broadcast announcement",
                    obj(props, ["type", "from", "to", "timestamp", "announcement_type", "priority",
                                "subject", "message"]))


def handoff(org: Organisation, e: Enums) -> Schema:
    acceptance: dict[str, Schema] = {
        "downstream_lead": e.ref("lead", "the lead of the receiving domain"),
        "acknowledged": BOOL,
        "acknowledged_at": nullable(TIMESTAMP),
        "ready_to_integrate": BOOL,
        "questions_or_concerns": STRINGS,
    }
    if any(h.on_reject for h in org.handoffs):
        acceptance["rejected"] = BOOL
        acceptance["rejection_reason"] = STRING
    props: dict[str, Schema] = {
        "type": const("handoff"),
        "from_domain": e.ref("domain"),
        "from_task": STRING,
        "to_domain": e.ref("domain"),
        "to_task": nullable(STRING),
        "timestamp": TIMESTAMP,
        "instruction_id": STRING,
        "handoff_summary": STRING,
        "artifacts": arr(obj({
            "name": STRING,
            "type": enum(ARTIFACT_TYPES),
            "location": STRING,
            "status": enum(ARTIFACT_STATUS),
            "notes": STRING,
        }, ["name", "type", "location", "status"])),
        "handoff_checklist": arr(obj({
            "item": STRING,
            "status": enum(CHECK_STATUS),
            "verified_by": nullable(e.ref("actor")),
        }, ["item", "status"]), 1),
        "acceptance": obj(acceptance, ["downstream_lead", "acknowledged"]),
    }
    return document(org, e, "handoff", "Cross-domain handoff",
                    obj(props, ["type", "from_domain", "from_task", "to_domain", "timestamp",
                                "instruction_id", "handoff_summary", "handoff_checklist",
                                "acceptance"]))


def notice(org: Organisation, e: Enums) -> Schema:
    """A notice in an agent's inbox (``inbox/{agent}/{type}_{YYYYMMDD_HHMMSS}_{seq}.yaml``)."""
    props: dict[str, Schema] = {
        "type": enum(NOTICE_TYPES, "what happened"),
        "from": e.of([*e.agents, "system", "human"], STRING,
                     "the agent that acted, `system` for the clock, `human` from outside"),
        "to": e.ref("agent"),
        "timestamp": TIMESTAMP,
        "seq": {"type": "integer", "minimum": 1, "description": "the event's number in the run's log"},
        "instruction_id": nullable(STRING),
        "task_id": nullable(STRING),
        "message": STRING,
    }
    return document(org, e, "notice", "Inbox notice", obj(props))


def _section(name: str, e: Enums) -> Schema:
    """The shape of a known standup section (facts §2); any other is free-form."""
    state = e.ref("state")
    task_ref: Schema = {"type": "string"}
    blocker = {"anyOf": [STRING, obj({
        "task_id": task_ref,
        "type": enum(BLOCKER_TYPES),
        "description": STRING,
        "needs": STRING,
        "since": TIMESTAMP,
    }, ["description"])]}
    known: dict[str, Schema] = {
        "my_tasks": arr(obj({
            "task_id": task_ref,
            "status": state,
            "progress": {"type": "number", "minimum": 0, "maximum": 100,
                         "description": "percent done"},
            "time_spent": BUDGET,
            "estimated_remaining": BUDGET,
            "notes": STRING,
        }, ["task_id", "status"])),
        "blockers": arr(blocker),
        "help_needed": STRINGS,
        "accomplishments": STRINGS,
        "next_up": STRINGS,
        "team_summary": obj({"total": COUNT, **{s: COUNT for s in e.states}}, ["total"],
                            description="task counts: the total and one count per state"),
        "strategic_progress": arr(obj({
            "st_id": {"type": "string", "pattern": ST_ID},
            "progress": {"type": "number", "minimum": 0, "maximum": 100},
            "status": enum(PROGRESS_STATUS),
        }, ["st_id", "status"])),
        "team_capacity": arr(obj({
            "ic": e.ref("ic"),
            "utilization": PERCENT,
            "current_tasks": arr(task_ref),
            "availability": STRING,
        }, ["ic", "utilization"])),
        "handoffs": arr({"anyOf": [STRING, obj({
            "task_id": task_ref,
            "to_domain": e.ref("domain"),
            "from_domain": e.ref("domain"),
            "status": STRING,
        }, [])]}),
        "risks": STRINGS,
        "next_steps": STRINGS,
        "instruction_progress": arr(obj({
            "instruction_id": STRING,
            "progress": {"type": "number", "minimum": 0, "maximum": 100},
            "status": enum(PROGRESS_STATUS),
            "notes": STRING,
        }, ["instruction_id", "status"])),
        "capacity_overview": obj({d: PERCENT for d in e.domains}, [],
                                 description="utilisation per domain, in percent"),
        "critical_path_status": {"anyOf": [STRING, obj({
            "status": enum(PROGRESS_STATUS),
            "tasks": arr(task_ref),
            "notes": STRING,
        }, ["status"])]},
        "escalations_this_week": arr(obj({
            "task_id": task_ref,
            "state": state,
            "escalated_to": e.ref("actor"),
            "reason": STRING,
            "resolved": BOOL,
        }, ["task_id", "reason"])),
    }
    return known.get(name, {"description": "a section of the spec's own; free-form"})


def standup_name(name: str) -> str:
    return f"standup-{name}"


def standup(org: Organisation, e: Enums, index: int) -> Schema:
    st = org.standups[index]
    weekly = st.every.kind == "time" and st.every.value >= WEEK
    from_ = e.of(_actor_values(e, st.from_), STRING)
    to = e.of(_actor_values(e, st.to), STRING)
    props: dict[str, Schema] = {
        "type": const("standup"),
        "standup": const(st.name),
        "from": from_,
        "to": to,
    }
    if weekly:
        props["week"] = {"type": "integer", "minimum": 1, "maximum": 53}
    else:
        props["date"] = DATE
    for section in st.sections:
        props[section] = _section(section, e)
    required = ["type", "standup", "from", "to", "week" if weekly else "date", *st.sections]
    title = f"Standup report `{st.name}` ({st.every.text})"
    return document(org, e, standup_name(st.name), title, obj(props, required))


def _actor_values(e: Enums, actor: str) -> list[str]:
    roles = e.people.resolve(actor)
    agents = [a for r in roles for a in e.people.agents_of(r)]
    return list(dict.fromkeys(roles + agents))


def communication_protocols(org: Organisation, e: Enums) -> Schema:
    budget: Schema = {"$ref": "#/$defs/budget"}
    fields: Schema = {"$ref": "#/$defs/fields"}
    role = e.ref("role")
    domain_or_any = e.of([*e.domains, "*"], STRING)
    move = nullable(obj({"from": e.ref("state"), "to": e.ref("state")}))
    props: dict[str, Schema] = {
        "delegation": obj({
            "path": STRING,
            "chain": STRINGS,
            "hops": arr(obj({"from": role, "to": arr(role), "domain": nullable(e.ref("domain"))})),
            "priorities": STRINGS,
            "acknowledgement": obj({"required": BOOL, "within": nullable(budget),
                                    "overdue_escalate_to": nullable(STRING), "path": STRING,
                                    "fields": fields}),
            "fields": fields,
        }),
        "broadcast": obj({
            "path": STRING,
            "kinds": STRINGS,
            "priorities": STRINGS,
            "channels": arr(obj({"name": e.ref("channel"), "description": nullable(STRING),
                                 "declared": STRINGS, "domain": nullable(e.ref("domain")),
                                 "members": arr(role), "agents": arr(e.ref("agent"))})),
            "fields": fields,
        }),
        "handoffs": obj({
            "path": STRING,
            "rules": arr(obj({"from_domain": domain_or_any, "to_domain": domain_or_any,
                              "description": nullable(STRING), "checklist": STRINGS,
                              "accepted_by": nullable(STRING), "on_accept": move, "on_reject": move,
                              "from_role": STRING, "to_role": STRING},
                             ["from_domain", "to_domain", "description", "checklist", "accepted_by", "on_accept",
                              "on_reject"])),
            "fields": fields,
        }),
        "standups": arr(obj({"name": STRING, "description": nullable(STRING), "from": STRING, "to": STRING,
                             "every": budget, "path": STRING,
                             "pairs": arr(obj({"from": role, "to": role})),
                             "sections": STRINGS, "fields": fields})),
        "consultations": arr(obj({"name": STRING, "description": nullable(STRING), "from": STRING,
                                  "to": STRING, "blocking": BOOL, "timeout": nullable(budget),
                                  "default": {"type": ["string", "integer", "null"]},
                                  "path": STRING, "fields": fields})),
    }
    body = obj(props)
    body["$defs"] = {"budget": budget_schema(), "fields": {
        "description": "a message's fields: a name, or {name: [its fields]} for a nested object",
        "type": "array",
        "items": {"anyOf": [STRING, {"type": "object", "minProperties": 1, "maxProperties": 1,
                                     "additionalProperties": {"$ref": "#/$defs/fields"}}]},
    }}
    return document(org, e, "communication-protocols", "Communication protocols", body)

