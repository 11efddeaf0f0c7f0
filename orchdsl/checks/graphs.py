"""The graphs the checks share: the reporting hierarchy and the lifecycle of
each tier, built once per organisation on first use (``digraph``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property

from orchdsl import model as m
from orchdsl.checks.digraph import DiGraph
from orchdsl.diagnostics import Diagnostics


class Graphs:
    """Graphs of one organisation, built on first use."""

    def __init__(self, org: m.Organisation) -> None:
        self.org = org

    def broken(self, kind: str, name: str) -> bool:
        """Whether lowering reported an error in this entity (see
        ``Organisation.broken`` for the kinds): checks say nothing about
        what follows from it."""
        return (kind, name) in self._broken

    @cached_property
    def _broken(self) -> frozenset[tuple[str, str]]:
        return self.org.broken

    @cached_property
    def on_broken_chain(self) -> frozenset[str]:
        """Roles whose chain up the hierarchy passes a role with an unresolved ``reports_to``."""
        bad = {name for kind, name in self._broken if kind == "role"}
        if not bad:
            return frozenset()
        return frozenset(r for r in self.roles if bad.intersection([r, *self.ancestors(r)]))

    @cached_property
    def member_roles(self) -> list[str]:
        """The member (IC) roles of every domain, each once."""
        out: dict[str, None] = {}
        for d in self.org.domains:
            for mem in d.members:
                if mem.role in self.roles:
                    out[mem.role] = None
        return list(out)

    def above_all(self, group: str) -> frozenset[str]:
        """Roles above every role of a group: ``leads`` (domain leads) or ``members``."""
        return self._above_all[group]

    @cached_property
    def _above_all(self) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for group, roles in (("leads", self.domain_leads), ("members", self.member_roles)):
            common: set[str] | None = None
            for r in roles:
                anc = set(self.ancestors(r))
                common = anc if common is None else common & anc
                if not common:
                    break
            out[group] = frozenset(common or ())
        return out

    @cached_property
    def states(self) -> dict[str, m.State]:
        return {s.name: s for s in self.org.lifecycle.states}

    @cached_property
    def domain_leads(self) -> list[str]:
        """The lead role of every domain, in order, each once."""
        out: list[str] = []
        for d in self.org.domains:
            if d.lead in self.roles and d.lead not in out:
                out.append(d.lead)
        return out

    def reachable(self, tier: int) -> set[str]:
        """States reachable from the initial state at a tier (the initial state included)."""
        return self._reach[tier][0]

    def finishing(self, tier: int) -> set[str]:
        """States from which a terminal state is reachable at a tier (terminals included)."""
        return self._reach[tier][1]

    @cached_property
    def _reach(self) -> dict[int, tuple[set[str], set[str]]]:
        out: dict[int, tuple[set[str], set[str]]] = {}
        initial = self.org.lifecycle.initial
        for tier in self.tiers:
            g = self.lifecycle(tier)
            start = [initial] if initial is not None and initial in g else []
            terminals = [s for s in g if s in self.states and self.states[s].terminal]
            out[tier] = (closure(g.successors, start), closure(g.predecessors, terminals))
        return out

    @cached_property
    def hierarchy(self) -> DiGraph:
        """Edges from each role to the role it reports to."""
        g = DiGraph()
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

    def lifecycle(self, tier: int) -> DiGraph:
        """The lifecycle at one tier: states that apply, transitions whose guard can hold."""
        return self._lifecycles[tier]

    @property
    def tiered(self) -> bool:
        """Whether the lifecycle has tiers; without, it is one graph, ``tiers == [0]``."""
        return bool(self.org.lifecycle.tiers)

    @property
    def tiers(self) -> list[int]:
        """The tiers of the lifecycle, or ``[0]`` standing for all when it has none."""
        return list(self.org.lifecycle.tiers) or [0]

    def applies(self, state: m.State, tier: int) -> bool:
        return tier in state.tiers or not self.tiered

    def state_tiers(self, state: m.State) -> list[int]:
        """The tiers (of ``tiers``) where a state applies."""
        return [t for t in self.tiers if self.applies(state, t)]

    @cached_property
    def _lifecycles(self) -> dict[int, DiGraph]:
        out: dict[int, DiGraph] = {}
        lc = self.org.lifecycle
        for tier in self.tiers:
            g = DiGraph()
            for s in lc.states:
                if self.applies(s, tier):
                    g.add_node(s.name)
            for s in lc.states:
                for t in s.transitions:
                    if tier in t.tiers or (not self.tiered and t.target in g):
                        g.add_edge(s.name, t.target, transition=t)
            out[tier] = g
        return out


def closure(step: Callable[[str], Iterable[str]], start: Iterable[str]) -> set[str]:
    """Every node reachable from ``start`` (included) by repeated ``step``."""
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in step(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


Check = Callable[[m.Organisation, Graphs, Diagnostics], None]
