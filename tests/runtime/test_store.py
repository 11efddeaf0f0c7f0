"""Event stores: append all-or-nothing with an expected last seq, read in order, model claim."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from orchdsl_runtime import Conflict, Engine, Event, MemoryStore, Model, SQLiteStore, StoreError, VirtualClock
from orchdsl_runtime.store import EventStore


def ev(seq: int, n: int = 0) -> Event:
    return Event(seq, "heartbeat", float(seq), "a", {"task": "T1", "tokens": n, "note": "é"})


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EventStore:
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(tmp_path / "events.db")


def test_append_read_and_conflict(store: EventStore) -> None:
    store.claim("d1")
    assert store.last_seq() == 0 and store.read() == []
    assert store.append([ev(1), ev(2)], 0) == 2
    with pytest.raises(Conflict) as info:
        store.append([ev(2)], 1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    with pytest.raises(StoreError):
        store.append([ev(3), ev(5)], 2)  # a gap: nothing is written
    assert store.last_seq() == 2
    store.append([ev(3, 7)], 2)
    assert [e.seq for e in store.read()] == [1, 2, 3]
    assert store.read(after=2) == [ev(3, 7)]
    assert store.read(after=2)[0].data["note"] == "é"


def test_claim_refuses_another_model(store: EventStore) -> None:
    store.claim("digest-a")
    store.claim("digest-a")
    assert store.meta["model_digest"] == "digest-a"
    with pytest.raises(StoreError, match="another model"):
        store.claim("digest-b")


def test_sqlite_append_is_all_or_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "e.db")
    store.append([ev(1)], 0)
    bad = Event(3, "heartbeat", 0.0, None, {"x": object()})  # not JSON: fails while writing
    with pytest.raises(TypeError):
        store.append([ev(2), bad], 1)
    assert store.last_seq() == 1
    store.append([ev(2)], 1)
    assert store.last_seq() == 2


def test_sqlite_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    store = SQLiteStore(path)
    store.append([ev(1)], 0)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.meta["schema_version"] == "1"
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    store.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteStore(path)


def test_event_json_is_stable() -> None:
    e = Event(7, "task_moved", 1.5, None, {"b": 1, "a": [1, 2]})
    assert e.to_json() == '{"actor":null,"at":1.5,"data":{"a":[1,2],"b":1},"seq":7,"type":"task_moved"}'
    assert Event.from_json(e.to_json()) == e


def test_engine_refuses_a_store_of_another_model(v2: Model, tokens_model: Model, tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    Engine(v2, SQLiteStore(path), VirtualClock())
    with pytest.raises(StoreError):
        Engine(tokens_model, SQLiteStore(path), VirtualClock())
