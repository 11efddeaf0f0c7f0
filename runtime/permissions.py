"""Who may do what: actors and relations resolved for a task, and the checks of a move.

``Permissions(ctx, guards)`` answers, for one agent and one task, whether an
actor check (roles and relations such as ``@assignee``, ``@peer``, ``@lead``,
``@member``, ``@downstream_lead``) admits the agent, which agents an actor
names (notification targets), and whether a move along a declared transition
is allowed: the transition exists at the task's tier, the agent is permitted,
an ``@assignee`` state has an assignee, the guard holds, the target's
``requires`` are attested, and the transition's gates passed in this visit.
Every refusal says what is missing, with its code.

Also who may submit instructions, create tasks and close instructions
(``may_submit``, ``may_create``, ``may_close``): the spec's ``instructions``
block, else the defaults (any agent submits and creates; the staff roles, the
roles at the top and the actor of the tier's ``close`` step close), and who
runs a stage of a flow (``runs_stage``).
"""

from __future__ import annotations

from collections.abc import Sequence

from .context import Context, names, q
from .errors import Refused
from .explain import Guards
from .model import ActorCheck, AgentInfo, Model, TransitionRec
from .records import Task
from .timefmt import iso

CLOSE_STAGE = "close"
"""the last stage of a flow: closing the instruction"""


class Permissions:
    """Actor checks and the validation of moves."""

    def __init__(self, ctx: Context, guards: Guards) -> None:
        self.ctx = ctx
        self.guards = guards
        self.owned_by_assignee = {name: st.owner == "@assignee" for name, st in ctx.model.states.items()}

    # -- actors ---------------------------------------------------------------------------

    def permitted(self, check: ActorCheck, agent: AgentInfo, t: Task) -> bool:
        if agent.role in check.roles:
            return True
        model = self.ctx.model
        for rel in check.relations:
            if rel == "@assignee":
                if t.assignee == agent.id:
                    return True
            elif rel == "@peer":
                if agent.works and agent.domain == t.domain and agent.id != t.assignee:
                    return True
            elif rel == "@lead":
                if agent.role == model.domain_lead_role.get(t.domain):
                    return True
            elif rel == "@member":
                if agent.works and agent.domain == t.domain:
                    return True
            elif rel == "@downstream_lead":
                downstream = self.handoff_domain(t)
                if downstream is not None and agent.role == model.domain_lead_role.get(downstream):
                    return True
        return False

    def agents_of(self, actor: str, t: Task) -> list[str]:
        """The agents an actor names for a task (notification targets)."""
        return self.ctx.model.agents_of(actor, t.assignee, t.domain, self.handoff_domain(t))

    def describe(self, check: ActorCheck, t: Task) -> str:
        """Who an actor check admits for a task, for a refusal."""
        parts = []
        for a in check.text:
            if not a.startswith("@"):
                parts.append(q(a))
            elif a == "@system":
                parts.append("@system (the clock only)")
            elif a == "@peer":
                parts.append(f"@peer (a member of {q(t.domain)} other than the assignee)")
            else:
                who = self.agents_of(a, t)
                parts.append(f"{a} ({names(who) if who else 'nobody'})")
        return ", ".join(parts)

    def handoff_domain(self, t: Task) -> str | None:
        """The downstream domain of a task: its open handoff's, else its declared ``handoff_to``."""
        return self.ctx.state.downstream(t)

    # -- moves ----------------------------------------------------------------------------

    def check_move(self, agent: AgentInfo, t: Task, target: str, attest: Sequence[str], now: float) -> TransitionRec:
        """The transition of a move, or ``Refused`` saying why the move is not allowed."""
        model = self.ctx.model
        st = model.states[t.state]
        rec = st.out.get(target)
        if rec is None or t.tier not in rec.tiers:
            options = [r.target for r in st.out.values() if t.tier in r.tiers]
            raise Refused(
                "RUN003",
                f"no transition {q(t.state + ' -> ' + target)} at tier {t.tier}; from {q(t.state)} "
                f"task {q(t.id)} can go to {names(options)}",
                task=t.id,
            )
        if not self.permitted(rec.actors, agent, t):
            self.check_actor(agent, t, rec)
        if t.assignee is None and self.owned_by_assignee[target]:
            raise Refused(
                "RUN018",
                f"task {q(t.id)} has no assignee and {q(target)} is owned by @assignee; assign it instead",
                task=t.id,
            )
        if rec.guard is not None:
            self.guards.check(rec, t, now)
        requires = model.states[target].requires
        missing = [r for r in requires if r not in attest] if requires else None
        if missing:
            raise Refused(
                "RUN006",
                f"entering {q(target)} requires {names(missing)} to be attested",
                task=t.id,
                missing=missing,
            )
        problems = self.gate_problems(t, rec) if rec.gates else None
        if problems:
            raise Refused(
                "RUN007",
                f"{q(t.state + ' -> ' + target)} at tier {t.tier} is guarded by gates: " + "; ".join(problems),
                task=t.id,
            )
        return rec

    def check_actor(self, agent: AgentInfo, t: Task, rec: TransitionRec) -> None:
        if not rec.actors.text:
            when = f" after {rec.after.text}" if rec.after is not None else ""
            raise Refused(
                "RUN004",
                f"{q(agent.id)} may not move {q(t.id)} from {q(t.state)} to {q(rec.target)}: nobody makes that "
                f"move; the clock makes it{when}",
                task=t.id,
            )
        if not self.permitted(rec.actors, agent, t):
            note = ""
            if "@peer" in rec.actors.relations and t.assignee == agent.id:
                note = "; the assignee can never act as @peer"
            raise Refused(
                "RUN004",
                f"{q(agent.id)} may not move {q(t.id)} from {q(t.state)} to {q(rec.target)}: permitted are "
                f"{self.describe(rec.actors, t)}{note}",
                task=t.id,
            )

    def gate_problems(self, t: Task, rec: TransitionRec) -> list[str]:
        """What keeps the gates of a transition from letting a task through in this visit."""
        problems = []
        gates = self.ctx.model.gates
        for g in rec.gates_at(t.tier):
            decided = t.decisions.get(g)
            if decided is None:
                problems.append(f"gate {q(g)} has no decision in this visit of {q(t.state)}")
            elif gates[g].outcomes[decided].effect != "pass":
                problems.append(f"gate {q(g)} decided {q(decided)}, which does not pass")
        return problems

    def automatic_ok(self, t: Task, rec: TransitionRec, now: float, tokens: float | None = None) -> bool:
        """An automatic transition happens only when its guard holds and its gates passed."""
        if not self.guards.holds(rec, t, now, tokens):
            return False
        return not self.gate_problems(t, rec)

    def check_not_waiting(self, as_: str, subject: str) -> None:
        """Refuse what an agent does about a task or instruction its open blocking question holds up."""
        state = self.ctx.state
        cid = state.waiting.get((as_, subject))
        if cid is not None:
            c = state.consultations[cid]
            until = f", or until {iso(c.due)} when the default applies" if c.due is not None else ""
            raise Refused(
                "RUN026",
                f"{q(as_)} waits for the answer to the blocking consultation {q(c.id)} ({c.name}) about "
                f"{q(subject)}: until one of {names(c.to)} answers{until}",
            )


def runs_stage(agent: AgentInfo, actor: str | None) -> bool:
    """Whether an agent is the actor of a flow step: anyone when it names none, ``@assignee``
    any member (an instruction has no assignee), else as ``acts_as`` says."""
    return actor is None or acts_as(agent, actor) or (actor == "@assignee" and agent.kind == "member")


# -- who may submit, create and close (the spec's ``instructions`` block) ----------------------


def admits(model: Model, agent: AgentInfo, actors: Sequence[str], domain: str | None = None) -> bool:
    """Whether one of ``actors`` is the agent: its role, ``@lead`` the lead of ``domain`` (any
    domain lead without one), ``@member`` a member of ``domain`` (any member without one)."""
    if agent.role in actors:
        return True
    if "@lead" in actors and (agent.role == model.domain_lead_role.get(domain) if domain else agent.kind == "lead"):
        return True
    return "@member" in actors and agent.works and (domain is None or agent.domain == domain)


def rule_text(model: Model, actors: Sequence[str], domain: str | None = None) -> str:
    """Whom ``actors`` admit (``admits``), for a refusal."""
    parts = []
    for a in actors:
        if a == "@lead":
            lead = model.domain_lead_role.get(domain or "")
            parts.append(f"@lead ({q(lead)}, the lead of {q(domain)})" if domain and lead else "@lead (any domain lead)")
        elif a == "@member":
            parts.append(f"@member (a member of {q(domain)})" if domain else "@member (any member)")
        else:
            parts.append(q(a))
    return ", ".join(parts) if parts else "any agent"


def may_submit(model: Model, agent: AgentInfo) -> bool:
    """Who may submit an instruction: those ``submit by`` names, else any agent."""
    rule = model.instructions.submit
    return not rule or admits(model, agent, rule)


def may_create(model: Model, agent: AgentInfo, kind: str, domain: str | None) -> bool:
    """Who may create a task of ``kind`` in ``domain`` (``None``: some domain): those its
    ``create`` clause names, else any agent."""
    rule = model.instructions.create.get(kind)
    if not rule:
        return True
    if domain is None:
        return any(admits(model, agent, rule, d) for d in model.domains)
    return admits(model, agent, rule, domain)


def closers(model: Model, tier: int) -> tuple[str, ...]:
    """Who closes an instruction of ``tier``, as written: ``close by``, else the actor of the
    tier's ``close`` step and the roles at the top and the staff roles."""
    rule = model.instructions.close
    if rule:
        return tuple(rule)
    flow = model.flows.get(tier)
    step = flow.actors.get(CLOSE_STAGE) if flow is not None else None
    staff = [r for r, spec in model.roles.items() if spec.kind == "staff"]
    return tuple(dict.fromkeys([*([step] if step else []), *model.top_roles, *staff]))


def may_close(model: Model, agent: AgentInfo, tier: int) -> bool:
    """Whether ``agent`` may close an instruction of ``tier`` (see ``closers``)."""
    rule = model.instructions.close
    if rule:
        return admits(model, agent, rule)
    flow = model.flows.get(tier)
    step = flow.actors.get(CLOSE_STAGE) if flow is not None else None
    return (agent.kind == "staff" or agent.role in model.top_roles
            or (step is not None and runs_stage(agent, step)))


def acts_as(agent: AgentInfo, actor: str) -> bool:
    """Whether ``agent`` is the actor a protocol or a flow step names: an agent, a role,
    ``@lead`` (any domain lead) or ``@member`` (any member)."""
    if actor in (agent.id, agent.role):
        return True
    if actor == "@lead":
        return agent.kind == "lead"
    if actor == "@member":
        return agent.kind == "member"
    return False
