"""Properties of the engine under random commands, over the V2 organisation and over generated
organisations. Commands are drawn from the model's own agents, states, transitions, gates and
handoffs so that runs go deep; after every step the state and the whole event log are checked
against the raw compiled model (not the engine's indexes):

1. each task is in exactly one state, a state of the lifecycle that applies at its tier;
2. every `task_moved` is declared at the task's tier and made by a permitted actor;
3. terminal states absorb;
4. a refused command changes nothing;
5. a replay of the log reaches the same state, and so does a snapshot (taken now, or earlier
   with the later events folded on top);
6. every crossed SLA threshold fires exactly once per visit, and no other;
7. the capacity ledger equals the remaining estimates of the assigned open tasks;
8. no task is lost or duplicated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from orchdsl_runtime import HUMAN, Engine, MemoryStore, Model, Refused, VirtualClock, load_model, snapshot
from strategies import valid_specs

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_files, check_text

ROOT = Path(__file__).resolve().parents[2]

SETTINGS = settings(max_examples=30, stateful_step_count=80, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
DURATIONS = (60.0, 1800.0, 3600.0, 2 * 3600.0, 4 * 3600.0, 8 * 3600.0, 86400.0)
MAX_TASKS = 4


def compile_spec(text: str | None = None) -> dict[str, Any]:
    """The compiled model of a spec text, or of the V2 spec."""
    result = check_files([ROOT / "specs" / "orchestration_v2.orch"]) if text is None else check_text(text)
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    data: dict[str, Any] = json.loads(compiled_json(result.model))
    return data


@dataclass
class Shadow:
    """What the invariants know of a task, folded from the event log alone."""

    domain: str
    tier: int
    handoff_to: str | None
    estimate_hours: float | None
    estimate_tokens: float | None
    assignee: str | None = None
    remaining: float | None = None
    handoff_domain: str | None = None
    visits: list[dict[str, Any]] = field(default_factory=list)
    """per visit: state, start, end (None while current), number, tokens"""


class Raw:
    """The compiled model as plain data, indexed for the invariants."""

    def __init__(self, data: dict[str, Any]) -> None:
        lc = data["lifecycle"]
        self.states: dict[str, dict[str, Any]] = {s["name"]: s for s in lc["states"]}
        self.transitions: dict[tuple[str, str], dict[str, Any]] = {
            (t["source"], t["target"]): t for s in lc["states"] for t in s["transitions"]
        }
        self.agent_role: dict[str, str] = {a["id"]: a["role"] for a in data["agents"]}
        self.agent_domain: dict[str, str | None] = {a["id"]: a["domain"] for a in data["agents"]}
        self.lead_role: dict[str, str] = {d["name"]: d["lead"] for d in data["domains"]}
        self.member_roles: dict[str, set[str]] = {
            d["name"]: {m["role"] for m in d["members"]} for d in data["domains"]
        }
        self.members: dict[str, list[str]] = {
            d: sorted(a for a, r in self.agent_role.items() if r in roles and self.agent_domain[a] == d)
            for d, roles in self.member_roles.items()
        }
        self.skills: dict[str, list[str]] = {
            d["name"]: sorted({sk for m in d["members"] for sk in m["skills"]}) for d in data["domains"]
        }
        self.gates: dict[str, dict[str, Any]] = {g["name"]: g for g in data["gates"] if g["transitions"]}
        self.handoffs: list[dict[str, Any]] = data["handoffs"]
        self.tiers: list[int] = lc["tiers"]
        self.agents = sorted(self.agent_role)

    def is_member(self, agent: str, domain: str) -> bool:
        return self.agent_domain.get(agent) == domain and self.agent_role[agent] in self.member_roles[domain]

    def permitted(self, actors: list[str], agent: str, sh: Shadow) -> bool:
        """docs/runtime.md: a listed role, or a relation resolving to the agent for the task."""
        role = self.agent_role[agent]
        for a in actors:
            if a == role:
                return True
            if a == "@assignee" and sh.assignee == agent:
                return True
            if a == "@peer" and self.is_member(agent, sh.domain) and agent != sh.assignee:
                return True
            if a == "@member" and self.is_member(agent, sh.domain):
                return True
            if a == "@lead" and role == self.lead_role.get(sh.domain):
                return True
            downstream = sh.handoff_domain or sh.handoff_to
            if a == "@downstream_lead" and downstream is not None and role == self.lead_role.get(downstream):
                return True
        return False

    def thresholds(self, state: str, sh: Shadow) -> dict[str, tuple[str, float]]:
        """kind (`sla_warning`/`sla_escalation`) -> (dimension, value) for a visit of `state`."""
        s = self.states[state]
        target = next((e["budget"] for e in s["sla"] if e["tiers"] is None or sh.tier in e["tiers"]), None)
        out: dict[str, tuple[str, float]] = {}
        for kind, key in (("sla_warning", "warn"), ("sla_escalation", "escalate")):
            th = s[key]
            if th is None:
                continue
            b, factor = th["budget"], 1.0
            if b["kind"] == "multiple":
                if target is None:
                    continue
                factor, b = b["value"], target
            resolved = self._resolve(b, factor, sh)
            if resolved is not None:
                out[kind] = resolved
        return out

    def levels(self, state: str) -> list[tuple[str, float]]:
        """(`level L R`, seconds in the state) of every level and round of the state's escalation
        policy: each round after the first falls the last level's time later."""
        policy = self.states[state].get("escalation")
        if not policy:
            return []
        last = policy["levels"][-1]["after"]["value"]
        return [(f"level {i} {r}", (r - 1) * last + lv["after"]["value"])
                for r in range(1, policy.get("repeat", 0) + 2) for i, lv in enumerate(policy["levels"], 1)]

    def _resolve(self, b: dict[str, Any], factor: float, sh: Shadow) -> tuple[str, float] | None:
        if b["kind"] == "time":
            return "time", b["value"] * factor
        if b["kind"] == "tokens":
            return "tokens", b["value"] * factor
        if b["kind"] == "estimate":
            # the machines create tasks with an hours estimate only
            assert sh.estimate_tokens is None
            return ("time", b["value"] * factor * sh.estimate_hours * 3600) if sh.estimate_hours else None
        raise AssertionError(f"unknown budget kind {b['kind']}")


class Properties(RuleBasedStateMachine):
    """The commands and the invariants; subclasses choose the model."""

    model: Model
    raw: Raw
    engine: Engine
    seen: set[str]
    """states tasks ended in, event types, `automatic`: how deep the runs went"""

    def start(self, data: dict[str, Any]) -> None:
        self.model = load_model(data)
        self.raw = Raw(data)
        self.engine = Engine(self.model, MemoryStore(), VirtualClock(0.0))
        self.created: list[str] = []
        self.instructions: dict[int, str] = {}
        self.kept: tuple[int, str] | None = None
        """an earlier snapshot: (its last seq, its text)"""

    # ------------------------------------------------------------ helpers

    def quietly(self, fn: Any, *args: Any, **kwargs: Any) -> bool:
        """Whether the command was accepted (the bulk tries of `step_forward`; the other rules
        check invariant 4)."""
        seq = self.engine.store.last_seq()
        try:
            fn(*args, **kwargs)
        except Refused:
            assert self.engine.store.last_seq() == seq
            return False
        return True

    def attempt(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Invariant 4: a refused command appends nothing and changes nothing."""
        seq, before = self.engine.store.last_seq(), self.engine.state.dump()
        try:
            return fn(*args, **kwargs)
        except Refused:
            assert self.engine.store.last_seq() == seq
            assert self.engine.state.dump() == before
            return None

    def pick_task(self, data: st.DataObject) -> str | None:
        if not self.created:
            return None
        task: str = data.draw(st.sampled_from(self.created))
        return task

    def pick_agent(self, data: st.DataObject, task: str | None = None) -> str:
        """Mostly an agent related to the task (its domain's lead and members), else anyone."""
        pool = self.raw.agents
        if task is not None and data.draw(st.booleans()):
            t = self.engine.state.tasks[task]
            lead = [a for a in pool if self.raw.agent_role[a] == self.raw.lead_role[t.domain]]
            pool = lead + self.raw.members[t.domain] + [a for a in pool if self.raw.agent_role[a] == "validator"]
            if t.handoff_to:
                pool += [a for a in self.raw.agents if self.raw.agent_role[a] == self.raw.lead_role[t.handoff_to]]
        agent: str = data.draw(st.sampled_from(pool))
        return agent

    # ------------------------------------------------------------ commands

    @rule(data=st.data())
    def create(self, data: st.DataObject) -> None:
        if len(self.created) >= MAX_TASKS:
            return
        tier = data.draw(st.sampled_from(self.raw.tiers))
        if tier not in self.instructions:
            self.instructions[tier] = self.engine.submit_instruction(HUMAN, f"work at tier {tier}", tier)
        domains = sorted(d for d, m in self.raw.members.items() if m)
        domain = data.draw(st.sampled_from(domains))
        skills = data.draw(st.lists(st.sampled_from(self.raw.skills[domain]), max_size=2, unique=True)
                           if self.raw.skills[domain] else st.just([]))
        others = [d for d in domains if d != domain]
        handoff_to = data.draw(st.none() | st.sampled_from(others)) if others else None
        planners = [a for a in self.raw.agents if self.raw.agent_role[a] == "planner"] or self.raw.agents
        task = self.attempt(
            self.engine.create_task, data.draw(st.sampled_from(planners)), self.instructions[tier],
            data.draw(st.sampled_from(["tactical", "strategic"])), domain, "some work",
            required_skills=skills, complexity=data.draw(st.sampled_from(["simple", "moderate", "high"])),
            priority=data.draw(st.sampled_from(self.model.priorities or ("normal",))),
            estimate_hours=data.draw(st.none() | st.sampled_from([1.0, 3.0, 8.0])), handoff_to=handoff_to)
        if task is not None:
            self.created.append(task)

    @rule(data=st.data())
    def assign(self, data: st.DataObject) -> None:
        task = self.pick_task(data)
        if task is None:
            return
        domain = self.engine.state.tasks[task].domain
        agent = data.draw(st.none() | st.sampled_from(self.raw.members[domain] or self.raw.agents))
        self.attempt(self.engine.assign, self.pick_agent(data, task), task, agent)

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        task = self.pick_task(data)
        if task is None:
            return
        source = self.engine.state.tasks[task].state
        declared = [t["target"] for t in self.raw.states[source]["transitions"]]
        to = data.draw(st.sampled_from(sorted(self.raw.states)) if not declared or data.draw(st.booleans())
                       else st.sampled_from(declared))
        requires = self.raw.states[to]["requires"]
        attest = data.draw(st.lists(st.sampled_from(requires), unique=True) if requires else st.just([]))
        self.attempt(self.engine.move, self.pick_agent(data, task), task, to, attest=attest)

    def passing(self, task: str, gate: dict[str, Any]) -> dict[str, Any]:
        tier = self.engine.state.tasks[task].tier
        measures = {c: 1.0 for c in gate["criteria"]}
        for c, per_tier in gate["thresholds"].items():
            if str(tier) in per_tier:
                measures[c] = max(1.0, per_tier[str(tier)])
        return measures

    @rule(data=st.data(), steps=st.integers(1, 8))
    def step_forward(self, data: st.DataObject, steps: int) -> None:
        """Up to `steps` times: pass the open gates, assign when the task waits for it, then make
        the first declared move some agent may make, everything attested. Runs go deep."""
        task = self.pick_task(data)
        if task is None:
            return
        for _ in range(steps):
            t = self.engine.state.tasks[task]
            if self.raw.states[t.state]["terminal"] is not None:
                return
            sh = self.shadow_of(task)
            for name, gate in self.raw.gates.items():
                outcome = next((o["name"] for o in gate["outcomes"] if o["effect"] == "pass"), None)
                for agent in self.raw.agents:
                    if outcome is not None and self.raw.permitted([gate["reviewer"]], agent, sh):
                        self.quietly(self.engine.decide_gate, agent, task, name, outcome,
                                     measures=self.passing(task, gate))
            before = self.engine.store.last_seq()
            if t.assignee is None:
                for agent in self.raw.agents:
                    self.quietly(self.engine.assign, agent, task)
                    if self.engine.store.last_seq() != before:
                        break
            if self.engine.store.last_seq() != before:
                continue
            if self.raw.handoffs and t.handoff_to and self.handover(data, task):
                continue
            # states the task has not been in first, failure last: forward through the lifecycle
            been = {h[3] for h in t.history} | {t.state}
            declared = sorted(data.draw(st.permutations([x["target"] for x in self.raw.states[t.state]["transitions"]])),
                              key=lambda x: (self.raw.states[x]["terminal"] == "failure", x in been))
            for to in declared:
                for agent in data.draw(st.permutations(self.raw.agents)):
                    self.quietly(self.engine.move, agent, task, to, attest=list(self.raw.states[to]["requires"]))
                    if self.engine.store.last_seq() != before:
                        break
                if self.engine.store.last_seq() != before:
                    break

    def handover(self, data: st.DataObject, task: str) -> bool:
        """Hand the task over when it can be: create, tick, accept or reject. Whether it moved."""
        t = self.engine.state.tasks[task]
        if t.handoff is None:
            for agent in self.raw.agents:
                if self.quietly(self.engine.create_handoff, agent, task, t.handoff_to, summary="ready"):
                    break
        if t.handoff is None:
            return False
        h = self.engine.state.handoffs[t.handoff]
        for item in h.checklist:
            for agent in self.raw.agents:
                if self.quietly(self.engine.tick_handoff, agent, h.id, item):
                    break
        accept = h.on_reject is None or data.draw(st.booleans())
        target = h.on_accept if accept else h.on_reject
        attest = list(self.raw.states[target]["requires"])
        for agent in self.raw.agents:
            if accept and self.quietly(self.engine.accept_handoff, agent, h.id, attest=attest):
                return True
            if not accept and self.quietly(self.engine.reject_handoff, agent, h.id, "not yet", attest=attest):
                return True
        return False

    @rule(data=st.data())
    def decide(self, data: st.DataObject) -> None:
        task = self.pick_task(data)
        if task is None or not self.raw.gates:
            return
        name = data.draw(st.sampled_from(sorted(self.raw.gates)))
        gate = self.raw.gates[name]
        outcome = data.draw(st.sampled_from([o["name"] for o in gate["outcomes"]]))
        measures = self.passing(task, gate) if data.draw(st.booleans()) else {c: 0.5 for c in gate["criteria"]}
        self.attempt(self.engine.decide_gate, self.pick_agent(data, task), task, name, outcome, measures=measures)

    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        task = self.pick_task(data)
        if task is None:
            return
        t = self.engine.state.tasks[task]
        agent = t.assignee if t.assignee and data.draw(st.booleans()) else self.pick_agent(data, task)
        self.attempt(self.engine.heartbeat, agent, task, tokens=data.draw(st.sampled_from([0, 5000, 40_000, 150_000])),
                     remaining_hours=data.draw(st.none() | st.sampled_from([0.5, 2.0, 6.0])))

    @rule(data=st.data())
    def handoff(self, data: st.DataObject) -> None:
        task = self.pick_task(data)
        if task is None or not self.raw.handoffs:
            return
        t = self.engine.state.tasks[task]
        if t.handoff is None:
            self.attempt(self.engine.create_handoff, self.pick_agent(data, task), task, t.handoff_to,
                         summary="ready for you")
            return
        h = self.engine.state.handoffs[t.handoff]
        for item in data.draw(st.lists(st.sampled_from(h.checklist), unique=True) if h.checklist
                              else st.just([])):
            self.attempt(self.engine.tick_handoff, self.pick_agent(data, task), h.id, item)
        target = h.on_accept if h.on_reject is None or data.draw(st.booleans()) else h.on_reject
        attest = list(self.raw.states[target]["requires"]) if target in self.raw.states else []
        if target == h.on_accept:
            self.attempt(self.engine.accept_handoff, self.pick_agent(data, task), t.handoff, attest=attest)
        else:
            self.attempt(self.engine.reject_handoff, self.pick_agent(data, task), t.handoff, "not yet",
                         attest=attest)

    @precondition(lambda self: hasattr(self, "engine") and bool(self.model.consultations))
    @rule(data=st.data())
    def consultation(self, data: st.DataObject) -> None:
        """Ask a declared consultation, or answer one asked before."""
        specs = sorted(self.model.consultations.values(), key=lambda c: c.name)
        cons = sorted(self.engine.state.consultations.values(), key=lambda c: c.id)
        if cons and data.draw(st.booleans()):
            c = data.draw(st.sampled_from(cons))
            agent = data.draw(st.sampled_from(c.to)) if data.draw(st.booleans()) else self.pick_agent(data)
            self.attempt(self.engine.answer_consultation, agent, c.id, "this way")
        elif specs:
            spec = data.draw(st.sampled_from(specs))
            askers = [a for a in self.raw.agents if spec.from_ in (a, self.raw.agent_role[a])]
            asker = (data.draw(st.sampled_from(askers)) if askers and data.draw(st.booleans())
                     else self.pick_agent(data))
            task = self.pick_task(data) if data.draw(st.booleans()) else None
            self.attempt(self.engine.consult, asker, spec.name, "which way?", task=task)

    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        self.engine.advance(data.draw(st.sampled_from(DURATIONS)))

    # ------------------------------------------------------------ the fold of the log

    def fold(self) -> dict[str, Shadow]:
        """Walk the whole log, checking invariants 2, 3 and 8 on the way."""
        tasks: dict[str, Shadow] = {}
        raw = self.raw
        for e in self.engine.events():
            d = e.data
            if e.type == "task_created":
                assert d["task"] not in tasks, f"task {d['task']} created twice"
                sh = Shadow(d["domain"], d["tier"], d["handoff_to"], d["estimate_hours"], d["estimate_tokens"])
                sh.visits.append({"state": d["state"], "start": e.at, "end": None, "tokens": 0.0})
                tasks[d["task"]] = sh
            elif e.type == "task_assigned":
                sh = tasks[d["task"]]
                sh.assignee, sh.remaining = d["agent"], sh.estimate_hours
            elif e.type == "task_reassigned":
                tasks[d["task"]].assignee = d["to"]
            elif e.type == "heartbeat":
                sh = tasks[d["task"]]
                sh.visits[-1]["tokens"] += d["tokens"]
                if d.get("remaining_hours") is not None:
                    sh.remaining = d["remaining_hours"]
            elif e.type == "handoff_created":
                tasks[d["task"]].handoff_domain = d["to_domain"]
            elif e.type == "task_moved":
                sh = tasks[d["task"]]
                source, target = d["source"], d["target"]
                current = sh.visits[-1]
                assert current["state"] == source, f"{e}: the task was in {current['state']}"
                # 3. terminal states absorb
                assert raw.states[source]["terminal"] is None, f"{e}: left the terminal state {source}"
                # 2. declared at the tier, by a permitted actor
                rec = raw.transitions.get((source, target))
                if "gate" in d:
                    gate = raw.gates[d["gate"]]
                    assert [source, target] in gate["transitions"] or any(
                        o["target"] == target for o in gate["outcomes"]), e
                    assert e.actor is not None and raw.permitted([gate["reviewer"]], e.actor, sh), e
                else:
                    assert rec is not None and sh.tier in rec["tiers"], f"{e}: not declared at tier {sh.tier}"
                    if d.get("automatic"):
                        assert e.actor is None and rec["after"] is not None, e
                    else:
                        assert e.actor is not None and raw.permitted(rec["actors"], e.actor, sh), (
                            f"{e}: {e.actor} may not make {source} -> {target} ({rec['actors']})")
                        if "@peer" in rec["actors"] and not raw.permitted(
                                [a for a in rec["actors"] if a != "@peer"], e.actor, sh):
                            assert e.actor != sh.assignee, f"{e}: the assignee acted as @peer"
                current["end"], current["number"] = e.at, d["visit"]
                sh.visits.append({"state": target, "start": e.at, "end": None, "tokens": 0.0})
                if source != target:
                    sh.handoff_domain = None
        return tasks

    # ------------------------------------------------------------ invariants

    @invariant()
    def properties_hold(self) -> None:
        if not hasattr(self, "engine"):
            return
        state, raw, now = self.engine.state, self.raw, self.engine.clock.now()
        tasks = self.fold()
        # 8. no task lost or duplicated
        assert len(self.created) == len(set(self.created))
        assert set(state.tasks) == set(self.created) == set(tasks)
        for tid, t in state.tasks.items():
            sh = tasks[tid]
            # 1. exactly one state, a state of the lifecycle at the task's tier
            assert t.state in raw.states and t.tier in raw.states[t.state]["tiers"], (tid, t.state, t.tier)
            assert sh.visits[-1]["state"] == t.state
            assert t.tier == sh.tier and t.assignee == sh.assignee
            sh.visits[-1]["number"] = t.visit
        # 6. SLA thresholds: exactly one notice per crossed threshold per visit
        # and of an escalation policy's levels, exactly one per level and round reached
        fired: dict[tuple[str, int, str], int] = {}
        for e in self.engine.events():
            if e.type in ("sla_warning", "sla_escalation"):
                kind = e.type if "level" not in e.data else f"level {e.data['level']} {e.data['round']}"
                key = (e.data["task"], e.data["visit"], kind)
                fired[key] = fired.get(key, 0) + 1
        expected: dict[tuple[str, int, str], int] = {}
        for tid, sh in tasks.items():
            for v in sh.visits:
                elapsed = (v["end"] if v["end"] is not None else now) - v["start"]
                for kind, (dim, value) in raw.thresholds(v["state"], sh).items():
                    if (elapsed if dim == "time" else v["tokens"]) >= value:
                        expected[(tid, v["number"], kind)] = 1
                for kind, at in raw.levels(v["state"]):
                    if elapsed >= at:
                        expected[(tid, v["number"], kind)] = 1
        assert fired == expected, (fired, expected)
        # 7. the ledger holds the remaining estimates of the assigned open tasks
        committed: dict[str, float] = {}
        for tid, t in state.tasks.items():
            sh = tasks[tid]
            if sh.assignee and raw.states[t.state]["terminal"] is None:
                committed[sh.assignee] = committed.get(sh.assignee, 0.0) + (sh.remaining or 0.0)
        for agent in self.model.candidates:
            assert abs(state.ledger.committed(agent) - committed.get(agent, 0.0)) < 1e-9, (agent, committed)
        # consultations: settled at most once, by one of the agents asked or by the clock at the due time
        settled: dict[str, int] = {}
        asked = {e.data["id"]: e for e in self.engine.events() if e.type == "consultation_asked"}
        for e in self.engine.events():
            if e.type in ("consultation_answered", "consultation_timed_out"):
                settled[e.data["id"]] = settled.get(e.data["id"], 0) + 1
                q = asked[e.data["id"]]
                if e.type == "consultation_answered":
                    assert e.actor in q.data["to"], e
                else:
                    assert e.actor is None and e.at == q.data["due"], e
        assert all(n == 1 for n in settled.values()), settled
        for cid, q in asked.items():
            due = q.data["due"]
            assert (cid in settled) or due is None or due > now, (cid, due, now)
        # 5. a replay of the log into a fresh engine at the same clock reaches the same state
        copy = MemoryStore()
        copy.claim(self.model.digest)
        copy.append(self.engine.events(), 0)
        assert Engine(self.model, copy, VirtualClock(now)).state.dump() == state.dump()
        text = snapshot.encode(state)
        assert snapshot.decode(self.model, text).dump() == state.dump()
        if self.kept is not None:
            later = snapshot.decode(self.model, self.kept[1])
            for e in self.engine.events(self.kept[0]):
                later.apply(e)
            assert later.dump() == state.dump()
        if self.kept is None or state.last_seq - self.kept[0] >= 10:
            self.kept = (state.last_seq, text)

    def shadow_of(self, task: str) -> Shadow:
        return self.fold()[task]

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            seen = type(self).seen
            seen.update(e.data["target"] for e in self.engine.events() if e.type == "task_moved")
            seen.update(e.type for e in self.engine.events())
            seen.update("automatic" for e in self.engine.events() if e.data.get("automatic"))


class V2Properties(Properties):
    data: dict[str, Any] = {}
    seen: set[str] = set()

    @initialize()
    def setup(self) -> None:
        if not V2Properties.data:
            V2Properties.data = compile_spec()
        self.start(V2Properties.data)


class GeneratedProperties(Properties):
    seen: set[str] = set()

    @initialize(text=valid_specs())
    def setup(self, text: str) -> None:
        self.start(compile_spec(text))


@pytest.mark.slow
def test_v2_properties() -> None:
    run_state_machine_as_test(V2Properties, settings=SETTINGS)
    # the runs went deep: through both reviews to completion, over a handoff, past SLA thresholds
    assert {"UNDER_REVIEW", "DOMAIN_REVIEW", "READY_FOR_HANDOFF", "COMPLETED", "handoff_accepted",
            "gate_decided", "sla_warning", "sla_escalation"} <= V2Properties.seen, V2Properties.seen


@pytest.mark.slow
def test_generated_properties() -> None:
    # more examples than V2's: a generated spec is often small, so fewer of its runs go deep
    run_state_machine_as_test(GeneratedProperties, settings=settings(SETTINGS, max_examples=80))
    assert {"DONE", "gate_decided", "sla_warning", "sla_escalation"} <= GeneratedProperties.seen, (
        GeneratedProperties.seen)
