"""Stage 2, lowering: syntax trees in, an ``Organisation`` out.

Resolves every name (roles, domains, states, skills, levels, gates...),
reports duplicates, unknown references with "did you mean", missing and
repeated clauses, relations used out of context, and guard type errors. Values
are validated by the pydantic model; its errors become ORC901 at the span of
the offending clause (``Scope.build`` is the one place where that happens).

What needs a whole graph (cycles, reachability, paths that skip gates) is left
to ``checks``; lowering only records what the spec says, plus what follows
directly from it: agents expanded from member counts, per-domain channels,
the tiers where each state, transition and gate applies.

Lowering keeps going after errors and still returns a model. Each entity in
which it reported an error is recorded in ``Organisation.broken`` (a role
whose ``reports_to`` is unknown, a state that lost a transition, a gate with
an unknown state...), so that the checks can stay silent about the
consequences instead of reporting them as further mistakes.

The modules of this package follow the language's areas, as ``checks`` does:
``scope`` (the shared name tables and resolution), ``hierarchy`` (org, roles,
domains, agents), ``resources`` (skills, experience, assignment, capacity),
``lifecycle``, ``protocols`` and ``tiers`` (tiers, gates, metrics). ``lower``
below runs them in the order their names are needed.
"""

from __future__ import annotations

from orchdsl import ast
from orchdsl import model as m
from orchdsl.diagnostics import Diagnostics, Label
from orchdsl.guards import task_environment
from orchdsl.lower import escalation, hierarchy, lifecycle, protocols, resources, tiers
from orchdsl.lower.scope import Scope

SINGLETONS = ("skills", "experience", "lifecycle", "delegation", "broadcast", "assignment", "capacity",
              "instructions")


def _collect(sc: Scope, files: list[ast.File]) -> None:
    """Group the files' declarations by kind; a block that may appear once and repeats is ORC007."""
    sc.files = files
    for f in files:
        for item in f.items:
            sc.items.setdefault(item.kind, []).append(item)
    for kind in SINGLETONS:
        blocks = sc.blocks(kind)
        for extra in blocks[1:]:
            sc.diags.add("ORC007", f"`{kind}` is declared more than once", extra.span,
                         labels=[Label(blocks[0].span, "first declared here")],
                         help=f"merge the two `{kind}` blocks")


def lower(files: list[ast.File], diags: Diagnostics) -> m.Organisation | None:
    """Resolve the files of one organisation into its model."""
    sc = Scope(diags)
    _collect(sc, files)
    org = hierarchy.org(sc)
    tiers.declare_tiers(sc)
    skills = resources.skills(sc)
    experience = resources.experience(sc)
    hierarchy.declare_roles(sc)
    domains = hierarchy.domains(sc)
    roles = hierarchy.roles(sc, domains)
    if org is not None:
        hierarchy.top(sc, org)
    sc.domain_names = [d.name for d in domains]
    tiers.declare_gates(sc)
    policies = escalation.policies(sc)
    lc = lifecycle.lifecycle(sc)
    delegation = protocols.delegation(sc)
    broadcast = protocols.broadcast(sc, domains)
    handoffs = protocols.handoffs(sc)
    standups = protocols.standups(sc)
    consultations = protocols.consultations(sc)
    instructions = protocols.instructions(sc)
    assignment = resources.assignment(sc)
    capacity = resources.capacity(sc)
    tier_list = tiers.tiers(sc)
    gates = tiers.gates(sc)
    metrics = tiers.metrics(sc)
    if org is None:
        return None
    lifecycle.apply_tiers(sc, lc, tier_list, gates)
    agents = hierarchy.agents(domains, roles)
    out = sc.build(
        m.Organisation, org.span,
        org=org, skills=skills, experience=experience, roles=roles, domains=domains,
        agents=agents, lifecycle=lc, delegation=delegation, broadcast=broadcast,
        handoffs=handoffs, standups=standups, consultations=consultations,
        assignment=assignment, capacity=capacity, tiers=tier_list, gates=gates, metrics=metrics,
        escalations=policies,
        instructions=instructions,
        guard_variables={k: v.to_json() for k, v in
                         task_environment(sc.domain_names, protocols.task_priorities(sc)).items()},
    )
    if out is not None:
        out.set_broken(sc.broken)
    return out


__all__ = ["lower"]
