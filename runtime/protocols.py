"""Protocols between agents: handoffs, delegation, broadcasts, consultations.

Each command validates against the state and records its events through
``Context.commit``; the deadlines of the protocols (overdue acknowledgements,
unanswered consultations) are timers the clock fires in time order with the
task deadlines (``firing.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .context import Context, names, q
from .contract.events import Draft, Event
from .contract.model import Consultation as ConsultationSpec
from .contract.model import Handoff as HandoffSpec
from .errors import Refused
from .model import AgentInfo, Model, default_priority
from .permissions import Permissions, acts_as
from .records import Consultation, Delegation, Handoff, Task

DEFAULT_ACCEPTOR = "@downstream_lead"
"""who accepts a handoff that names no acceptor"""


def handoff_keys(from_domain: str, to_domain: str) -> tuple[tuple[str, str], ...]:
    """The (from, to) pairs a handoff between two domains is looked up by, in order: the
    specific pair first, then ``from -> *``, ``* -> to`` and ``* -> *``."""
    return (from_domain, to_domain), (from_domain, "*"), ("*", to_domain), ("*", "*")


def on_link(agent: AgentInfo, link: str, domain: str | None) -> bool:
    """Whether an agent fills a link of the delegation chain: ``@lead`` is any domain lead,
    ``@member`` any member (of ``domain`` when given), anything else a role by name."""
    if link == "@lead":
        return agent.kind == "lead"
    if link == "@member":
        return agent.kind == "member" and (domain is None or agent.domain == domain)
    return agent.role == link


def on_hop(sender: AgentInfo, recipient: AgentInfo, up: str, down: str) -> bool:
    """Whether a delegation from ``sender`` to ``recipient`` follows the chain's hop ``up -> down``;
    below ``@lead``, a ``@member`` is of the lead's own domain."""
    return on_link(sender, up, None) and on_link(recipient, down, sender.domain if up == "@lead" else None)


def handoff_acceptor(model: Model, accepted_by: str, from_domain: str, to_domain: str) -> str | None:
    """The role that accepts a handoff: ``@downstream_lead`` is the receiving domain's lead,
    ``@lead`` the handing domain's, anything else a role by name."""
    if accepted_by == "@downstream_lead":
        return model.domain_lead_role.get(to_domain)
    if accepted_by == "@lead":
        return model.domain_lead_role.get(from_domain)
    return accepted_by


def role_handoff(model: Model, sender: AgentInfo, domain: str, assignee: str | None, to_role: str) -> HandoffSpec | None:
    """The handoff between roles ``sender`` may make of a task of ``domain`` to ``to_role``: one
    from the sender's role, which is the assignee's (when the sender is the assignee) or the lead
    of ``domain``; ``None`` when there is none (or it declares no ``on accept``)."""
    holds = sender.id == assignee or sender.role == model.domain_lead_role.get(domain)
    if not holds:
        return None
    return next((h for h in model.handoffs if h.to_role == to_role and h.from_role == sender.role
                 and h.on_accept is not None), None)


class Protocols:
    """Handoffs, delegation with acknowledgement, broadcasts and consultations."""

    def __init__(self, ctx: Context, perms: Permissions) -> None:
        self.ctx = ctx
        self.perms = perms

    # -- handoffs -----------------------------------------------------------------

    def handoff_spec(self, from_domain: str, to_domain: str) -> HandoffSpec | None:
        """The handoff declared for a pair of domains (``handoff_keys`` gives the order)."""
        specs = self.ctx.model.handoffs
        for f, t in handoff_keys(from_domain, to_domain):
            for spec in specs:
                if spec.from_domain == f and spec.to_domain == t and spec.to_role is None:
                    return spec
        return None

    def acceptor_role(self, h: Handoff) -> str | None:
        """The role that accepts or rejects a handoff."""
        return handoff_acceptor(self.ctx.model, h.accepted_by, h.from_domain, h.to_domain)

    def _handoff(self, handoff: str) -> Handoff:
        h = self.ctx.state.handoffs.get(handoff)
        if h is None:
            raise Refused("RUN002", f"unknown handoff {q(handoff)}")
        if h.status != "open":
            raise Refused("RUN021", f"handoff {q(h.id)} is {h.status}")
        return h

    def _check_acceptor(self, agent: AgentInfo, h: Handoff, verb: str) -> None:
        role = self.acceptor_role(h)
        if agent.role != role:
            who = names(self.ctx.model.agents_by_role.get(role or "", ()))
            raise Refused(
                "RUN004", f"{q(agent.id)} may not {verb} handoff {q(h.id)}: its acceptor is {h.accepted_by} ({who})"
            )

    def create_handoff(
        self,
        as_: str,
        task: str,
        to_domain: str | None = None,
        summary: str = "",
        artifacts: Sequence[str] = (),
        to_role: str | None = None,
    ) -> str:
        """The task's domain lead hands a task to another domain; returns the handoff id
        (``H1``, ...). The checklist is the declared handoff's. With ``to_role``, a handoff
        between roles within the task's domain (``role_handoff``)."""
        out: list[str] = []

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            t = self.ctx.task(task)
            m = self.ctx.model
            if to_role is not None:
                if to_domain is not None:
                    raise Refused("RUN013", "a handoff goes to a domain or to a role, not both")
                return self._role_handoff(agent, t, to_role, summary, artifacts, now, out)
            if agent.role != m.domain_lead_role.get(t.domain):
                raise Refused(
                    "RUN004", f"only the lead of {q(t.domain)} hands its tasks over; {q(as_)} is {q(agent.role)}"
                )
            to = to_domain if to_domain is not None else t.handoff_to
            if to is None:
                raise Refused("RUN013", f"name the domain {q(t.id)} is handed to")
            if to not in m.domains:
                raise Refused("RUN002", f"unknown domain {q(to)}; domains are {names(m.domains)}")
            if to == t.domain:
                raise Refused("RUN013", f"a handoff goes to another domain than {q(t.domain)}")
            if t.handoff_to is not None and to != t.handoff_to:
                raise Refused("RUN013", f"task {q(t.id)} is handed to {q(t.handoff_to)}, not {q(to)}")
            if not summary.strip():
                raise Refused("RUN013", "a handoff needs a summary")
            spec = self.handoff_spec(t.domain, to)
            if spec is None:
                raise Refused("RUN024", f"no handoff is declared from {q(t.domain)} to {q(to)}")
            if t.handoff is not None:
                raise Refused("RUN021", f"task {q(t.id)} has the open handoff {q(t.handoff)}")
            if spec.on_accept is None:
                raise Refused("RUN024", f"the handoff from {q(t.domain)} to {q(to)} declares no `on accept`")
            source = spec.on_accept[0]
            if t.state != source:
                raise Refused(
                    "RUN024", f"task {q(t.id)} is in {q(t.state)}; a handoff starts in {q(source)}", task=t.id
                )
            hid = f"H{len(self.ctx.state.handoffs) + 1}"
            out[:] = [hid]
            accepted_by = spec.accepted_by or DEFAULT_ACCEPTOR
            acceptor = handoff_acceptor(m, accepted_by, t.domain, to)
            data = {
                "handoff": hid, "task": t.id, "from_domain": t.domain, "to_domain": to, "by": as_,
                "summary": summary, "artifacts": list(artifacts), "checklist": list(spec.checklist),
                "accepted_by": accepted_by, "on_accept": spec.on_accept[1],
                "on_reject": spec.on_reject[1] if spec.on_reject else None,
                "to": list(m.agents_by_role.get(acceptor or "", ())),
            }
            return [("handoff_created", now, as_, data)]

        self.ctx.commit(build)
        return out[0]

    def _role_handoff(self, agent: AgentInfo, t: Task, to_role: str, summary: str, artifacts: Sequence[str],
                      now: float, out: list[str]) -> list[Draft]:
        """A handoff between roles: the task's assignee, or its domain's lead, hands the task to
        the role a ``handoff role A -> B`` names (A its own role); an agent of B accepts."""
        m = self.ctx.model
        if agent.id != t.assignee and agent.role != m.domain_lead_role.get(t.domain):
            raise Refused(
                "RUN004", f"{q(agent.id)} may not hand {q(t.id)} over: it is neither its assignee nor the lead "
                f"of {q(t.domain)}", task=t.id,
            )
        spec = role_handoff(m, agent, t.domain, t.assignee, to_role)
        if spec is None:
            declared = [f"{h.from_role} -> {h.to_role}" for h in m.handoffs if h.to_role is not None]
            raise Refused(
                "RUN024", f"no handoff between roles is declared from {q(agent.role)} to {q(to_role)}; "
                f"declared are {names(declared)}", task=t.id,
            )
        if not summary.strip():
            raise Refused("RUN013", "a handoff needs a summary")
        if t.handoff is not None:
            raise Refused("RUN021", f"task {q(t.id)} has the open handoff {q(t.handoff)}")
        assert spec.on_accept is not None
        source = spec.on_accept[0]
        if t.state != source:
            raise Refused("RUN024", f"task {q(t.id)} is in {q(t.state)}; a handoff starts in {q(source)}", task=t.id)
        hid = f"H{len(self.ctx.state.handoffs) + 1}"
        out[:] = [hid]
        data = {
            "handoff": hid, "task": t.id, "from_domain": t.domain, "to_domain": t.domain, "by": agent.id,
            "summary": summary, "artifacts": list(artifacts), "checklist": list(spec.checklist),
            "accepted_by": to_role, "on_accept": spec.on_accept[1],
            "on_reject": spec.on_reject[1] if spec.on_reject else None,
            "to": list(m.agents_by_role.get(to_role, ())),
        }
        return [("handoff_created", now, agent.id, data)]

    def tick_handoff(self, as_: str, handoff: str, items: str | Sequence[str]) -> list[Event]:
        """The upstream side (the task's domain lead or assignee) completes checklist items,
        all or none: one refused item refuses them all."""
        ticks = [items] if isinstance(items, str) else list(items)

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            h = self._handoff(handoff)
            t = self.ctx.state.tasks[h.task]
            if agent.role != self.ctx.model.domain_lead_role.get(h.from_domain) and agent.id != t.assignee:
                raise Refused(
                    "RUN004", f"{q(as_)} may not tick handoff {q(h.id)}: the upstream lead or the assignee does"
                )
            if not ticks:
                raise Refused("RUN013", "name the checklist items to tick")
            for i, item in enumerate(ticks):
                if item not in h.checklist:
                    raise Refused("RUN013", f"{q(item)} is not on the checklist of {q(h.id)}: {names(h.checklist)}")
                if item in h.ticked or item in ticks[:i]:
                    raise Refused("RUN021", f"{q(item)} of {q(h.id)} is ticked already")
            return [("handoff_ticked", now, as_, {"handoff": h.id, "task": h.task, "item": item}) for item in ticks]

        return self.ctx.commit(build)

    def accept_handoff(self, as_: str, handoff: str, attest: Sequence[str] = ()) -> list[Event]:
        """The acceptor takes the handoff once every checklist item is complete;
        the task makes the ``on accept`` transition as the acceptor (guards,
        gates and ``requires`` apply: ``attest`` vouches for the target's items)."""
        return self._decide_handoff(as_, handoff, True, None, attest)

    def reject_handoff(self, as_: str, handoff: str, reason: str, attest: Sequence[str] = ()) -> list[Event]:
        """The acceptor sends the work back: the ``on reject`` transition."""
        return self._decide_handoff(as_, handoff, False, reason, attest)

    def _decide_handoff(
        self, as_: str, handoff: str, accept: bool, reason: str | None, attest: Sequence[str]
    ) -> list[Event]:
        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            h = self._handoff(handoff)
            self._check_acceptor(agent, h, "accept" if accept else "reject")
            t = self.ctx.state.tasks[h.task]
            if accept:
                missing = [i for i in h.checklist if i not in h.ticked]
                if missing:
                    raise Refused(
                        "RUN022", f"handoff {q(h.id)} has unticked checklist items: {names(missing)}", missing=missing
                    )
            elif not (reason or "").strip():
                raise Refused("RUN013", "a rejection needs a reason")
            target = h.on_accept if accept else h.on_reject
            if target is None:
                raise Refused("RUN013", f"handoff {q(h.id)} declares no rejection path (`on reject`)")
            self.perms.check_move(agent, t, target, attest, now)
            upstream = list(self.ctx.model.agents_for("@lead", h.from_domain))
            if t.assignee is not None and t.assignee not in upstream:
                upstream.append(t.assignee)
            kind = "handoff_accepted" if accept else "handoff_rejected"
            data: dict[str, Any] = {"handoff": h.id, "task": t.id, "to": upstream}
            if not accept:
                data["reason"] = reason
            moved = {"task": t.id, "source": t.state, "target": target, "visit": t.visit, "attest": list(attest),
                     "handoff": h.id}
            return [(kind, now, as_, data), ("task_moved", now, as_, moved)]

        return self.ctx.commit(build)

    # -- delegation -----------------------------------------------------------------

    def _on_chain(self, sender: AgentInfo, recipient: AgentInfo) -> bool:
        chain = self.ctx.model.delegation.chain if self.ctx.model.delegation else ()
        return any(on_hop(sender, recipient, up, down) for up, down in zip(chain, chain[1:], strict=False))

    def delegate(
        self,
        as_: str,
        to: str,
        subject: str,
        message: str = "",
        priority: str | None = None,
        instruction: str | None = None,
        task: str | None = None,
    ) -> str:
        """Delegate one hop down the declared chain; returns the delegation id
        (``D1``, ...). The recipient must acknowledge within the model's
        ``acknowledge_within``, or the delegation escalates once."""
        out: list[str] = []

        chosen = priority if priority is not None else default_priority(self.ctx.model.priorities)

        def build(now: float) -> list[Draft]:
            sender = self.ctx.agent(as_)
            recipient = self.ctx.agent(to)
            if not self._on_chain(sender, recipient):
                chain = self.ctx.model.delegation.chain if self.ctx.model.delegation else ()
                raise Refused(
                    "RUN020",
                    f"{q(as_)} ({q(sender.role)}) may not delegate to {q(to)} ({q(recipient.role)}): "
                    f"delegation goes one hop down the chain {' -> '.join(chain) or '(none declared)'}",
                )
            declared = self.ctx.model.priorities
            if chosen not in declared:
                raise Refused("RUN013", f"priority {q(chosen)} is not one of {names(declared)}")
            if not subject.strip():
                raise Refused("RUN013", "a delegation needs a subject")
            if instruction is not None and instruction not in self.ctx.state.instructions:
                raise Refused("RUN002", f"unknown instruction {q(instruction)}")
            if task is not None:
                self.ctx.task(task)
            within = self.ctx.model.delegation.acknowledge_within if self.ctx.model.delegation else None
            due = now + within.value if within is not None and within.kind == "time" else None
            did = f"D{len(self.ctx.state.delegations) + 1}"
            out[:] = [did]
            data = {
                "delegation": did, "from": as_, "to": to, "subject": subject, "message": message,
                "priority": chosen, "instruction": instruction, "task": task, "due": due,
            }
            return [("delegated", now, as_, data)]

        self.ctx.commit(build)
        return out[0]

    def acknowledge(self, as_: str, delegation: str, decline: bool = False, notes: str = "") -> list[Event]:
        """The recipient acknowledges a delegation, once: accepts it, or declines it."""

        def build(now: float) -> list[Draft]:
            self.ctx.agent(as_)
            dl = self.ctx.state.delegations.get(delegation)
            if dl is None:
                raise Refused("RUN002", f"unknown delegation {q(delegation)}")
            if as_ != dl.to:
                raise Refused("RUN004", f"only the recipient {q(dl.to)} acknowledges {q(dl.id)}")
            if dl.status != "pending":
                raise Refused("RUN021", f"delegation {q(dl.id)} is {dl.status} already")
            data = {"delegation": dl.id, "accepted": not decline, "notes": notes, "late": bool(dl.escalated)}
            return [("delegation_acknowledged", now, as_, data)]

        return self.ctx.commit(build)

    def overdue_draft(self, dl: Delegation, due: float) -> Draft:
        m = self.ctx.model
        target = (m.delegation.overdue_escalate_to if m.delegation else None) or ""
        recipient = m.agents.get(dl.to)
        to = list(m.agents_for(target, recipient.domain if recipient else None)) if target else []
        data: dict[str, Any] = {"delegation": dl.id, "due": due, "to_actor": target or None, "to": to}
        if recipient is not None and (dl.to in to or dl.sender in to):
            # The declared target is the recipient (or the sender) itself: escalating to
            # it would tell the one who is late, so go one level up from the recipient.
            parent = next(iter(m.role_ancestors.get(recipient.role, ())), None)
            above = list(m.agents_by_role.get(parent, ())) if parent is not None else []
            if not above:  # the recipient is at the top: back to the sender
                sender = m.agents.get(dl.sender)
                parent, above = (sender.role if sender else None), [dl.sender]
            data.update(to_actor=parent, to=above, declared_to=target)
        return ("delegation_overdue", due, None, data)

    # -- broadcasts -----------------------------------------------------------------

    def broadcast(self, as_: str, channel: str, kind: str, priority: str | None = None, subject: str = "",
                  message: str = "") -> list[Event]:
        """Send a message to every agent of a channel's member roles (but the sender)."""

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            spec = self.ctx.model.broadcast
            channels = self.ctx.model.channels
            ch = channels.get(channel)
            if ch is None:
                raise Refused("RUN002", f"unknown channel {q(channel)}; channels are {names(channels)}")
            kinds, priorities = spec.kinds, spec.priorities
            chosen = priority if priority is not None else default_priority(priorities)
            if kind not in kinds:
                raise Refused("RUN013", f"broadcast kind {q(kind)} is not one of {names(kinds)}")
            if chosen not in priorities:
                raise Refused("RUN013", f"broadcast priority {q(chosen)} is not one of {names(priorities)}")
            if not subject.strip():
                raise Refused("RUN013", "a broadcast needs a subject")
            members = list(ch.members)
            anc = self.ctx.model.role_ancestors
            if agent.role not in members and not all(agent.role in anc.get(r, ()) for r in members):
                raise Refused(
                    "RUN004",
                    f"{q(as_)} may not broadcast on {q(channel)}: senders are its members or an ancestor of "
                    f"all of them",
                )
            to = [a for r in members for a in self.ctx.model.agents_by_role.get(r, ()) if a != as_]
            data = {"channel": channel, "kind": kind, "priority": chosen, "subject": subject,
                    "message": message, "to": to}
            return [("broadcast_sent", now, as_, data)]

        return self.ctx.commit(build)

    # -- consultations --------------------------------------------------------------

    def consultation_spec(self, name: str) -> ConsultationSpec | None:
        """The declared consultation ``name`` of the model, or None."""
        return self.ctx.model.consultations.get(name)

    def consult(
        self,
        as_: str,
        consultation: str,
        question: str,
        instruction: str | None = None,
        task: str | None = None,
    ) -> str:
        """Put a question along a declared consultation; returns its id (``C1``, ...).

        The asker must be the consultation's ``from`` actor; the agents of its
        ``to`` actor (for ``@lead``/``@member``: of the task's domain, else the
        asker's) may answer. A blocking consultation about a task or an
        instruction holds the asker's moves of that task, or its new tasks of
        that instruction, until it is answered or its timeout passes; then the
        declared default is the answer."""
        out: list[str] = []

        def build(now: float) -> list[Draft]:
            agent = self.ctx.agent(as_)
            spec = self.consultation_spec(consultation)
            if spec is None:
                declared = list(self.ctx.model.consultations)
                raise Refused("RUN002", f"unknown consultation {q(consultation)}; consultations are {names(declared)}")
            if not acts_as(agent, spec.from_):
                raise Refused(
                    "RUN004",
                    f"{q(as_)} ({q(agent.role)}) may not ask {q(consultation)}: its asker is {q(spec.from_)}",
                )
            if not question.strip():
                raise Refused("RUN013", "a consultation needs a question")
            if instruction is not None and instruction not in self.ctx.state.instructions:
                raise Refused("RUN002", f"unknown instruction {q(instruction)}")
            t = self.ctx.task(task) if task is not None else None
            if t is not None and instruction is not None and t.instruction != instruction:
                raise Refused("RUN013", f"task {q(t.id)} belongs to instruction {q(t.instruction)}, not {q(instruction)}")
            blocking = spec.blocking
            subject = task if task is not None else instruction
            if blocking and subject is not None:
                self.perms.check_not_waiting(as_, subject)  # one blocking question per subject at a time
            to = self._consultation_to(spec.to, agent, t)
            if not to:
                raise Refused("RUN015", f"nobody to answer {q(consultation)}: no agent is {q(spec.to)} here")
            timeout = spec.timeout
            due = now + timeout.value if timeout is not None and timeout.kind == "time" else None
            default = spec.default
            cid = f"C{len(self.ctx.state.consultations) + 1}"
            out[:] = [cid]
            data = {
                "id": cid, "consultation": consultation, "from": as_, "to": to, "question": question,
                "instruction": instruction if instruction is not None else (t.instruction if t else None),
                "task": task, "blocking": blocking, "due": due,
                "default": None if default is None else str(default),
            }
            return [("consultation_asked", now, as_, data)]

        self.ctx.commit(build)
        return out[0]

    def answer_consultation(self, as_: str, consultation: str, answer: str) -> list[Event]:
        """One of the agents asked answers an open consultation, once."""

        def build(now: float) -> list[Draft]:
            self.ctx.agent(as_)
            c = self.ctx.state.consultations.get(consultation)
            if c is None:
                raise Refused("RUN002", f"unknown consultation {q(consultation)}")
            if as_ not in c.to:
                raise Refused("RUN004", f"only {names(c.to)} may answer {q(c.id)} ({c.name})")
            if c.status != "open":
                raise Refused("RUN021", f"consultation {q(c.id)} is {c.status.replace('_', ' ')} already")
            if not answer.strip():
                raise Refused("RUN013", "an answer needs a text")
            return [("consultation_answered", now, as_, {"id": c.id, "answer": answer})]

        return self.ctx.commit(build)

    def _consultation_to(self, actor: str, asker: AgentInfo, t: Task | None) -> list[str]:
        m = self.ctx.model
        if actor in m.agents:
            found: list[str] = [actor]
        else:
            found = list(m.agents_for(actor, t.domain if t is not None else asker.domain))
        return [a for a in found if a != asker.id]

    def timed_out_draft(self, c: Consultation, due: float) -> Draft:
        return ("consultation_timed_out", due, None, {"id": c.id, "answer": c.default, "due": due})

