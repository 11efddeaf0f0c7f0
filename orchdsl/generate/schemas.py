"""JSON Schemas (draft 2020-12) of every file an agent reads or writes.

The model in, plain dicts out. The schemas are generated from the spec: the
enums of task states, roles, agents, domains, channels, priorities and
announcement types are the spec's own, so a file that names a state the
lifecycle lacks fails validation. ``agent_file_schemas(org)`` is what the
runtime and the tests use; ``build_files`` writes each one as
``schemas/{name}.schema.json``.

Timestamps and dates are strings (ISO 8601); YAML files must quote them, or be
read with a loader that keeps them as text.
"""

from __future__ import annotations

from typing import Any

from orchdsl.generate.common import WEEK, People
from orchdsl.model import COMPLEXITIES, FACTORS, RELATIONS, Organisation

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE = "https://orchdsl.dev/schemas"

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
STRINGS: Schema = {"type": "array", "items": {"type": "string"}}
BOOL: Schema = {"type": "boolean"}
COUNT: Schema = {"type": "integer", "minimum": 0}
NUMBER: Schema = {"type": "number", "minimum": 0}
PERCENT: Schema = {"type": "number", "minimum": 0, "description": "a percent: 75 is 75 %"}
TIMESTAMP: Schema = {"type": "string", "format": "date-time",
                     "description": "ISO 8601, e.g. 2025-01-15T09:30:00Z"}
DATE: Schema = {"type": "string", "format": "date", "description": "ISO 8601, e.g. 2025-01-15"}
BUDGET_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|h|d|w|K|M)$"
BUDGET: Schema = {"type": "string", "pattern": BUDGET_PATTERN,
                  "description": "hours or tokens as in the spec: 4h, 1.5d, 30m, 50K, 1.2M"}
ST_ID = r"^ST[0-9]+$"
TT_ID = r"^TT[0-9]+\.[0-9]+$"
TASK_ID = r"^(ST[0-9]+|TT[0-9]+\.[0-9]+)$"
BLOCKER_TYPES = ["missing_dependency", "technical_uncertainty", "external_dependency", "scope_ambiguity"]
RISK_LEVELS = ["low", "medium", "high", "critical"]
PROGRESS_STATUS = ["on_track", "at_risk", "blocked"]
ARTIFACT_TYPES = ["documentation", "code", "deployment", "data", "api_contract"]
ARTIFACT_STATUS = ["complete", "in_progress", "incomplete"]
CHECK_STATUS = ["complete", "incomplete"]
DECISION_MAKING = ["autonomous", "review_required", "consult_required"]
ACK_STATUS = ["pending", "accepted", "declined"]
NOTICE_TYPES = [
    "task_assigned", "assignment_escalated", "task_reassigned", "sla_warning", "sla_escalation",
    "heartbeat_missed", "handoff_created", "handoff_accepted", "handoff_rejected", "delegation_overdue",
    "clarification_recorded", "domain_capacity_escalated", "capacity_band",
]
"""What the runtime notifies an agent of in its inbox (docs/runtime.md, "Projection").
Delegations, acknowledgements, broadcasts and standup reports have files of their own."""
ESCALATION_KINDS = ["task", "acknowledgement", "domain_capacity"]


def obj(props: dict[str, Schema], required: list[str] | None = None, *, extra: bool = False,
        description: str | None = None) -> Schema:
    """An object with these properties, in this order; closed unless ``extra``."""
    s: Schema = {"type": "object"}
    if description:
        s["description"] = description
    s["properties"] = props
    s["required"] = list(props) if required is None else required
    s["additionalProperties"] = extra
    return s


def arr(items: Schema, min_items: int = 0) -> Schema:
    s: Schema = {"type": "array", "items": items}
    if min_items:
        s["minItems"] = min_items
    return s


def enum(values: list[Any], description: str | None = None) -> Schema:
    s: Schema = {"enum": list(dict.fromkeys(values))}
    if description:
        s["description"] = description
    return s


def nullable(s: Schema) -> Schema:
    return {"anyOf": [s, {"type": "null"}]}


def const(value: str) -> Schema:
    return {"const": value}


def document(org: Organisation, e: _Enums, name: str, title: str, body: Schema) -> Schema:
    """A whole schema: ``$schema``, ``$id``, title, the body, then the ``$defs`` it used."""
    head: Schema = {
        "$schema": DRAFT,
        "$id": f"{BASE}/{org.org.name}/{name}.schema.json",
        "title": f"{title} ({org.org.name})",
    }
    out = {**head, **body}
    defs = {k: v for k, v in e.defs.items() if k in e.used}
    if defs:
        out["$defs"] = {**defs, **out.get("$defs", {})}
    e.used.clear()
    return out


class _Enums:
    """The spec's names that the schemas constrain values to."""

    def __init__(self, org: Organisation) -> None:
        p = People(org)
        self.people = p
        self.states = [s.name for s in org.lifecycle.states]
        self.roles = [r.id for r in org.roles]
        self.agents = [a.id for a in p.agents]
        self.actors = list(dict.fromkeys(self.roles + self.agents))
        self.ics = p.member_agents()
        self.leads = list(dict.fromkeys(p.leads))
        self.domains = [d.name for d in org.domains]
        self.channels = [c.name for c in org.broadcast.channels]
        # Tasks exist only at the tiers with a task workflow (the lifecycle's).
        self.tiers = list(org.lifecycle.tiers) or [t.number for t in org.tiers]
        self.gates = [g.name for g in org.gates]
        self.skills = org.skills.all_skills()
        self.levels = [lv.name for lv in org.skills.levels]
        self.experience = [lv.name for lv in org.experience]
        self.delegation_priorities = list(org.delegation.priorities) if org.delegation else []
        self.kinds = list(org.broadcast.kinds)
        self.broadcast_priorities = list(org.broadcast.priorities)
        self.defs: dict[str, Schema] = {
            "state": self.of(self.states, STRING, "a state of the lifecycle"),
            "role": self.of(self.roles, STRING, "a role"),
            "agent": self.of(self.agents, STRING, "an agent"),
            "actor": self.of(self.actors, STRING, "a role or an agent"),
            "ic": self.of(self.ics, STRING, "an IC agent"),
            "lead": self.of(self.leads, STRING, "a domain lead"),
            "domain": self.of(self.domains, STRING, "a domain"),
            "channel": self.of(self.channels, STRING, "a broadcast channel"),
            "skill": self.of(self.skills, STRING, "a skill of the taxonomy"),
        }
        self.used: set[str] = set()
        self.factors = list(org.assignment.weights) if org.assignment and org.assignment.weights \
            else list(FACTORS)

    def ref(self, name: str, description: str | None = None) -> Schema:
        """A reference to one of the spec's enums, kept once under ``$defs``."""
        self.used.add(name)
        s: Schema = {"$ref": f"#/$defs/{name}"}
        if description:
            s["description"] = description
        return s

    def of(self, values: list[Any], fallback: Schema, description: str | None = None) -> Schema:
        """An enum of the spec's values, or ``fallback`` when the spec declares none."""
        return enum(values, description) if values else dict(fallback)


# --------------------------------------------------------------------- tasks


def strategic_task(org: Organisation, e: _Enums) -> Schema:
    props: dict[str, Schema] = {
        "id": {"type": "string", "pattern": ST_ID},
        "type": const("strategic"),
        "tier": e.of(e.tiers, COUNT),
        "instruction_id": STRING,
        "description": STRING,
        "owner": e.ref("actor", "the role (or agent) that owns the strategic task"),
        "status": e.ref("state", "the task's state in the lifecycle"),
        "scope": obj({
            "domains": arr(e.ref("domain"), 1),
            "estimated_duration_range": {"type": "string",
                                         "description": "e.g. \"2-3 days\""},
        }, ["domains"]),
        "strategic_acceptance_criteria": arr(STRING, 1),
        "dependencies": obj({
            "requires": arr({"type": "string", "pattern": ST_ID}),
            "blocks": arr({"type": "string", "pattern": ST_ID}),
        }, []),
        "skill_requirements": arr(e.ref("skill")),
        "complexity": enum(list(COMPLEXITIES)),
        "risk_level": enum(RISK_LEVELS),
    }
    required = ["id", "type", "tier", "instruction_id", "description", "owner", "status", "scope",
                "strategic_acceptance_criteria"]
    return document(org, e, "strategic-task", "Strategic task", obj(props, required))


def tactical_task(org: Organisation, e: _Enums) -> Schema:
    rationale = {
        "anyOf": [
            STRING,
            obj({
                "score": NUMBER,
                "factors": obj({f: {"type": "number"} for f in e.factors}, []),
                "summary": STRING,
            }, []),
        ],
        "description": "why this IC: a sentence, or the score and each factor",
    }
    props: dict[str, Schema] = {
        "id": {"type": "string", "pattern": TT_ID},
        "type": const("tactical"),
        "parent_strategic_task": nullable({"type": "string", "pattern": ST_ID,
                                           "description": "null at the tiers without strategic planning"}),
        "instruction_id": STRING,
        "tier": e.of(e.tiers, COUNT),
        "domain": e.ref("domain"),
        "description": STRING,
        "status": e.ref("state", "the task's state in the lifecycle"),
        "assigned_to": nullable(e.ref("ic", "an IC agent of the spec")),
        "assignment_rationale": rationale,
        "estimated_effort": BUDGET,
        "skill_requirements": obj({
            "required": arr(e.ref("skill")),
            "nice_to_have": arr(e.ref("skill")),
        }, ["required"]),
        "complexity": enum(list(COMPLEXITIES)),
        "priority": e.of(e.delegation_priorities, STRING),
        "tactical_acceptance_criteria": arr(STRING, 1),
        "dependencies": arr({"type": "string", "pattern": TASK_ID}),
        "deadline": TIMESTAMP,
    }
    required = ["id", "type", "parent_strategic_task", "instruction_id", "domain", "description",
                "status", "estimated_effort", "complexity", "tactical_acceptance_criteria"]
    return document(org, e, "tactical-task", "Tactical task", obj(props, required))


def _scores(categories: list[str], low: int | None, high: int | None) -> Schema:
    """Risk scores: every category of the gate, each an integer on the gate's scale."""
    score: Schema = {"type": "integer"}
    if low is not None:
        score["minimum"] = low
    if high is not None:
        score["maximum"] = high
    return obj({c: score for c in categories}, description="every category scored")


def strategic_plan(org: Organisation, e: _Enums) -> Schema:
    props: dict[str, Schema] = {
        "instruction_id": STRING,
        "tier": e.of(e.tiers, COUNT),
        "summary": STRING,
        "strategic_tasks": arr({"type": "string", "pattern": ST_ID}, 1),
        "domains": arr(e.ref("domain")),
        "consultations": arr(obj({"with": e.ref("actor"), "question": STRING, "answer": STRING},
                                 ["with", "question"])),
    }
    return document(org, e, "strategic-plan", "Strategic plan of an instruction",
                    obj(props, ["instruction_id", "tier", "summary", "strategic_tasks"]))


def review(org: Organisation, e: _Enums) -> Schema:
    """A gate decision: one alternative per gate, with that gate's outcomes and criteria."""
    head: dict[str, Schema] = {
        "type": const("review"),
        "task_id": {"type": "string", "pattern": TASK_ID},
        "instruction_id": STRING,
        "reviewer": e.ref("actor"),
        "timestamp": TIMESTAMP,
    }
    alternatives: list[Schema] = []
    for g in org.gates:
        props = dict(head)
        props["gate"] = const(g.name)
        props["outcome"] = enum([o.name for o in g.outcomes]) if g.outcomes else STRING
        if g.criteria:
            props["criteria"] = obj({c: {"type": ["boolean", "number", "string"]} for c in g.criteria}, [],
                                    description="each criterion judged: met (true/false), or a value "
                                                "such as a coverage percent")
        if g.score_categories:
            props["scores"] = _scores(g.score_categories, g.score_min, g.score_max)
            props["total"] = {"type": "integer"}
        props["notes"] = STRING
        required = ["type", "instruction_id", "reviewer", "timestamp", "gate", "outcome"]
        if g.score_categories:
            required += ["scores", "total"]
        alternatives.append(obj(props, required,
                                description=f"a decision of the `{g.name}` gate"))
    body: Schema = {"oneOf": alternatives} if alternatives else obj(head)
    return document(org, e, "review", "Gate decision", body)


# --------------------------------------------------------------------- messages


def delegation(org: Organisation, e: _Enums) -> Schema:
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


def consultation(org: Organisation, e: _Enums) -> Schema:
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


def acknowledgement(org: Organisation, e: _Enums) -> Schema:
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


def broadcast(org: Organisation, e: _Enums) -> Schema:
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


def handoff(org: Organisation, e: _Enums) -> Schema:
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


# --------------------------------------------------------------------- runtime records


def notice(org: Organisation, e: _Enums) -> Schema:
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


def escalation(org: Organisation, e: _Enums) -> Schema:
    """An escalation: of a task (its SLA, or nobody to assign it to), of a delegation not
    acknowledged in time, or of a domain too long above its capacity limit."""
    props: dict[str, Schema] = {
        "id": {"type": "string", "pattern": r"^E[0-9]+$"},
        "kind": enum(ESCALATION_KINDS, "a task's SLA or assignment, an overdue acknowledgement, "
                                       "a domain over capacity"),
        "task_id": nullable(STRING),
        "instruction_id": nullable(STRING),
        "delegation_id": nullable(STRING),
        "domain": nullable(e.ref("domain")),
        "timestamp": TIMESTAMP,
        "to": arr(e.ref("agent")),
        "reason": STRING,
        "task_status": nullable(e.ref("state")),
    }
    return document(org, e, "escalation", "Escalation", obj(props))


def gate_decision(org: Organisation, e: _Enums) -> Schema:
    """A gate decision as the runtime recorded it (``{instruction}/decisions/``)."""
    outcomes = [o.name for g in org.gates for o in g.outcomes]
    props: dict[str, Schema] = {
        "task_id": STRING,
        "instruction_id": STRING,
        "gate": e.of(e.gates, STRING),
        "outcome": e.of(outcomes, STRING),
        "effect": enum(["pass", "hold", "move"]),
        "reviewer": e.ref("agent"),
        "timestamp": TIMESTAMP,
        "seq": {"type": "integer", "minimum": 1},
        "state": e.ref("state", "the state the task was in"),
        "visit": {"type": "integer", "minimum": 1},
        "scores": nullable({"type": "object", "additionalProperties": {"type": "integer"}}),
        "total": nullable({"type": "integer"}),
        "measures": nullable({"type": "object", "additionalProperties": {"type": "number"}}),
    }
    required = ["task_id", "instruction_id", "gate", "outcome", "effect", "reviewer", "timestamp", "seq",
                "state", "visit"]
    return document(org, e, "gate-decision", "Gate decision (runtime record)", obj(props, required))


# --------------------------------------------------------------------- standups


def _section(name: str, e: _Enums) -> Schema:
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


def standup(org: Organisation, e: _Enums, index: int) -> Schema:
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


def _actor_values(e: _Enums, actor: str) -> list[str]:
    roles = e.people.resolve(actor)
    agents = [a for r in roles for a in e.people.agents_of(r)]
    return list(dict.fromkeys(roles + agents))


# --------------------------------------------------------------------- system files


def _bands(e: _Enums) -> Schema:
    action = nullable(obj({"kind": enum(["notify", "escalate", "refuse_new_work"]),
                           "target": nullable(STRING)}))
    return arr(obj({"name": STRING, "at_percent": PERCENT, "action": action}))


def capacity_team(org: Organisation, e: _Enums) -> Schema:
    limit = nullable(obj({"above_percent": PERCENT, "for": nullable(STRING), "action": STRING}, []))
    ic = obj({
        "agent": e.ref("ic"),
        "role": e.of(e.people.members, STRING),
        "experience": nullable(e.of(e.experience, STRING)),
        "availability": obj({"hours_per_day": NUMBER}),
        "current_allocation": arr(obj({"task": STRING, "estimated_remaining": NUMBER},
                                      description="estimated_remaining in hours")),
        "total_committed": NUMBER,
        "capacity_used": PERCENT,
    })
    props: dict[str, Schema] = {
        "domain": e.ref("domain"),
        "lead": e.ref("lead"),
        "team": arr(ic),
        "capacity": obj({"total": NUMBER, "utilized": NUMBER, "utilization": PERCENT},
                        description="hours per day: total is ICs x hours; utilization in percent"),
        "thresholds": obj({"bands": _bands(e), "ic_limit": limit, "domain_limit": limit}),
        "forecast": obj({"window_days": NUMBER, "by_date": {
            "type": "object", "additionalProperties": PERCENT,
            "description": "date (YYYY-MM-DD) -> forecast utilisation in percent"}}),
    }
    return document(org, e, "capacity-team", "Capacity of one domain", obj(props))


def capacity_system_wide(org: Organisation, e: _Enums) -> Schema:
    props: dict[str, Schema] = {
        "hours_per_day": NUMBER,
        "horizon_days": NUMBER,
        "domains": arr(obj({
            "domain": e.ref("domain"),
            "ics": COUNT,
            "total": NUMBER,
            "utilized": NUMBER,
            "utilization": PERCENT,
            "file": STRING,
        })),
        "total": NUMBER,
        "utilized": NUMBER,
        "utilization": PERCENT,
        "thresholds": obj({"bands": _bands(e)}),
    }
    return document(org, e, "capacity-system-wide", "Capacity of the whole organisation", obj(props))


def skill_taxonomy(org: Organisation, e: _Enums) -> Schema:
    level = e.of(e.levels, STRING)
    member = obj({
        "role": e.of(e.people.members, STRING),
        "count": {"type": "integer", "minimum": 1},
        "agents": arr(e.ref("agent")),
        "experience": nullable(e.of(e.experience, STRING)),
        "hours_per_day": nullable(NUMBER),
        "skills": {"type": "object", "propertyNames": e.ref("skill"),
                   "additionalProperties": level},
        "learning": arr(e.ref("skill")),
    })
    props: dict[str, Schema] = {
        "categories": {"type": "object", "additionalProperties": arr(e.ref("skill"))},
        "levels": {"type": "object", "additionalProperties": {"type": "integer"}},
        "experience": {"type": "object", "additionalProperties": {"type": "integer"}},
        "skill_matrix": {"type": "object", "propertyNames": e.ref("domain"),
                         "additionalProperties": obj({
                             "lead": e.ref("lead"),
                             "needs": arr(e.ref("skill")),
                             "members": arr(member),
                         })},
    }
    return document(org, e, "skill-taxonomy", "Skill taxonomy and skill matrices", obj(props))


# --------------------------------------------------------------------- configuration files


def _budget_schema() -> Schema:
    return obj({"text": STRING, "kind": enum(["time", "tokens", "estimate", "multiple"]),
                "value": {"type": "number", "exclusiveMinimum": 0}},
               description="value in seconds (time), tokens, or a share of the estimate")


def task_state_machine(org: Organisation, e: _Enums) -> Schema:
    budget: Schema = {"$ref": "#/$defs/budget"}
    state_name = e.ref("state")
    role_list = arr(e.ref("role"))
    tier_list = arr({"type": "integer", "minimum": 0})
    sla = obj({
        "target": nullable(STRING),
        "warn": nullable(STRING),
        "warn_to": nullable(STRING),
        "escalate": nullable(STRING),
        "escalate_to": nullable(STRING),
        "by_tier": arr(obj({"tiers": arr({"type": "integer", "minimum": 0}, 1), "target": nullable(budget),
                            "warn": nullable(budget), "escalate": nullable(budget)})),
    }, description="thresholds as written, then resolved per tier")
    state = obj({
        "description": nullable(STRING),
        "initial": BOOL,
        "terminal": nullable(enum(["success", "failure"])),
        "owner": nullable(STRING),
        "tiers": tier_list,
        "sla": nullable(sla),
        "heartbeat": nullable(budget),
        "requires": STRINGS,
        "next_states": arr(state_name),
    })
    transition = obj({
        "from": state_name,
        "to": state_name,
        "label": nullable(STRING),
        "guard": nullable(STRING),
        "actors": STRINGS,
        "automatic": nullable(obj({"after": budget, "actor": const("@system")})),
        "tiers": tier_list,
        "gates": arr(obj({"gate": e.of(e.gates, STRING), "tiers": tier_list})),
    })
    gate = obj({
        "name": e.of(e.gates, STRING),
        "description": nullable(STRING),
        "reviewer": nullable(STRING),
        "guards": arr(obj({"from": state_name, "to": state_name})),
        "stages": STRINGS,
        "tiers": tier_list,
        "criteria": STRINGS,
        "thresholds": arr(obj({"criterion": STRING, "tier": {"type": "integer"},
                               "minimum_percent": NUMBER})),
        "outcomes": arr(obj({"name": STRING, "effect": enum(["pass", "hold", "move"]),
                             "target": nullable(state_name)})),
        "score": nullable(obj({"categories": STRINGS, "min": {"type": "integer"},
                               "max": {"type": "integer"},
                               "bands": arr(obj({"low": {"type": "integer"}, "high": {"type": "integer"},
                                                 "outcome": STRING}))})),
    })
    props: dict[str, Schema] = {
        "lifecycle": STRING,
        "tiers": tier_list,
        "initial_state": nullable(state_name),
        "terminal_states": arr(state_name),
        "relations": {"type": "object",
                      "propertyNames": enum(list(RELATIONS)),
                      "additionalProperties": obj({"meaning": STRING, "roles": role_list}),
                      "description": "each relation used, what it means and the roles it can be"},
        "states": obj({name: {"$ref": "#/$defs/state_entry"} for name in e.states}),
        "transitions": arr(transition),
        "gates": arr(gate),
    }
    body = obj(props)
    body["$defs"] = {"budget": _budget_schema(), "state_entry": state}
    return document(org, e, "task-state-machine", "Task state machine", body)


def communication_protocols(org: Organisation, e: _Enums) -> Schema:
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
                              "accepted_by": nullable(STRING), "on_accept": move, "on_reject": move})),
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
    body["$defs"] = {"budget": _budget_schema(), "fields": {
        "description": "a message's fields: a name, or {name: [its fields]} for a nested object",
        "type": "array",
        "items": {"anyOf": [STRING, {"type": "object", "minProperties": 1, "maxProperties": 1,
                                     "additionalProperties": {"$ref": "#/$defs/fields"}}]},
    }}
    return document(org, e, "communication-protocols", "Communication protocols", body)


# --------------------------------------------------------------------- the set


def agent_file_schemas(org: Organisation) -> dict[str, Schema]:
    """Every schema of a file an agent reads or writes, by name (``schemas/{name}.schema.json``)."""
    e = _Enums(org)
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


def field_list(schema: Schema) -> list[Any]:
    """The fields of an object schema, nested: ``[name, {name: [subfield, ...]}, ...]``."""
    out: list[Any] = []
    for name, sub in schema.get("properties", {}).items():
        inner = sub.get("items", sub) if sub.get("type") == "array" else sub
        if inner.get("type") == "object" and inner.get("properties"):
            out.append({name: field_list(inner)})
        else:
            out.append(name)
    return out
