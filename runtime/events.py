"""Events: the facts the engine records, one row each in the store.

An event has a sequence number (1, 2, ... in store order), a type, the time it
happened at, the acting agent (``None`` for the clock) and a small JSON object
of data. The JSON form is stable: sorted keys, no spaces.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

TYPES = (
    "instruction_submitted",
    "task_created",
    "task_assigned",
    "assignment_escalated",
    "task_moved",
    "heartbeat",
    "gate_decided",
    "sla_warning",
    "sla_escalation",
    "heartbeat_missed",
    "handoff_created",
    "handoff_ticked",
    "handoff_accepted",
    "handoff_rejected",
    "delegated",
    "delegation_acknowledged",
    "delegation_overdue",
    "broadcast_sent",
    "stage_ran",
    "instruction_gate_decided",
    "instruction_closed",
    "task_reassigned",
    "clarification_recorded",
    "defect_recorded",
    "domain_capacity_escalated",
    "standup_reported",
    "standups_scheduled",
)


class Event(NamedTuple):
    seq: int
    type: str
    at: float
    actor: str | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "at": self.at, "actor": self.actor, "data": self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(int(d["seq"]), str(d["type"]), float(d["at"]), d.get("actor"), dict(d.get("data") or {}))

    @classmethod
    def from_json(cls, text: str) -> Event:
        return cls.from_dict(json.loads(text))


def dumps_data(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


Draft = tuple[str, float, str | None, dict[str, Any]]
"""(type, at, actor, data) of an event before it has a sequence number"""
