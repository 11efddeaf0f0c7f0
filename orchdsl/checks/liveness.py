"""Checks that a run can always go on (ORC327, ORC328, ORC413): whoever must act next exists
when the task gets there.

- ORC327: the transition that assigns a task (out of a state a task is in before it has an
  assignee, into a state owned by ``@assignee``) is made by ``@assignee`` alone: the runtime
  refuses ``assign`` to everyone.
- ORC328 (a warning): a state that assigned tasks of some domain can never leave, because
  every way out needs ``@peer`` (as the actor, or as the reviewer of a gate on it) and the
  domain has one member, who is the assignee and so never the peer.
- ORC413: a handoff says where accepted work goes (``on accept``) but not where rejected work
  goes back to (``on reject``): the runtime refuses every rejection of it.

A task has no assignee from its creation until ``assign`` moves it into a state owned by
``@assignee``; the states it can be in meanwhile are the initial state and those reached from
it through states not owned by ``@assignee``.
"""

from __future__ import annotations

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs, closure
from orchdsl.checks.lifecycle import tier_list
from orchdsl.checks.protocols import head_span
from orchdsl.diagnostics import Diagnostics, Label

ASSIGNEE = "@assignee"
PEER = "@peer"


def before_assignment(org: m.Organisation) -> set[str]:
    """The states a task can be in before it has an assignee."""
    lc = org.lifecycle
    owned = {s.name for s in lc.states if s.owner == ASSIGNEE}
    start = [s.name for s in lc.states if s.initial]
    seen = set(start)
    todo = list(start)
    while todo:
        state = lc.state(todo.pop())
        for t in state.transitions if state else []:
            if t.target not in owned and t.target not in seen:
                seen.add(t.target)
                todo.append(t.target)
    return seen


def check_actors_exist(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC327: an assignment only the missing assignee may make."""
    lc = org.lifecycle
    owned = {s.name for s in lc.states if s.owner == ASSIGNEE}
    unassigned = before_assignment(org)
    for s in lc.states:
        for t in s.transitions:
            if not t.actors or g.broken("transition", f"{s.name}->{t.target}"):
                continue
            where = t.span or s.span
            if s.name in unassigned and t.target in owned and set(t.actors) == {ASSIGNEE}:
                diags.add("ORC327", f"`{s.name} -> {t.target}` assigns the task, and only `@assignee` may make "
                          "it: a task in this state has no assignee yet", where,
                          notes=[f"`assign` makes this move (`{t.target}` is owned by `@assignee`), and the "
                                 "runtime refuses it to everyone"],
                          help=f"let the one who assigns make it: `-> {t.target} by @lead`")


def workers(domain: m.Domain) -> int:
    """How many agents work in a domain: its members, a working lead among them."""
    return sum(mem.count for mem in domain.members)


def check_peer_exists(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC328: a state that an assigned task of a one-member domain can reach and never leave,
    every way out at its tier needing a peer: ``@peer`` its only actor, or the reviewer of a gate
    that guards it at that tier and applies to the domain (to tasks carrying its labels, when it
    names some). Automatic transitions need nobody. Before assignment any member is ``@peer``,
    so only states reached from one owned by ``@assignee`` count."""
    lonely = [d for d in org.domains if workers(d) == 1 and not g.broken("domain", d.name)]
    if not lonely:
        return
    gates = {gate.name: gate for gate in org.gates}

    def peer_gates(t: m.Transition, domain: str, tier: int) -> list[str]:
        """The gates on ``t`` at ``tier`` that only a peer decides and that apply to ``domain``."""
        return [name for name, at in t.gates.items() if tier in at and (gate := gates.get(name)) is not None
                and gate.reviewer == PEER and (gate.domains is None or domain in gate.domains)]

    stuck: dict[tuple[str, str], list[int]] = {}
    for tier in g.tiers:
        lg = g.lifecycle(tier)
        assigned = closure(lg.successors, [s for s in g.reachable(tier) if g.states[s].owner == ASSIGNEE])
        for s in org.lifecycle.states:
            outs = [t for t in s.transitions if tier in t.tiers or not g.tiered]
            if s.name not in assigned or s.terminal or not outs \
                    or any(g.broken("transition", f"{s.name}->{t.target}") for t in s.transitions):
                continue
            for d in lonely:
                if all(t.after is None and (set(t.actors) == {PEER} or peer_gates(t, d.name, tier)) for t in outs):
                    stuck.setdefault((s.name, d.name), []).append(tier)
    domains = {d.name: d for d in lonely}
    for (name, dname), tiers in stuck.items():
        s, d = g.states[name], domains[dname]
        gated = sorted({x for tier in tiers for t in s.transitions for x in peer_gates(t, dname, tier)})
        where = f" at {tier_list(tiers)}" if g.tiered and tiers != g.tiers else ""
        how = "; " + ", ".join(f"`{x}`" for x in gated) + (" are" if len(gated) > 1 else " is") \
            + " decided by `@peer`" if gated else ""
        diags.add("ORC328", f"tasks of `{dname}`{where} can never leave `{name}`: every way out needs `@peer`, "
                  f"and `{dname}` has one member", s.span,
                  labels=[Label(d.span, f"`{dname}` has no second member to be the peer")] if d.span else [],
                  notes=[f"`@peer` is a member of the task's domain other than its assignee{how}"],
                  help=f"add a member to `{dname}`, or let another actor make a move out of `{name}`")


def check_handoff_rejection(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC413: a handoff whose handoff state has a way out on acceptance and none on rejection."""
    for h in org.handoffs:
        if h.on_accept is None or h.on_reject is not None or g.broken("handoff", h.ends):
            continue
        state = h.on_accept[0]
        diags.add("ORC413", f"handoff `{h.ends.replace('->', ' -> ')}` has no rejection path: accepted work goes "
                  f"`{state} -> {h.on_accept[1]}`, rejected work nowhere",
                  head_span(h.span, "handoff"),
                  notes=["the receiving lead can never send the work back: the runtime refuses every rejection"],
                  help=f"add `on reject {state} -> STATE` with the state rejected work returns to")


CHECKS: list[Check] = [
    check_actors_exist,
    check_peer_exists,
    check_handoff_rejection,
]
