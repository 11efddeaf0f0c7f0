"""The compiled model: what ``orchdsl compile`` writes as ``model.json`` and the runtime loads.

One frozen dataclass per part of an organisation. The compiler builds these
(``Organisation.to_contract()``) and writes them with ``codec.to_data``; the
runtime reads ``model.json`` with ``codec.from_data(CompiledModel, ...)``,
which checks every field against the types declared here. The JSON Schema of
``model.json`` is generated from these classes too, so this module is the one
description of the format.

Units: time in seconds, tokens as counts, percents and shares as fractions
(0.75 for 75 %). Actors are strings: a role id (``tech-lead``) or a relation
(``@lead``, one of ``RELATIONS``). Guards are expression trees in the format
of ``GUARD_FORMAT``. A field named with a trailing ``_`` (``from_``) is written
without it (``from``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FORMAT_VERSION = 1
"""the version of this format; the runtime refuses a model of another version"""

RELATIONS = ("@assignee", "@peer", "@lead", "@member", "@downstream_lead", "@system")
"""actors that name an agent by its relation to a task rather than by its role"""
OWNER = "@owner"
"""a notification's recipient only: the owner of the state the task is in"""
MAX_REPEAT = 10
"""the most times an escalation policy runs its chain again after the last level"""
FACTORS = ("skill_match", "workload", "complexity_fit", "learning_opportunity", "recent_performance")
"""the assignment factors a spec may weigh"""
COMPLEXITIES = ("simple", "moderate", "high")
"""task complexities"""
KINDS = ("strategic", "tactical")
"""task kinds"""
DEFAULT_PRIORITIES = ("critical", "high", "normal", "low")
"""delegation and task priorities when a spec declares none"""
STAGES = (
    "answer", "routing", "delegation", "strategic_planning", "consultation", "risk_assessment",
    "tactical_planning", "coordination", "execution", "validation", "close",
)
"""the stages a tier's flow may list"""
MEASURES = (
    "clarification_free", "reassignment_rate", "sla_met", "capacity_accuracy",
    "within_estimate", "defect_rate",
)
"""the measures a success metric may compare with its target"""
MEASURES_WITH_STATE = ("sla_met",)
"""measures that take a lifecycle state as their argument"""

GUARD_FORMAT = """\
A guard is a JSON tree. Nodes:
  {"op": "and"|"or", "args": [G, G, ...]}  all/any
  {"op": "not", "arg": G}
  {"op": "=="|"!="|"<"|"<="|">"|">=", "left": V, "right": V}
  {"op": "in", "left": V, "items": [V, ...]}
  {"var": "task.kind"}                     a variable of the guard environment
  {"const": 3}                             a constant (seconds, counts, fractions, strings, booleans)
"""

Actor = str
Guard = dict[str, Any]
"""a guard tree (``GUARD_FORMAT``); checked when the runtime compiles it"""



@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """An amount: ``time`` in seconds, ``tokens`` as a count, ``estimate`` as a share of the
    task's estimate, or (thresholds only) ``multiple`` of the state's target."""

    kind: Literal["time", "tokens", "estimate", "multiple"]
    value: float
    """seconds, tokens, a share of the estimate or a multiple, by ``kind``; above 0"""
    text: str
    """the budget as written in the spec"""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrgInfo:
    """The organisation's name and description."""

    name: str
    version: str | None = None
    title: str | None = None
    description: str | None = None
    top: tuple[str, ...] | None = field(default=None, metadata={"omit_none": True})
    """the roles declared at the top of the hierarchy, peers when several; absent: the one role
    that reports to nobody"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """A named level with its number (skill levels, experience levels)."""

    name: str
    value: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SkillCategory:
    """A category of skills."""

    name: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Skills:
    """The skill taxonomy: the level scale and the skills by category."""

    levels: tuple[Level, ...] = ()
    categories: tuple[SkillCategory, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """A role of the organisation; agents are instances of roles."""

    id: str
    title: str | None = None
    layer: str | None = None
    reports_to: str | None = None
    model: str | None = None
    color: str | None = None
    tools: tuple[str, ...] = ()
    description: str | None = None
    responsibilities: tuple[str, ...] = ()
    depth: int = 0
    """distance from the root of the hierarchy"""
    domain: str | None = None
    """the domain this role leads or works in"""
    kind: Literal["staff", "lead", "member"] = "staff"


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A member role of a domain, with the data assignment needs."""

    role: str
    count: int = 1
    experience: str | None = None
    hours_per_day: float | None = None
    skills: dict[str, str] = field(default_factory=dict)
    """skill -> level name"""
    learning: tuple[str, ...] = ()
    performance: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Domain:
    """A domain: its lead role and member roles."""

    name: str
    description: str | None = None
    lead: str
    members: tuple[Member, ...] = ()
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    """An instance of a role: ``backend-developer x2`` gives two agents."""

    id: str
    role: str
    domain: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """A warning or escalation threshold and whom it notifies."""

    budget: Budget
    to: Actor | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """Whom a notice goes to when a task enters a state, or when a gate decides one of ``outcomes``."""

    to: tuple[Actor, ...]
    """roles or relations; ``@owner`` is the owner of the state the task is in"""
    outcomes: tuple[str, ...] = ()
    """a gate's outcomes the notice is for; empty: every outcome"""
    text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationLevel:
    """A level of an escalation policy: whom it pages, at what time in the state."""

    after: Budget
    """time in the state (``time`` only); strictly increasing from one level to the next"""
    to: tuple[Actor, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationPolicy:
    """Levels fired in turn while a task stays in a state. After the last level the chain
    starts again ``repeat`` times, each round the last level's time later than the one before."""

    name: str | None = None
    """null for a policy written inside its state"""
    description: str | None = None
    levels: tuple[EscalationLevel, ...] = ()
    repeat: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TierBudget:
    """A state's SLA target at some tiers."""

    tiers: tuple[int, ...] | None = None
    """the tiers this target applies to; null for all"""
    budget: Budget


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """A transition between two states of the lifecycle."""

    source: str
    target: str
    label: str | None = None
    guard: Guard | None = None
    """a guard tree (see GUARD_FORMAT)"""
    guard_text: str | None = None
    actors: tuple[Actor, ...] = ()
    after: Budget | None = None
    """automatic: fires when time or tokens in the state reach this"""
    tiers: tuple[int, ...] = ()
    """tiers where the guard can hold"""
    gates: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """gate -> tiers where it guards this"""


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """A state of the task lifecycle."""

    name: str
    description: str | None = None
    initial: bool = False
    terminal: Literal["success", "failure"] | None = None
    owner: Actor | None = None
    sla: tuple[TierBudget, ...] = ()
    warn: Threshold | None = None
    escalate: Threshold | None = None
    escalation: EscalationPolicy | None = field(default=None, metadata={"omit_none": True})
    """the state's escalation policy (a named one copied here), when it has one instead of ``escalate``"""
    notify: tuple[Notification, ...] | None = field(default=None, metadata={"omit_none": True})
    """told when a task enters the state"""
    heartbeat: Budget | None = None
    tiers: tuple[int, ...] = ()
    """tiers where the state applies"""
    requires: tuple[str, ...] = ()
    transitions: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Lifecycle:
    """The task lifecycle."""

    name: str = "task"
    tiers: tuple[int, ...] = ()
    initial: str | None = None
    states: tuple[State, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Delegation:
    """How work is delegated down the hierarchy."""

    chain: tuple[Actor, ...] = ()
    acknowledge_within: Budget | None = None
    overdue_escalate_to: Actor | None = None
    priorities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A broadcast channel."""

    name: str
    description: str | None = None
    members: tuple[str, ...] = ()
    """role ids"""
    declared: tuple[str, ...] = ()
    """members as written"""
    template: str | None = None
    """the per-domain template this channel comes from"""
    domain: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Broadcast:
    """Broadcast kinds, priorities and channels."""

    kinds: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    channels: tuple[Channel, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Handoff:
    """A handoff declared between two domains (``*`` for any), or between two roles within the
    task's domain (``from_role``, ``to_role``; then both domains are ``*``)."""

    from_domain: str
    to_domain: str
    from_role: str | None = field(default=None, metadata={"omit_none": True})
    """a handoff between roles: the role that hands the work over (the task's assignee, or its
    domain's lead when it is that role)"""
    to_role: str | None = field(default=None, metadata={"omit_none": True})
    """a handoff between roles: the role that receives and accepts it"""
    description: str | None = None
    checklist: tuple[str, ...] = ()
    accepted_by: Actor | None = None
    on_accept: tuple[str, str] | None = None
    on_reject: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Standup:
    """A standup report: from whom, to whom, how often, with which sections."""

    name: str
    description: str | None = None
    from_: Actor
    to: Actor
    every: Budget
    sections: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Consultation:
    """A consultation one actor may put to another."""

    name: str
    description: str | None = None
    from_: Actor
    to: Actor
    blocking: bool = True
    timeout: Budget | None = None
    default: str | int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    """How tasks are assigned to members."""

    weights: dict[str, float] = field(default_factory=dict)
    filter: Guard | None = None
    """a guard tree (see GUARD_FORMAT)"""
    filter_text: str | None = None
    fit: dict[str, str] = field(default_factory=dict)
    """complexity -> minimal experience"""
    fallback: Actor | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """What happens at a capacity threshold."""

    kind: Literal["notify", "escalate", "refuse_new_work"]
    target: Actor | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityBand:
    """A band of utilisation from ``at`` upwards."""

    at: float
    name: str
    action: Action | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Capacity:
    """Capacity: hours, forecast horizon, bands and limits."""

    hours_per_day: float = 8.0
    horizon_days: float = 3.0
    bands: tuple[CapacityBand, ...] = ()
    ic_limit: float | None = None
    ic_action: Action | None = None
    domain_limit: float | None = None
    domain_period: Budget | None = None
    domain_action: Action | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A step of a tier's flow: an actor's stage, or a gate."""

    actor: Actor | None = None
    stage: str | None = None
    gate: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    """A tier of instructions with its flow."""

    number: int
    name: str | None = None
    description: str | None = None
    flow: tuple[Step, ...] = ()
    planning_min: int | None = None
    planning_max: int | None = None
    planning_unit: str | None = None
    gates: tuple[str, ...] = ()
    """gates listed in the flow"""
    stages: tuple[str, ...] = ()
    """stages listed in the flow"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """An outcome of a gate and its effect."""

    name: str
    effect: Literal["pass", "hold", "move"]
    target: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreBand:
    """A band of total scores and the outcome it gives."""

    low: int
    high: int
    outcome: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """A quality gate."""

    name: str
    description: str | None = None
    reviewer: Actor | None = None
    transitions: tuple[tuple[str, str], ...] = ()
    stages: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    """criterion -> tier (as a string) -> minimum"""
    outcomes: tuple[Outcome, ...] = ()
    score_categories: tuple[str, ...] = ()
    score_min: int | None = None
    score_max: int | None = None
    bands: tuple[ScoreBand, ...] = ()
    notify: tuple[Notification, ...] | None = field(default=None, metadata={"omit_none": True})
    """told when the gate decides"""
    tiers: tuple[int, ...] = ()
    """tiers whose flow lists the gate"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Instructions:
    """Who may submit instructions, create tasks and close instructions: role ids, ``@lead``
    and ``@member`` (for ``create``, of the task's domain; otherwise any domain lead or member).
    An empty list keeps the default: submit and create, any agent; close, the staff roles, the
    roles at the top and the actor of the tier's ``close`` step."""

    submit: tuple[Actor, ...] = ()
    create: dict[str, tuple[Actor, ...]] = field(default_factory=dict)
    """task kind (``strategic``, ``tactical``) -> who may create it; a kind not listed, anyone"""
    close: tuple[Actor, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """A success metric: a measure compared with a target."""

    name: str
    title: str | None = None
    measure: str
    argument: str | None = None
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    target: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardVariable:
    """The type of a variable of the guard environment."""

    type: str
    values: tuple[str, ...] | None = field(default=None, metadata={"omit_none": True})
    """the values of an enumeration"""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledModel:
    """A whole organisation, compiled: the runtime's only input."""

    format_version: int = FORMAT_VERSION
    org: OrgInfo
    skills: Skills = field(default_factory=Skills)
    experience: tuple[Level, ...] = ()
    roles: tuple[Role, ...] = ()
    domains: tuple[Domain, ...] = ()
    agents: tuple[Agent, ...] = ()
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    delegation: Delegation | None = None
    broadcast: Broadcast = field(default_factory=Broadcast)
    handoffs: tuple[Handoff, ...] = ()
    standups: tuple[Standup, ...] = ()
    consultations: tuple[Consultation, ...] = ()
    assignment: Assignment | None = None
    capacity: Capacity | None = None
    tiers: tuple[Tier, ...] = ()
    gates: tuple[Gate, ...] = ()
    metrics: tuple[Metric, ...] = ()
    escalations: tuple[EscalationPolicy, ...] | None = field(default=None, metadata={"omit_none": True})
    """the named escalation policies"""
    instructions: Instructions | None = field(default=None, metadata={"omit_none": True})
    """who may submit, create and close; absent: the defaults"""
    guard_variables: dict[str, GuardVariable] = field(default_factory=dict)
    """the guard environment: variable -> type"""


PARTS: tuple[type, ...] = (
    Budget, OrgInfo, Level, SkillCategory, Skills, Role, Member, Domain, Agent, Threshold, Notification,
    EscalationLevel, EscalationPolicy, TierBudget,
    Transition, State, Lifecycle, Delegation, Channel, Broadcast, Handoff, Standup, Consultation,
    Assignment, Action, CapacityBand, Capacity, Step, Tier, Outcome, ScoreBand, Gate, Metric,
    GuardVariable, Instructions, CompiledModel,
)
"""every class of the format"""
