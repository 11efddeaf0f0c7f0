"""Stage 2, lowering: the task lifecycle.

In: the ``lifecycle`` block with its states and transitions (through
``Scope``), the declared tiers and domains. Out: ``Lifecycle`` (its tiers,
its initial state and each ``State`` with owner, SLA per tier, warning and
escalation thresholds, heartbeat, requirements and ``Transition`` list),
guards type-checked against the task environment; then, once tiers and gates
are lowered, where each transition can fire and which gates guard it
(``apply_tiers``).

State names are declared before any transition refers to them. Initial and
terminal states, reachability and threshold order are left to
``checks.lifecycle``.
"""

from __future__ import annotations

from typing import Any

from orchdsl import ast
from orchdsl import model as m
from orchdsl.guards import GuardChecker, partial_eval, task_environment, to_text
from orchdsl.lower import escalation, protocols
from orchdsl.lower.scope import Scope, named, text


def lifecycle(sc: Scope) -> m.Lifecycle:
    blocks = sc.blocks("lifecycle")
    if not blocks:
        return m.Lifecycle()
    b = blocks[0]
    for st in b.of("state"):
        assert isinstance(st, ast.Block)
        if not sc.define(sc.state_names, "state", named(st), st):
            # The second declaration's transitions are lost: the first
            # may look like a dead end that is not one.
            sc.broken.add(("state", named(st).text))
    before = len(sc.diags)
    tiers_clause = sc.one(b, "tiers")
    tiers = sc.tiers(tiers_clause) if tiers_clause else sorted(sc.declared_tiers)
    sc.mark("lifecycle", b.name.text if b.name else "task", before)
    env = task_environment(sc.domain_names, protocols.task_priorities(sc))
    states: list[m.State] = []
    for st in sc.state_names.values():
        s = _state(sc, st, tiers, env)
        if s is not None:
            states.append(s)
    initial = [s.name for s in states if s.initial]
    return m.Lifecycle(
        name=b.name.text if b.name else "task", tiers=tiers,
        initial=initial[0] if len(initial) == 1 else None, states=states, span=b.span,
    )


def _state(sc: Scope, st: ast.Block, lc_tiers: list[int], env: dict[str, Any]) -> m.State | None:
    name = named(st).text
    before = len(sc.diags)
    own_tiers = sc.one(st, "tiers")
    tiers = sc.tiers(own_tiers) if own_tiers else list(lc_tiers)
    sc.mark("state", name, before)
    before = len(sc.diags)
    sla: list[m.TierBudget] = []
    for rng, budget in sc.one(st, "sla") or []:
        bud = sc.budget(budget)
        if bud is None:
            continue
        if bud.kind == "multiple":
            sc.diags.add("ORC901", "an SLA target cannot be a multiple of itself", budget.span,
                         help="write a duration, a token budget or `estimate`")
            continue
        sla.append(m.TierBudget(tiers=sc.tiers([rng]) if rng else None, budget=bud))
    sc.mark("sla", name, before)
    before = len(sc.diags)
    warn = _threshold(sc, sc.one(st, "warn"), default_to=None)
    esc = _threshold(sc, sc.one(st, "escalate"), default_to=None)
    policy = escalation.state_policy(sc, st)
    notify = escalation.notifications(sc, st, None)
    sc.mark("threshold", name, before)
    transitions = []
    for tr in st.of("transition"):
        assert isinstance(tr, ast.Transition)
        before = len(sc.diags)
        t = _transition(sc, name, tr, env)
        if sc.mark("transition", f"{name}->{tr.target.text}", before):
            sc.broken.add(("state", name))
        if t is not None:
            transitions.append(t)
    before = len(sc.diags)
    owner = sc.actor(sc.one(st, "owner"), "owner")
    sc.mark("owner", name, before)
    terminal = sc.one(st, "terminal")
    before = len(sc.diags)
    state = sc.build(
        m.State, named(st).span, name=name, description=text(sc.one(st, "description")),
        initial=bool(sc.one(st, "initial")), terminal=terminal,
        owner=owner, sla=sla, warn=warn, escalate=esc, escalation=policy, notify=notify,
        heartbeat=sc.budget(sc.one(st, "heartbeat")), tiers=tiers,
        requires=[n.text for n in sc.names(sc.one(st, "requires"))],
        transitions=transitions, span=named(st).span,
    )
    sc.mark("state", name, before)
    return state


def _threshold(sc: Scope, value: Any, default_to: str | None) -> m.Threshold | None:
    if value is None:
        return None
    budget, to = value
    bud = sc.budget(budget)
    if bud is None:
        return None
    return m.Threshold(budget=bud, to=sc.actor(to, "threshold") if to else default_to,
                       span=budget.span, to_span=to.span if to else None)


def _transition(sc: Scope, source: str, tr: ast.Transition, env: dict[str, Any]) -> m.Transition | None:
    target = sc.state(tr.target)
    guard_expr = sc.one(tr, "when")
    guard = None
    if guard_expr is not None:
        guard = GuardChecker(env, sc.diags).check(guard_expr)
    actors = [a for a in (sc.actor(n, "transition") for n in sc.one(tr, "by") or []) if a]
    after = sc.budget(sc.one(tr, "after"))
    if after is not None and after.kind not in ("time", "tokens"):
        sc.diags.add("ORC901", "an automatic transition fires after a duration or a token budget",
                     tr.span)
        after = None
    if target is None:
        return None
    return sc.build(
        m.Transition, tr.span, source=source, target=target,
        label=tr.label.value if tr.label else None, guard=guard,
        guard_text=to_text(guard) if guard else None, actors=actors, after=after,
        span=tr.target.span, guard_span=guard_expr.span if guard_expr is not None else None,
    )


def apply_tiers(sc: Scope, lc: m.Lifecycle, tiers: list[m.Tier], gates: list[m.Gate]) -> None:
    """Record where each transition can fire and which gates guard it."""
    for g in gates:
        g.tiers = sorted(t.number for t in tiers if g.name in t.gates)
    guarded: dict[tuple[str, str], dict[str, list[int]]] = {}
    for g in gates:
        for pair in g.transitions:
            guarded.setdefault(pair, {})[g.name] = list(g.tiers)
    applies = {s.name: set(s.tiers) for s in lc.states}
    for s in lc.states:
        for t in s.transitions:
            if t.target not in applies:
                # the target was declared but could not be built
                sc.broken.add(("state", s.name))
            t.tiers = [
                tier for tier in lc.tiers
                if tier in applies.get(s.name, ()) and tier in applies.get(t.target, ())
                and partial_eval(t.guard, {"tier": tier}) is not False
            ]
            t.gates = guarded.get((t.source, t.target), {})
