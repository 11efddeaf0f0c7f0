"""The graphs the checks share: the reporting hierarchy and the lifecycle of
each tier, built once per organisation on first use (networkx)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import networkx as nx

from orchdsl import model as m
from orchdsl.diagnostics import Diagnostics


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
