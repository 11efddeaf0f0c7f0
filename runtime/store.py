"""Event stores: the durable, append-only log behind an engine.

The interface is two operations and a claim:

- ``read(after)`` returns the events with ``seq > after`` in order;
- ``append(events, expected_last_seq, clock)`` appends all the events or none, and
  raises ``Conflict`` when the store's last sequence number is not
  ``expected_last_seq`` (optimistic concurrency: the writer refreshes and
  validates its command again). ``clock`` is the time of a virtual clock: it is
  kept in the store's ``meta`` (key ``now``) in the same transaction as the
  events, so a command's events and the time it moved the clock to are recorded
  together or not at all; a store whose clock is ahead of ``clock`` raises
  ``ClockMoved`` (a ``Conflict``: another writer moved the clock);
- ``claim(model_digest)`` binds an empty store to a model and refuses a store
  that holds another model's events.

``MemoryStore`` keeps events in memory, for one thread; ``SQLiteStore`` keeps them in one
SQLite file (WAL journal, ``synchronous=NORMAL``, ``BEGIN IMMEDIATE``, one
transaction per append), which several engines and processes may share. A problem
of the file (missing, damaged, locked longer than the wait, read-only, full) raises
``StoreError`` with the RUN code that names it; nothing was recorded.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from .contract.events import Event, dumps_data
from .errors import Conflict, StoreError

SCHEMA_VERSION = 1
NOW = "now"
"""the ``meta`` key of a virtual clock's time"""


class ClockMoved(Conflict):
    """The store's clock is ahead of the writer's: another writer moved it. The writer
    moves its clock forward and validates its command again."""

    def __init__(self, expected: int, stored: float) -> None:
        super().__init__(expected, expected)
        self.stored = stored


def clock_value(text: str | None) -> float | None:
    """A stored clock time read back, ``None`` when there is none or it is not a number."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class EventStore(Protocol):
    def read(self, after: int = 0) -> list[Event]: ...

    def append(self, events: list[Event], expected_last_seq: int, clock: float | None = None) -> int: ...

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
        self._now: float | None = None
        self._thread = threading.get_ident()

    @property
    def meta(self) -> dict[str, str]:
        return dict(self._meta)

    def claim(self, model_digest: str) -> None:
        _claim(self._meta.get("model_digest"), model_digest, bool(self._heads))
        self._meta["model_digest"] = model_digest

    def write_meta(self, values: Mapping[str, str | None]) -> None:
        for key, value in values.items():
            if value is None:
                self._meta.pop(key, None)
            else:
                self._meta[key] = value
        self._now = clock_value(self._meta.get(NOW))

    def last_seq(self) -> int:
        return len(self._heads)

    def read(self, after: int = 0) -> list[Event]:
        return [
            Event(seq, typ, at, actor, data)
            for seq, (typ, at, actor), data in zip(
                range(after + 1, len(self._heads) + 1), self._heads[after:], self._data[after:], strict=True
            )
        ]

    def append(self, events: list[Event], expected_last_seq: int, clock: float | None = None) -> int:
        if threading.get_ident() != self._thread:
            raise StoreError("a MemoryStore belongs to the thread that made it; share a SQLiteStore between threads")
        heads = self._heads
        last = len(heads)
        if last != expected_last_seq:
            raise Conflict(expected_last_seq, last)
        if clock is not None and clock != self._now:
            if self._now is not None and self._now > clock:
                raise ClockMoved(expected_last_seq, self._now)
            if events:
                _check_seqs(events, expected_last_seq)
            self._now = float(clock)
            self._meta[NOW] = repr(self._now)
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
        self.clock: float | None = None
        """the clock's time at the batch's last command, kept with its events"""

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

    def append(self, events: list[Event], expected_last_seq: int, clock: float | None = None) -> int:
        last = self.last_seq()
        if last != expected_last_seq:
            raise Conflict(expected_last_seq, last)
        _check_seqs(events, expected_last_seq)
        self.events += events
        if clock is not None:
            self.clock = clock
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

_LAST = "SELECT COALESCE(MAX(seq), 0) FROM events"
_LAST_AND_NOW = f"SELECT ({_LAST}), (SELECT value FROM meta WHERE key = '{NOW}')"

# SQLite's messages -> the RUN code of the problem and what it means for the file
_PROBLEMS = (
    ("locked", "RUN030", "another process holds its lock"),
    ("readonly", "RUN031", "it cannot be written (a read-only file or folder)"),
    ("read-only", "RUN031", "it cannot be written (a read-only file or folder)"),
    ("unable to open", "RUN031", "it cannot be opened for writing (check the folder's permissions)"),
    ("disk is full", "RUN031", "no space is left on its device"),
    ("disk i/o error", "RUN031", "the disk refused a read or a write"),
    ("not a database", "RUN028", "it is not a SQLite database"),
    ("malformed", "RUN028", "its pages are damaged"),
)


def store_problem(exc: BaseException, path: str) -> StoreError:
    """A SQLite (or decoding) error on the store's file, as the coded problem it is."""
    text = str(exc)
    low = text.lower()
    for needle, code, meaning in _PROBLEMS:
        if needle in low:
            return StoreError(f"`{path}`: {meaning} ({text})", code)
    return StoreError(f"`{path}` cannot be used: {type(exc).__name__}: {text}", "RUN028")


_SNAPSHOTS = """
CREATE TABLE IF NOT EXISTS snapshots (
    format INTEGER NOT NULL,
    digest TEXT NOT NULL,
    seq INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (format, digest)
)
"""


class SQLiteStore:
    """Events in one SQLite file; safe to share between engines and processes.

    ``timeout`` is how long a write waits for another process's lock before it is refused
    (``StoreError`` with ``RUN030``). ``create=False`` opens only an existing log of this
    runtime: a missing file is never made, and a file without the runtime's tables is refused."""

    def __init__(self, path: str | Path, timeout: float = 30.0, create: bool = True) -> None:
        self.path = str(path)
        # one connection per store; the lock keeps threads sharing it from interleaving transactions
        self._lock = threading.RLock()
        mode = "rwc" if create else "rw"
        with self._errors():
            self._db = sqlite3.connect(f"file:{quote(self.path)}?mode={mode}", uri=True, timeout=timeout,
                                       isolation_level=None, check_same_thread=False)
        try:
            with self._errors():
                if create:
                    self._create()
                else:
                    self._check()
                self._db.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            self._db.close()
            raise

    def _create(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            else:
                _check_version(row[0], self.path)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _check(self) -> None:
        """An existing log of this runtime: its tables and its version, read without writing."""
        db = self._db
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"meta", "events"} <= tables:
            raise StoreError(f"`{self.path}` is not an event log of orchdsl (it has no `meta` and `events` "
                             "tables)", "RUN028")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            raise StoreError(f"`{self.path}` has no schema version", "RUN029")
        _check_version(row[0], self.path)
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors (and undecodable rows) as coded ``StoreError``\\s."""
        try:
            yield
        except sqlite3.Error as exc:
            raise store_problem(exc, self.path) from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(f"`{self.path}` holds an event that cannot be read ({exc})", "RUN028") from exc

    def close(self) -> None:
        self._db.close()

    @property
    def meta(self) -> dict[str, str]:
        with self._lock, self._errors():
            return {k: v for k, v in self._db.execute("SELECT key, value FROM meta")}

    def write_meta(self, values: Mapping[str, str | None]) -> None:
        """Set (or, for ``None``, remove) keys of ``meta`` in one transaction; the events are
        not touched."""
        with self._lock, self._errors(), self._transaction():
            for key, value in values.items():
                if value is None:
                    self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
                else:
                    self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def checkpoint(self) -> None:
        """Write the journal back into the database file and empty it."""
        with self._lock, self._errors():
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def quick_check(self) -> list[str]:
        """What SQLite's ``quick_check`` finds wrong with the file (nothing: ``[]``)."""
        with self._lock, self._errors():
            rows = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall()]
        return [] if rows == ["ok"] else rows

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def claim(self, model_digest: str) -> None:
        with self._lock, self._errors():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'model_digest'").fetchone()
            if row is not None and row[0] == model_digest:
                return  # claimed already: nothing to write
            with self._transaction():
                row = self._db.execute("SELECT value FROM meta WHERE key = 'model_digest'").fetchone()
                has_events = self._db.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None
                _claim(row[0] if row else None, model_digest, has_events)
                if row is None:
                    self._db.execute("INSERT INTO meta (key, value) VALUES ('model_digest', ?)", (model_digest,))

    def last_seq(self) -> int:
        with self._lock, self._errors():
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    def read(self, after: int = 0) -> list[Event]:
        with self._lock, self._errors():
            rows = self._db.execute(
                "SELECT seq, type, at, actor, data FROM events WHERE seq > ? ORDER BY seq", (after,)
            ).fetchall()
            return [Event(seq, typ, at, actor, json.loads(data)) for seq, typ, at, actor, data in rows]

    def append(self, events: list[Event], expected_last_seq: int, clock: float | None = None) -> int:
        _check_seqs(events, expected_last_seq)
        with self._lock, self._errors():
            return self._append(events, expected_last_seq, clock)

    def read_page(self, after: int, limit: int) -> list[Event]:
        """At most ``limit`` events with ``seq > after``, in order (a long log a page at a time)."""
        with self._lock, self._errors():
            rows = self._db.execute(
                "SELECT seq, type, at, actor, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
            return [Event(seq, typ, at, actor, json.loads(data)) for seq, typ, at, actor, data in rows]

    # -- snapshots of the folded state (``snapshot.py``) -----------------------------------

    def read_snapshot(self, format: int, digest: str) -> tuple[int, bytes, str] | None:
        """The snapshot kept for a format and model: (last seq, data, checksum), or None."""
        with self._lock, self._errors():
            try:
                row = self._db.execute(
                    "SELECT seq, data, checksum FROM snapshots WHERE format = ? AND digest = ?", (format, digest)
                ).fetchone()
            except sqlite3.OperationalError:  # no snapshot was ever kept
                return None
        if row is None or not isinstance(row[1], bytes):
            return None
        return int(row[0]), row[1], str(row[2])

    def write_snapshot(self, format: int, digest: str, seq: int, data: bytes, checksum: str) -> None:
        """Keep a snapshot (replacing any other) unless the one kept is as recent."""
        with self._lock, self._errors():
            with self._transaction():
                self._db.execute(_SNAPSHOTS)
                row = self._db.execute(
                    "SELECT seq FROM snapshots WHERE format = ? AND digest = ?", (format, digest)
                ).fetchone()
                if row is None or int(row[0]) < seq:
                    self._db.execute("DELETE FROM snapshots")
                    self._db.execute(
                        "INSERT INTO snapshots (format, digest, seq, checksum, data) VALUES (?, ?, ?, ?, ?)",
                        (format, digest, seq, checksum, data),
                    )

    def drop_snapshots(self) -> None:
        """Forget every snapshot: the next process replays the whole log."""
        with self._lock, self._errors():
            self._db.execute(_SNAPSHOTS)
            self._db.execute("DELETE FROM snapshots")

    def _append(self, events: list[Event], expected_last_seq: int, clock: float | None) -> int:
        db = self._db
        with self._transaction():
            if clock is None:
                last = int(db.execute(_LAST).fetchone()[0])
            else:
                last, text = db.execute(_LAST_AND_NOW).fetchone()  # one statement: appends are the hot path
            if last != expected_last_seq:
                raise Conflict(expected_last_seq, last)
            if clock is not None:
                stored = clock_value(text)
                if stored is not None and stored > clock:
                    raise ClockMoved(expected_last_seq, stored)
                if stored != clock:
                    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (NOW, repr(float(clock))))
            if events:
                db.executemany(
                    "INSERT INTO events (seq, type, at, actor, data) VALUES (?, ?, ?, ?, ?)",
                    [(e.seq, e.type, e.at, e.actor, dumps_data(e.data)) for e in events],
                )
        return expected_last_seq + len(events)


def _check_version(value: str, path: str) -> None:
    if value != str(SCHEMA_VERSION):
        raise StoreError(f"`{path}` has store schema version {value[:40]}, not {SCHEMA_VERSION}", "RUN029")
