"""Checks of the reporting hierarchy (ORC2xx)."""

from __future__ import annotations

import networkx as nx

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.diagnostics import Diagnostics, Label


def check_hierarchy(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC201 cycles, ORC202 no root, ORC203 several roots."""
    for cycle in sorted(nx.simple_cycles(g.hierarchy), key=lambda c: sorted(c)):
        first = min(cycle)
        i = cycle.index(first)
        ordered = cycle[i:] + cycle[:i]
        role = g.roles[first]
        chain = " -> ".join([*ordered, first])
        labels = [Label(g.roles[r].span, f"`{r}` reports to `{g.roles[r].reports_to}`")
                  for r in ordered[1:] if g.roles[r].span]
        diags.add("ORC201", f"roles report to each other in a cycle: {chain}", role.span,
                  labels=labels, help="one role of the cycle must report to someone outside it")
    if not org.roles:
        return
    if not g.roots:
        diags.add("ORC202", "no role is at the top of the hierarchy", org.org.span,
                  help="remove `reports_to` from the role at the top")
    elif len(g.roots) > 1:
        top = _likely_root(org, g)
        for rid in g.roots:
            if rid == top:
                continue
            r = g.roles[rid]
            diags.add("ORC203", f"role `{rid}` reports to nobody", r.span,
                      labels=[Label(g.roles[top].span, f"`{top}` is also at the top")]
                      if g.roles[top].span else [],
                      notes=["an organisation has exactly one role at the top"],
                      help=f"add `reports_to {top}` or to whoever `{rid}` answers to")


def _likely_root(org: m.Organisation, g: Graphs) -> str:
    """The root with most roles below it: the others are reported as strays."""
    below = {r: len(nx.ancestors(g.hierarchy, r)) for r in g.roots}
    return max(g.roots, key=lambda r: (below[r], -g.roots.index(r)))



CHECKS: list[Check] = [
    check_hierarchy,
]
