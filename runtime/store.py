"""Event stores: the durable, append-only log behind an engine.

The interface is two operations and a claim:

- ``read(after)`` returns the events with ``seq > after`` in order;
- ``append(events, expected_last_seq)`` appends all the events or none, and
  raises ``Conflict`` when the store's last sequence number is not
  ``expected_last_seq`` (optimistic concurrency: the writer refreshes and
  validates its command again);
- ``claim(model_digest)`` binds an empty store to a model and refuses a store
  that holds another model's events.

``MemoryStore`` keeps events in memory, for one thread; ``SQLiteStore`` keeps them in one
SQLite file (WAL journal, ``synchronous=NORMAL``, ``BEGIN IMMEDIATE``, one
transaction per append), which several engines and processes may share.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

from .contract.events import Event, dumps_data
from .errors import Conflict, StoreError

SCHEMA_VERSION = 1


class EventStore(Protocol):
    def read(self, after: int = 0) -> list[Event]: ...

    def append(self, events: list[Event], expected_last_seq: int) -> int: ...

    def last_seq(self) -> int: ...

    def claim(self, model_digest: str) -> None: ...

    @property
    def meta(self) -> dict[str, str]: ...


def _check_seqs(events: list[Event], expected_last_seq: int) -> None:
    if len(events) == 1 and events[0].seq == expected_last_seq + 1:
        return
    for i, e in enumerate(events, start=expected_last_seq + 1):
        if e.seq != i:
            raise StoreError(f"event sequence numbers must follow {expected_last_seq} without gaps")


class MemoryStore:
    """Events in memory, for one thread: tests, simulations and benchmarks.

    Engines of the thread that made the store may share it. Like a
    ``sqlite3`` connection, it refuses other threads (``StoreError``);
    threads share a ``SQLiteStore``.

    An event is kept as a tuple of its type, time and actor beside its data
    dict, not as one object: the cyclic garbage collector stops tracking a
    tuple of strings and numbers (and a dict of them), so a long log of
    moves adds nothing to its full collections."""

    def __init__(self) -> None:
        self._heads: list[tuple[str, float, str | None]] = []
        self._data: list[dict[str, Any]] = []
        self._meta: dict[str, str] = {}
        self._thread = threading.get_ident()

    @property
    def meta(self) -> dict[str, str]:
        return dict(self._meta)

    def claim(self, model_digest: str) -> None:
        _claim(self._meta.get("model_digest"), model_digest, bool(self._heads))
        self._meta["model_digest"] = model_digest

    def last_seq(self) -> int:
        return len(self._heads)

    def read(self, after: int = 0) -> list[Event]:
        return [
            Event(seq, typ, at, actor, data)
            for seq, (typ, at, actor), data in zip(
                range(after + 1, len(self._heads) + 1), self._heads[after:], self._data[after:], strict=True
            )
        ]

    def append(self, events: list[Event], expected_last_seq: int) -> int:
        if threading.get_ident() != self._thread:
            raise StoreError("a MemoryStore belongs to the thread that made it; share a SQLiteStore between threads")
        heads = self._heads
        last = len(heads)
        if last != expected_last_seq:
            raise Conflict(expected_last_seq, last)
        if len(events) == 1 and events[0].seq == last + 1:
            _, typ, at, actor, data = events[0]
            heads.append((typ, at, actor))
            self._data.append(data)
            return last + 1
        _check_seqs(events, expected_last_seq)
        data_log = self._data
        for e in events:
            heads.append((e.type, e.at, e.actor))
            data_log.append(e.data)
        return last + len(events)


class BatchBuffer:
    """The store an engine writes to inside ``Engine.batch()``: the events of
    the batch's commands wait here, after the real store's events up to
    ``base``, until the batch appends them all to the real store at once."""

    def __init__(self, store: EventStore, base: int) -> None:
        self.store = store
        self.base = base
        self.events: list[Event] = []

    @property
    def meta(self) -> dict[str, str]:
        return self.store.meta

    def claim(self, model_digest: str) -> None:
        self.store.claim(model_digest)

    def last_seq(self) -> int:
        return self.base + len(self.events)

    def read(self, after: int = 0) -> list[Event]:
        head = self.store.read(after)[: max(0, self.base - after)] if after < self.base else []
        return head + self.events[max(0, after - self.base):]

    def append(self, events: list[Event], expected_last_seq: int) -> int:
        last = self.last_seq()
        if last != expected_last_seq:
            raise Conflict(expected_last_seq, last)
        _check_seqs(events, expected_last_seq)
        self.events += events
        return self.last_seq()


def _claim(current: str | None, digest: str, has_events: bool) -> None:
    if current is not None and current != digest:
        raise StoreError(f"the store holds events of another model (digest {current[:12]}, not {digest[:12]})")
    if current is None and has_events:
        raise StoreError("the store holds events but no model digest")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    at REAL NOT NULL,
    actor TEXT,
    data TEXT NOT NULL
);
"""


class SQLiteStore:
    """Events in one SQLite file; safe to share between engines and processes."""

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.path = str(path)
        # one connection per store; the lock keeps threads sharing it from interleaving transactions
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(row[0]) != SCHEMA_VERSION:
                raise StoreError(f"store schema version {row[0]} is not {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    @property
    def meta(self) -> dict[str, str]:
        with self._lock:
            return {k: v for k, v in self._db.execute("SELECT key, value FROM meta")}

    def claim(self, model_digest: str) -> None:
        with self._lock:
            self._claim(model_digest)

    def _claim(self, model_digest: str) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'model_digest'").fetchone()
            has_events = self._db.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None
            _claim(row[0] if row else None, model_digest, has_events)
            if row is None:
                self._db.execute("INSERT INTO meta (key, value) VALUES ('model_digest', ?)", (model_digest,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    def read(self, after: int = 0) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, type, at, actor, data FROM events WHERE seq > ? ORDER BY seq", (after,)
            ).fetchall()
        return [Event(seq, typ, at, actor, json.loads(data)) for seq, typ, at, actor, data in rows]

    def append(self, events: list[Event], expected_last_seq: int) -> int:
        _check_seqs(events, expected_last_seq)
        with self._lock:
            return self._append(events, expected_last_seq)

    def _append(self, events: list[Event], expected_last_seq: int) -> int:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            last = int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
            if last != expected_last_seq:
                raise Conflict(expected_last_seq, last)
            self._db.executemany(
                "INSERT INTO events (seq, type, at, actor, data) VALUES (?, ?, ?, ?, ?)",
                [(e.seq, e.type, e.at, e.actor, dumps_data(e.data)) for e in events],
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return expected_last_seq + len(events)
