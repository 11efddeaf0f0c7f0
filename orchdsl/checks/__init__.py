"""Stage 3, checks: the resolved model in, diagnostics out.

Each check is a function ``(org, graphs, diags) -> None`` that adds
diagnostics and changes nothing. The modules of this package group them by
concern, each exporting ``CHECKS``; they run in the order listed here. Graphs
(``digraph``) are built once and shared, see ``graphs``.

The checks also run on a model that lowering reported errors in. Lowering
records what it could not resolve; a check asks ``graphs.broken(kind, name)``
and says nothing about the consequences, so each mistake is reported once.
"""

from __future__ import annotations

from orchdsl import model as m
from orchdsl.checks import hierarchy, layers, lifecycle, liveness, paths, protocols, resources, tiers, unused
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.diagnostics import Diagnostics

MODULES = (paths, hierarchy, layers, lifecycle, tiers, protocols, resources, liveness, unused)


def all_checks() -> list[Check]:
    return [c for mod in MODULES for c in mod.CHECKS]


def run_checks(org: m.Organisation, diags: Diagnostics) -> None:
    """Run every check over a lowered model."""
    graphs = Graphs(org)
    for check in all_checks():
        check(org, graphs, diags)


__all__ = ["Graphs", "run_checks", "all_checks"]
