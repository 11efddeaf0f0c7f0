"""Hypothesis strategies: valid organisations as `.orch` text, and mutations of them.

``valid_specs()`` draws a small random organisation that is correct by
construction: one root, optionally a middle manager, one lead per domain and
IC members under each lead; a lifecycle whose non-terminal states form a
spine from the initial state to ``DONE`` (so every state is reachable and can
finish) plus random forward and backward edges; tiers contiguous from 0;
gates on the one transition into ``DONE`` (so no path skips them); weights
that sum to 1 built from whole hundredths; increasing capacity bands; and
standups that climb to the root.

``mutations()`` draws an edit of a spec's text (delete, duplicate or truncate
a line, swap two tokens, rename, insert a keyword or a punctuation mark).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hypothesis import strategies as st

FACTORS = ("skill_match", "workload", "complexity_fit", "learning_opportunity", "recent_performance")
STATE_POOL = ("OPEN", "PLANNED", "WORKING", "REVIEW", "TESTING", "STAGED", "PAUSED")
LEVELS = ("beginner", "intermediate", "advanced", "expert")
EXPERIENCE = ("junior", "mid", "senior")
# Guards that are well typed and do not depend on the tier.
GUARDS = (
    "assignee.has_capacity",
    "task.dependencies_met and not task.cross_domain",
    "task.priority in [critical, high]",
    "task.complexity != simple or assignee.utilization < 90%",
    "time_in_state > 4h",
    'task.kind == tactical',
    "(task.priority == low or task.priority == normal) and assignee.has_capacity",
)
KEYWORDS = (
    "org", "role", "domain", "lifecycle", "state", "gate", "tier", "skills", "member", "lead",
    "initial", "terminal", "owner", "sla", "warn", "escalate", "to", "by", "when", "after",
    "and", "or", "not", "in", "from", "every", "weight", "filter", "at", "include", "guards",
    "outcome", "pass", "hold", "metric", "channel", "members", "handoff", "standup", "notify",
    "escalation", "repeat",
)
PUNCTUATION = ("{", "}", "->", ":", ",", "=", "(", ")", "[", "]", "-", "*", "@lead", '"', "4h", "50K",
               "2x", "90%", "x2", "1.5", "7")
IDENT: st.SearchStrategy[str] = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@dataclass
class Edge:
    source: str
    target: str
    actors: list[str]
    guard: str | None = None
    label: str | None = None


@dataclass
class State:
    name: str
    owner: str | None = None
    sla: str | None = None
    warn: str | None = None
    escalate: str | None = None
    heartbeat: str | None = None
    terminal: str | None = None
    initial: bool = False
    escalation: str | None = None
    notify: str | None = None
    edges: list[Edge] = field(default_factory=list)


@st.composite
def weights(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A few factors whose weights, whole hundredths, sum to exactly 1."""
    k = draw(st.integers(1, len(FACTORS)))
    factors = draw(st.permutations(FACTORS))[:k]
    cuts = sorted(draw(st.sets(st.integers(1, 99), min_size=k - 1, max_size=k - 1)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    return [(f, f"{p // 100}.{p % 100:02d}") for f, p in zip(factors, parts, strict=True)]


@st.composite
def valid_specs(draw: st.DrawFn) -> str:
    out: list[str] = []
    emit = out.append
    emit("# generated")
    emit(f'org gen-{draw(IDENT)} version "1.{draw(st.integers(0, 9))}" {{ title "Generated" }}')
    emit("")

    # ---------------------------------------------------------- skills
    n_levels = draw(st.integers(2, 4))
    levels = LEVELS[:n_levels]
    values = sorted(draw(st.sets(st.integers(1, 9), min_size=n_levels, max_size=n_levels)))
    n_skills = draw(st.integers(1, 6))
    skills = [f"skill_{i}" for i in range(n_skills)]
    n_categories = draw(st.integers(1, min(3, n_skills)))
    categories: list[list[str]] = [[] for _ in range(n_categories)]
    for i, skill in enumerate(skills):
        categories[i % n_categories].append(skill)
    emit("skills {")
    emit("  levels { " + ", ".join(f"{lv} = {v}" for lv, v in zip(levels, values, strict=True)) + " }")
    for i, cat in enumerate(categories):
        emit(f"  category cat_{i} {{ {', '.join(cat)} }}")
    emit("}")
    emit("experience { junior = 1, mid = 2, senior = 3 }")
    emit("")

    # ---------------------------------------------------------- roles
    n_domains = draw(st.integers(1, 3))
    middle = draw(st.booleans())
    top_of_leads = "tech" if middle else "boss"
    emit('role boss { title "Boss" layer strategic }')
    if middle:
        emit('role tech { title "Tech" layer coordination reports_to boss }')
    domains = [f"dom{i}" for i in range(1, n_domains + 1)]
    members: dict[str, list[str]] = {}
    for i, d in enumerate(domains, start=1):
        emit(f'role lead-{i} {{ title "Lead {i}" layer domain reports_to {top_of_leads} }}')
        members[d] = [f"dev-{i}-{j}" for j in range(1, draw(st.integers(1, 2)) + 1)]
        for r in members[d]:
            emit(f'role {r} {{ title "Dev {r}" layer ic reports_to lead-{i} }}')
    emit("")

    # ---------------------------------------------------------- domains
    all_members = [r for d in domains for r in members[d]]
    held: dict[str, list[str]] = {r: [] for r in all_members}
    for i, skill in enumerate(skills):  # every skill is held by someone
        held[all_members[i % len(all_members)]].append(skill)
    for r in all_members:
        also = draw(st.lists(st.sampled_from(skills), max_size=2))
        held[r] = sorted(set(held[r]) | set(also))
    used_experience: set[str] = set()
    for i, d in enumerate(domains, start=1):
        emit(f"domain {d} {{")
        emit(f"  lead lead-{i}")
        needs = sorted({skill for r in members[d] for skill in held[r]})
        say_needs = draw(st.booleans())
        if needs and say_needs:
            emit(f"  needs {needs[0]}")
        for r in members[d]:
            exp = draw(st.sampled_from(EXPERIENCE))
            used_experience.add(exp)
            count = draw(st.sampled_from(["", " x2", " x3"]))
            skill_text = ", ".join(f"{sk}: {draw(st.sampled_from(levels))}" for sk in held[r])
            emit(f"  member {r}{count} {{")
            emit(f"    experience {exp}")
            emit(f"    hours_per_day {draw(st.integers(4, 8))}")
            if skill_text:
                emit(f"    skills {{ {skill_text} }}")
            emit("  }")
        emit("}")
    emit("")

    # ---------------------------------------------------------- lifecycle
    n_tiers = draw(st.integers(1, 3))
    n_states = draw(st.integers(1, 5))
    names = list(draw(st.permutations(STATE_POOL)))[:n_states]
    with_failure = draw(st.booleans())
    states = [State(n) for n in names]
    states[0].initial = True
    done = State("DONE", terminal="success")
    dropped = State("DROPPED", terminal="failure") if with_failure else None
    actors = st.sampled_from(["@assignee", "@lead", "boss", "lead-1"])
    for i, s in enumerate(states):
        nxt = states[i + 1].name if i + 1 < len(states) else "DONE"
        last = i + 1 == len(states)
        # The only edge into DONE is the last spine edge, made by a relation
        # so that the gate's reviewer never reviews its own move.
        by = [draw(st.sampled_from(["@assignee", "@lead"]))] if last else draw(
            st.lists(actors, min_size=1, max_size=2, unique=True))
        guard = None if last else draw(st.none() | st.sampled_from(GUARDS))
        s.edges.append(Edge(s.name, nxt, by, guard))
    # Extra edges between non-terminal states, forward or back, and to DROPPED.
    pairs = [(a.name, b.name) for a in states for b in states if a.name != b.name]
    existing = {(e.source, e.target) for s in states for e in s.edges}
    more = draw(st.lists(st.sampled_from(pairs), max_size=4, unique=True)) if pairs else []
    by_name = {s.name: s for s in states}
    for a, b in more:
        if (a, b) in existing:
            continue
        existing.add((a, b))
        guard = draw(st.none() | st.sampled_from(GUARDS) | st.sampled_from(
            [f"tier >= {k}" for k in range(1, n_tiers + 1)]))
        label = draw(st.none() | st.sampled_from(["back", "again", "skip ahead"]))
        by_name[a].edges.append(Edge(a, b, draw(st.lists(actors, min_size=1, max_size=2, unique=True)),
                                     guard, label))
    if dropped is not None:
        drop_from = {states[0].name} | set(draw(st.lists(st.sampled_from(names), max_size=2)))
        for n in sorted(drop_from):
            by_name[n].edges.append(Edge(n, "DROPPED", ["@lead"], None, "dropped"))
    for s in states:
        s.owner = draw(st.sampled_from(["@assignee", "@lead", "@peer", "lead-1"]))
        kind = draw(st.sampled_from(["none", "time", "tokens", "estimate", "tiers"]))
        if kind == "time":
            target = draw(st.integers(1, 8))
            s.sla = f"{target}h"
            warn = target + draw(st.integers(0, 8))
            s.warn = draw(st.sampled_from([f"{warn}h", "1.5x"]))
            s.escalate = f"{warn + draw(st.integers(1, 8))}h" if s.warn.endswith("h") else "2x"
        elif kind == "tokens":
            s.sla = f"{draw(st.integers(10, 90))}K"
            s.warn = "2x"
            s.escalate = "3x"
        elif kind == "estimate":
            s.sla = draw(st.sampled_from(["estimate", "25% of estimate"]))
            s.warn = "1.5x"
            s.escalate = "2x"
        elif kind == "tiers":
            parts = []
            for t in range(1, n_tiers + 1):
                parts.append(f"tier {t}: {draw(st.integers(1, 4)) * t}h")
            s.sla = ", ".join(parts)
            s.warn = draw(st.none() | st.just("2x"))
            s.escalate = "3x" if s.warn else None
        if s.escalate is not None:
            s.escalate += " to " + ("@lead" if s.owner in ("@assignee", "@peer") and draw(st.booleans())
                                    else "boss")
        if draw(st.booleans()):
            s.heartbeat = draw(st.sampled_from(["2h", "4h", "1d"]))
        if s.escalate is None and draw(st.booleans()):
            s.escalation = draw(st.sampled_from(["page", "{ after 30m to @lead after 2h to boss, @peer repeat 1 }"]))
        s.notify = draw(st.none() | st.sampled_from(['@lead "entered"', "boss", "@assignee, @owner"]))
    if draw(st.booleans()):
        done.notify = 'boss, @lead "finished"'
    # Whoever assigns a task makes the move into its first `@assignee` state: the assignee
    # alone cannot, as the task has none yet (ORC327).
    owned = {s.name for s in states if s.owner == "@assignee"}
    unassigned, todo = {states[0].name}, [states[0]]
    while todo:
        for e in todo.pop().edges:
            if e.target in owned and e.actors == ["@assignee"]:
                e.actors = ["@lead"]
            elif e.target in by_name and e.target not in owned and e.target not in unassigned:
                unassigned.add(e.target)
                todo.append(by_name[e.target])

    emit("lifecycle task {")
    emit(f"  tiers 1-{n_tiers}" if n_tiers > 1 else "  tiers 1")
    for s in [*states, done, *([dropped] if dropped else [])]:
        emit(f"  state {s.name} {{")
        if s.initial:
            emit("    initial")
        if s.terminal:
            emit(f"    terminal {s.terminal}")
        if s.owner:
            emit(f"    owner {s.owner}")
        if s.sla:
            emit(f"    sla {s.sla}")
        if s.warn:
            emit(f"    warn {s.warn}")
        if s.escalate:
            emit(f"    escalate {s.escalate}")
        if s.heartbeat:
            emit(f"    heartbeat {s.heartbeat}")
        if s.escalation:
            emit(f"    escalation {s.escalation}")
        if s.notify:
            emit(f"    notify {s.notify}")
        for e in s.edges:
            text = f"    -> {e.target}"
            if e.label:
                text += f' "{e.label}"'
            if e.guard:
                text += f" when {e.guard}"
            text += " by " + ", ".join(e.actors)
            emit(text)
        emit("  }")
    if draw(st.booleans()):  # state classes: open states for work, ready, blocked; DONE is done
        open_names = [s.name for s in states]
        work = draw(st.lists(st.sampled_from(open_names), min_size=1, max_size=2, unique=True))
        emit(f"  work {', '.join(work)}")
        rest = [n for n in open_names if n not in work]
        if rest and draw(st.booleans()):
            emit(f"  ready {draw(st.sampled_from(rest))}")
        if draw(st.booleans()):
            emit(f"  blocked {draw(st.sampled_from(open_names))}")
        emit("  done DONE")
    emit("}")
    if any(s.escalation == "page" for s in states):
        emit("escalation page { after 1h to boss after 3h to @lead, @member repeat 2 }")
    emit("")

    # ---------------------------------------------------------- gates and tiers
    n_gates = draw(st.integers(0, 2))
    gate_tiers: dict[str, set[int]] = {}
    last_state = states[-1]
    loop_targets = sorted(e.target for e in last_state.edges if e.target not in ("DONE", "DROPPED"))
    for k in range(n_gates):
        name = f"gate_{k}"
        gate_tiers[name] = set(draw(st.sets(st.integers(1, n_tiers), min_size=1)))
        emit(f"gate {name} {{")
        emit(f"  reviewer {draw(st.sampled_from(['boss', '@peer', '@lead']))}")
        emit(f"  guards {last_state.name} -> DONE")
        emit("  criteria works, tested")
        emit("  outcome approved: pass")
        if draw(st.booleans()):
            emit("  outcome wait: hold")
        rework = draw(st.booleans())
        if loop_targets and rework:
            emit(f"  outcome rework: -> {draw(st.sampled_from(loop_targets))}")
        if draw(st.booleans()):
            emit(f"  notify @assignee, @owner on {'rework' if loop_targets and rework else 'approved'} \"decided\"")
        emit("}")
    emit('tier 0 "Trivial" { flow boss:answer }')
    for t in range(1, n_tiers + 1):
        steps = ["@lead:delegation", "@assignee:execution"]
        steps += [f"gate {g}" for g in sorted(gate_tiers) if t in gate_tiers[g]]
        low = draw(st.integers(1, 3))
        high = low + draw(st.integers(0, 5))
        emit(f'tier {t} "Tier {t}" {{ flow {" -> ".join(steps)} planning {low}-{high} tasks }}')
    emit("")

    # ---------------------------------------------------------- protocols
    chain = ["boss", "tech", "@lead", "@member"] if middle else ["boss", "@lead", "@member"]
    emit(f"delegation {{ chain {' -> '.join(chain)} acknowledge within {draw(st.integers(1, 4))}h "
         "overdue escalate to boss priorities critical, high, normal, low }")
    emit('broadcast { kinds news, blocker channel all { members * } channel leads { members @lead } '
         'channel "{domain}-team" { members @lead, @member } }')
    emit("standup daily { from @member to @lead every 1d sections done, next }")
    statuses = draw(st.sampled_from(["", " statuses on_track: green, at_risk: amber"]))
    emit(f"standup leads {{ from @lead to {top_of_leads} every 1w sections progress, instruction_progress"
         f"{statuses} }}")
    if middle:
        emit("standup tech { from tech to boss every 1w sections risks }")
    # a handoff says where rejected work goes (ORC413): another way out of its state
    back = sorted(states[0].edges[1:], key=lambda e: e.target == "DROPPED")
    if n_domains >= 2 and draw(st.booleans()) and back:
        handoff_edge = states[0].edges[0]
        emit(f'handoff {domains[0]} -> {domains[1]} {{ checklist {{ "documented" }} '
             f"accepted_by @downstream_lead on accept {handoff_edge.source} -> {handoff_edge.target} "
             f"on reject {back[0].source} -> {back[0].target} }}")
    if draw(st.booleans()):
        emit('consultation ask { from lead-1 to boss blocking timeout 30m default "go" }')
    emit("")

    # ---------------------------------------------------------- assignment, capacity
    emit("assignment {")
    for f, w in draw(weights()):
        emit(f"  weight {f} {w}")
    if draw(st.booleans()):
        emit("  filter skill_match >= 0.5 and workload <= 0.9")
    if draw(st.booleans()):
        emit("  complexities simple, large")  # the guards above compare with `simple`
        emit("  fit simple: junior, large: senior")
    else:
        emit("  fit simple: junior, moderate: mid, high: senior")
    emit("  fallback escalate to boss")
    emit("}")
    bands = sorted(draw(st.sets(st.integers(1, 150), min_size=1, max_size=4)))
    emit("capacity {")
    emit(f"  hours_per_day {draw(st.integers(4, 10))}")
    emit(f"  horizon {draw(st.integers(1, 14))}d")
    emit("  at 0% band_0")
    for i, p in enumerate(bands, start=1):
        action = draw(st.sampled_from(["", " notify @lead", " escalate boss"]))
        emit(f"  at {p}% band_{i}{action}")
    emit(f"  ic above {draw(st.integers(80, 150))}% refuse_new_work")
    emit("}")
    emit(f'metric fast "Fast": sla_met({states[0].name}) > {draw(st.integers(1, 99))}%')
    emit(f"metric estimates: within_estimate > {draw(st.integers(1, 99))}%")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- mutations

TOKEN = re.compile(r'"[^"\n]*"|[A-Za-z_@][A-Za-z0-9_-]*|[0-9][0-9.]*[%a-zA-Z]?|->|\S')


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with one random edit that may well break it."""
    lines = text.split("\n")
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "rename", "insert", "truncate"]))
    if kind == "delete":
        i = draw(st.integers(0, len(lines) - 1))
        return "\n".join(lines[:i] + lines[i + 1 :])
    if kind == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        return "\n".join(lines[: i + 1] + lines[i:])
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    tokens = list(TOKEN.finditer(text))
    if kind == "swap" and len(tokens) >= 2:
        a, b = sorted(draw(st.lists(st.integers(0, len(tokens) - 1), min_size=2, max_size=2, unique=True)))
        ta, tb = tokens[a], tokens[b]
        return text[: ta.start()] + tb.group() + text[ta.end() : tb.start()] + ta.group() + text[tb.end() :]
    if kind == "rename":
        names = [t for t in tokens if re.fullmatch(r"[A-Za-z_@][A-Za-z0-9_-]*", t.group())]
        if names:
            t = draw(st.sampled_from(names))
            return text[: t.start()] + draw(IDENT) + text[t.end() :]
    # insert a keyword or a punctuation mark at a token boundary
    at = draw(st.sampled_from([0, *(t.end() for t in tokens)]))
    word: str = draw(st.sampled_from(KEYWORDS + PUNCTUATION))
    return text[:at] + " " + word + " " + text[at:]
