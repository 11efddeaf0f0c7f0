"""The model: a resolved organisation, and the compiled model's format.

``lower`` builds an ``Organisation`` from the syntax tree; ``checks`` examine
it; ``generate`` writes files from it; ``emit.compiled_json`` writes the
compiled model, the only thing the runtime loads, in the format the runtime's
contract declares (``orchdsl_runtime.contract.model``).

Units in the compiled model: time in seconds, tokens as counts, percents and
shares as fractions (0.75 for 75 %). Actors are strings: a role id
(``tech-lead``) or a relation (``@lead``). Guards are expression trees in the
format documented on ``GUARD_FORMAT``.

Spans are kept on model objects for diagnostics but are never serialised.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from orchdsl_runtime.contract import model as contract
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic.json_schema import SkipJsonSchema

from orchdsl.diagnostics import Span

# The constants of the compiled model's format belong to the runtime's contract.
FORMAT_VERSION = contract.FORMAT_VERSION
RELATIONS = contract.RELATIONS
FACTORS = contract.FACTORS
COMPLEXITIES = contract.COMPLEXITIES
KINDS = contract.KINDS
DEFAULT_PRIORITIES = contract.DEFAULT_PRIORITIES
STAGES = contract.STAGES
LAYERS = ("strategic", "coordination", "domain", "ic")
"""the layers of an organisation, from the top down: a role's ``layer`` is one of them"""
MEASURES = contract.MEASURES
MEASURES_WITH_STATE = contract.MEASURES_WITH_STATE
GUARD_FORMAT = contract.GUARD_FORMAT
STATE_CLASSES = contract.STATE_CLASSES
PROGRESS_STATUSES = contract.PROGRESS_STATUSES
STATUS_SECTIONS = contract.STATUS_SECTIONS
OWNER = contract.OWNER
MAX_REPEAT = contract.MAX_REPEAT

Actor = str
Spanned = SkipJsonSchema[Span | None]


SpanMap = SkipJsonSchema[dict[str, Span]]
SpanList = SkipJsonSchema[list[Span | None]]


def _span_field() -> Any:
    return Field(default=None, exclude=True)


def _span_map() -> Any:
    return Field(default_factory=dict, exclude=True)


class _Node(BaseModel):
    # Validators are built on first use rather than at import, which keeps the
    # start-up of `orchdsl check` short.
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)


class Budget(_Node):
    """An amount: ``time`` in seconds, ``tokens`` as a count, ``estimate`` as a
    share of the task's estimate, or (thresholds only) ``multiple`` of the target."""

    kind: Literal["time", "tokens", "estimate", "multiple"]
    value: Annotated[float, Field(gt=0)]
    text: str = Field(description="the budget as written in the spec")
    span: Spanned = _span_field()


class OrgInfo(_Node):
    name: str
    version: str | None = None
    title: str | None = None
    description: str | None = None
    top: list[str] | None = Field(None, description="the roles declared at the top of the hierarchy, "
                                  "peers when several; absent: the one role that reports to nobody")
    span: Spanned = _span_field()
    top_spans: SpanMap = _span_map()


class Level(_Node):
    name: str
    value: int
    span: Spanned = _span_field()


class SkillCategory(_Node):
    name: str
    skills: list[str]
    span: Spanned = _span_field()
    skill_spans: SpanMap = _span_map()


class Skills(_Node):
    levels: list[Level] = Field(default_factory=list)
    categories: list[SkillCategory] = Field(default_factory=list)

    def all_skills(self) -> list[str]:
        return [s for c in self.categories for s in c.skills]


class Role(_Node):
    """A role of the organisation; agents are instances of roles."""

    id: str
    title: str | None = None
    layer: str | None = None
    reports_to: str | None = None
    model: str | None = None
    color: str | None = None
    tools: list[str] = Field(default_factory=list)
    description: str | None = None
    responsibilities: list[str] = Field(default_factory=list)
    depth: int = Field(0, description="distance from the root of the hierarchy")
    domain: str | None = Field(None, description="the domain this role leads or works in")
    kind: Literal["staff", "lead", "member"] = "staff"
    span: Spanned = _span_field()


class Member(_Node):
    """A member role of a domain, with the data assignment needs."""

    role: str
    count: Annotated[int, Field(ge=1, le=10_000)] = 1
    experience: str | None = None
    hours_per_day: Annotated[float, Field(gt=0, le=24)] | None = None
    skills: dict[str, str] = Field(default_factory=dict, description="skill -> level name")
    learning: list[str] = Field(default_factory=list)
    performance: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    span: Spanned = _span_field()


class Domain(_Node):
    name: str
    description: str | None = None
    lead: str
    members: list[Member] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list)
    span: Spanned = _span_field()
    need_spans: SpanMap = _span_map()


class Agent(_Node):
    """An instance of a role: ``backend-developer x2`` gives two agents."""

    id: str
    role: str
    domain: str | None = None


class Threshold(_Node):
    budget: Budget
    to: Actor | None = None
    span: Spanned = _span_field()
    to_span: Spanned = _span_field()


class Notification(_Node):
    """Whom the runtime tells, with a notice in their inbox, when a task enters a state
    (``notify`` in a state) or when a gate decides one of ``outcomes`` (``notify`` in a gate)."""

    to: list[Actor] = Field(description="roles or relations (`@owner`: the owner of the task's state)")
    outcomes: list[str] = Field(default_factory=list, description="a gate's outcomes; empty: every outcome")
    text: str | None = None
    span: Spanned = _span_field()


class EscalationLevel(_Node):
    """One level of an escalation policy: whom to page, when the task has been that long in the state."""

    after: Budget
    to: list[Actor]
    span: Spanned = _span_field()


class EscalationPolicy(_Node):
    """Levels fired in turn while a task stays in a state, then the whole chain again ``repeat`` times."""

    name: str | None = Field(None, description="null for a policy written inside its state")
    description: str | None = None
    levels: list[EscalationLevel] = Field(default_factory=list)
    repeat: Annotated[int, Field(ge=0, le=MAX_REPEAT)] = 0
    span: Spanned = _span_field()
    repeat_span: Spanned = _span_field()


class TierBudget(_Node):
    tiers: list[int] | None = Field(None, description="the tiers this target applies to; null for all")
    budget: Budget


class Rounds(_Node):
    """At most ``limit`` times per task; then the transition to ``then`` or an escalation."""

    limit: int
    then: str | None = None
    escalate: Actor | None = None
    span: Spanned = _span_field()
    then_span: Spanned = _span_field()


class Transition(_Node):
    source: str
    target: str
    label: str | None = None
    guard: dict[str, Any] | None = Field(None, description=GUARD_FORMAT)
    guard_text: str | None = None
    actors: list[Actor] = Field(default_factory=list)
    after: Budget | None = Field(None, description="automatic: fires when time or tokens in the state reach this")
    tiers: list[int] = Field(default_factory=list, description="tiers where the guard can hold")
    gates: dict[str, list[int]] = Field(default_factory=dict, description="gate -> tiers where it guards this")
    rounds: Rounds | None = Field(None, description="at most this many times per task")
    span: Spanned = _span_field()
    guard_span: Spanned = _span_field()


class State(_Node):
    name: str
    description: str | None = None
    initial: bool = False
    terminal: Literal["success", "failure"] | None = None
    owner: Actor | None = None
    sla: list[TierBudget] = Field(default_factory=list)
    warn: Threshold | None = None
    escalate: Threshold | None = None
    escalation: EscalationPolicy | None = Field(None, description="the state's escalation policy, resolved")
    notify: list[Notification] = Field(default_factory=list, description="told when a task enters the state")
    heartbeat: Budget | None = None
    tiers: list[int] = Field(default_factory=list, description="tiers where the state applies")
    requires: list[str] = Field(default_factory=list)
    transitions: list[Transition] = Field(default_factory=list)
    span: Spanned = _span_field()

    def target_for(self, tier: int) -> Budget | None:
        for tb in self.sla:
            if tb.tiers is None or tier in tb.tiers:
                return tb.budget
        return None


class Lifecycle(_Node):
    name: str = "task"
    tiers: list[int] = Field(default_factory=list)
    initial: str | None = None
    states: list[State] = Field(default_factory=list)
    classes: dict[str, list[str]] = Field(
        default_factory=dict, description="the declared state classes (`work`, `blocked`, `escalated`, `ready`, "
                                          "`done`) -> their states; a class not declared is derived")
    span: Spanned = _span_field()
    class_spans: SpanMap = _span_map()
    """state class -> the span of its clause; ``"class STATE"`` -> the span of the state's name in it"""

    def state(self, name: str) -> State | None:
        for s in self.states:
            if s.name == name:
                return s
        return None


class Delegation(_Node):
    chain: list[Actor] = Field(default_factory=list)
    acknowledge_within: Budget | None = None
    overdue_escalate_to: Actor | None = None
    priorities: list[str] = Field(default_factory=list)
    span: Spanned = _span_field()
    chain_spans: SpanList = Field(default_factory=list, exclude=True)


class Channel(_Node):
    name: str
    description: str | None = None
    members: list[str] = Field(description="role ids")
    declared: list[str] = Field(default_factory=list, description="members as written")
    template: str | None = Field(None, description="the per-domain template this channel comes from")
    domain: str | None = None
    span: Spanned = _span_field()


class Broadcast(_Node):
    kinds: list[str] = Field(default_factory=list)
    priorities: list[str] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)


class Handoff(_Node):
    from_domain: str
    to_domain: str
    from_role: str | None = Field(None, description="a handoff between roles: the role that hands the work over")
    to_role: str | None = Field(None, description="a handoff between roles: the role that receives and accepts it")
    description: str | None = None
    checklist: list[str] = Field(default_factory=list)
    accepted_by: Actor | None = None
    on_accept: tuple[str, str] | None = None
    on_reject: tuple[str, str] | None = None
    span: Spanned = _span_field()
    checklist_span: Spanned = _span_field()
    accepted_by_span: Spanned = _span_field()
    on_accept_span: Spanned = _span_field()
    on_reject_span: Spanned = _span_field()

    @property
    def ends(self) -> str:
        """``from->to``: its domains, or for a handoff between roles its roles (the name
        ``Organisation.broken`` knows it by)."""
        if self.from_role is not None or self.to_role is not None:
            return f"{self.from_role or '?'}->{self.to_role or '?'}"
        return f"{self.from_domain}->{self.to_domain}"


class Standup(_Node):
    name: str
    description: str | None = None
    from_: Actor = Field(alias="from")
    to: Actor
    every: Budget
    sections: list[str] = Field(default_factory=list)
    statuses: dict[str, str] = Field(
        default_factory=dict, description="progress status (`on_track`, `at_risk`, `blocked`) -> the word the "
                                          "standup reports it with, where the spec names it")
    span: Spanned = _span_field()
    to_span: Spanned = _span_field()
    statuses_span: Spanned = _span_field()

    model_config = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True,
                              defer_build=True)


class Consultation(_Node):
    name: str
    description: str | None = None
    from_: Actor = Field(alias="from")
    to: Actor
    blocking: bool = True
    timeout: Budget | None = None
    default: str | int | None = None
    span: Spanned = _span_field()

    model_config = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True,
                              defer_build=True)


class Assignment(_Node):
    weights: dict[str, float] = Field(default_factory=dict)
    filter: dict[str, Any] | None = Field(None, description=GUARD_FORMAT)
    filter_text: str | None = None
    fit: dict[str, str] = Field(default_factory=dict, description="complexity -> minimal experience")
    fallback: Actor | None = None
    complexities: list[str] = Field(default_factory=list,
                                    description="the declared task complexities, easiest first (the default "
                                                "ones when empty)")
    span: Spanned = _span_field()
    weight_spans: SpanMap = _span_map()
    fit_spans: SpanMap = _span_map()


class Action(_Node):
    kind: Literal["notify", "escalate", "refuse_new_work"]
    target: Actor | None = None


class CapacityBand(_Node):
    at: Annotated[float, Field(ge=0, le=10)]
    name: str
    action: Action | None = None
    span: Spanned = _span_field()


class Capacity(_Node):
    hours_per_day: Annotated[float, Field(gt=0, le=24)] = 8.0
    horizon_days: Annotated[float, Field(gt=0)] = 3.0
    bands: list[CapacityBand] = Field(default_factory=list)
    ic_limit: float | None = None
    ic_action: Action | None = None
    domain_limit: float | None = None
    domain_period: Budget | None = None
    domain_action: Action | None = None
    span: Spanned = _span_field()


class Step(_Node):
    actor: Actor | None = None
    stage: str | None = None
    gate: str | None = None
    span: Spanned = _span_field()


class Tier(_Node):
    number: Annotated[int, Field(ge=0)]
    name: str | None = None
    description: str | None = None
    flow: list[Step] = Field(default_factory=list)
    planning_min: int | None = None
    planning_max: int | None = None
    planning_unit: str | None = None
    planning_span: Spanned = _span_field()
    gates: list[str] = Field(default_factory=list, description="gates listed in the flow")
    stages: list[str] = Field(default_factory=list, description="stages listed in the flow")
    span: Spanned = _span_field()


class Outcome(_Node):
    name: str
    effect: Literal["pass", "hold", "move"]
    target: str | None = None
    span: Spanned = _span_field()


class ScoreBand(_Node):
    low: int
    high: int
    outcome: str
    span: Spanned = _span_field()


class Gate(_Node):
    name: str
    description: str | None = None
    reviewer: Actor | None = None
    transitions: list[tuple[str, str]] = Field(default_factory=list)
    stages: list[str] = Field(default_factory=list)
    criteria: list[str] = Field(default_factory=list)
    thresholds: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="criterion -> tier (as a string) -> minimum"
    )
    outcomes: list[Outcome] = Field(default_factory=list)
    score_categories: list[str] = Field(default_factory=list)
    score_min: int | None = None
    score_max: int | None = None
    bands: list[ScoreBand] = Field(default_factory=list)
    notify: list[Notification] = Field(default_factory=list, description="told when the gate decides")
    tiers: list[int] = Field(default_factory=list, description="tiers whose flow lists the gate")
    domains: list[str] | None = Field(None, description="the domains the gate applies to (null: all)")
    labels: list[str] | None = Field(None, description="the task labels the gate applies to (null: all)")
    span: Spanned = _span_field()
    reviewer_span: Spanned = _span_field()
    transition_spans: SkipJsonSchema[list[Span | None]] = Field(
        default_factory=list, exclude=True, description="the span of each guarded transition")
    threshold_spans: SkipJsonSchema[dict[str, Span]] = Field(
        default_factory=dict, exclude=True, description="criterion/tier -> span of the tier range")


class Instructions(_Node):
    """Who may submit instructions, create tasks and close instructions; an empty list keeps the
    default (submit and create: any agent; close: staff roles, the roles at the top and the actor
    of a tier's `close` step)."""

    submit: list[Actor] = Field(default_factory=list)
    create: dict[str, list[Actor]] = Field(default_factory=dict, description="task kind -> who creates it")
    close: list[Actor] = Field(default_factory=list)
    span: Spanned = _span_field()
    clause_spans: SpanMap = _span_map()
    """``submit``, ``close``, ``create.KIND`` -> the clause that says it"""


class Metric(_Node):
    name: str
    title: str | None = None
    measure: str
    argument: str | None = None
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    target: float
    span: Spanned = _span_field()
    target_span: Spanned = _span_field()


class Organisation(_Node):
    """A whole organisation; serialised, the compiled model."""

    format_version: int = FORMAT_VERSION
    org: OrgInfo
    skills: Skills = Field(default_factory=Skills)
    experience: list[Level] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    domains: list[Domain] = Field(default_factory=list)
    agents: list[Agent] = Field(default_factory=list)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    delegation: Delegation | None = None
    broadcast: Broadcast = Field(default_factory=Broadcast)
    handoffs: list[Handoff] = Field(default_factory=list)
    standups: list[Standup] = Field(default_factory=list)
    consultations: list[Consultation] = Field(default_factory=list)
    assignment: Assignment | None = None
    capacity: Capacity | None = None
    tiers: list[Tier] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)
    escalations: list[EscalationPolicy] = Field(default_factory=list, description="named escalation policies")
    instructions: Instructions | None = None
    guard_variables: dict[str, Any] = Field(
        default_factory=dict, description="the guard environment: variable -> type"
    )
    labels: list[str] = Field(default_factory=list, description="the labels a task may carry")
    _broken: set[tuple[str, str]] = PrivateAttr(default_factory=set)

    # -- what lowering could not resolve (not serialised) -------------------

    @property
    def broken(self) -> frozenset[tuple[str, str]]:
        """``(kind, name)`` of each entity lowering reported an error in, so that
        checks can stay silent about its consequences. Kinds: ``role`` (its
        ``reports_to``), ``domain``, ``state`` (its tiers or a transition),
        ``transition`` (``"A->B"``), ``owner``, ``sla`` and ``threshold`` (of a
        state), ``lifecycle``, ``gate``, ``tier`` (its number as text),
        ``channel``, ``handoff`` (``"from->to"``), ``standup``,
        ``consultation``, ``delegation``, ``assignment`` (``"weights"`` or
        ``""``), ``capacity``, ``metric``."""
        return frozenset(self._broken)

    def set_broken(self, items: set[tuple[str, str]]) -> None:
        self._broken = set(items)

    def is_broken(self, kind: str, name: str) -> bool:
        return (kind, name) in self._broken

    # -- lookups (not serialised) -------------------------------------------

    def role(self, rid: str) -> Role | None:
        for r in self.roles:
            if r.id == rid:
                return r
        return None

    def domain(self, name: str) -> Domain | None:
        for d in self.domains:
            if d.name == name:
                return d
        return None

    def gate(self, name: str) -> Gate | None:
        for g in self.gates:
            if g.name == name:
                return g
        return None
