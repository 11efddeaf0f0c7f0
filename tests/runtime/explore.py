"""A coverage-guided explorer of runs: commands of the table, with arguments drawn from the state,
issued by agents of every role through ``invoke`` on a real engine.

Each step first tries, for some command whose (command, role) pairs of ``may_issue`` are not
covered yet, an agent of each such role (right after an agent of a role *not* listed, which must
be refused); then makes progress with a command that moves work along (deeper lifecycle states
first, passing gate outcomes first) or advances the clock. Every accepted command is checked
against ``may_issue``: a role the table does not list for a command is never accepted.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

from orchdsl_runtime import Engine, MemoryStore, Model, Refused, VirtualClock
from orchdsl_runtime.contract.commands import COMMANDS, Command
from orchdsl_runtime.contract.model import KINDS
from orchdsl_runtime.invoke import invoke
from orchdsl_runtime.model import GateRec
from orchdsl_runtime.roles import may_issue

ACTING = {c.name: c for c in COMMANDS if c.acts and not c.view}
ADVANCING = ("move", "assign", "gate", "handoff_create", "handoff_tick", "handoff_accept", "instruction_gate",
             "instruction_stage", "task_create", "submit", "ack", "answer", "delegate", "consult")
"""the commands that move work along (the progress step picks among them)"""
ACTOR_CODES = frozenset({"RUN004", "RUN020"})
"""the refusals of an agent that may not issue a command (off the delegation chain: RUN020)"""


class Unsound(AssertionError):
    """A command was accepted from a role ``may_issue`` does not list for it."""


def gate_args(g: GateRec, rnd: random.Random, passing: bool) -> dict[str, Any]:
    """Arguments deciding a gate: an outcome (a passing one when ``passing``), or scores in its band."""
    if not g.bands:
        outcomes = [o for o in g.outcomes.values() if (o.effect == "pass") == passing] or list(g.outcomes.values())
        chosen = rnd.choice(outcomes)
        args: dict[str, Any] = {"outcome": chosen.name}
        if chosen.effect == "pass" and g.thresholds:
            args["measures"] = {c: 1.0 for c in g.thresholds}
        return args
    n = len(g.score_categories)
    lo = g.score_min if g.score_min is not None else 0
    hi = g.score_max if g.score_max is not None else lo + 100
    bands = [b for b in g.bands if (g.outcomes[b[2]].effect == "pass") == passing] or list(g.bands)
    low, high, _ = rnd.choice(bands)
    total = min(max(low, n * lo), n * hi)
    scores = {c: lo for c in g.score_categories}
    extra = total - n * lo
    for c in g.score_categories:
        step = min(extra, hi - lo)
        scores[c] += step
        extra -= step
    return {"scores": scores}


class Explorer:
    """Runs of one model, explored for coverage of ``may_issue``."""

    def __init__(self, model: Model, seed: int = 0, max_tasks: int = 12, max_instructions: int = 6) -> None:
        self.model = model
        self.may = may_issue(model)
        self.engine = Engine(model, MemoryStore(), VirtualClock(0.0))
        self.clock = self.engine.clock
        self.rnd = random.Random(seed)
        self.max_tasks = max_tasks
        self.max_instructions = max_instructions
        self.pairs = {(c, r) for c, roles in self.may.items() for r in roles}
        self.covered: set[tuple[str, str]] = set()
        self.outsider_codes: Counter[str] = Counter()
        """refusals of agents not listed, for arguments a listed agent then had accepted"""
        self.accepted = 0
        self.tries = 0
        self.depth = self._depths()

    def _depths(self) -> dict[str, int]:
        """How far each state is from the initial one; success is deepest, failure shallowest."""
        m = self.model
        depth = {m.initial: 0}
        todo = [m.initial]
        while todo:
            s = todo.pop(0)
            for rec in m.states[s].out.values():
                if rec.target not in depth:
                    depth[rec.target] = depth[s] + 1
                    todo.append(rec.target)
        for name, st in m.states.items():
            if st.terminal is not None:
                depth[name] = len(m.states) + 1 if st.terminal == "success" else -1
        return depth

    # -- issuing ---------------------------------------------------------------------------

    def issue(self, cmd: Command, agent: str, args: dict[str, Any]) -> str | None:
        """Issue a command; ``None`` when accepted, else the refusal code."""
        self.tries += 1
        try:
            invoke(self.engine, cmd, agent, args)
        except Refused as r:
            return r.code
        role = self.model.agents[agent].role
        if role not in self.may[cmd.name]:
            raise Unsound(f"`{cmd.name}` {args} was accepted from `{agent}` ({role}), which may_issue does not list")
        self.accepted += 1
        self.covered.add((cmd.name, role))
        return None

    def wants(self, role: str | None, *names: str) -> bool:
        """Whether a role still has one of these commands to cover."""
        return any(role in self.may[n] and (n, role) not in self.covered for n in names)

    def pick(self, items: list[str], weight: Any) -> str:
        """One of ``items``, those ``weight`` favours five times as likely."""
        return self.rnd.choices(items, weights=[5.0 if weight(x) else 1.0 for x in items])[0]

    def agent_of(self, role: str) -> str:
        return self.rnd.choice(self.model.agents_by_role[role])

    def outsider(self, name: str) -> str | None:
        others = sorted(set(self.model.agents_by_role) - self.may[name])
        return self.agent_of(self.rnd.choice(others)) if others else None

    # -- arguments from the state ------------------------------------------------------------

    def candidates(self) -> list[tuple[Command, dict[str, Any]]]:
        out = [(ACTING[name], args) for name in ACTING for args in self._args(name)]
        self.rnd.shuffle(out)
        return out

    def _open_tasks(self) -> list[Any]:
        states = self.model.states
        return [t for t in self.engine.state.tasks.values() if states[t.state].terminal is None]

    def _sample(self, items: list[Any], k: int) -> list[Any]:
        return self.rnd.sample(items, min(k, len(items)))

    def _args(self, name: str) -> Iterator[dict[str, Any]]:  # noqa: C901 - one case per command
        m, st, rnd = self.model, self.engine.state, self.rnd
        tasks = self._sample(self._open_tasks(), 10)
        instructions = [i for i in st.instructions.values() if i.closed_at is None]
        domains = sorted(m.domains)
        if name == "submit" and len(instructions) < self.max_instructions:
            yield {"text": "work", "tier": rnd.choice(sorted(set(m.tiers) | set(m.tier_specs)))}
        elif name == "task_create" and len(self._open_tasks()) < self.max_tasks and domains:
            lead = m.domain_lead_role
            for ins in self._sample([i for i in instructions if i.tier in m.tiers], 2):
                domain = self.pick(domains, lambda d: self.wants(
                    lead[d], "handoff_create", "handoff_tick", "gate", "move", "reassign") or any(
                    self.wants(m.agents[a].role, "handoff_tick", "heartbeat", "gate") for a in m.domain_members[d]))
                args = {"instruction": ins.id, "kind": rnd.choice(KINDS), "domain": domain, "title": "t",
                        "estimate": "4h", "priority": rnd.choice(m.priorities)}
                others = [d for d in domains if d != domain]
                if others and rnd.random() < 0.6:
                    args["handoff_to"] = self.pick(others, lambda d: self.wants(lead[d], "handoff_accept",
                                                                                 "handoff_reject"))
                yield args
        elif name == "assign":
            for t in tasks:
                if t.assignee is None and m.domain_members.get(t.domain):
                    yield {"task": t.id, "to": self.pick(list(m.domain_members[t.domain]), lambda a: self.wants(
                        m.agents[a].role, "heartbeat", "handoff_tick", "record_clarification"))}
        elif name == "move":
            for t in tasks:
                for target, rec in m.states[t.state].out.items():
                    if t.tier in rec.tiers:
                        yield {"task": t.id, "to": target, "attest": list(m.states[target].requires)}
        elif name == "heartbeat":
            for t in tasks:
                if t.assignee is not None:
                    yield {"task": t.id, "tokens": 1000}
        elif name == "gate":
            for t in tasks:
                for g in m.gates.values():
                    if t.tier in g.opens.get(t.state, ()):
                        yield {"task": t.id, "gate": g.name, **gate_args(g, rnd, rnd.random() < 0.8)}
        elif name == "reassign":
            for t in tasks:
                others = [a for a in m.domain_members.get(t.domain, ()) if a != t.assignee]
                if t.assignee is not None and others:
                    yield {"task": t.id, "to": rnd.choice(others)}
        elif name == "handoff_create":
            for t in tasks:
                to = t.handoff_to or rnd.choice(domains)
                yield {"task": t.id, "to": to, "summary": "done"}
                for role in dict.fromkeys(h.to_role for h in m.handoffs if h.to_role is not None):
                    yield {"task": t.id, "role": role, "summary": "done"}
        elif name.startswith("handoff_"):
            for h in st.handoffs.values():
                if h.status != "open":
                    continue
                if name == "handoff_tick":
                    items = [i for i in h.checklist if i not in h.ticked]
                    if items:
                        yield {"handoff": h.id, "items": items}
                elif name == "handoff_accept":
                    yield {"handoff": h.id, "attest": list(m.states[h.on_accept].requires)}
                elif h.on_reject is not None:
                    yield {"handoff": h.id, "reason": "not yet", "attest": list(m.states[h.on_reject].requires)}
        elif name == "delegate":
            for _ in range(3):
                yield {"to": self.pick(sorted(m.agents), lambda a: self.wants(m.agents[a].role, "ack")),
                       "subject": "do this", "priority": rnd.choice(m.priorities)}
        elif name == "ack":
            for d in st.delegations.values():
                if d.status == "pending":
                    yield {"delegation": d.id, "decline": rnd.random() < 0.3}
        elif name == "consult":
            for c in m.consultations:
                args = {"consultation": c, "question": "which way?"}
                if tasks and rnd.random() < 0.5:
                    args["task"] = rnd.choice(tasks).id
                yield args
        elif name == "answer":
            for c in st.consultations.values():
                if c.status == "open":
                    yield {"consultation": c.id, "answer": "this way"}
        elif name == "broadcast":
            spec = m.broadcast
            for ch in self._sample(sorted(m.channels), 3):
                if spec.kinds and spec.priorities:
                    yield {"channel": ch, "kind": spec.kinds[0], "priority": spec.priorities[0], "subject": "news"}
        elif name == "standup_schedule":
            for su in m.standups:
                if su not in st.standup_origin:
                    yield {"names": [su]}
        elif name == "instruction_stage":
            for ins in instructions:
                flow = m.flows.get(ins.tier)
                for stage in flow.stages if flow else ():
                    yield {"instruction": ins.id, "stage": stage}
        elif name == "instruction_gate":
            for ins in instructions:
                flow = m.flows.get(ins.tier)
                for g in dict.fromkeys(g for gs in (flow.stage_gates.values() if flow else ()) for g in gs):
                    yield {"instruction": ins.id, "gate": g, **gate_args(m.gates[g], rnd, rnd.random() < 0.8)}
        elif name == "instruction_close":
            for ins in instructions:
                yield {"instruction": ins.id}
        elif name in ("record_clarification", "record_defect"):
            for t in tasks[:3]:
                yield {"task": t.id}

    # -- the walk -----------------------------------------------------------------------------

    def cover(self, budget: int) -> bool:
        """Try uncovered pairs on the current state; whether a command was accepted."""
        for cmd, args in self.candidates():
            todo = [r for r in sorted(self.may[cmd.name]) if (cmd.name, r) not in self.covered]
            for role in todo:
                if budget <= 0:
                    return False
                budget -= 1
                outsider = self.outsider(cmd.name) if self.rnd.random() < 0.25 else None
                code = self.issue(cmd, outsider, args) if outsider else None
                if outsider is not None:
                    assert code is not None
                if any(self.issue(cmd, agent, args) is None for agent in self.model.agents_by_role[role]):
                    if code is not None:
                        self.outsider_codes[code] += 1
                    return True
        return False

    def progress(self, tries: int = 40) -> bool:
        """One command that moves work along, by an agent of a listed role; or the clock."""
        if self.rnd.random() < 0.08:
            self.engine.advance(self.rnd.choice((1800.0, 3600.0, 5 * 3600.0, 86400.0)))
            return True
        if self.rnd.random() < 0.6 and self.advance_deepest():
            return True
        weighted: list[tuple[float, Command, dict[str, Any]]] = []
        for cmd, args in self.candidates():
            if cmd.name not in ADVANCING or not self.may[cmd.name]:
                continue
            weight = 1.0
            if cmd.name == "move":
                t = self.engine.state.tasks[args["task"]]
                weight = 4.0 if self.depth.get(args["to"], 0) > self.depth.get(t.state, 0) else 1.0
            elif cmd.name in ("task_create", "submit"):
                weight = 4.0 if len(self._open_tasks()) < 4 else 0.5
            weighted.append((weight, cmd, args))
        if not weighted:
            return False
        for _ in range(tries):
            _, cmd, args = self.rnd.choices(weighted, weights=[w for w, _, _ in weighted])[0]
            role = self.rnd.choice(sorted(self.may[cmd.name]))
            if self.issue(cmd, self.agent_of(role), args) is None:
                return True
        return False

    def advance_deepest(self) -> bool:
        """Move the task deepest in the lifecycle one step further: assign it, pass its gates,
        move it deeper, hand it over."""
        tasks = self._open_tasks()
        self.rnd.shuffle(tasks)
        tasks.sort(key=lambda x: -self.depth.get(x.state, 0))
        return any(self.advance(t) for t in tasks[:3])

    def advance(self, t: Any) -> bool:
        steps: list[tuple[Command, dict[str, Any]]] = []
        for cmd, args in self.candidates():
            if args.get("task") == t.id and cmd.name in ("assign", "gate", "handoff_create") or (
                    cmd.name == "move" and args["task"] == t.id
                    and self.depth.get(args["to"], 0) > self.depth.get(t.state, 0)):
                if cmd.name == "gate" and "outcome" in args and self.model.gates[args["gate"]].outcomes[
                        args["outcome"]].effect != "pass":
                    continue
                steps.append((cmd, args))
            elif t.handoff is not None and args.get("handoff") == t.handoff and cmd.name in (
                    "handoff_tick", "handoff_accept"):
                steps.append((cmd, args))
        order = {"gate": 0, "handoff_tick": 0, "assign": 1, "handoff_create": 1, "handoff_accept": 2, "move": 3}
        steps.sort(key=lambda x: order[x[0].name])
        for cmd, args in steps:
            roles = self.rnd.sample(sorted(self.may[cmd.name]), len(self.may[cmd.name]))
            roles.sort(key=lambda r, c=cmd.name: (c, r) in self.covered)  # a role still to cover first
            for role in roles:
                if any(self.issue(cmd, agent, args) is None for agent in self.model.agents_by_role[role]):
                    return True
        return False

    def run(self, steps: int, budget: int = 40) -> None:
        for _ in range(steps):
            if self.covered >= self.pairs:
                return
            self.cover(budget)
            self.progress()

    @property
    def missing(self) -> list[tuple[str, str]]:
        return sorted(self.pairs - self.covered)


def explore(model: Model, runs: int, steps: int) -> tuple[set[tuple[str, str]], Counter[str]]:
    """The pairs covered over several runs (some commands can be issued once per run), and the
    refusals of agents not listed."""
    covered: set[tuple[str, str]] = set()
    codes: Counter[str] = Counter()
    for seed in range(runs):
        e = Explorer(model, seed)
        e.covered = set(covered)
        e.run(steps)
        covered |= e.covered
        codes += e.outsider_codes
        if covered >= e.pairs:
            break
    return covered, codes
