"""Warnings for what is declared and never used (ORC8xx), and for roles that
share a display colour.

When lowering reported errors in the places that refer to a kind of thing,
some references were not resolved and are missing from the model; anything of
that kind could be what they meant, so none of it is reported as unused until
they are fixed.
"""

from __future__ import annotations

from collections.abc import Iterator

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.diagnostics import Diagnostics, Label


def _actions(c: m.Capacity | None) -> Iterator[m.Action]:
    if c is None:
        return
    for band in c.bands:
        if band.action is not None:
            yield band.action
    for act in (c.ic_action, c.domain_action):
        if act is not None:
            yield act


def referenced_roles(org: m.Organisation) -> set[str]:
    """Every role named anywhere a role can be named (relations excluded)."""
    refs: set[str] = set()
    for r in org.roles:
        if r.reports_to:
            refs.add(r.reports_to)
    for d in org.domains:
        refs.add(d.lead)
        refs.update(mem.role for mem in d.members)
    for s in org.lifecycle.states:
        refs.update(a for a in (s.owner,) if a)
        for th in (s.warn, s.escalate):
            if th is not None and th.to:
                refs.add(th.to)
        for t in s.transitions:
            refs.update(t.actors)
        refs.update(a for n in s.notify for a in n.to)
        if s.escalation is not None:
            refs.update(a for lv in s.escalation.levels for a in lv.to)
    for p in org.escalations:
        refs.update(a for lv in p.levels for a in lv.to)
    if org.delegation is not None:
        refs.update(org.delegation.chain)
        if org.delegation.overdue_escalate_to:
            refs.add(org.delegation.overdue_escalate_to)
    for ch in org.broadcast.channels:
        refs.update(ch.declared)
    for h in org.handoffs:
        refs.update(x for x in (h.accepted_by, h.from_role, h.to_role) if x)
    for st in org.standups:
        refs.update((st.from_, st.to))
    for c in org.consultations:
        refs.update((c.from_, c.to))
    if org.assignment is not None and org.assignment.fallback:
        refs.add(org.assignment.fallback)
    refs.update(act.target for act in _actions(org.capacity) if act.target)
    for tier in org.tiers:
        refs.update(step.actor for step in tier.flow if step.actor)
    for gate in org.gates:
        if gate.reviewer:
            refs.add(gate.reviewer)
        refs.update(a for n in gate.notify for a in n.to)
    refs.update(org.org.top or ())
    if org.instructions is not None:
        ins = org.instructions
        refs.update([*ins.submit, *ins.close, *(a for actors in ins.create.values() for a in actors)])
    return refs


def _unresolved(org: m.Organisation, *kinds: str) -> bool:
    """Whether lowering could not resolve something in an entity of these kinds
    (any kind when none are given)."""
    return any(not kinds or kind in kinds for kind, _ in org.broken)


def check_unused_roles(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC801: a role below the top that nothing names."""
    if _unresolved(org):  # roles are named from everywhere
        return
    refs = referenced_roles(org)
    for r in org.roles:
        if r.reports_to is None or r.id in refs or g.broken("role", r.id):
            continue
        diags.add("ORC801", f"role `{r.id}` is declared but nothing refers to it", r.span,
                  notes=["it is in no domain, no role reports to it, and no flow, state, gate or "
                         "protocol names it, so no work can reach it"],
                  help=f"give `{r.id}` work (a domain, a flow step, a gate...) or remove it")


def check_unused_skills(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC802: a skill no member holds or learns and no domain needs."""
    if _unresolved(org, "domain"):
        return
    used: set[str] = set()
    for d in org.domains:
        used.update(d.needs)
        for mem in d.members:
            used.update(mem.skills)
            used.update(mem.learning)
    for c in org.skills.categories:
        for skill in c.skills:
            if skill not in used:
                diags.add("ORC802", f"skill `{skill}` is declared but no member holds or learns it "
                          "and no domain needs it", c.skill_spans.get(skill, c.span),
                          help=f"give it to a member, or remove it from category `{c.name}`")


def check_unused_gates(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC803: a gate no tier's flow lists, so it never runs."""
    if _unresolved(org, "tier"):
        return
    for gate in org.gates:
        if not gate.tiers and not g.broken("gate", gate.name):
            diags.add("ORC803", f"gate `{gate.name}` is declared but no tier's flow lists it", gate.span,
                      notes=["a gate applies in the tiers whose flow names it; in no tier, it never runs"],
                      help=f"add `gate {gate.name}` to the flow of the tiers it should check")


def check_unused_escalations(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC806: a named escalation policy no state uses, so it never pages anyone."""
    if _unresolved(org, "state", "threshold", "lifecycle"):
        return
    used = {s.escalation.name for s in org.lifecycle.states if s.escalation is not None}
    for p in org.escalations:
        if p.name not in used:
            diags.add("ORC806", f"escalation policy `{p.name}` is declared but no state uses it", p.span,
                      notes=["a policy runs while a task stays in a state that names it"],
                      help=f"add `escalation {p.name}` to the states it should watch, or remove it")


def check_unused_experience(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC804: an experience level no member has and no `fit` names."""
    if _unresolved(org, "domain", "assignment"):
        return
    used = {mem.experience for d in org.domains for mem in d.members if mem.experience}
    if org.assignment is not None:
        used.update(org.assignment.fit.values())
    for lv in org.experience:
        if lv.name not in used:
            diags.add("ORC804", f"experience level `{lv.name}` is never used", lv.span,
                      notes=["no member has it and no `fit` of the assignment names it"],
                      help="remove it, or use it in a member's `experience` or in `fit`")


def check_colors(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC805: two roles with the same display colour."""
    first: dict[str, m.Role] = {}
    for r in org.roles:
        if not r.color:
            continue
        key = r.color.lower()
        prev = first.setdefault(key, r)
        if prev is r:
            continue
        diags.add("ORC805", f"roles `{prev.id}` and `{r.id}` share the colour `{r.color}`", r.span,
                  labels=[Label(prev.span, f"`{prev.id}` is {prev.color} too")] if prev.span else [],
                  notes=["agents are told apart by colour in logs and dashboards"],
                  help=f"give `{r.id}` a colour of its own")


CHECKS: list[Check] = [
    check_unused_roles,
    check_unused_skills,
    check_unused_gates,
    check_unused_escalations,
    check_unused_experience,
    check_colors,
]
