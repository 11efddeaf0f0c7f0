"""A virtual clock's time lives in the store, recorded with the events that move it.

Both stores keep it the same way: an append carries the clock's time in its transaction, a store
whose clock is ahead refuses the append as a conflict (`ClockMoved`), and an engine catches up
and validates again, so no event is stamped before one in the log. A clock pass fires at most
`MAX_FIRINGS` events: a virtual clock is refused beyond, a wall clock catches up in parts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from orchdsl_runtime import Engine, Event, MemoryStore, Model, Refused, SQLiteStore, VirtualClock, firing
from orchdsl_runtime.store import NOW, ClockMoved, EventStore
from runtime_helpers import in_progress

H = 3600.0
DEV1 = "backend-developer-1"


def ev(seq: int) -> Event:
    return Event(seq, "heartbeat", float(seq), "a", {"task": "T1", "tokens": 1, "note": None})


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EventStore:
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "e.db")


def test_the_clock_goes_with_the_events(store: EventStore) -> None:
    store.append([ev(1)], 0, 100.0)
    assert store.meta[NOW] == "100.0"
    assert store.append([], 1, 250.5) == 1  # the clock alone
    assert store.meta[NOW] == "250.5" and store.last_seq() == 1
    with pytest.raises(ClockMoved) as moved:
        store.append([ev(2)], 1, 200.0)  # a writer whose clock is behind the store's
    assert moved.value.stored == 250.5 and store.last_seq() == 1
    store.append([ev(2)], 1)  # no clock: a wall-clock writer
    assert store.meta[NOW] == "250.5" and store.last_seq() == 2


def test_an_engine_behind_the_stored_clock_catches_up(v2: Model, tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    a = Engine(v2, SQLiteStore(path), VirtualClock(0.0))
    tid = in_progress(a)
    b = Engine(v2, SQLiteStore(path), VirtualClock(0.0))
    a.advance(H)  # nothing due: only the clock moves
    b.heartbeat(DEV1, tid, tokens=5)  # b opened at 0: it catches up before recording
    last = b.events()[-1]
    assert last.type == "heartbeat" and last.at == H and b.clock.now() == H
    c = Engine(v2, SQLiteStore(path), VirtualClock(0.0))  # opened later: at the stored time at once
    assert c.clock.now() == H
    times = [e.at for e in c.events()]
    assert times == sorted(times)


def test_a_failed_advance_leaves_the_clock(v2: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(v2, MemoryStore(), VirtualClock(0.0))
    in_progress(engine)
    monkeypatch.setattr(firing, "MAX_FIRINGS", 3)
    with pytest.raises(Refused) as info:
        engine.advance(100 * H)
    assert info.value.code == "RUN039" and engine.clock.now() == 0.0
    assert engine.store.meta.get(NOW) in (None, "0.0")
    with pytest.raises(Refused) as info:
        engine.advance(3000 * 365 * 24 * H)
    assert info.value.code == "RUN039" and "4000-01-01" in info.value.reason


class SteppedClock:
    """A clock that is not virtual (no time in the store), moved by the test: a wall clock's stand-in."""

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def test_a_wall_clock_far_behind_catches_up_in_parts(v2: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    virtual = Engine(v2, MemoryStore(), VirtualClock(0.0))
    in_progress(virtual)
    whole = virtual.advance(100 * H)
    assert len(whole) > 10
    clock = SteppedClock(0.0)
    store = MemoryStore()
    wall = Engine(v2, store, clock)
    in_progress(wall)
    appends: list[int] = []
    real = store.append

    def counting(events: list[Event], seq: int, t: float | None = None) -> int:
        appends.append(len(events))
        return real(events, seq, t)

    monkeypatch.setattr(store, "append", counting)
    monkeypatch.setattr(firing, "MAX_FIRINGS", 4)
    clock.t = 100 * H
    parts = wall.process_clock()
    assert [e.to_dict() for e in parts] == [e.to_dict() for e in whole]  # the same firings, in order
    assert len(appends) > 2 and max(appends) <= 5
    assert wall.state.dump() == virtual.state.dump()
