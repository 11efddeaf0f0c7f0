"""Stage 3, checks: the resolved model in, diagnostics out.

Each check is a function of the model that adds diagnostics; ``CHECKS`` lists
them in the order they run. Graph checks build networkx graphs once, in
``Graphs``: the reporting hierarchy, and the lifecycle graph of each tier.
Nothing here changes the model.
"""

from __future__ import annotations

from functools import cached_property
from typing import Callable

import networkx as nx

from orchdsl import model as m
from orchdsl.diagnostics import Diagnostics, Label


class Graphs:
    """Graphs of one organisation, built on first use."""

    def __init__(self, org: m.Organisation) -> None:
        self.org = org

    @cached_property
    def hierarchy(self) -> nx.DiGraph:
        """Edges from each role to the role it reports to."""
        g = nx.DiGraph()
        for r in self.org.roles:
            g.add_node(r.id)
            if r.reports_to:
                g.add_edge(r.id, r.reports_to)
        return g

    @cached_property
    def roots(self) -> list[str]:
        return [r.id for r in self.org.roles if not r.reports_to]

    @cached_property
    def roles(self) -> dict[str, m.Role]:
        return {r.id: r for r in self.org.roles}

    def ancestors(self, role: str) -> list[str]:
        """The chain above a role, nearest first (stops at a cycle)."""
        out: list[str] = []
        seen = {role}
        node = self.roles[role].reports_to if role in self.roles else None
        while node is not None and node not in seen:
            out.append(node)
            seen.add(node)
            node = self.roles[node].reports_to if node in self.roles else None
        return out

    def lifecycle(self, tier: int) -> nx.DiGraph:
        """The lifecycle at one tier: states that apply, transitions whose guard can hold."""
        return self._lifecycles[tier]

    @cached_property
    def _lifecycles(self) -> dict[int, nx.DiGraph]:
        out: dict[int, nx.DiGraph] = {}
        lc = self.org.lifecycle
        for tier in lc.tiers:
            g = nx.DiGraph()
            for s in lc.states:
                if tier in s.tiers:
                    g.add_node(s.name)
            for s in lc.states:
                for t in s.transitions:
                    if tier in t.tiers:
                        g.add_edge(s.name, t.target, transition=t)
            out[tier] = g
        return out


Check = Callable[[m.Organisation, Graphs, Diagnostics], None]


# ---------------------------------------------------------------------- hierarchy


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


def run_checks(org: m.Organisation, diags: Diagnostics) -> None:
    """Run every check over a model that lowered without errors."""
    graphs = Graphs(org)
    for check in CHECKS:
        check(org, graphs, diags)
