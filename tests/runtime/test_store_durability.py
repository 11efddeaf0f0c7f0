"""Durability: replay reproduces the state exactly; concurrent writers (engines, processes)
never lose an update; a writer killed mid-loop leaves every acknowledged command and no
partial one."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from orchdsl_runtime import (
    HUMAN,
    Engine,
    Event,
    MemoryStore,
    Model,
    Refused,
    SQLiteStore,
    VirtualClock,
    load_model,
)
from orchdsl_runtime.contract.codec import to_data
from runtime_helpers import in_progress, new_task

H = 3600.0
DEV1, DEV2, LEAD = "backend-developer-1", "backend-developer-2", "backend-lead"


def scenario(engine: Engine) -> None:
    """Many kinds of events: assignment, escalation, gates, heartbeats, SLA, automatic moves."""
    a = in_progress(engine)
    engine.heartbeat(DEV1, a, tokens=1200, note="started", remaining_hours=3)
    engine.move(DEV1, a, "UNDER_REVIEW", attest=["basic_quality_check"])
    engine.decide_gate(DEV2, a, "peer_review", "changes_requested")
    b = new_task(engine, complexity="high", required_skills=["python", "api_design"])
    engine.assign(LEAD, b)
    c = new_task(engine, required_skills=["rust"])
    engine.assign(LEAD, c)
    engine.advance(5 * H)
    engine.move(DEV1, a, "BLOCKED")
    engine.advance(30 * H)
    engine.move(LEAD, a, "IN_PROGRESS")
    engine.heartbeat(DEV1, a, tokens=10)
    engine.advance(2 * H)


def test_replay_reproduces_the_state(v2: Model, tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    clock = VirtualClock(1_000.0)
    live = Engine(v2, SQLiteStore(path), clock)
    scenario(live)
    types = {e.type for e in live.events()}
    assert {"task_assigned", "assignment_escalated", "gate_decided", "heartbeat", "sla_warning",
            "sla_escalation", "heartbeat_missed", "task_moved"} <= types
    replayed = Engine(v2, SQLiteStore(path), VirtualClock(clock.now()))
    assert replayed.state.dump() == live.state.dump()
    assert replayed.state.last_seq == len(live.events())


def test_replayed_timers_fire_like_the_live_ones(v2: Model) -> None:
    clock = VirtualClock(0.0)
    live = Engine(v2, MemoryStore(), clock)
    scenario(live)
    copy = MemoryStore()
    copy.claim(v2.digest)
    copy.append(live.events(), 0)
    other = Engine(v2, copy, VirtualClock(clock.now()))
    ahead = live.advance(100 * H)
    again = other.advance(100 * H)
    assert ahead and [e.to_dict() for e in ahead] == [e.to_dict() for e in again]
    assert other.state.dump() == live.state.dump()


class RacingStore(SQLiteStore):
    """Lets another writer in between an engine's validation and its append, once."""

    hook: Any = None

    def append(self, events: list[Event], expected_last_seq: int, clock: float | None = None) -> int:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return super().append(events, expected_last_seq, clock)


def test_two_engines_on_one_file_lose_no_update(v2: Model, tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    clock = VirtualClock(0.0)
    a = Engine(v2, SQLiteStore(path), clock)
    racing = RacingStore(path)
    b = Engine(v2, racing, clock)
    tid = in_progress(a)
    # b validates against its state, a appends first: b's append conflicts, b refreshes and retries
    racing.hook = lambda: a.heartbeat(DEV1, tid, tokens=7)
    b.heartbeat(DEV1, tid, tokens=5)
    assert a.task(tid)["tokens_in_state"] == 12 == b.task(tid)["tokens_in_state"]
    # ids are taken from the refreshed state: two creations never share an id
    ins = b.submit_instruction(HUMAN, "more", 2)
    racing.hook = lambda: a.create_task("planner", ins, "tactical", "backend", "by a")
    other = b.create_task("planner", ins, "tactical", "backend", "by b")
    a.refresh()
    assert other == "TT0.3" and [t.title for t in a.state.tasks.values()] == ["a task", "by a", "by b"]
    # a retry validates again: a move that was legal before the other writer's is refused after it
    racing.hook = lambda: a.move(DEV1, tid, "BLOCKED")
    seq = a.store.last_seq()
    with pytest.raises(Refused) as info:
        b.move(DEV1, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
    assert info.value.code == "RUN003"
    assert a.store.last_seq() == seq + 1 and a.task(tid)["state"] == "BLOCKED"
    assert a.state.dump() == b.state.dump()


def _worker(data: dict[str, Any], path: str, task: str, n: int, who: str) -> None:
    engine = Engine(load_model(data), SQLiteStore(path), VirtualClock(0.0))
    for i in range(n):
        engine.heartbeat(DEV1, task, tokens=1, note=f"{who}-{i}")
        if i % 3 == 0:
            engine.submit_instruction(HUMAN, f"{who}-{i}", 1)


def test_two_processes_lose_no_update(v2: Model, tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    engine = Engine(v2, SQLiteStore(path), VirtualClock(0.0))
    tid = in_progress(engine)
    n = 40
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(to_data(v2.spec), str(path), tid, n, w)) for w in ("p", "q")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    engine.refresh()
    assert engine.task(tid)["tokens_in_state"] == 2 * n
    notes = sorted(e.data["note"] for e in engine.events() if e.type == "heartbeat")
    assert notes == sorted(f"{w}-{i}" for w in ("p", "q") for i in range(n))
    texts = [i.text for i in engine.state.instructions.values()]
    assert len(texts) == len(set(texts)) == 1 + 2 * len(range(0, n, 3))
    assert [e.seq for e in engine.events()] == list(range(1, engine.store.last_seq() + 1))


def _crashing_worker(data: dict[str, Any], path: str, acks: str, start: int) -> None:
    engine = Engine(load_model(data), SQLiteStore(path), VirtualClock(0.0))
    ins = engine.submit_instruction(HUMAN, f"batch {start}", 2)
    with open(acks, "a", buffering=1) as out:
        for i in range(start, start + 100_000):
            tid = engine.create_task("planner", ins, "tactical", "backend", f"t{i}", id=f"K{i}",
                                     required_skills=["python"], estimate_hours=0.001)
            out.write(f"create {tid}\n")
            engine.assign(LEAD, tid, (DEV1, DEV2)[i % 2])
            out.write(f"assign {tid}\n")


def test_killed_writer_leaves_a_consistent_store(v2: Model, tmp_path: Path) -> None:
    path, acks = tmp_path / "org.db", tmp_path / "acks.txt"
    Engine(v2, SQLiteStore(path), VirtualClock(0.0))
    ctx = multiprocessing.get_context("fork")
    for round_ in range(5):
        before = acks.read_text().count("\n") if acks.exists() else 0
        proc = ctx.Process(target=_crashing_worker, args=(to_data(v2.spec), str(path), str(acks), round_ * 100_000))
        proc.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if acks.exists() and acks.read_text().count("\n") >= before + 20 + 7 * round_:
                break
            time.sleep(0.01)
        os.kill(proc.pid or 0, signal.SIGKILL)
        proc.join()
        assert proc.exitcode == -signal.SIGKILL

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    engine = Engine(v2, SQLiteStore(path), VirtualClock(0.0))
    events = engine.events()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # every acknowledged command is present
    for line in acks.read_text().splitlines():
        verb, tid = line.split()
        task = engine.state.tasks[tid]
        if verb == "assign":
            assert task.assignee is not None and task.state == "ASSIGNED"
    # no partial command: an assignment is always its two events, back to back
    for i, e in enumerate(events):
        if e.type == "task_assigned":
            nxt = events[i + 1]
            assert (nxt.type, nxt.data["task"], nxt.data["target"]) == ("task_moved", e.data["task"], "ASSIGNED")
        if e.type == "task_moved":
            assert events[i - 1].type == "task_assigned"
    assert all((t.assignee is None) == (t.state == "PENDING") for t in engine.state.tasks.values())
    assert len(engine.state.tasks) >= 20


def test_threads_sharing_one_store_lose_no_update(v2: Model, tmp_path: Path) -> None:
    import threading

    store = SQLiteStore(tmp_path / "org.db")
    first = Engine(v2, store, VirtualClock(0.0))
    tid = in_progress(first)
    engines = [first] + [Engine(v2, store if i % 2 else SQLiteStore(tmp_path / "org.db"), VirtualClock(0.0))
                         for i in range(3)]

    def beat(engine: Engine) -> None:
        for _ in range(25):
            engine.heartbeat(DEV1, tid, tokens=1)

    threads = [threading.Thread(target=beat, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for engine in engines:
        engine.refresh()
        assert engine.task(tid)["tokens_in_state"] == 100
