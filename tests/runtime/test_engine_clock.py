"""Processing the clock as one command: every firing of one ``process_clock`` is appended in one
transaction, in the same order and with the same content as if the clock had been moved in small
steps; a writer that got there first, or a failure half-way, leaves the state equal to the store."""

from __future__ import annotations

import gc
import platform
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orchdsl_runtime import HUMAN, Engine, MemoryStore, Model, Refused, VirtualClock
from orchdsl_runtime.contract.events import Event
from orchdsl_runtime.errors import Conflict, StoreError
from orchdsl_runtime.firing import Firing
from runtime_helpers import in_progress, new_task

H = 3600.0
DEV1, DEV2, LEAD = "backend-developer-1", "backend-developer-2", "backend-lead"


def busy_org(engine: Engine) -> None:
    """Tasks with SLA timers, automatic transitions, heartbeats, an acknowledgement deadline and
    standup cadences, many of them due at the same times."""
    for _ in range(3):
        new_task(engine)  # PENDING: warn at 4 h, escalate at 8 h
    for agent in (DEV1, DEV2):
        tid = in_progress(engine, agent)  # heartbeats every 4 h, warn 6 h, escalate 8 h
        engine.move(agent, tid, "BLOCKED")  # warn at 2 h, ESCALATED at 4 h
    in_progress(engine, DEV1, estimate_hours=2.0)
    engine.delegate("engineering-manager", "tech-lead", "plan Q3")
    engine.schedule_standups("engineering-manager")


def log(engine: Engine) -> list[tuple[int, str, float, str | None, dict[str, Any]]]:
    return [tuple(e) for e in engine.events()]  # type: ignore[misc]


def twin(model: Model, source: Engine) -> Engine:
    """A second engine on a copy of the first one's log, at the same time."""
    store = MemoryStore()
    store.claim(model.digest)
    store.append(source.events(), 0)
    clock = source.clock
    assert isinstance(clock, VirtualClock)
    return Engine(model, store, VirtualClock(clock.now()))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=6.0), min_size=1, max_size=12))
def test_one_jump_fires_what_small_steps_fire(v2: Model, steps: list[float]) -> None:
    whole = Engine(v2, MemoryStore(), VirtualClock(0.0))
    busy_org(whole)
    stepped = twin(v2, whole)
    for hours in steps:
        stepped.advance(hours * H)
    whole.advance(sum(steps) * H)
    assert log(whole) == log(stepped)
    assert whole.state.dump() == stepped.state.dump()


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.appends: list[int] = []

    def append(self, events: list[Event], expected_last_seq: int, clock: float | None = None) -> int:
        self.appends.append(len(events))
        return super().append(events, expected_last_seq, clock)


def test_the_firings_of_one_pass_are_one_append(v2: Model) -> None:
    store = CountingStore()
    engine = Engine(v2, store, VirtualClock(0.0))
    busy_org(engine)
    before = len(store.appends)
    fired = engine.advance(48 * H)
    kinds = {e.type for e in fired}
    assert {"sla_warning", "sla_escalation", "task_moved", "heartbeat_missed", "delegation_overdue",
            "standup_reported"} <= kinds
    assert store.appends[before:] == [len(fired)]
    assert engine.advance(0) == [] and store.appends[before:] == [len(fired)]


class RacingStore(MemoryStore):
    """Lets another engine append just before the first clock append of ``victim``."""

    def __init__(self) -> None:
        super().__init__()
        self.racer: Engine | None = None
        self.raced = False

    def append(self, events: list[Event], expected_last_seq: int, clock: float | None = None) -> int:
        racer = self.racer
        if racer is not None and not self.raced and len(events) > 1:
            self.raced = True
            racer.heartbeat(DEV1, racer.state.tasks["TT0.4"].id, tokens=5)
        return super().append(events, expected_last_seq, clock)


def test_a_writer_first_makes_the_clock_rebuild_and_fire_again(v2: Model) -> None:
    store = RacingStore()
    clock = VirtualClock(0.0)
    engine = Engine(v2, store, clock)
    busy_org(engine)
    other = Engine(v2, store, clock)
    store.racer = other
    clock.advance(48 * H)
    fired = engine.process_clock()
    assert store.raced and fired
    fresh = Engine(v2, store, VirtualClock(clock.now()))
    assert engine.state.dump() == fresh.state.dump()
    # nothing fired twice: one warning and one escalation per task and state visit
    seen = [(e.data["task"], e.data["state"], e.data["visit"], e.type) for e in engine.events()
            if e.type in ("sla_warning", "sla_escalation")]
    assert len(seen) == len(set(seen)) > 0
    assert engine.events()[-len(fired):] == fired


def test_a_failure_half_way_leaves_the_state_of_the_store(v2: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(v2, MemoryStore(), VirtualClock(0.0))
    busy_org(engine)
    before_seq = engine.store.last_seq()
    before = engine.state.dump()
    real = Firing._fire
    calls = []

    def failing(self: Firing, *args: Any) -> Any:
        calls.append(args)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return real(self, *args)

    monkeypatch.setattr(Firing, "_fire", failing)
    with pytest.raises(RuntimeError):
        engine.advance(48 * H)
    assert engine.store.last_seq() == before_seq
    assert engine.state.dump() == before
    assert engine.clock.now() == 0.0  # the clock moves only with its firings
    monkeypatch.setattr(Firing, "_fire", real)
    assert engine.advance(48 * H)  # and the next pass fires everything
    assert engine.state.dump() == Engine(v2, engine.store, VirtualClock(48 * H)).state.dump()


def test_a_conflicting_append_from_elsewhere_is_a_conflict() -> None:
    store = MemoryStore()
    store.append([Event(1, "heartbeat", 0.0, None, {})], 0)
    with pytest.raises(Conflict):
        store.append([Event(1, "heartbeat", 0.0, None, {})], 0)


def test_a_memory_store_refuses_other_threads() -> None:
    store = MemoryStore()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.append([Event(1, "heartbeat", 0.0, None, {})], 0)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert len(errors) == 1 and isinstance(errors[0], StoreError)
    assert "thread" in str(errors[0]) and store.last_seq() == 0


@pytest.mark.skipif(platform.python_implementation() != "CPython", reason="CPython's collector")
def test_moves_leave_nothing_for_the_collector(v2: Model) -> None:
    engine = Engine(v2, MemoryStore(), VirtualClock(0.0))
    ins = engine.submit_instruction(HUMAN, "many moves", 2)
    pairs = []
    for k in range(20):
        tid = engine.create_task("planner", ins, "tactical", "backend", f"t{k}", required_skills=["python"])
        agent = (DEV1, DEV2)[k % 2]
        engine.assign(LEAD, tid, agent)
        engine.move(agent, tid, "IN_PROGRESS")
        pairs.append((agent, tid))
    gc.collect()
    tracked = len(gc.get_objects())
    for _ in range(100):
        for agent, tid in pairs:
            engine.move(agent, tid, "BLOCKED")
            engine.move(agent, tid, "IN_PROGRESS")
    gc.collect()
    # 4,000 moves and their events: the log and the history grow, the collector's work does not
    assert len(gc.get_objects()) - tracked < 50
    assert engine.store.last_seq() > 4000


# -- batches: the commands of a block in one transaction ----------------------------------------


def test_a_batch_is_one_append_and_replays_to_the_same_state(v2: Model) -> None:
    store = CountingStore()
    engine = Engine(v2, store, VirtualClock(0.0))
    tid = in_progress(engine)
    before = len(store.appends)
    with engine.batch():
        moved = engine.move(DEV1, tid, "BLOCKED")
        assert engine.task(tid)["state"] == "BLOCKED"  # applied at once, visible inside the batch
        r = pytest.raises(Refused, engine.move, DEV2, tid, "IN_PROGRESS")  # refused, the batch goes on
        assert r.value.code == "RUN004"
        engine.move(DEV1, tid, "IN_PROGRESS")
        fired = engine.advance(5 * H)  # the clock's firings join the batch
        with engine.batch():  # a nested batch is part of the outer one
            engine.heartbeat(DEV1, tid, tokens=10)
        assert store.appends[before:] == []
    assert len(store.appends) == before + 1
    assert store.appends[-1] == 2 + len(fired) + 1 and moved[0].seq == store.last_seq() - store.appends[-1] + 1
    fresh = Engine(v2, store, VirtualClock(5 * H))
    assert fresh.state.dump() == engine.state.dump()


def test_a_batch_that_raises_records_nothing(v2: Model) -> None:
    engine = Engine(v2, MemoryStore(), VirtualClock(0.0))
    tid = in_progress(engine)
    seq, before = engine.store.last_seq(), engine.state.dump()
    with pytest.raises(RuntimeError):
        with engine.batch():
            engine.move(DEV1, tid, "BLOCKED")
            engine.advance(5 * H)
            raise RuntimeError("changed my mind")
    assert engine.store.last_seq() == seq and engine.state.dump() == before
    assert engine.task(tid)["state"] == "IN_PROGRESS"


def test_a_batch_overtaken_by_another_writer_is_refused_whole(v2: Model) -> None:
    store = MemoryStore()
    clock = VirtualClock(0.0)
    engine, other = Engine(v2, store, clock), Engine(v2, store, clock)
    tid = in_progress(engine)
    other.refresh()
    with pytest.raises(Refused) as info:
        with engine.batch():
            engine.move(DEV1, tid, "BLOCKED")
            other.heartbeat(DEV1, tid, tokens=5)  # lands in the store first
    assert info.value.code == "RUN017" and "none of its 1 events" in info.value.reason
    assert engine.task(tid)["state"] == "IN_PROGRESS"
    assert engine.state.dump() == Engine(v2, store, clock).state.dump()
    engine.move(DEV1, tid, "BLOCKED")  # and the engine goes on from the store


def test_a_batch_on_sqlite_is_one_transaction(v2: Model, tmp_path: Path) -> None:
    from orchdsl_runtime import SQLiteStore

    engine = Engine(v2, SQLiteStore(tmp_path / "org.db"), VirtualClock(0.0))
    tids = [in_progress(engine, agent) for agent in (DEV1, DEV2) for _ in range(3)]
    seq = engine.store.last_seq()
    with engine.batch():
        for _ in range(5):
            for tid in tids:
                t = engine.state.tasks[tid]
                engine.move(t.assignee or "", tid, "BLOCKED" if t.state == "IN_PROGRESS" else "IN_PROGRESS")
        other = SQLiteStore(tmp_path / "org.db")
        assert other.last_seq() == seq  # nothing visible to other readers before the end
    assert engine.store.last_seq() == seq + 30 == other.last_seq()
    assert Engine(v2, other, VirtualClock(0.0)).state.dump() == engine.state.dump()
