"""Stage 4, generation: the schemas of the task lifecycle's files.

In: the model and its ``Enums``. Out: the schemas of the strategic and
tactical tasks, the strategic plan, a reviewer's gate decision, the gate
decisions and escalations the runtime records, and the compiled task state
machine (``_system/config/task_state_machine.yaml``). States, tiers, gates,
outcomes and score scales are the spec's own.
"""

from __future__ import annotations

from orchdsl.generate.schemas.base import (
    BOOL,
    BUDGET,
    COUNT,
    NUMBER,
    ST_ID,
    STRING,
    STRINGS,
    TASK_ID,
    TIMESTAMP,
    TT_ID,
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
from orchdsl.model import COMPLEXITIES, RELATIONS, Organisation

RISK_LEVELS = ["low", "medium", "high", "critical"]
ESCALATION_KINDS = ["task", "acknowledgement", "domain_capacity"]


def strategic_task(org: Organisation, e: Enums) -> Schema:
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


def tactical_task(org: Organisation, e: Enums) -> Schema:
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


def strategic_plan(org: Organisation, e: Enums) -> Schema:
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


def review(org: Organisation, e: Enums) -> Schema:
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


def escalation(org: Organisation, e: Enums) -> Schema:
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


def gate_decision(org: Organisation, e: Enums) -> Schema:
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


def task_state_machine(org: Organisation, e: Enums) -> Schema:
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
    state_props: dict[str, Schema] = {
        "description": nullable(STRING),
        "initial": BOOL,
        "terminal": nullable(enum(["success", "failure"])),
        "owner": nullable(STRING),
        "tiers": tier_list,
        "sla": nullable(sla),
        "heartbeat": nullable(budget),
        "requires": STRINGS,
        "next_states": arr(state_name),
    }
    required = list(state_props)
    state_props["escalation"] = obj({
        "policy": nullable(STRING), "repeat": {"type": "integer", "minimum": 0},
        "levels": arr(obj({"after": budget, "to": STRINGS}), 1),
    }, description="the escalation policy: levels paged in turn while a task stays in the state")
    state_props["notify"] = arr(obj({"to": STRINGS, "text": nullable(STRING)},
                                    description="who is told when a task enters the state"))
    state = obj(state_props, required)
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
    gate_notify = arr(obj({"to": STRINGS, "on": STRINGS, "text": nullable(STRING)},
                          description="who is told when the gate decides one of `on` (every outcome when empty)"))
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
        "notify": gate_notify,
    }, ["name", "description", "reviewer", "guards", "stages", "tiers", "criteria", "thresholds", "outcomes",
        "score"])
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
    body["$defs"] = {"budget": budget_schema(), "state_entry": state}
    return document(org, e, "task-state-machine", "Task state machine", body)

