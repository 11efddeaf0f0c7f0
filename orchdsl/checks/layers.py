"""Checks of the layers (ORC209, ORC711): a role's `layer` against where it sits.

The layers, from the top down, are ``model.LAYERS``: `strategic`, `coordination`, `domain`,
`ic` (lowering reports any other, ORC117). A role without a `layer` is not checked.

- ORC209: a role sits in a layer below a role that reports to it (a CTO in `ic` with a domain
  lead under it); a domain's member IC is not in `ic`; a domain's lead is in `ic`.
- ORC711: a flow step that hands out or plans work (`routing`, `delegation`,
  `strategic_planning`, `tactical_planning`, `coordination`) is done by an IC: a role in `ic`
  or `@assignee`, `@member`, `@peer`.
"""

from __future__ import annotations

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.diagnostics import Diagnostics, Label

RANK = {name: i for i, name in enumerate(m.LAYERS)}
IC = "ic"
WORK_STAGES = ("routing", "delegation", "strategic_planning", "tactical_planning", "coordination")
"""the stages that hand out or plan work, which an IC does not do"""
IC_RELATIONS = ("@assignee", "@member", "@peer")


def check_layers(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC209: layers against the domains, then against the hierarchy (once per role)."""
    roles = {r.id: r for r in org.roles}
    wrong: set[str] = set()
    for r in org.roles:
        if r.layer is None:
            continue
        if r.kind == "member" and r.layer != IC:
            wrong.add(r.id)
            diags.add("ORC209", f"`{r.id}` is a member IC of domain `{r.domain}` but in layer `{r.layer}`",
                      r.span, help=f"write `layer {IC}`, or make `{r.id}` the domain's lead")
        elif r.kind == "lead" and r.layer == IC:
            wrong.add(r.id)
            diags.add("ORC209", f"`{r.id}` leads domain `{r.domain}` but is in layer `{IC}`", r.span,
                      help="write `layer domain` (or a layer above it)")
    below: dict[str, m.Role] = {}
    for r in org.roles:
        parent = roles.get(r.reports_to) if r.reports_to else None
        if parent is None or r.layer is None or parent.layer is None or g.broken("role", r.id):
            continue
        if {r.id, parent.id} & wrong or parent.id in below:
            continue
        if RANK[r.layer] < RANK[parent.layer]:
            below[parent.id] = r
    for pid, r in below.items():
        parent = roles[pid]
        diags.add("ORC209", f"`{pid}` is in layer `{parent.layer}`, below `{r.id}` (layer `{r.layer}`), "
                  "which reports to it", parent.span,
                  labels=[Label(r.span, f"`{r.id}` reports to `{pid}`")] if r.span else [],
                  notes=["the layers, from the top down: " + ", ".join(f"`{x}`" for x in m.LAYERS)],
                  help=f"put `{pid}` in layer `{r.layer}` or above")


def check_flow_layers(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC711: an IC doing a step that hands out or plans work."""
    layers = {r.id: r.layer for r in org.roles}
    for tier in org.tiers:
        for step in tier.flow:
            if step.actor is None or step.stage not in WORK_STAGES:
                continue
            if step.actor in IC_RELATIONS:
                who = f"`{step.actor}` (an IC)"
            elif layers.get(step.actor) == IC:
                who = f"`{step.actor}` (layer `{IC}`)"
            else:
                continue
            diags.add("ORC711", f"tier {tier.number}: {who} does `{step.stage}`, which hands out or plans work",
                      step.span or tier.span,
                      notes=["an IC executes work; routing, delegation, planning and coordination are "
                             "done by a lead or a role above"],
                      help=f"give `{step.stage}` to `@lead` or a role above the ICs")


CHECKS: list[Check] = [
    check_layers,
    check_flow_layers,
]
