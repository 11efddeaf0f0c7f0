"""Checks of the task lifecycle (ORC3xx): initial and terminal states,
reachability per tier, owners, SLA thresholds, escalation targets, gates that
a path skips, bounded loops.

Reachability is computed once per tier (``Graphs.reachable`` and
``Graphs.finishing``) and each finding is reported once per state, with the
tiers where it holds listed in the message. Nothing is said about what
follows from an error lowering already reported (``Graphs.broken``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from orchdsl import model as m
from orchdsl.checks.digraph import DiGraph
from orchdsl.checks.graphs import Check, Graphs, closure
from orchdsl.diagnostics import Diagnostics, Label, did_you_mean

ICS = ("@assignee", "@peer", "@member")


def tier_list(tiers: Iterable[int]) -> str:
    """``tier 2`` or ``tiers 1, 2, 4``."""
    ts = sorted(tiers)
    return f"tier {ts[0]}" if len(ts) == 1 else "tiers " + ", ".join(map(str, ts))


def _names(items: Iterable[str]) -> str:
    return ", ".join(f"`{x}`" for x in items)


def _declared(org: m.Organisation) -> bool:
    lc = org.lifecycle
    return lc.span is not None or bool(lc.states)


def _lost_states(g: Graphs) -> bool:
    """A declared state that lowering could not build: its transitions are unknown."""
    return any(kind == "state" and name not in g.states for kind, name in g.org.broken)


# ---------------------------------------------------------------- initial, terminal


def check_shape(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC320 no lifecycle, ORC301/302 initial states, ORC313 no terminal, ORC303, ORC312."""
    lc = org.lifecycle
    if not _declared(org):
        diags.add("ORC320", f"organisation `{org.org.name}` declares no lifecycle", org.org.span,
                  help="add `lifecycle task { state ... }` with an initial and a terminal state")
        return
    lost = _lost_states(g)
    initial = [s for s in lc.states if s.initial]
    if not initial and not lost:
        diags.add("ORC301", "the lifecycle has no initial state", lc.span,
                  help="mark the state every task starts in with `initial`")
    for extra in initial[1:]:
        one = initial[0]
        diags.add("ORC302", f"`{extra.name}` is a second initial state", extra.span,
                  labels=[Label(one.span, f"`{one.name}` is initial")] if one.span else [],
                  notes=["every task starts in one state"],
                  help=f"remove `initial` from `{extra.name}` or from `{one.name}`")
    if lc.states and not any(s.terminal for s in lc.states) and not lost:
        diags.add("ORC313", "the lifecycle has no terminal state", lc.span,
                  help="mark the states where a task ends with `terminal success` or `terminal failure`")
    for s in lc.states:
        if s.terminal:
            for t in s.transitions:
                diags.add("ORC303", f"terminal state `{s.name}` has a transition to `{t.target}`", t.span,
                          labels=[Label(s.span, f"`{s.name}` is terminal")] if s.span else [],
                          notes=["a task that reaches a terminal state has ended"],
                          help=f"remove the transition, or make `{s.name}` non-terminal")
        first: dict[str, m.Transition] = {}
        for t in s.transitions:
            if t.target in first:
                prev = first[t.target]
                diags.add("ORC312", f"the transition `{s.name} -> {t.target}` is declared twice", t.span,
                          labels=[Label(prev.span, "first declared here")] if prev.span else [],
                          notes=["gates and handoffs name a transition by its two states"],
                          help="merge the two into one transition; combine guards with `or` "
                               "and list every actor after `by`")
            else:
                first[t.target] = t


# ---------------------------------------------------------------- reachability


def check_reachability(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC304 unreachable and ORC305 dead-end states, per tier."""
    lc = org.lifecycle
    if lc.initial is None:
        return
    broken_states = {n for k, n in org.broken if k == "state"}
    lost = _lost_states(g)
    any_terminal = any(s.terminal for s in lc.states)
    first = g.states.get(lc.initial)
    # at a tier where the initial state does not apply no task can start: say so once
    startless = [t for t in g.tiers if first is not None and not g.applies(first, t)]
    if startless and first is not None and not g.broken("state", first.name):
        diags.add("ORC301", f"the lifecycle has no initial state at {tier_list(startless)}", first.span,
                  notes=[f"the initial state `{first.name}` applies at {tier_list(g.state_tiers(first))}"
                         if g.state_tiers(first) else f"the initial state `{first.name}` applies at no tier"],
                  help=f"let `{first.name}` apply at every tier of the lifecycle")
    for s in lc.states:
        tiers = [t for t in g.state_tiers(s) if t not in startless]
        if not tiers:
            continue
        # ORC304: not reachable from the initial state
        if s.name != lc.initial and not lost:
            missing = [t for t in tiers
                       if s.name not in g.reachable(t)
                       and not (broken_states & g.reachable(t))]
            if missing:
                where = f" at {tier_list(missing)}" if g.tiered else ""
                diags.add("ORC304", f"state `{s.name}` cannot be reached{where}", s.span,
                          notes=[f"no path leads to it from the initial state `{lc.initial}`"],
                          help=f"add a transition to `{s.name}`, or limit it with `tiers`")
        # ORC305: no terminal state reachable (ORC313 says why when there is none)
        if s.terminal or not any_terminal:
            continue
        dead = []
        for t in tiers:
            if s.name in g.finishing(t):
                continue
            lg = g.lifecycle(t)
            after = closure(lg.successors, [s.name])
            if after & broken_states:
                continue
            dead.append(t)
        if dead:
            lg = g.lifecycle(dead[0])
            onward = sorted(closure(lg.successors, [s.name]) - {s.name})
            note = (f"from `{s.name}` a task can only reach {_names(onward)}" if onward
                    else f"no transition leaves `{s.name}`")
            if len(dead) > 1:
                note += f" at tier {dead[0]}"
            where = f" at {tier_list(dead)}" if g.tiered else ""
            diags.add("ORC305", f"a task in `{s.name}` can never finish{where}", s.span,
                      notes=[note],
                      help="add a transition towards a terminal state")


# ---------------------------------------------------------------- owners, escalation


def check_owners(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC306 missing owner, ORC317 terminal with SLA or owner, ORC308 escalation not above."""
    for s in org.lifecycle.states:
        if s.terminal:
            extra = [name for name, v in (("owner", s.owner), ("sla", s.sla), ("warn", s.warn),
                                          ("escalate", s.escalate), ("escalation", s.escalation),
                                          ("heartbeat", s.heartbeat)) if v]
            if extra:
                diags.add("ORC317", f"terminal state `{s.name}` declares {_names(extra)}", s.span,
                          notes=["a task in a terminal state has ended: nobody owns it and no clock runs"],
                          help=f"remove {_names(extra)} from `{s.name}`")
            continue
        if s.owner is None:
            if not g.broken("owner", s.name):
                diags.add("ORC306", f"state `{s.name}` has no owner", s.span,
                          notes=["the owner is who must move the task on, and whose SLA it is"],
                          help="add `owner ROLE`, or `owner @assignee`, `@peer` or `@lead`")
            continue
        esc = s.escalate
        if esc is None or esc.to is None or _uncertain(g, esc.to, s.owner):
            continue
        if not above(g, esc.to, s.owner):
            diags.add("ORC308", f"`{esc.to}` is not above `{s.owner}`, the owner of `{s.name}`",
                      esc.to_span or esc.span, notes=[_why_not_above(g, esc.to, s.owner)],
                      help="escalate to a role above the owner in the hierarchy")


def _uncertain(g: Graphs, x: str, y: str) -> bool:
    """Whether the hierarchy between two actors rests on something lowering could not resolve."""
    bad = g.on_broken_chain
    for a in (x, y):
        if a == "@lead" or a in ICS:
            if any(g.broken("domain", d.name) for d in g.org.domains):
                return True
            group = g.domain_leads if a == "@lead" else g.member_roles
            if bad and any(r in bad for r in group):
                return True
        elif a in bad:
            return True
    return False


def above(g: Graphs, x: str, y: str) -> bool:
    """Whether actor ``x`` is strictly above actor ``y`` in the hierarchy.

    ``@assignee``, ``@peer`` and ``@member`` stand for the ICs of the task's
    domain and ``@lead`` for its lead, whatever the domain: a role is above
    ``@lead`` when it is above every domain lead, and above the ICs when it is
    above every member role of every domain.
    """
    if x in ICS:
        return False
    if x == "@lead":
        if y in ICS:
            return True
        if y.startswith("@") or y not in g.roles:
            return False
        homes = [d for d in g.org.domains if any(mem.role == y for mem in d.members)]
        return bool(homes) and all(d.lead in g.ancestors(y) for d in homes)
    if x not in g.roles or x.startswith("@"):
        return False
    if y == "@lead":
        return x in g.above_all("leads")
    if y in ICS:
        return x in g.above_all("members")
    return x in g.ancestors(y)


def _why_not_above(g: Graphs, x: str, y: str) -> str:
    if x in ICS:
        return f"`{x}` is an IC of the task's domain, the bottom of the hierarchy"
    if y == "@lead" and not x.startswith("@"):
        below = [lead for lead in g.domain_leads if x not in g.ancestors(lead)]
        if below:
            return f"`@lead` is the lead of the task's domain; `{x}` is not above {_names(below[:3])}"
    if y.startswith("@") or x.startswith("@"):
        return f"`{x}` does not rank above `{y}` for every task"
    chain = g.ancestors(y)
    return (f"above `{y}`: {_names(chain)}" if chain else f"`{y}` is at the top of the hierarchy")


# ---------------------------------------------------------------- SLA thresholds


def _resolve(b: m.Budget, target: m.Budget | None) -> m.Budget | None:
    """A threshold as an amount: multiples resolved against the target."""
    if b.kind != "multiple":
        return b
    if target is None:
        return None
    return m.Budget(kind=target.kind, value=target.value * b.value, text=f"{b.text} = {b.value:g} x {target.text}")


def _concrete(b: m.Budget | None) -> str | None:
    return b.kind if b is not None and b.kind in ("time", "tokens") else None


def check_thresholds(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC307 order, ORC314 SLA tier gap, ORC315 never reached, ORC316 kinds, ORC319 multiple."""
    lc = org.lifecycle
    for s in lc.states:
        if s.terminal:
            continue
        sla_ok = not g.broken("sla", s.name)
        thr_ok = not g.broken("threshold", s.name)
        tiers: list[int | None] = [t for t in lc.tiers if t in s.tiers] or [None]
        # ORC314: a per-tier SLA that leaves tiers uncovered
        if s.sla and sla_ok and any(tb.tiers is not None for tb in s.sla) and tiers != [None]:
            covered: set[int] = set()
            for tb in s.sla:
                covered.update(tb.tiers if tb.tiers is not None else [t for t in tiers if t is not None])
            gap = [t for t in tiers if t is not None and t not in covered]
            if gap:
                diags.add("ORC314", f"the SLA of `{s.name}` does not cover {tier_list(gap)}",
                          s.sla[0].budget.span,
                          notes=[f"`{s.name}` applies at {tier_list(t for t in tiers if t is not None)}"],
                          help=f"add `tier {gap[0]}{'-' + str(gap[-1]) if len(gap) > 1 else ''}: ...` "
                               "or limit the state with `tiers`")
        thresholds = [(n, th) for n, th in (("warning", s.warn), ("escalation", s.escalate)) if th]
        # ORC319: multiple of a target that does not exist
        if not s.sla and sla_ok:
            for what, th in thresholds:
                if th.budget.kind == "multiple":
                    diags.add("ORC319", f"the {what} `{th.budget.text}` is a multiple, but `{s.name}` "
                              "has no SLA target", th.span,
                              help=f"add `sla ...` to `{s.name}`, or write the {what} as a duration "
                                   "or a token budget")
        # ORC316: time and tokens mixed
        kinds: list[tuple[str, m.Budget]] = [("SLA target", tb.budget) for tb in s.sla]
        kinds += [(what, th.budget) for what, th in thresholds]
        concrete = [(what, b) for what, b in kinds if _concrete(b)]
        if concrete and sla_ok and thr_ok:
            first_what, first = concrete[0]
            for what, b in concrete[1:]:
                if b.kind != first.kind:
                    diags.add("ORC316", f"the {what} `{b.text}` of `{s.name}` is a {_kind(b)}, "
                              f"but its {first_what} `{first.text}` is a {_kind(first)}", b.span,
                              labels=[Label(first.span, f"a {_kind(first)}")] if first.span else [],
                              notes=["time and tokens are different clocks: a threshold on one "
                                     "says nothing about the other"],
                              help=f"write every budget of `{s.name}` in {_unit(first)}")
        if not (sla_ok and thr_ok):
            continue
        _check_order(s, tiers, thresholds, diags)
        levels = [(f"escalation policy's level {i}", m.Threshold(budget=lv.after, span=lv.after.span or lv.span))
                  for i, lv in enumerate(s.escalation.levels if s.escalation else [], 1)]
        _check_after(s, tiers, [*thresholds, *levels], g, diags)


def _kind(b: m.Budget) -> str:
    return "time budget" if b.kind == "time" else "token budget"


def _unit(b: m.Budget) -> str:
    return "time" if b.kind == "time" else "tokens"


def _check_order(s: m.State, tiers: list[int | None],
                 thresholds: list[tuple[str, m.Threshold]], diags: Diagnostics) -> None:
    """target <= warn < escalate, at each tier where the state applies."""
    bad: dict[tuple[str, str], list[int | None]] = {}
    shown: dict[tuple[str, str], tuple[m.Budget, m.Budget]] = {}
    for tier in tiers:
        target = s.target_for(tier) if tier is not None else (s.sla[0].budget if s.sla else None)
        points: list[tuple[str, m.Budget, bool]] = []  # (what, amount, strict against the previous)
        if target is not None:
            points.append(("SLA target", target, False))
        for what, th in thresholds:
            r = _resolve(th.budget, target)
            if r is not None:
                points.append((what, r, what == "escalation"))
        for i, (what, b, _) in enumerate(points):
            for prev_what, pb, _ in points[:i]:
                if pb.kind != b.kind:
                    continue
                strict = what == "escalation" and prev_what == "warning"
                if b.value < pb.value or (strict and b.value == pb.value):
                    key = (prev_what, what)
                    bad.setdefault(key, []).append(tier)
                    shown.setdefault(key, (pb, b))
    for (prev_what, what), ts in bad.items():
        pb, b = shown[(prev_what, what)]
        moved = s.warn if what == "warning" else s.escalate
        assert moved is not None
        where = f" at {tier_list(t for t in ts if t is not None)}" if len(ts) < len(tiers) else ""
        prev_span = (s.warn.span if prev_what == "warning" and s.warn else
                     s.sla[0].budget.span if s.sla else None)
        relation = "is not above" if (prev_what, what) == ("warning", "escalation") else "comes before"
        diags.add("ORC307", f"the {what} at `{b.text}` {relation} the {prev_what} "
                  f"at `{pb.text}` in `{s.name}`{where}", moved.span,
                  labels=[Label(prev_span, f"the {prev_what}")] if prev_span else [],
                  notes=["thresholds are in order: SLA target <= warning < escalation"],
                  help=f"raise the {what} above `{pb.text}`")


def _check_after(s: m.State, tiers: list[int | None], thresholds: list[tuple[str, m.Threshold]],
                 g: Graphs, diags: Diagnostics) -> None:
    """ORC315: a threshold after an unconditional automatic transition (one at the same amount
    fires, then the task moves: the runtime fires thresholds before the move due with them)."""
    autos = [t for t in s.transitions if t.after is not None and t.guard is None]
    if not autos:
        return
    for what, th in thresholds:
        hit: list[int | None] = []
        leave: m.Transition | None = None
        for tier in tiers:
            target = s.target_for(tier) if tier is not None else None
            r = _resolve(th.budget, target)
            if r is None:
                continue
            for t in autos:
                assert t.after is not None
                if tier is not None and tier not in t.tiers:
                    continue
                if t.after.kind == r.kind and r.value > t.after.value:
                    hit.append(tier)
                    leave = leave or t
                    break
        if leave is not None and leave.after is not None:
            where = f" at {tier_list(t for t in hit if t is not None)}" if len(hit) < len(tiers) else ""
            diags.add("ORC315", f"the {what} at `{th.budget.text}` in `{s.name}` is never reached{where}",
                      th.span,
                      labels=[Label(leave.span, f"the task leaves after `{leave.after.text}`")]
                      if leave.span else [],
                      notes=[f"`-> {leave.target} after {leave.after.text}` always fires first; a threshold "
                             "at the same amount would fire, then the task would move"],
                      help=f"set the {what} below `{leave.after.text}`, or remove it")


# ---------------------------------------------------------------- gates on paths


def check_gates_on_paths(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC309: at a tier where a gate applies, a success state is reachable around it."""
    lc = org.lifecycle
    if lc.initial is None:
        return
    success = {s.name for s in lc.states if s.terminal == "success"}
    found: dict[tuple[str, str, str, str], list[int]] = {}
    paths: dict[tuple[str, str, str, str], list[str]] = {}
    for gate in org.gates:
        if not gate.transitions or g.broken("gate", gate.name):
            continue
        guarded = set(gate.transitions)
        for tier in lc.tiers:
            if tier not in gate.tiers:
                continue
            lg = g.lifecycle(tier)
            if lc.initial not in lg:
                continue

            def succ(n: str, lg: DiGraph = lg, guarded: set[tuple[str, str]] = guarded) -> Iterable[str]:
                return (v for v in lg.successors(n) if (n, v) not in guarded)

            path = _shortest(lc.initial, succ, success)
            if path is None:
                continue
            edges = list(zip(path, path[1:], strict=False))
            if any(g.broken("transition", f"{a}->{b}") for a, b in edges):
                continue
            # the edge after which the gate can no longer be reached
            sources = {a for a, _ in guarded if a in lg}
            can_gate = closure(lg.predecessors, sources)
            edge = next(((a, b) for a, b in edges if b not in can_gate), edges[-1] if edges else None)
            if edge is None:
                continue
            key = (gate.name, edge[0], edge[1], path[-1])
            found.setdefault(key, []).append(tier)
            paths.setdefault(key, path)
    for (gname, a, b, end), tiers in found.items():
        t = next((t for t in g.states[a].transitions if t.target == b), None)
        found_gate = org.gate(gname)
        span = t.span if t is not None and t.span else g.states[a].span
        labels = [Label(sp, f"gate `{gname}` guards this")
                  for sp in (found_gate.transition_spans if found_gate else []) if sp is not None][:2]
        diags.add("ORC309", f"at {tier_list(tiers)} a task can reach `{end}` without passing gate `{gname}`",
                  span, labels=labels,
                  notes=["for example: " + " -> ".join(paths[(gname, a, b, end)])],
                  help=f"let gate `{gname}` guard `{a} -> {b}` too, or limit this transition "
                       "with a `when tier ...` guard")


def _shortest(start: str, step: Callable[[str], Iterable[str]], goals: set[str]) -> list[str] | None:
    """Breadth-first: the shortest path from ``start`` to any goal."""
    prev: dict[str, str | None] = {start: None}
    todo = deque([start])
    while todo:
        n = todo.popleft()
        if n in goals:
            out = [n]
            while (p := prev[out[-1]]) is not None:
                out.append(p)
            return out[::-1]
        for v in step(n):
            if v not in prev:
                prev[v] = n
                todo.append(v)
    return None


# ---------------------------------------------------------------- state classes


def check_state_classes(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC323: open work is never in a terminal state, done work always is, and a state
    is not both where work waits to start and where it is worked on."""
    lc = org.lifecycle
    for cls, names in lc.classes.items():
        for name in names:
            st = lc.state(name)
            if st is None:
                continue
            span = lc.class_spans.get(f"{cls} {name}")
            declared = [Label(st.span, "declared here")] if st.span else []
            if cls == "done" and st.terminal is None:
                diags.add("ORC323", f"`{name}` is not terminal, so a task there is not done", span,
                          labels=declared,
                          help="list terminal states under `done`, such as "
                               + (_names(s.name for s in lc.states if s.terminal == "success") or "a success state"))
            elif cls != "done" and st.terminal is not None:
                diags.add("ORC323", f"`{name}` is terminal; no open task is in it, so it cannot count as `{cls}`",
                          span, labels=declared,
                          help=f"list the states where tasks are {CLASS_WORDS[cls]}")
    both = [n for n in lc.classes.get("ready", []) if n in lc.classes.get("work", [])]
    for name in both:
        work = lc.class_spans.get(f"work {name}")
        diags.add("ORC323", f"`{name}` is both `ready` (waiting to be started) and `work` (being worked on)",
                  lc.class_spans.get(f"ready {name}"), labels=[Label(work, "counted as `work` here")] if work else [],
                  help=f"keep `{name}` in one of the two")


CLASS_WORDS = {"work": "worked on", "blocked": "blocked", "escalated": "escalated and wait for help",
               "ready": "assigned and wait to be started"}


def check_escalations(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC322 levels out of order; ORC110 a notice to `@owner` of a state that has none."""
    inline = [s.escalation for s in org.lifecycle.states if s.escalation and s.escalation.name is None]
    for policy in [*org.escalations, *inline]:
        prev: m.EscalationLevel | None = None
        for level in policy.levels:
            if prev is not None and level.after.value <= prev.after.value:
                what = f"escalation policy `{policy.name}`" if policy.name else "this escalation policy"
                diags.add("ORC322", f"a level of {what} fires after `{level.after.text}`, "
                          f"{'the same time as' if level.after.value == prev.after.value else 'before'} "
                          f"the level before it (`{prev.after.text}`)", level.after.span or level.span,
                          labels=[Label(prev.span, "the level before")] if prev.span else [],
                          notes=["each level's time is counted from when the task entered the state"],
                          help="list the levels from the earliest to the latest, each later than the last")
            if prev is None or level.after.value > prev.after.value:
                prev = level
    for s in org.lifecycle.states:
        if s.owner is None and any(m.OWNER in n.to for n in s.notify):
            span = next(n.span for n in s.notify if m.OWNER in n.to)
            diags.add("ORC110", f"`@owner` names nobody here: state `{s.name}` has no owner", span,
                      help=f"name a role, or give `{s.name}` an owner")


# ---------------------------------------------------------------- bounded loops


def check_rounds(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC324 a bounded transition that never leads back to its state; ORC325 the path a bounded
    transition takes when its rounds run out is no transition out of the state; ORC326 an escalation
    when they run out that leaves the task nowhere to go."""
    onward = {s.name: [t.target for t in s.transitions] for s in org.lifecycle.states}
    for s in org.lifecycle.states:
        for t in s.transitions:
            r = t.rounds
            if r is None:
                continue
            back = closure(lambda x: onward.get(x, ()), [t.target])
            if s.name not in back:
                diags.add("ORC324", f"`rounds` bounds `{s.name} -> {t.target}`, which never leads back to `{s.name}`",
                          r.span, notes=[f"from `{t.target}` a task can reach {_names(sorted(back)) or 'nothing'}"],
                          help="bound the transition that sends a task back for another round")
            if r.then is None:
                if not [x for x in onward[s.name] if x != t.target]:
                    diags.add("ORC326", f"when the rounds of `{s.name} -> {t.target}` run out, no other transition "
                              f"leads out of `{s.name}`", r.span,
                              notes=[f"the escalation leaves the task in `{s.name}` for good"],
                              help=f"declare another transition out of `{s.name}` that {r.escalate} may make")
                continue
            if r.then == t.target:
                diags.add("ORC325", f"when its rounds run out, `{s.name} -> {t.target}` cannot take itself",
                          r.then_span or r.span, help=f"name another transition out of `{s.name}`")
            elif r.then not in onward[s.name]:
                others = [x for x in onward[s.name] if x != t.target]
                diags.add("ORC325", f"`{s.name} -> {r.then}` is no transition, so the task cannot take it when "
                          f"the rounds of `{s.name} -> {t.target}` run out", r.then_span or r.span,
                          help=did_you_mean(r.then, others) or f"declare `-> {r.then}` in state `{s.name}`")


CHECKS: list[Check] = [
    check_shape,
    check_reachability,
    check_owners,
    check_escalations,
    check_thresholds,
    check_gates_on_paths,
    check_state_classes,
    check_rounds,
]
