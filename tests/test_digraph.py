"""The checks' own directed graph (``orchdsl.checks.digraph``) against networkx, the
library it replaced: the same cycles, components and reachable sets on random graphs."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from orchdsl.checks.digraph import DiGraph, simple_cycles, strongly_connected_components
from orchdsl.checks.graphs import closure

NODES = st.sampled_from([f"n{i}" for i in range(9)])
EDGES = st.lists(st.tuples(NODES, NODES), max_size=30)


def both(nodes: list[str], edges: list[tuple[str, str]]) -> tuple[DiGraph, nx.DiGraph]:
    mine, theirs = DiGraph(), nx.DiGraph()
    for n in nodes:
        mine.add_node(n)
        theirs.add_node(n)
    for u, v in edges:
        mine.add_edge(u, v, label=f"{u}{v}")
        theirs.add_edge(u, v)
    return mine, theirs


def rotated(cycle: list[str]) -> tuple[str, ...]:
    i = cycle.index(min(cycle))
    return tuple(cycle[i:] + cycle[:i])


@settings(max_examples=300, deadline=None)
@given(st.lists(NODES, max_size=5), EDGES)
def test_the_same_as_networkx(nodes: list[str], edges: list[tuple[str, str]]) -> None:
    mine, theirs = both(nodes, edges)
    assert list(mine) == list(theirs.nodes)
    for n in mine:
        assert list(mine.successors(n)) == list(theirs.successors(n))
        assert list(mine.predecessors(n)) == list(theirs.predecessors(n))
        assert closure(mine.successors, [n]) == nx.descendants(theirs, n) | {n}
    cycles = [rotated(c) for c in simple_cycles(mine)]
    assert len(cycles) == len(set(cycles)), "a cycle found twice"
    assert set(cycles) == {rotated(c) for c in nx.simple_cycles(theirs)}
    assert sorted(map(sorted, strongly_connected_components(mine))) == sorted(
        map(sorted, nx.strongly_connected_components(theirs)))


def test_edges_keep_their_attributes_and_the_last_value_wins() -> None:
    g = DiGraph()
    g.add_edge("a", "b", transition=1)
    g.add_edge("a", "b", transition=2)
    assert g.edge("a", "b") == {"transition": 2}
    assert g.has_edge("a", "b") and not g.has_edge("b", "a") and len(g) == 2


def test_a_long_cycle_needs_no_recursion() -> None:
    g = DiGraph()
    n = 20_000
    for i in range(n):
        g.add_edge(f"r{i:05d}", f"r{(i + 1) % n:05d}")
    (cycle,) = simple_cycles(g)
    assert len(cycle) == n and cycle[0] == "r00000"
