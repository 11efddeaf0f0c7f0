"""Events: the facts the runtime records, a closed set declared once.

An event has a sequence number (1, 2, ... in store order), a type from
``EventType``, the time it happened at, the acting agent (``None`` for the
clock) and a small JSON object of data whose shape ``DATA[type]`` declares.
The JSON form is stable: sorted keys, no spaces.

Adding an event type: a member of ``EventType``, its ``TypedDict`` here and in
``DATA``, and one handler in the fold (``orchdsl_runtime.state``), which
refuses to start without a handler for every type.
"""

# No `from __future__ import annotations`: TypedDict reads `NotRequired` from evaluated annotations.
import json
from enum import StrEnum
from typing import Any, NamedTuple, NotRequired, TypedDict


class EventType(StrEnum):
    """Every type of event the runtime records."""

    INSTRUCTION_SUBMITTED = "instruction_submitted"
    TASK_CREATED = "task_created"
    TASK_ASSIGNED = "task_assigned"
    ASSIGNMENT_ESCALATED = "assignment_escalated"
    TASK_MOVED = "task_moved"
    HEARTBEAT = "heartbeat"
    GATE_DECIDED = "gate_decided"
    SLA_WARNING = "sla_warning"
    SLA_ESCALATION = "sla_escalation"
    HEARTBEAT_MISSED = "heartbeat_missed"
    HANDOFF_CREATED = "handoff_created"
    HANDOFF_TICKED = "handoff_ticked"
    HANDOFF_ACCEPTED = "handoff_accepted"
    HANDOFF_REJECTED = "handoff_rejected"
    DELEGATED = "delegated"
    DELEGATION_ACKNOWLEDGED = "delegation_acknowledged"
    DELEGATION_OVERDUE = "delegation_overdue"
    CONSULTATION_ASKED = "consultation_asked"
    CONSULTATION_ANSWERED = "consultation_answered"
    CONSULTATION_TIMED_OUT = "consultation_timed_out"
    BROADCAST_SENT = "broadcast_sent"
    STAGE_RAN = "stage_ran"
    INSTRUCTION_GATE_DECIDED = "instruction_gate_decided"
    INSTRUCTION_CLOSED = "instruction_closed"
    TASK_REASSIGNED = "task_reassigned"
    CLARIFICATION_RECORDED = "clarification_recorded"
    DEFECT_RECORDED = "defect_recorded"
    DOMAIN_CAPACITY_ESCALATED = "domain_capacity_escalated"
    STANDUP_REPORTED = "standup_reported"
    STANDUPS_SCHEDULED = "standups_scheduled"
    AGENT_LAUNCHED = "agent_launched"
    AGENT_EXITED = "agent_exited"


class Event(NamedTuple):
    """One recorded fact."""

    seq: int
    type: str
    """an ``EventType`` value"""
    at: float
    actor: str | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "at": self.at, "actor": self.actor, "data": self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Event":
        return cls(int(d["seq"]), str(d["type"]), float(d["at"]), d.get("actor"), dict(d.get("data") or {}))

    @classmethod
    def from_json(cls, text: str) -> "Event":
        return cls.from_dict(json.loads(text))


Draft = tuple[str, float, str | None, dict[str, Any]]
"""(type, at, actor, data) of an event before it has a sequence number"""


def dumps_data(data: dict[str, Any]) -> str:
    """The stored form of an event's data."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- the data of each type ----------------------------------------------------------


class InstructionSubmitted(TypedDict):
    instruction: str
    text: str
    tier: int
    by: str


class TaskCreated(TypedDict):
    task: str
    instruction: str
    kind: str
    domain: str
    title: str
    tier: int
    required_skills: list[str]
    nice_skills: list[str]
    complexity: str
    priority: str
    estimate_hours: float | None
    estimate_tokens: float | None
    dependencies: list[str]
    parent: str | None
    handoff_to: str | None
    state: str
    """the initial state"""
    description: NotRequired[str]
    acceptance_criteria: NotRequired[list[str]]


class Candidate(TypedDict):
    """One member as assignment scored it."""

    agent: str
    score: float
    factors: dict[str, float]
    eligible: bool
    rejected_by: str | None


class TaskAssigned(TypedDict):
    task: str
    agent: str
    mode: str
    """``automatic`` (by score) or ``explicit`` (named)"""
    score: float | None
    factors: dict[str, float] | None
    candidates: list[Candidate]


class AssignmentEscalated(TypedDict):
    task: str
    to: list[str]
    to_actor: str
    reason: str
    candidates: list[Candidate]


class TaskMoved(TypedDict):
    task: str
    source: str
    target: str
    visit: int
    """the visit of ``source`` the move ends"""
    attest: NotRequired[list[str]]
    automatic: NotRequired[bool]
    gate: NotRequired[str]
    """the gate whose outcome made the move"""
    handoff: NotRequired[str]
    """the handoff whose acceptance or rejection made the move"""


class Heartbeat(TypedDict):
    task: str
    tokens: float
    note: str | None
    remaining_hours: NotRequired[float]
    actual_hours: NotRequired[float]


class GateDecided(TypedDict):
    task: str
    gate: str
    outcome: str
    effect: str
    state: str
    visit: int
    scores: dict[str, int] | None
    total: int | None
    measures: dict[str, float] | None


class SlaNotice(TypedDict):
    task: str
    state: str
    visit: int
    threshold: str
    dimension: str
    measured: float
    measured_text: str
    to_actor: str
    to: list[str]
    level: NotRequired[int]
    """a level of the state's escalation policy (from 1); absent for `warn` and `escalate`"""
    round: NotRequired[int]
    """the round of the policy's chain (from 1), with ``level``"""
    policy: NotRequired[str]
    """the name of a named policy, with ``level``"""


class HeartbeatMissed(TypedDict):
    task: str
    state: str
    visit: int
    due: float
    since: float
    to: list[str]


class HandoffCreated(TypedDict):
    handoff: str
    task: str
    from_domain: str
    to_domain: str
    by: str
    summary: str
    artifacts: list[str]
    checklist: list[str]
    accepted_by: str
    on_accept: str
    on_reject: str | None
    to: list[str]


class HandoffTicked(TypedDict):
    handoff: str
    task: str
    item: str


class HandoffDecided(TypedDict):
    handoff: str
    task: str
    to: list[str]
    reason: NotRequired[str | None]


Delegated = TypedDict("Delegated", {
    "delegation": str, "from": str, "to": str, "subject": str, "message": str, "priority": str,
    "instruction": str | None, "task": str | None, "due": float | None,
})


class DelegationAcknowledged(TypedDict):
    delegation: str
    accepted: bool
    notes: str
    late: bool


class DelegationOverdue(TypedDict):
    delegation: str
    due: float
    to_actor: str | None
    to: list[str]
    declared_to: NotRequired[str]


ConsultationAsked = TypedDict("ConsultationAsked", {
    "id": str, "consultation": str, "from": str, "to": list[str], "question": str, "instruction": str | None,
    "task": str | None, "blocking": bool, "due": float | None, "default": str | None,
})


class ConsultationAnswered(TypedDict):
    id: str
    answer: str


class ConsultationTimedOut(TypedDict):
    id: str
    answer: str | None
    due: float


class BroadcastSent(TypedDict):
    channel: str
    kind: str
    priority: str
    subject: str
    message: str
    to: list[str]


class StageRan(TypedDict):
    instruction: str
    stage: str


class InstructionGateDecided(TypedDict):
    instruction: str
    gate: str
    outcome: str
    effect: str
    stages: list[str]
    scores: dict[str, int] | None
    total: int | None


class InstructionClosed(TypedDict):
    instruction: str
    stages: list[str]
    tasks: int
    succeeded: int


TaskReassigned = TypedDict("TaskReassigned", {
    "task": str, "from": str, "to": str, "mode": str, "score": float | None, "factors": dict[str, float] | None,
})


class ClarificationRecorded(TypedDict):
    task: str
    note: str | None
    to: list[str]


class DefectRecorded(TypedDict):
    task: str
    note: str | None


class DomainCapacityEscalated(TypedDict):
    domain: str
    since: float
    utilisation: float
    limit: float | None
    to_actor: str
    to: list[str]


StandupReported = TypedDict("StandupReported", {
    "standup": str, "from": str, "to": list[str], "due": float | None, "since": float, "report": dict[str, Any],
})


class StandupsScheduled(TypedDict):
    standups: list[str]


class AgentLaunched(TypedDict):
    key: str
    """the waiting item the agent was started for"""
    agent: str
    kind: str
    id: str
    task: str | None
    attempt: int


class AgentExited(TypedDict):
    key: str
    agent: str
    code: int | None
    """the process's exit status (``None`` when it was stopped)"""
    reason: str
    """``done`` (exit 0), ``failed`` (another status), ``timeout`` (stopped after its time) or ``stopped``
    (the dispatcher stopped)"""


DATA: dict[EventType, type] = {
    EventType.INSTRUCTION_SUBMITTED: InstructionSubmitted,
    EventType.TASK_CREATED: TaskCreated,
    EventType.TASK_ASSIGNED: TaskAssigned,
    EventType.ASSIGNMENT_ESCALATED: AssignmentEscalated,
    EventType.TASK_MOVED: TaskMoved,
    EventType.HEARTBEAT: Heartbeat,
    EventType.GATE_DECIDED: GateDecided,
    EventType.SLA_WARNING: SlaNotice,
    EventType.SLA_ESCALATION: SlaNotice,
    EventType.HEARTBEAT_MISSED: HeartbeatMissed,
    EventType.HANDOFF_CREATED: HandoffCreated,
    EventType.HANDOFF_TICKED: HandoffTicked,
    EventType.HANDOFF_ACCEPTED: HandoffDecided,
    EventType.HANDOFF_REJECTED: HandoffDecided,
    EventType.DELEGATED: Delegated,
    EventType.DELEGATION_ACKNOWLEDGED: DelegationAcknowledged,
    EventType.DELEGATION_OVERDUE: DelegationOverdue,
    EventType.CONSULTATION_ASKED: ConsultationAsked,
    EventType.CONSULTATION_ANSWERED: ConsultationAnswered,
    EventType.CONSULTATION_TIMED_OUT: ConsultationTimedOut,
    EventType.BROADCAST_SENT: BroadcastSent,
    EventType.STAGE_RAN: StageRan,
    EventType.INSTRUCTION_GATE_DECIDED: InstructionGateDecided,
    EventType.INSTRUCTION_CLOSED: InstructionClosed,
    EventType.TASK_REASSIGNED: TaskReassigned,
    EventType.CLARIFICATION_RECORDED: ClarificationRecorded,
    EventType.DEFECT_RECORDED: DefectRecorded,
    EventType.DOMAIN_CAPACITY_ESCALATED: DomainCapacityEscalated,
    EventType.STANDUP_REPORTED: StandupReported,
    EventType.STANDUPS_SCHEDULED: StandupsScheduled,
    EventType.AGENT_LAUNCHED: AgentLaunched,
    EventType.AGENT_EXITED: AgentExited,
}
"""the shape of each type's data"""


def check_event(event: Event) -> None:
    """Check an event read from a store against its declared shape; ``ValueError`` says what is wrong."""
    from .codec import from_data

    try:
        typ = EventType(event.type)
    except ValueError:
        raise ValueError(f"event {event.seq} has the unknown type `{event.type}`") from None
    from_data(DATA[typ], event.data, f"the data of event {event.seq} ({typ})")
