"""Stage 4, generation: the schemas of the capacity and skill files.

In: the model and its ``Enums``. Out: the schemas of one domain's capacity
file, the organisation-wide capacity file and the skill taxonomy with each
domain's skill matrix (the ``_system/`` files the runtime rewrites).
"""

from __future__ import annotations

from orchdsl.generate.schemas.base import (
    COUNT,
    NUMBER,
    PERCENT,
    STRING,
    Enums,
    Schema,
    arr,
    document,
    enum,
    nullable,
    obj,
)
from orchdsl.model import Organisation


def _bands(e: Enums) -> Schema:
    action = nullable(obj({"kind": enum(["notify", "escalate", "refuse_new_work"]),
                           "target": nullable(STRING)}))
    return arr(obj({"name": STRING, "at_percent": PERCENT, "action": action}))


def capacity_team(org: Organisation, e: Enums) -> Schema:
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


def capacity_system_wide(org: Organisation, e: Enums) -> Schema:
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


def skill_taxonomy(org: Organisation, e: Enums) -> Schema:
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

