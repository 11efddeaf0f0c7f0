"""Stage 2, lowering: skills, experience, assignment and capacity.

In: the ``skills``, ``experience``, ``assignment`` and ``capacity`` blocks
(through ``Scope``). Out: ``Skills`` (the level scale and the categories),
the experience levels, ``Assignment`` (factor weights, the filter as a
checked guard, complexity fit, fallback) and ``Capacity`` (hours, horizon,
bands and limits with their actions).

Skills, levels and experience levels are declared here, before domains
refer to them. Whether weights sum to 1 and thresholds increase is left to
``checks.resources``; factors, complexities and filter types are resolved
here.
"""

from __future__ import annotations

from typing import Any

from orchdsl import ast
from orchdsl import model as m
from orchdsl.diagnostics import Label, Span
from orchdsl.guards import GuardChecker, factor_environment, to_text
from orchdsl.lower.scope import Scope, payload


def skills(sc: Scope) -> m.Skills:
    levels: list[m.Level] = []
    cats: list[m.SkillCategory] = []
    categories: dict[str, ast.Name] = {}
    for b in sc.blocks("skills")[:1]:
        lv = sc.one(b, "levels") or []
        for name, num in lv:
            if sc.define(sc.level_names, "skill level", name, name):
                levels.append(m.Level(name=name.text, value=int(num.value), span=name.span))
        for c in b.of("category"):
            assert isinstance(c, ast.Clause)
            cname, names = payload(c.value)
            sc.define(categories, "skill category", cname, cname)
            kept = []
            spans: dict[str, Span] = {}
            for s in names:
                if sc.define(sc.skill_names, "skill", s, s):
                    kept.append(s.text)
                    spans[s.text] = s.span
            cats.append(m.SkillCategory(name=cname.text, skills=kept, span=cname.span,
                                        skill_spans=spans))
    return m.Skills(levels=levels, categories=cats)


def experience(sc: Scope) -> list[m.Level]:
    out: list[m.Level] = []
    for b in sc.blocks("experience")[:1]:
        for name, num in b.clauses:
            if sc.define(sc.experience_names, "experience level", name, name):
                out.append(m.Level(name=name.text, value=int(num.value), span=name.span))
    return out


def task_complexities(sc: Scope) -> list[str]:
    """The complexities a task takes, easiest first: the assignment's declared list, else the default one."""
    blocks = sc.blocks("assignment")
    declared = [n.text for n in sc.names(sc.one(blocks[0], "complexities"))] if blocks else []
    return list(dict.fromkeys(declared)) or list(m.COMPLEXITIES)


def assignment(sc: Scope) -> m.Assignment | None:
    blocks = sc.blocks("assignment")
    if not blocks:
        return None
    b = blocks[0]
    before = len(sc.diags)
    weights: dict[str, float] = {}
    weight_spans: dict[str, Span] = {}
    for c in b.of("weight"):
        assert isinstance(c, ast.Clause)
        name, num = payload(c.value)
        if name.text not in m.FACTORS:
            sc.unknown("ORC503", "assignment factor", name, m.FACTORS,
                       help="factors are " + ", ".join(m.FACTORS))
            continue
        if name.text in weights:
            sc.diags.add("ORC007", f"the weight of `{name.text}` is given twice", c.span,
                         labels=[Label(weight_spans[name.text], "first given here")])
            continue
        weights[name.text] = num.value
        weight_spans[name.text] = num.span
    sc.mark("assignment", "weights", before)
    before = len(sc.diags)
    filt = None
    filt_expr = sc.one(b, "filter")
    if filt_expr is not None:
        filt = GuardChecker(factor_environment(m.FACTORS), sc.diags, "filter").check(filt_expr)
    complexities = _complexities(sc, b)
    fit: dict[str, str] = {}
    fit_spans: dict[str, Span] = {}
    for cx, exp in sc.one(b, "fit") or []:
        ok = True
        if cx.text not in complexities:
            sc.unknown("ORC506", "complexity", cx, complexities,
                       help="complexities are " + ", ".join(complexities))
            ok = False
        if exp.text not in sc.experience_names:
            sc.unknown("ORC108", "experience level", exp, sc.experience_names)
            ok = False
        if ok:
            fit[cx.text] = exp.text
            fit_spans[cx.text] = exp.span
    a = sc.build(
        m.Assignment, b.span, weights=weights, filter=filt,
        filter_text=to_text(filt) if filt else None, fit=fit,
        complexities=complexities if sc.one(b, "complexities") else [],
        fallback=sc.actor(sc.one(b, "fallback"), "fallback"), span=b.span,
        weight_spans=weight_spans, fit_spans=fit_spans,
    )
    sc.mark("assignment", "", before)
    return a


def _complexities(sc: Scope, b: ast.Block) -> list[str]:
    """The assignment's declared complexities, each once (ORC101), else the default ones."""
    table: dict[str, ast.Name] = {}
    for n in sc.names(sc.one(b, "complexities")):
        sc.define(table, "complexity", n, n)
    return list(table) or list(m.COMPLEXITIES)


def _action(sc: Scope, clause: Any) -> m.Action | None:
    if clause is None:
        return None
    target = sc.actor(clause.value, "action") if clause.value is not None else None
    return m.Action(kind=clause.kind, target=target)


def capacity(sc: Scope) -> m.Capacity | None:
    blocks = sc.blocks("capacity")
    if not blocks:
        return None
    b = blocks[0]
    before = len(sc.diags)
    bands: list[m.CapacityBand] = []
    for c in b.of("band"):
        assert isinstance(c, ast.Clause)
        pct, name, action = payload(c.value)
        band = sc.build(m.CapacityBand, pct.span, at=pct.value, name=name.text,
                        action=_action(sc, action), span=pct.span)
        if band is not None:
            bands.append(band)
    hours = sc.one(b, "hours")
    horizon = sc.one(b, "horizon")
    ic = sc.one(b, "ic_limit")
    sus = sc.one(b, "sustained")
    fields: dict[str, Any] = {"bands": bands, "span": b.span}
    if hours is not None:
        fields["hours_per_day"] = hours.value
    if horizon is not None:
        fields["horizon_days"] = horizon.value / 86400.0
    if ic is not None:
        fields["ic_limit"] = ic[0].value
        fields["ic_action"] = _action(sc, ic[1])
    if sus is not None:
        fields["domain_limit"] = sus[0].value
        fields["domain_period"] = sc.budget(sus[1])
        fields["domain_action"] = _action(sc, sus[2])
    spans: dict[str, Span | None] = {
        "hours_per_day": hours.span if hours is not None else None,
        "horizon_days": horizon.span if horizon is not None else None,
    }
    cap = sc.build(m.Capacity, b.span, spans, **fields)
    sc.mark("capacity", "", before)
    return cap
