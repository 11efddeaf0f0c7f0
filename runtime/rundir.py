"""The run directory: a compiled model, its event log with its clock, and the files agents read.

``.orchdsl-run/`` (or ``--dir DIR``, or ``$ORCHDSL_RUN_DIR``) holds ``model.json`` (the
compiled model), ``events.sqlite`` (the event log; its ``meta`` table keeps the clock:
``clock`` is ``wall`` or ``virtual``, and a virtual clock's time ``now`` is written in the
same transaction as each command's events), ``schemas/`` (the compiler's JSON Schemas),
``Agent_Memory/`` (the projection of the log, brought up to date after every command that
writes: only the files its events touch, ``projector.py``) and ``.projection.json`` (how far
the projection got, a hint). ``Run.open`` folds the log into an engine from the store's
snapshot when there is one.

The runtime trusts the event log and the model only. ``Run.open`` examines every file it needs
before it uses it and raises ``RunError`` with the code of what is wrong (exit 2): the log
missing, empty or not a file (``RUN027``), damaged or not replayable (``RUN028``), of another
version (``RUN029``), locked longer than ``lock_timeout()`` (``RUN030``), not writable
(``RUN031``); the clock (``RUN032``); the model (``RUN033``). ``Run.check_projection`` is
what a writing command checks before it records anything (the manifest ``RUN034``, something
in the way of ``Agent_Memory`` or of a file the last projection could not write ``RUN035``);
``Run.project`` writes the projection after a command and reports what it could not write
instead of failing. ``Run.init`` starts a run
(the only place a log is created); ``verify`` replays the whole log afresh and compares.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import tokens
from .clock import Clock, VirtualClock, WallClock
from .contract.budgets import time_problem
from .contract.events import check_event
from .contract.layout import MEMORY
from .contract.paths import UnsafePath
from .engine import Engine
from .errors import ModelError, RunError, StoreError
from .model import Model, load_model
from .projection import project, texts
from .projector import MANIFEST, Written, blocked, day_of, differing, lock, read_manifest, update
from .rootfs import TMP, Root
from .snapshot import SnapshotError
from .snapshot import load as load_snapshot
from .state import OrgState
from .store import NOW, SQLiteStore
from .timefmt import iso

DEFAULT_DIR = ".orchdsl-run"
DEFAULT_START = "2025-01-06T09:00:00Z"
"""where a virtual clock starts unless told otherwise (a Monday)"""
MODEL_FILE, STORE_FILE = "model.json", "events.sqlite"
LEGACY_CLOCK = "clock.json"
"""where an earlier runtime kept the clock (``doctor --repair`` moves it into the log)"""
CLOCK, START = "clock", "start"
"""``meta`` keys: the kind of clock (``wall`` or ``virtual``) and where a virtual one started"""
INIT_STORE = ".events.sqlite.init"
"""the log while ``run init`` fills it; renamed to ``STORE_FILE`` when complete"""
MAX_MODEL = 64 * 1024 * 1024
"""the largest ``model.json`` read, in bytes"""
LOCK_TIMEOUT = 10.0
"""seconds a command waits for another process's lock (``$ORCHDSL_LOCK_TIMEOUT``)"""


class UsageError(Exception):
    """A problem with how a command was called (exit 2)."""


def run_dir(explicit: str | None) -> Path:
    """The run directory: given, else ``$ORCHDSL_RUN_DIR``, else ``.orchdsl-run``."""
    return Path(explicit or os.environ.get("ORCHDSL_RUN_DIR") or DEFAULT_DIR)


def lock_timeout() -> float:
    """How long to wait for another process's lock: ``$ORCHDSL_LOCK_TIMEOUT`` seconds, else 10."""
    text = os.environ.get("ORCHDSL_LOCK_TIMEOUT")
    if not text:
        return LOCK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise UsageError(f"$ORCHDSL_LOCK_TIMEOUT is `{text[:40]}`; give seconds between 0 and 3600")
    return value


# -- the files the runtime trusts ----------------------------------------------------------


def read_model(directory: Path) -> tuple[Model, str]:
    """The run's compiled model and its text; ``RUN033`` when it cannot be used."""
    def damaged(why: str) -> RunError:
        return RunError("RUN033", f"`{directory / MODEL_FILE}` {why}; put back the model the run was started "
                                  "with (`orchdsl compile SPEC -o OUT` writes OUT/model.json)")

    try:
        with Root(directory) as root:
            raw = root.read_bytes(MODEL_FILE, MAX_MODEL)
    except UnsafePath as exc:
        raise damaged(exc.reason) from None
    except OSError as exc:
        raise damaged(f"cannot be read: {exc.strerror or exc}") from None
    if raw is None:
        raise damaged("is missing")
    try:
        text = raw.decode("utf-8")
        model = load_model(json.loads(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise damaged(f"is not JSON: {exc}") from None
    except RecursionError:
        raise damaged("is nested too deeply to be a compiled model") from None
    except ModelError as exc:
        raise damaged(f"is not a compiled model this runtime reads: {exc}") from None
    return model, text


def store_error(directory: Path, exc: StoreError) -> RunError:
    """A coded problem of the event log, with what to do about it."""
    advice = {
        "RUN028": "restore it from a backup (`orchdsl run doctor` says more)",
        "RUN029": "use the orchdsl that wrote it",
        "RUN030": f"nothing was recorded; try again, or wait longer with $ORCHDSL_LOCK_TIMEOUT (now "
                  f"{lock_timeout():g} s)",
        "RUN031": "nothing was recorded; make the run directory and its files writable, or free some space",
    }
    code = exc.code or "RUN028"
    text = str(exc) if f"`{directory / STORE_FILE}`" in str(exc) else f"`{directory / STORE_FILE}`: {exc}"
    return RunError(code, f"the event log {text}; {advice.get(code, '')}".rstrip("; "))


def open_store(directory: Path, timeout: float) -> SQLiteStore:
    """The run's event log, opened only when it is a non-empty regular file of this runtime."""
    path = directory / STORE_FILE
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise RunError("RUN027", f"`{path}` is missing: the run's event log was removed; restore it from a "
                                 "backup (only `orchdsl run init` starts a new, empty log)") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("folder" if stat.S_ISDIR(st.st_mode) else "symbolic link" if stat.S_ISLNK(st.st_mode)
                else "special file")
        raise RunError("RUN027", f"`{path}` is a {kind}, not the run's event log; move it away and restore the log "
                                 "from a backup")
    if st.st_size == 0:
        raise RunError("RUN027", f"`{path}` is empty (0 bytes): the run's events are gone; restore it from a "
                                 "backup (only `orchdsl run init` starts a new, empty log)")
    try:
        return SQLiteStore(path, timeout=timeout, create=False)
    except StoreError as exc:
        raise store_error(directory, exc) from None


def read_clock(directory: Path, meta: dict[str, str]) -> Clock:
    """The run's clock as the log keeps it; ``RUN032`` when it is missing or unusable."""
    where = f"the clock of `{directory}` (kept in `{STORE_FILE}`)"
    fix = "`orchdsl run doctor --repair` sets it from the log"
    mode = meta.get(CLOCK)
    if mode == "wall":
        return WallClock()
    if mode is None:
        if (directory / LEGACY_CLOCK).is_file():
            raise RunError("RUN032", f"{where} is still in `{LEGACY_CLOCK}`, where an earlier orchdsl kept it; "
                                     "`orchdsl run doctor --repair` moves it into the log")
        raise RunError("RUN032", f"{where} is missing; {fix}")
    if mode != "virtual":
        raise RunError("RUN032", f"{where} is `{mode[:40]}`, neither `wall` nor `virtual`; {fix}")
    problem = clock_problem(meta.get(NOW))
    if problem is not None:
        raise RunError("RUN032", f"{where} {problem}; {fix}")
    return VirtualClock(float(meta[NOW]))


def clock_problem(text: str | None) -> str | None:
    """What is wrong with a virtual clock's stored time, or ``None``."""
    if text is None:
        return "has no time (`now`)"
    try:
        value = float(text)
    except ValueError:
        return f"holds `{text[:40]}`, not a time"
    problem = time_problem(value)
    return None if problem is None else f"holds `{text[:40]}`: {problem}"


def last_event_at(store: SQLiteStore) -> tuple[int, float] | None:
    last = store.last_seq()
    events = store.read(last - 1) if last else []
    return (events[-1].seq, events[-1].at) if events else None


@dataclass
class Run:
    """An opened run directory: model, engine (SQLite store) and the clock the log keeps."""

    dir: Path
    model: Model
    engine: Engine
    store: SQLiteStore
    virtual: bool
    timeout: float = LOCK_TIMEOUT

    @classmethod
    def open(cls, directory: Path) -> Run:
        if not directory.is_dir() or not ((directory / MODEL_FILE).exists() or os.path.lexists(directory / STORE_FILE)):
            raise UsageError(
                f"no run directory at `{directory}`; start one with `orchdsl run init SPEC_OR_MODEL` "
                "or give `--dir DIR`"
            )
        timeout = lock_timeout()
        model, _ = read_model(directory)
        store = open_store(directory, timeout)
        try:
            clock = read_clock(directory, store.meta)
            try:
                engine = _engine(directory, model, store, clock)
            except StoreError as exc:
                if exc.code:
                    raise store_error(directory, exc) from None
                raise RunError("RUN033", f"`{directory / MODEL_FILE}` is not the model the log of `{directory}` "
                                         f"was recorded with ({exc}); put back the run's model") from None
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise RunError("RUN028", f"the event log of `{directory}` cannot be replayed: {type(exc).__name__}: "
                                         f"{exc}; it was changed outside the runtime: restore it from a "
                                         "backup") from None
            last = last_event_at(store)
            if isinstance(clock, VirtualClock) and last is not None and clock.now() < last[1]:
                raise RunError("RUN032", f"the clock of `{directory}` is at {iso(clock.now())}, before the last "
                                         f"event (seq {last[0]} at {iso(last[1])}); `orchdsl run doctor --repair` "
                                         "sets it from the log")
        except StoreError as exc:
            store.close()
            raise store_error(directory, exc) from None
        except BaseException:
            store.close()
            raise
        return cls(directory, model, engine, store, isinstance(clock, VirtualClock), timeout)

    @classmethod
    def init(cls, directory: Path, model_path: Path, start: float | None, force: bool = False,
             schemas: Path | None = None, memory: Path | None = None) -> Run:
        """Create a run directory for a compiled model; ``schemas`` and ``memory``
        default to the ``schemas/`` and ``Agent_Memory/`` beside the model, and the agents'
        prompts (``agents/``) beside it are copied too. The log appears whole or not at all: it
        is filled under another name, then renamed."""
        try:
            model_text = model_path.read_text(encoding="utf-8")
            model = load_model(json.loads(model_text))
        except (OSError, ValueError, RecursionError) as exc:
            raise UsageError(f"cannot read the compiled model `{model_path}`: {exc}") from exc
        except ModelError as exc:
            raise UsageError(str(exc)) from exc
        if start is not None and time_problem(start) is not None:
            raise UsageError(f"the clock cannot start at {start}: {time_problem(start)}")
        existing = os.path.lexists(directory / STORE_FILE)
        if existing and not force:
            raise UsageError(f"`{directory}` holds a run already; use `--force` to start afresh")
        directory.mkdir(parents=True, exist_ok=True)
        here = model_path.resolve().parent
        with Root(directory) as root:
            old = [INIT_STORE, INIT_STORE + "-wal", INIT_STORE + "-shm", TMP]  # left by an interrupted init
            if existing:  # and `--force`: the run is discarded
                old += [STORE_FILE, STORE_FILE + "-wal", STORE_FILE + "-shm", LEGACY_CLOCK, MANIFEST, MEMORY,
                        "schemas", "agents"]
            for name in old:
                root.remove_tree(name)
            root.write_text(MODEL_FILE, model_text)
            for src, name in ((schemas or here / "schemas", "schemas"), (memory or here / MEMORY, MEMORY),
                              (here / "agents", "agents")):
                if src.is_dir() and src.resolve() != (directory / name).resolve():
                    for rel, data in _files(src):
                        root.write_bytes(f"{name}/{rel}", data)
        _new_store(directory, model, start)
        run = cls.open(directory)
        run.project()
        tokens.issue(directory, run.model.agents)
        return run

    @property
    def now(self) -> float:
        return self.engine.clock.now()

    def check_projection(self) -> None:
        """What a writing command checks before it records anything: the manifest is the
        runtime's (``RUN034``), nothing but a folder stands at ``Agent_Memory``, and nothing but
        a regular file where the last projection could not write (``RUN035``). The rest of the
        tree is met as the files the events touch are written (never through a link; what
        cannot be written is reported then) and examined whole by ``doctor``."""
        with Root(self.dir) as root:
            manifest = read_manifest(root)
            found = blocked(root, manifest.unwritten if manifest else [])
        if found:
            rel, why = found[0]
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise RunError("RUN035", f"`{rel}` {why}{more}; nothing was recorded: move it away, or run "
                                     "`orchdsl run doctor --repair`, which moves it aside")

    def projection_behind(self) -> bool:
        """Whether the manifest says the projection does not reflect the log (or the day of
        the clock), or could not write some files."""
        try:
            with Root(self.dir) as root:
                manifest = read_manifest(root)
        except (RunError, OSError):
            return True
        return (manifest is None or manifest.applied != self.engine.state.last_seq or bool(manifest.unwritten)
                or manifest.day != day_of(self.now))

    def project(self, full: bool = False) -> Written:
        """Bring the projection up to the newest state (waiting for other writers in turn): the
        files the events since the last projection touch, or every file when that is not
        known or ``full``; returns what changed and what could not be written. Raises only
        when the lock or the log cannot be had (an ``OSError`` or a ``StoreError``)."""
        with lock(self.dir, self.timeout):
            engine = self.engine
            engine.refresh()
            engine.ctx.sync_clock()
            written = update(self.dir, self.model, engine.state, self.store.read, self.now, full)
            engine.ctx.track_changes()
        return written

    def checkpoint(self) -> bool:
        """Keep a snapshot of the state once enough events were folded since the last one,
        and only when the projection has caught up with them; True when one was kept."""
        try:
            with Root(self.dir) as root:
                manifest = read_manifest(root)
        except (RunError, OSError):
            return False
        if manifest is None or manifest.applied < self.engine.state.last_seq:
            return False
        return self.engine.ctx.checkpoint()

    def texts(self) -> dict[str, str]:
        """The projection of the current state."""
        return texts(self.model, self.engine.state, self.store.read(0), self.now)

    def close(self) -> None:
        self.store.close()


def _engine(directory: Path, model: Model, store: SQLiteStore, clock: Clock) -> Engine:
    """The engine of a run: folded from the store's snapshot when there is one (a snapshot
    whose records do not decode is dropped and the log replayed), noting what the events
    after the last projection touch."""
    try:
        with Root(directory) as root:
            manifest = read_manifest(root)
    except (RunError, OSError):
        manifest = None  # reported by `check_projection`; the projection is written afresh
    after = manifest.applied if manifest is not None and manifest.model == model.digest else None
    try:
        return Engine(model, store, clock, changes_after=after if after is not None and after >= 0 else None)
    except SnapshotError:
        store.drop_snapshots()
        return Engine(model, store, clock, changes_after=after if after is not None and after >= 0 else None)


def _files(src: Path) -> Iterator[tuple[str, bytes]]:
    """The regular files below ``src`` (links not followed), by their path from it."""
    for folder, dirs, names in os.walk(src):
        dirs.sort()
        base = Path(folder).relative_to(src)
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield (base / name).as_posix(), path.read_bytes()


def _new_store(directory: Path, model: Model, start: float | None) -> None:
    """The run's event log, complete (schema, model claim, clock), under its name at once."""
    tmp = directory / INIT_STORE
    store = SQLiteStore(tmp)
    try:
        store.claim(model.digest)
        clock: dict[str, str | None] = {CLOCK: "wall"}
        if start is not None:
            clock = {CLOCK: "virtual", NOW: repr(float(start)), START: repr(float(start))}
        store.write_meta(clock)
        store.checkpoint()
    finally:
        store.close()
    for side in ("-wal", "-shm"):
        leftover = Path(str(tmp) + side)
        if leftover.exists() and leftover.stat().st_size and side == "-wal":
            raise RunError("RUN031", f"`{tmp}` could not be completed (its journal was not written back)")
        leftover.unlink(missing_ok=True)
    os.replace(tmp, directory / STORE_FILE)


def log_problems(run: Run) -> tuple[int, list[str]]:
    """Replay the whole store into a fresh state and compare it with the engine's state (and
    the snapshot); check that sequence numbers run 1..N and that every event has its declared
    shape. Returns the number of events and the problems."""
    count, problems, _ = _replayed(run)
    return count, problems


def _replayed(run: Run) -> tuple[int, list[str], OrgState | None]:
    """``log_problems``, with the state replayed (None when the log does not fold)."""
    events = run.store.read(0)
    problems: list[str] = []
    for i, e in enumerate(events, start=1):
        if e.seq != i:
            problems.append(f"event {i} has sequence number {e.seq}")
            break
    for e in events:
        try:
            check_event(e)
        except ValueError as exc:
            problems.append(str(exc))
            if len(problems) >= 10:
                break
    fresh = OrgState(run.model)
    snap = load_snapshot(run.store, run.model)
    try:
        for e in events:
            fresh.apply(e)
            if snap is not None and fresh.last_seq == snap.last_seq:
                try:
                    _compare(snap.dump(), fresh.dump(), f"the snapshot at event {snap.last_seq}", problems)
                except SnapshotError as exc:
                    problems.append(f"the snapshot at event {snap.last_seq} does not decode: {exc}")
    except Exception as exc:  # a broken log cannot be folded: report, do not crash
        problems.append(f"replay failed at event {fresh.last_seq + 1}: {type(exc).__name__}: {exc}")
        replayed = None
    else:
        replayed = fresh
        try:
            run.engine.refresh()
            _compare(run.engine.state.dump(), fresh.dump(), "the engine's state", problems)
        except SnapshotError as exc:
            problems.append(f"the engine's state does not decode: {exc}")
    if run.virtual and events and run.now < events[-1].at:
        problems.append(f"the clock ({iso(run.now)}) is before the last event ({iso(events[-1].at)})")
    return len(events), problems, replayed


def _compare(kept: dict[str, Any], replayed: dict[str, Any], what: str, problems: list[str]) -> None:
    if kept != replayed:
        keys = sorted(k for k in kept if kept[k] != replayed.get(k))
        problems.append(f"the replayed state differs from {what} in {', '.join(keys)}")


def verify(run: Run) -> dict[str, Any]:
    """``log_problems``, and that every projected file is what the log gives (the state
    replayed afresh, not the engine's)."""
    count, problems, fresh = _replayed(run)
    stale = [] if fresh is None else differing(run.dir, texts(run.model, fresh, run.store.read(0), run.now))
    if stale:
        problems.append(f"{len(stale)} projected file(s) differ from the log: {', '.join(stale[:5])}")
    invalid = invalid_files(run, fresh)
    if invalid:
        problems.append(f"{len(invalid)} projected file(s) do not match their schema: {'; '.join(invalid[:5])}")
    return {"ok": not problems, "events": count, "problems": problems}


def invalid_files(run: Run, state: OrgState | None = None) -> list[str]:
    """The projected files (of ``state``, by default the engine's) that do not validate against
    their schema in ``schemas/`` (the compiler's, copied there by ``run init``), each with its
    first problem; a missing or unreadable schema is a problem too. jsonschema is imported here
    only: no command needs it."""
    import jsonschema

    validators: dict[str, Any] = {}
    out = []
    with Root(run.dir) as root:
        projected = project(run.model, state if state is not None else run.engine.state, run.store.read(0),
                            run.now)
        for rel, (name, data) in sorted(projected.items()):
            if name not in validators:
                try:
                    raw = root.read_bytes(f"schemas/{name}.schema.json")
                    schema = json.loads(raw) if raw is not None else None
                except (OSError, ValueError):
                    schema = None
                validators[name] = schema and jsonschema.Draft202012Validator(
                    schema, format_checker=jsonschema.FormatChecker())
            validator = validators[name]
            if not validator:
                out.append(f"{MEMORY}/{rel}: no readable schema `{name}`")
                continue
            # the data as JSON gives it, as the YAML file gives it to agents
            error = next(iter(validator.iter_errors(json.loads(json.dumps(data)))), None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "the document"
                out.append(f"{MEMORY}/{rel}: {where}: {error.message[:200]}")
    return out
