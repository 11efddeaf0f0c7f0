"""Checks of tiers, gates and metrics (ORC7xx).

ORC702 (a gate without a reviewer) is reported by lowering, which knows
whether the clause was written.
"""

from __future__ import annotations

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.diagnostics import Diagnostics, Label


def check_tier_numbers(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC701: tier numbers are 0, 1, 2, ... without gaps."""
    numbers = sorted(t.number for t in org.tiers)
    if not numbers:
        return
    missing = [n for n in range(numbers[-1] + 1) if n not in set(numbers)]
    if not missing:
        return
    after = next(t for t in org.tiers if t.number > missing[0])
    shown = ", ".join(map(str, missing))
    diags.add("ORC701", f"tier numbers are not contiguous from 0: {'tier' if len(missing) == 1 else 'tiers'} "
              f"{shown} {'is' if len(missing) == 1 else 'are'} missing", after.span,
              notes=["a task's tier is a number from 0 up; routing picks one of them"],
              help=f"renumber the tiers 0 to {len(numbers) - 1}, or declare tier {missing[0]}")


def check_planning(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC708: planning MIN-MAX with MIN > MAX."""
    for t in org.tiers:
        if t.planning_min is not None and t.planning_max is not None and t.planning_min > t.planning_max:
            diags.add("ORC708", f"the planning range of tier {t.number} runs from {t.planning_min} "
                      f"down to {t.planning_max}", t.planning_span or t.span,
                      help=f"write `planning {t.planning_max}-{t.planning_min}`")


def _targets(g: Graphs, source: str) -> set[str]:
    s = g.states.get(source)
    return {t.target for t in s.transitions} if s is not None else set()


def check_gates(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC703 unknown transition, ORC704 outcome target, ORC705 no pass, ORC709 reviewer is actor."""
    for gate in org.gates:
        broken = g.broken("gate", gate.name)
        spans = gate.transition_spans + [None] * (len(gate.transitions) - len(gate.transition_spans))
        real: list[tuple[str, str]] = []
        for (a, b), span in zip(gate.transitions, spans, strict=False):
            if b in _targets(g, a):
                real.append((a, b))
                continue
            if g.broken("state", a):
                continue
            targets = sorted(_targets(g, a))
            diags.add("ORC703", f"gate `{gate.name}` guards `{a} -> {b}`, which is not a transition",
                      span or gate.span,
                      notes=[f"`{a}` has transitions to " + ", ".join(f"`{x}`" for x in targets)
                             if targets else f"`{a}` has no transitions"],
                      help=f"add `-> {b}` to state `{a}`, or guard a transition that exists")
        # ORC704: where a `-> STATE` outcome may send the task
        if gate.transitions and not any(g.broken("state", a) for a, _ in gate.transitions):
            allowed: set[str] = set()
            for a, _ in gate.transitions:
                allowed.add(a)
                allowed |= _targets(g, a)
            for o in gate.outcomes:
                if o.effect == "move" and o.target is not None and o.target not in allowed:
                    sources = sorted({a for a, _ in gate.transitions})
                    diags.add("ORC704", f"outcome `{o.name}` of gate `{gate.name}` moves the task to "
                              f"`{o.target}`, which the guarded transition cannot reach",
                              o.span or gate.span,
                              notes=["an outcome keeps the task in the guarded transition's source, or "
                                     "moves it along a transition declared there: "
                                     + ", ".join(f"`{x}`" for x in sorted(allowed))],
                              help=f"add `-> {o.target}` to {', '.join(f'`{x}`' for x in sources)}, "
                                   "or move to one of those states")
        # ORC705: nothing lets the guarded work through
        if (gate.transitions or gate.stages) and not broken and not any(o.effect == "pass" for o in gate.outcomes):
            diags.add("ORC705", f"gate `{gate.name}` has no passing outcome", gate.span,
                      notes=["without a `pass` outcome the guarded work can never proceed"],
                      help="add `outcome approved: pass`")
        # ORC709: the reviewer approves its own move
        rev = gate.reviewer
        if rev == "@assignee":
            diags.add("ORC709", f"the assignee reviews its own work at gate `{gate.name}`",
                      gate.reviewer_span or gate.span,
                      help="let `@peer`, `@lead` or a reviewer role decide")
        elif rev is not None and not rev.startswith("@") and real and not broken:
            moved = [(a, b) for a, b in real
                     for t in g.states[a].transitions if t.target == b and t.actors == [rev]]
            if len(moved) == len(real):
                diags.add("ORC709", f"`{rev}` reviews its own moves at gate `{gate.name}`",
                          gate.reviewer_span or gate.span,
                          notes=[f"`{rev}` is the only actor of every transition the gate guards: "
                                 + ", ".join(f"`{a} -> {b}`" for a, b in real)],
                          help="choose a reviewer other than the one who makes the transition")


def check_scores(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC706: score bands must tile [n*min, n*max]."""
    for gate in org.gates:
        if not gate.bands:
            continue
        if gate.score_min is None or gate.score_max is None:
            diags.add("ORC706", f"gate `{gate.name}` has score bands but no `score`", gate.bands[0].span,
                      help="add `score CATEGORY, ... from LOW to HIGH`")
            continue
        n = len(gate.score_categories)
        lo, hi = n * gate.score_min, n * gate.score_max
        bands = sorted(gate.bands, key=lambda b: (b.low, b.high))
        expect = lo
        prev: m.ScoreBand | None = None
        for b in bands:
            if b.low > b.high:
                diags.add("ORC706", f"band `{b.low}-{b.high}` runs backwards", b.span,
                          help=f"write `band {b.high}-{b.low}`")
                continue
            if b.low < lo or b.high > hi:
                diags.add("ORC706", f"band `{b.low}-{b.high}` falls outside the totals {lo} to {hi}",
                          b.span, notes=[f"{n} categories scored {gate.score_min} to {gate.score_max} "
                                         f"sum to {lo} to {hi}"],
                          help=f"keep bands within {lo}-{hi}")
            if prev is not None and b.low <= prev.high:
                diags.add("ORC706", f"band `{b.low}-{b.high}` overlaps band `{prev.low}-{prev.high}`",
                          b.span, labels=[Label(prev.span, "the other band")] if prev.span else [],
                          help=f"start this band at {prev.high + 1}")
            elif b.low > expect and expect <= hi:
                gap = f"{expect}" if b.low - 1 == expect else f"{expect}-{b.low - 1}"
                diags.add("ORC706", f"totals {gap} fall in no band", b.span,
                          notes=[f"{n} categories scored {gate.score_min} to {gate.score_max} "
                                 f"sum to {lo} to {hi}"],
                          help=f"start this band at {expect}")
            expect = max(expect, b.high + 1)
            prev = b if prev is None or b.high > prev.high else prev
        if bands and expect <= hi:
            last = bands[-1]
            gap = f"{expect}" if expect == hi else f"{expect}-{hi}"
            diags.add("ORC706", f"totals {gap} fall in no band", last.span,
                      notes=[f"{n} categories scored {gate.score_min} to {gate.score_max} sum to {lo} to {hi}"],
                      help=f"end the last band at {hi}")


def check_gate_thresholds(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC707: a threshold at a tier whose flow does not list the gate."""
    for gate in org.gates:
        if g.broken("gate", gate.name):
            continue
        for crit, per in gate.thresholds.items():
            # a tier whose flow names an unknown gate may have meant this one
            off = [int(t) for t in per if int(t) not in gate.tiers and not g.broken("tier", t)]
            if not off:
                continue
            span = gate.threshold_spans.get(f"{crit}/{off[0]}") or gate.span
            listed = ", ".join(map(str, gate.tiers)) or "none"
            diags.add("ORC707", f"threshold `{crit}` of gate `{gate.name}` is set for "
                      f"{'tier' if len(off) == 1 else 'tiers'} {', '.join(map(str, sorted(off)))}, "
                      "where the gate does not apply", span,
                      notes=[f"the gate applies at the tiers whose flow lists it: {listed}"],
                      help=f"add `gate {gate.name}` to the flow of tier {off[0]}, or drop the threshold")


def check_metrics(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC710: a fraction target outside [0, 100%] or a comparison that always or never holds."""
    for mt in org.metrics:
        t = mt.target
        span = mt.target_span or mt.span
        shown = f"{mt.op} {t * 100:g}%"
        if t < 0 or t > 1:
            diags.add("ORC710", f"metric `{mt.name}` has target `{shown}`, outside 0% to 100%", span,
                      notes=[f"`{mt.measure}` is a fraction"],
                      help=f"write the target as a percent: `{mt.op} {t:g}%`"
                      if t > 1 and t <= 100 else "write a target between 0% and 100%")
            continue
        never = (mt.op == ">" and t >= 1) or (mt.op == "<" and t <= 0)
        always = (mt.op == ">=" and t <= 0) or (mt.op == "<=" and t >= 1)
        if never or always:
            what = "can never be met" if never else "can never be missed"
            diags.add("ORC710", f"metric `{mt.name}` {what}: `{mt.measure} {shown}`", span,
                      notes=[f"`{mt.measure}` is a fraction from 0% to 100%"],
                      help="choose a target strictly between 0% and 100%")


CHECKS: list[Check] = [
    check_tier_numbers,
    check_planning,
    check_gates,
    check_scores,
    check_gate_thresholds,
    check_metrics,
]
