"""Stage 4, generation: the building blocks of the agent-file schemas.

In: the model (``Organisation``). Out: plain dicts of JSON Schema (draft
2020-12). ``Enums`` collects the spec's own names (states, roles, agents,
domains, channels, skills...) that values are constrained to, kept once
under ``$defs``; ``obj``, ``arr``, ``enum``, ``nullable`` and ``const`` build
schema nodes; ``document`` wraps a body into a whole schema with its ``$id``.
The schemas themselves are in ``lifecycle``, ``protocols`` and ``resources``.
"""

from __future__ import annotations

from typing import Any

from orchdsl_runtime.contract.names import SAFE_NAME_PATTERN

from orchdsl.generate.common import People
from orchdsl.model import COMPLEXITIES, FACTORS, Organisation

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
# Task ids are ST{n} and TT{st}.{n} unless a command chose one, which is then a safe name.
ST_ID = TT_ID = SAFE_NAME_PATTERN
TASK_ID = r"^(ST[0-9]+|TT[0-9]+\.[0-9]+)$"


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


def document(org: Organisation, e: Enums, name: str, title: str, body: Schema) -> Schema:
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


class Enums:
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
        self.complexities = list(org.assignment.complexities if org.assignment and org.assignment.complexities
                                 else COMPLEXITIES)
        self.kinds = list(org.broadcast.kinds)
        self.labels = list(org.labels)
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
        # the runtime records every factor of every candidate, weighted or not
        self.factors = list(FACTORS)

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


def budget_schema() -> Schema:
    return obj({"text": STRING, "kind": enum(["time", "tokens", "estimate", "multiple"]),
                "value": {"type": "number", "exclusiveMinimum": 0}},
               description="value in seconds (time), tokens, or a share of the estimate")



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

