"""A small directed graph for the checks: adjacency in dicts, and the two
algorithms the checks need besides reachability (``graphs.closure``): strongly
connected components and the simple cycles of a graph.

It stands in for the few parts of networkx the checks used, which cost a
check more to import than to run. Nodes are strings; edges keep a dict of
attributes; nodes and successors iterate in insertion order, so that checks
that walk a graph report in a stable order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class DiGraph:
    """A directed graph: nodes with ordered successors and predecessors."""

    def __init__(self) -> None:
        self._succ: dict[str, dict[str, dict[str, Any]]] = {}
        self._pred: dict[str, dict[str, dict[str, Any]]] = {}

    def add_node(self, node: str) -> None:
        if node not in self._succ:
            self._succ[node] = {}
            self._pred[node] = {}

    def add_edge(self, u: str, v: str, **attrs: Any) -> None:
        self.add_node(u)
        self.add_node(v)
        data = self._succ[u].setdefault(v, {})
        data.update(attrs)
        self._pred[v][u] = data

    def successors(self, node: str) -> Iterator[str]:
        return iter(self._succ[node])

    def predecessors(self, node: str) -> Iterator[str]:
        return iter(self._pred[node])

    def edge(self, u: str, v: str) -> dict[str, Any]:
        """The attributes of the edge from ``u`` to ``v``."""
        return self._succ[u][v]

    def has_edge(self, u: str, v: str) -> bool:
        return u in self._succ and v in self._succ[u]

    def __contains__(self, node: object) -> bool:
        return node in self._succ

    def __iter__(self) -> Iterator[str]:
        return iter(self._succ)

    def __len__(self) -> int:
        return len(self._succ)


def strongly_connected_components(g: DiGraph, within: set[str] | None = None) -> list[list[str]]:
    """The strongly connected components of ``g``, or of the part of it made of the nodes
    ``within`` (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0

    def successors(node: str) -> Iterator[str]:
        return g.successors(node) if within is None else (n for n in g.successors(node) if n in within)

    for root in g if within is None else sorted(within):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, successors(root))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, successors(child)))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out


def simple_cycles(g: DiGraph) -> list[list[str]]:
    """Every simple cycle of ``g`` once, as its nodes in the order of its edges.

    Within each strongly connected component, the cycles through its smallest
    node are found by a search that stays inside the component; then that node
    is left out and the components of the rest are searched the same way.
    """
    def cyclic(component: list[str]) -> bool:
        return len(component) > 1 or g.has_edge(component[0], component[0])

    cycles: list[list[str]] = []
    todo = [set(c) for c in strongly_connected_components(g) if cyclic(c)]
    while todo:
        members = todo.pop()
        start = min(members)
        path = [start]
        on_path = {start}
        work: list[Iterator[str]] = [g.successors(start)]
        while work:
            nxt = next(work[-1], None)
            if nxt is None:
                work.pop()
                on_path.discard(path.pop())
            elif nxt == start:
                cycles.append(list(path))
            elif nxt in members and nxt not in on_path:
                path.append(nxt)
                on_path.add(nxt)
                work.append(g.successors(nxt))
        rest = members - {start}
        todo += [set(c) for c in strongly_connected_components(g, rest) if cyclic(c)]
    return cycles
