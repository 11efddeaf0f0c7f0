"""Stage 2, lowering: escalation policies and notifications.

In: the top-level ``escalation NAME { ... }`` blocks, a state's
``escalation NAME`` or ``escalation { ... }`` clause, and the ``notify``
clauses of states and gates (through ``Scope``). Out: ``EscalationPolicy``
(levels with their time and targets, the repeat count) and ``Notification``
lists; every target a declared role or a relation that means something there.

A state's policy is resolved here: a named one is copied into the state, so
the runtime reads one field. That the levels' times increase is left to
``checks.lifecycle``.
"""

from __future__ import annotations

from orchdsl import ast
from orchdsl import model as m
from orchdsl.diagnostics import Label, did_you_mean
from orchdsl.lower.scope import CONTEXT_NAMES, Scope, named, payload, text

NOTIFY_RELATIONS = ("@assignee", "@peer", "@lead", "@member", "@downstream_lead", m.OWNER)
"""the relations a notice may go to (``@owner``: the owner of the task's state)"""


def policies(sc: Scope) -> list[m.EscalationPolicy]:
    """The named policies, declared in ``sc.escalations`` for the states that use them."""
    out: list[m.EscalationPolicy] = []
    for b in sc.blocks("escalation"):
        name = named(b)
        before = len(sc.diags)
        policy = _policy(sc, b, name.text)
        if sc.define(sc.escalation_blocks, "escalation policy", name, b) and policy is not None:
            sc.escalations[name.text] = policy
            out.append(policy)
        sc.mark("escalation", name.text, before)
    return out


def state_policy(sc: Scope, st: ast.Block) -> m.EscalationPolicy | None:
    """The policy a state names or writes inline; ``escalate`` and ``escalation`` together are ORC007."""
    value = sc.one(st, "escalation")
    if value is None:
        return None
    legacy = next((c for c in st.clauses if c.kind == "escalate"), None)
    if legacy is not None:
        here = next(c for c in st.clauses if c.kind == "escalation")
        sc.diags.add("ORC007", f"state `{named(st).text}` has both `escalate` and `escalation`", here.span,
                     labels=[Label(legacy.span, "`escalate` given here")],
                     help="a state escalates one way: keep the single `escalate` or the policy")
        return None
    if isinstance(value, ast.Block):
        return _policy(sc, value, None)
    assert isinstance(value, ast.Name)
    policy = sc.escalations.get(value.text)
    if policy is None:
        if value.text not in sc.escalation_blocks:  # declared but broken: reported already
            sc.unknown("ORC115", "escalation policy", value, sc.escalation_blocks,
                       help="declare it with `escalation NAME { after DURATION to ROLE ... }`")
        return None
    return policy


def _policy(sc: Scope, b: ast.Block, name: str | None) -> m.EscalationPolicy | None:
    levels: list[m.EscalationLevel] = []
    for c in b.of("level"):
        assert isinstance(c, ast.Clause)
        budget, targets = payload(c.value)
        after = sc.budget(budget)
        to = [a for a in (_target(sc, t, "escalation") for t in targets) if a is not None]
        if after is None or len(to) != len(targets):
            continue
        lvl = sc.build(m.EscalationLevel, c.span, after=after, to=to, span=c.span)
        if lvl is not None:
            levels.append(lvl)
    if not b.of("level"):
        sc.diags.add("ORC008", f"escalation policy{f' `{name}`' if name else ''} has no level",
                     b.name.span if b.name else b.span,
                     help="add a level: `after 15m to secondary`")
    repeat = sc.one_clause(b, "repeat")
    count = repeat.value if repeat is not None else None
    if isinstance(count, ast.Num) and count.value > m.MAX_REPEAT:
        sc.diags.add("ORC901", f"`repeat {count.value:g}` is more than {m.MAX_REPEAT}, the most "
                     "rounds a policy may repeat", count.span,
                     help="page someone who can end the incident at the last level instead")
        count = None
    return sc.build(
        m.EscalationPolicy, b.span, name=name, description=text(sc.one(b, "description")), levels=levels,
        repeat=int(count.value) if isinstance(count, ast.Num) else 0, span=b.span,
        repeat_span=repeat.span if repeat is not None else None,
    )


def notifications(sc: Scope, block: ast.Block, outcomes: list[str] | None) -> list[m.Notification]:
    """The ``notify`` clauses of a state (``outcomes`` None: ``on`` is not allowed) or of a gate
    (``outcomes``: the gate's, which ``on`` must name)."""
    out: list[m.Notification] = []
    for c in block.of("notify"):
        assert isinstance(c, ast.Clause)
        targets, on, message = payload(c.value)
        to = [a for a in (_target(sc, t, "notify") for t in targets) if a is not None]
        names: list[str] = []
        for o in on or []:
            if outcomes is None:
                sc.diags.add("ORC110", "`on` names gate outcomes; a state's notice goes out when a task "
                             "enters the state", o.span, help="remove `on ...`, or move the notice to a gate")
            elif o.text not in outcomes:
                sc.unknown("ORC113", "outcome", o, outcomes,
                           help="outcomes of this gate: " + (", ".join(f"`{x}`" for x in outcomes) or "none"))
            else:
                names.append(o.text)
        if len(to) != len(targets) or len(names) != len(on or []):
            continue
        n = sc.build(m.Notification, c.span, to=to, outcomes=names, text=text(message), span=c.span)
        if n is not None:
            out.append(n)
    return out


def _target(sc: Scope, name: ast.Name, context: str) -> str | None:
    """A role, or a relation allowed in ``context`` (``notify``: ``NOTIFY_RELATIONS``)."""
    if context != "notify":
        return sc.actor(name, context)
    if not name.is_relation:
        return sc.role(name)
    if name.text in NOTIFY_RELATIONS:
        return name.text
    if name.text in m.RELATIONS:
        sc.diags.add("ORC110", f"`{name.text}` has no meaning as {CONTEXT_NAMES['notify']}", name.span,
                     help=f"use a role or one of {', '.join(NOTIFY_RELATIONS)}")
        return None
    sc.diags.add("ORC109", f"unknown relation `{name.text}`", name.span,
                 help=did_you_mean(name.text, NOTIFY_RELATIONS)
                 or "a notice goes to a role or one of " + ", ".join(NOTIFY_RELATIONS))
    return None


__all__ = ["NOTIFY_RELATIONS", "notifications", "policies", "state_policy"]
