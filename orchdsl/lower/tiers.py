"""Stage 2, lowering: tiers, quality gates and success metrics.

In: the ``tier``, ``gate`` and ``metric`` declarations (through ``Scope``)
and the lowered lifecycle's state names. Out: the ``Tier`` list sorted by
number (each with its flow of steps, the gates and stages the flow names,
its planning depth), the ``Gate`` list (reviewer, guarded transitions and
stages, criteria, per-tier thresholds, outcomes, score bands) and the
``Metric`` list.

Tier numbers and gate names are declared before the lifecycle and the flows
refer to them (``declare_tiers``, ``declare_gates``). Gaps in tier numbers
and flows that name unknown roles or gates are left to ``checks.tiers``.
"""

from __future__ import annotations

from typing import Any

from orchdsl import ast
from orchdsl import model as m
from orchdsl.diagnostics import Label, Span
from orchdsl.lower import escalation
from orchdsl.lower.scope import Scope, clause_span, named, payload, text


def declare_tiers(sc: Scope) -> None:
    for t in sc.blocks("tier"):
        sc.declared_tiers.add(int(t.extra["number"].value))


def declare_gates(sc: Scope) -> None:
    for b in sc.blocks("gate"):
        sc.define(sc.gate_blocks, "gate", b.name, b)


def tiers(sc: Scope) -> list[m.Tier]:
    out: list[m.Tier] = []
    seen: dict[int, ast.Block] = {}
    for b in sc.blocks("tier"):
        num = int(b.extra["number"].value)
        if num in seen:
            sc.diags.add("ORC101", f"tier {num} is declared twice", b.extra["number"].span,
                         labels=[Label(payload(seen[num].extra["number"]).span, "first declared here")])
            continue
        seen[num] = b
        before = len(sc.diags)
        steps = []
        gates: list[str] = []
        stages: list[str] = []
        for st in sc.one(b, "flow") or []:
            steps.append(_step(sc, st, gates, stages))
        planning = sc.one(b, "planning")
        title = b.extra.get("title")
        fields: dict[str, Any] = {}
        if planning is not None:
            low, high, unit = planning
            fields.update(planning_min=int(low.value), planning_max=int(high.value),
                          planning_unit=unit.text if unit else None,
                          planning_span=clause_span(b, "planning"))
        t = sc.build(
            m.Tier, b.span, number=num, name=title.value if title else None,
            description=text(sc.one(b, "description")), flow=steps, gates=gates,
            stages=stages, span=b.extra["number"].span, **fields,
        )
        sc.mark("tier", str(num), before)
        if t is not None:
            out.append(t)
    return sorted(out, key=lambda t: t.number)


def _step(sc: Scope, st: ast.Step, gates: list[str], stages: list[str]) -> m.Step:
    if st.gate is not None:
        if st.gate.text not in sc.gate_blocks:
            sc.unknown("ORC107", "gate", st.gate, sc.gate_blocks)
        elif st.gate.text not in gates:
            gates.append(st.gate.text)
        return m.Step(gate=st.gate.text, span=st.span)
    actor = sc.actor(st.actor, "flow")
    stage = None
    if st.stage is not None:
        if st.stage.text not in m.STAGES:
            sc.unknown("ORC111", "stage", st.stage, m.STAGES,
                       help="stages are " + ", ".join(m.STAGES))
        else:
            stage = st.stage.text
            if stage not in stages:
                stages.append(stage)
    return m.Step(actor=actor, stage=stage, span=st.span)


def gates(sc: Scope) -> list[m.Gate]:
    out: list[m.Gate] = []
    for name, b in sc.gate_blocks.items():
        before = len(sc.diags)
        transitions: list[tuple[str, str]] = []
        transition_spans: list[Span | None] = []
        stages: list[str] = []
        for target in sc.one(b, "guards") or []:
            if target.kind == "transition":
                pair = sc.pair(target.value)
                if pair is not None:
                    transitions.append(pair)
                    transition_spans.append(target.span)
            else:
                stage = target.value
                if stage.text not in m.STAGES:
                    sc.unknown("ORC111", "stage", stage, m.STAGES)
                else:
                    stages.append(stage.text)
        outcomes: list[m.Outcome] = []
        onames: dict[str, ast.Name] = {}
        for c in b.of("outcome"):
            assert isinstance(c, ast.Clause)
            oname, effect = payload(c.value)
            if not sc.define(onames, f"outcome of gate `{name}`", oname, oname):
                continue
            target = sc.state(effect.value) if effect.kind == "move" else None
            outcomes.append(m.Outcome(name=oname.text, effect=effect.kind, target=target,
                                      span=oname.span))
        thresholds: dict[str, dict[str, float]] = {}
        threshold_spans: dict[str, Span] = {}
        for c in b.of("threshold"):
            assert isinstance(c, ast.Clause)
            crit, values = payload(c.value)
            per = thresholds.setdefault(crit.text, {})
            for rng, num in values:
                for t in sc.tiers([rng]):
                    per[str(t)] = num.value
                    threshold_spans[f"{crit.text}/{t}"] = rng.span
        score = sc.one(b, "score")
        bands = []
        for c in b.of("band"):
            assert isinstance(c, ast.Clause)
            low, high, oname = payload(c.value)
            if oname.text not in onames:
                sc.unknown("ORC113", f"outcome of gate `{name}`", oname, onames,
                           help=f"declare it with `outcome {oname.text}: pass`")
            bands.append(m.ScoreBand(low=int(low.value), high=int(high.value), outcome=oname.text,
                                     span=c.span))
        reviewer = sc.one(b, "reviewer")
        g = sc.build(
            m.Gate, b.span, name=name, description=text(sc.one(b, "description")),
            reviewer=sc.actor(reviewer, "reviewer"), transitions=transitions, stages=stages,
            criteria=[n.text for n in sc.names(sc.one(b, "criteria"))],
            thresholds=thresholds, outcomes=outcomes,
            score_categories=[n.text for n in score[0]] if score else [],
            score_min=int(score[1].value) if score else None,
            score_max=int(score[2].value) if score else None,
            bands=bands, notify=escalation.notifications(sc, b, list(onames)),
            span=named(b).span, reviewer_span=reviewer.span if reviewer else None,
            transition_spans=transition_spans, threshold_spans=threshold_spans,
        )
        sc.mark("gate", name, before)
        if reviewer is None:
            sc.diags.add("ORC702", f"gate `{name}` has no reviewer", named(b).span,
                         help="add `reviewer ROLE` or `reviewer @peer`")
        if g is not None:
            out.append(g)
    return out


def metrics(sc: Scope) -> list[m.Metric]:
    out: list[m.Metric] = []
    names: dict[str, ast.Name] = {}
    for b in sc.blocks("metric"):
        if not sc.define(names, "metric", b.name, b.name):
            continue
        before = len(sc.diags)
        mname, arg = b.extra["measure"].value
        if mname.text not in m.MEASURES:
            sc.unknown("ORC112", "measure", mname, m.MEASURES,
                       help="measures are " + ", ".join(m.MEASURES))
            continue
        argument = None
        if mname.text in m.MEASURES_WITH_STATE:
            if arg is None:
                sc.diags.add("ORC008", f"`{mname.text}` needs a state: `{mname.text}(STATE)`",
                             mname.span)
                continue
            argument = sc.state(arg)
        elif arg is not None:
            sc.diags.add("ORC901", f"`{mname.text}` takes no argument", arg.span)
        title = b.extra.get("title")
        mt = sc.build(
            m.Metric, b.span, name=b.name.text, title=title.value if title else None,
            measure=mname.text, argument=argument, op=b.extra["op"].text,
            target=b.extra["target"].value, span=b.name.span, target_span=b.extra["target"].span,
        )
        sc.mark("metric", b.name.text, before)
        if mt is not None:
            out.append(mt)
    return out
