"""Checks of assignment, capacity and skills (ORC5xx, ORC6xx).

Unknown factors and complexities (ORC503, ORC506) are reported by lowering,
which drops them; what is left is checked here.
"""

from __future__ import annotations

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.checks.protocols import head_span
from orchdsl.diagnostics import Diagnostics, Label

TOLERANCE = 1e-9


def _num(x: float) -> str:
    return f"{round(x, 9):g}"


def _pct(x: float) -> str:
    return f"{round(x * 100, 9):g}%"


# ---------------------------------------------------------------- assignment


def check_weights(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC501 a weight outside [0, 1], ORC502 weights that do not sum to 1."""
    a = org.assignment
    if a is None or not a.weights:
        return
    spans = a.weight_spans
    head = head_span(a.span, "assignment")
    out_of_range = False
    for factor, w in a.weights.items():
        if not 0.0 <= w <= 1.0:
            out_of_range = True
            diags.add("ORC501", f"the weight of `{factor}` is {_num(w)}, outside [0, 1]",
                      spans.get(factor, head),
                      help=f"write it as a fraction, e.g. `{_num(w / 100)}` for {_num(w)}%"
                      if 1 < w <= 100 else "a weight is a share of the score between 0 and 1")
    # a weight out of range is one mistake: the sum it spoils is not a second one
    if out_of_range or g.broken("assignment", "weights"):
        return
    total = sum(a.weights.values())
    if abs(total - 1.0) <= TOLERANCE:
        return
    gap = 1.0 - total
    labels = [Label(spans[f], f"`{f}` {_num(w)}") for f, w in a.weights.items() if f in spans]
    diags.add("ORC502", f"the assignment weights sum to {_num(total)}, not 1", head, labels=labels,
              notes=["weights: " + ", ".join(f"{f} {_num(w)}" for f, w in a.weights.items())],
              help=f"{'raise' if gap > 0 else 'lower'} the weights by {_num(abs(gap))} in all")


def check_fit(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC505: harder work asks for no less experience than easier work."""
    a = org.assignment
    if a is None or not a.fit:
        return
    value = {lv.name: lv.value for lv in org.experience}
    declared = [(c, a.fit[c]) for c in (a.complexities or m.COMPLEXITIES) if c in a.fit and a.fit[c] in value]
    spans = a.fit_spans
    for i, (cx, exp) in enumerate(declared):
        easier = [(c, e) for c, e in declared[:i] if value[e] > value[exp]]
        if not easier:
            continue
        c0, e0 = max(easier, key=lambda ce: value[ce[1]])
        labels = [Label(spans[c0], f"`{c0}` work asks for `{e0}`")] if c0 in spans else []
        diags.add("ORC505", f"`{cx}` work is fitted to `{exp}`, less experience than `{c0}` work (`{e0}`)",
                  spans.get(cx, head_span(a.span, "assignment")), labels=labels,
                  notes=[f"experience: {exp} = {value[exp]}, {e0} = {value[e0]}"],
                  help=f"fit `{cx}` to `{e0}` or above")


# ---------------------------------------------------------------- capacity


def check_capacity(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC504: the `at` bands start at strictly increasing utilisations.

    Only the bands are ordered against each other: `ic above` is a limit on one
    IC and `domain above` on a domain's mean, so neither has to sit between
    particular bands."""
    c = org.capacity
    if c is None:
        return
    prev: m.CapacityBand | None = None
    for band in c.bands:
        if prev is not None and band.at <= prev.at:
            same = band.at == prev.at
            diags.add("ORC504", f"band `{band.name}` starts at {_pct(band.at)}, "
                      f"{'the same as' if same else 'below'} `{prev.name}` at {_pct(prev.at)}",
                      band.span,
                      labels=[Label(prev.span, f"`{prev.name}` starts here")] if prev.span else [],
                      notes=["bands are listed from the lowest utilisation to the highest"],
                      help="list the bands in increasing order, each above the one before")
        if prev is None or band.at > prev.at:
            prev = band


# ---------------------------------------------------------------- skills and domains


def check_domains(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC601 a domain without members, ORC602 a needed skill no member holds."""
    for d in org.domains:
        if g.broken("domain", d.name):
            continue
        if not d.members:
            diags.add("ORC601", f"domain `{d.name}` has no members", d.span,
                      notes=["tasks of the domain are assigned to its members; with none, nobody can do them"],
                      help="add `member ROLE` with the ICs that work in it")
            continue
        # a level numbered 0 (`none = 0`) says the member does not hold the skill
        nothing = {lv.name for lv in org.skills.levels if lv.value <= 0}
        held = {s for mem in d.members for s, lvl in mem.skills.items() if lvl not in nothing}
        spans = d.need_spans
        for skill in d.needs:
            if skill in held:
                continue
            learners = [mem.role for mem in d.members if skill in mem.learning]
            notes = [f"`{learners[0]}` is learning it, which does not count as holding it"] if learners else []
            diags.add("ORC602", f"domain `{d.name}` needs `{skill}`, which none of its members holds",
                      spans.get(skill, d.span), notes=notes,
                      help=f"give a member `skills {{ {skill}: LEVEL }}`, or remove it from `needs`")


def check_levels(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC603: level values increase in the order they are declared."""
    for what, levels in (("skill level", org.skills.levels), ("experience level", org.experience)):
        prev: m.Level | None = None
        for lv in levels:
            if prev is not None and lv.value <= prev.value:
                diags.add("ORC603", f"{what} `{lv.name}` = {lv.value} does not exceed "
                          f"`{prev.name}` = {prev.value}, declared before it", lv.span,
                          labels=[Label(prev.span, f"`{prev.name}` = {prev.value}")] if prev.span else [],
                          notes=["levels are declared from the lowest to the highest, "
                                 "each with a larger number"],
                          help=f"give `{lv.name}` a number above {prev.value}, or reorder the levels")
            if prev is None or lv.value > prev.value:
                prev = lv


def check_categories(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC604: a skill category with no skills."""
    for c in org.skills.categories:
        if not c.skills and not g.broken("category", c.name):
            diags.add("ORC604", f"skill category `{c.name}` lists no skills", c.span,
                      help=f"add skills to `{c.name}` or remove the category")


CHECKS: list[Check] = [
    check_weights,
    check_fit,
    check_capacity,
    check_domains,
    check_levels,
    check_categories,
]
