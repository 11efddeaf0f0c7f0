"""``orchdsl run doctor [--repair]``: what is wrong with a run directory, and what the log rebuilds.

In: a run directory. Out: an ``Out`` listing each problem with its RUN code, the file and
what to do (exit 0 when nothing is wrong, or everything found was repaired; 2 otherwise).

Each file is examined in the order the runtime needs them, so a later check never runs on
what an earlier one found unusable:

1. ``model.json`` (``RUN033``);
2. ``events.sqlite``: a non-empty regular file (``RUN027``) that opens as a log of this
   runtime (``RUN028``, ``RUN029``, ``RUN030``, ``RUN031``), passes SQLite's ``quick_check``
   and replays, its sequence numbers running 1..N and every event of its declared shape
   (``RUN028``), and that can be written within the lock wait (``RUN030``, ``RUN031``);
3. the clock it keeps (``RUN032``);
4. the manifest (``RUN034``), what stands where the projection writes (``RUN035``), the
   projected files (``RUN036``), files at the projection's paths that the log does not
   produce (``RUN038``), the schemas (``RUN037``), temporary files left by killed writers.

``--repair`` rebuilds what the log gives and never touches the events: a clock that lost its
time is set to the time of the last event (a clock still in an earlier runtime's
``clock.json`` is moved into the log), what stands in the projection's way and stray files
are moved aside into ``displaced/`` (nothing is deleted), the projection and the manifest
are written afresh, temporary files are removed. A damaged log, model or schema is reported
with what to do; only a backup or the compiled output can restore those.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .clock import Clock, VirtualClock
from .contract.budgets import time_problem
from .engine import Engine
from .errors import CODES, RunError, StoreError
from .projection import project
from .projector import MANIFEST, blocked, differing, read_manifest, strays
from .rootfs import TMP, Root
from .rundir import (
    CLOCK,
    DEFAULT_START,
    LEGACY_CLOCK,
    START,
    Run,
    UsageError,
    clock_problem,
    last_event_at,
    lock_timeout,
    log_problems,
    open_store,
    read_clock,
    read_model,
    store_error,
)
from .store import NOW, SQLiteStore
from .timefmt import iso
from .views import Out

EXIT_OK, EXIT_PROBLEMS = 0, 2


@dataclass
class Problem:
    code: str
    message: str
    repaired: str | None = None

    def data(self) -> dict[str, Any]:
        return {"code": self.code, "name": CODES[self.code], "message": self.message, "repaired": self.repaired}


@dataclass
class Findings:
    directory: Path
    repair: bool
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, code: str, message: str, repaired: str | None = None) -> Problem:
        p = Problem(code, message, repaired)
        self.problems.append(p)
        return p

    def out(self) -> Out:
        left = [p for p in self.problems if p.repaired is None]
        data = {"dir": str(self.directory), "ok": not left, "repair": self.repair,
                "problems": [p.data() for p in self.problems], "notes": self.notes}
        lines = [f"{self.directory}: " + (f"{len(self.problems)} problem(s), {len(left)} left" if self.problems
                                          else "no problem found")]
        for p in self.problems:
            lines.append(f"  {p.code} {CODES[p.code]}: {p.message}")
            if p.repaired:
                lines.append(f"    repaired: {p.repaired}")
        lines += [f"  {n}" for n in self.notes]
        if left and not self.repair and any(p.code in REPAIRABLE for p in left):
            lines.append("  `orchdsl run doctor --repair` rebuilds what the log gives")
        return Out(data, "\n".join(lines) + "\n", EXIT_OK if not left else EXIT_PROBLEMS)


REPAIRABLE = frozenset({"RUN032", "RUN034", "RUN035", "RUN036", "RUN038"})


def doctor(directory: Path, repair: bool = False, clock: str | None = None) -> Out:
    """Examine ``directory`` (and with ``repair`` rebuild what the log gives); ``clock``
    (``wall`` or ``virtual``) is the kind of clock to restore when the log lost it."""
    if not directory.is_dir():
        raise UsageError(f"no run directory at `{directory}`")
    f = Findings(directory, repair)
    run = _open(f, clock)
    if run is not None:
        try:
            _check_log(f, run)
            _check_projection(f, run)
        finally:
            run.close()
    return f.out()


def _open(f: Findings, clock_kind: str | None) -> Run | None:
    """The run opened step by step, each problem recorded (and the clock repaired); ``None``
    when the model or the log cannot be used."""
    directory = f.directory
    try:
        model, _ = read_model(directory)
    except RunError as exc:
        f.add(exc.code, exc.message)
        return None
    timeout = lock_timeout()
    try:
        store = open_store(directory, timeout)
    except RunError as exc:
        f.add(exc.code, exc.message)
        return None
    try:
        damage = store.quick_check()
        if damage:
            f.add("RUN028", f"`{directory / 'events.sqlite'}` is damaged ({'; '.join(damage[:3])}); restore it "
                            "from a backup")
            store.close()
            return None
        clock = _clock(f, store, clock_kind)
        if clock is None:
            store.close()
            return None
        engine = Engine(model, store, clock)
    except StoreError as exc:
        store.close()
        if exc.code is None:
            f.add("RUN033", f"`{directory / 'model.json'}` is not the model the log was recorded with ({exc})")
        else:
            err = store_error(directory, exc)
            f.add(err.code, err.message)
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        store.close()
        f.add("RUN028", f"the event log cannot be replayed: {type(exc).__name__}: {exc}; restore it from a backup")
        return None
    return Run(directory, model, engine, store, isinstance(clock, VirtualClock), timeout)


def _clock(f: Findings, store: SQLiteStore, kind: str | None) -> Clock | None:
    """The run's clock; a lost or damaged one reported, and with ``--repair`` set from the log."""
    directory = f.directory
    meta = store.meta
    try:
        clock = read_clock(directory, meta)
    except RunError as exc:
        problem = f.add(exc.code, exc.message)
        if not f.repair:
            return None
        fixed = _restored_clock(directory, store, meta, kind)
        if fixed is None:
            problem.message += ("; the log does not say which clock the run used: give `--clock wall` or "
                                "`--clock virtual`")
            return None
        values, problem.repaired = fixed
        store.write_meta(values)
        with Root(directory) as root:
            root.remove(LEGACY_CLOCK)
        clock = read_clock(directory, store.meta)
    last = last_event_at(store)
    if isinstance(clock, VirtualClock) and last is not None and clock.now() < last[1]:
        problem = f.add("RUN032", f"the clock is at {iso(clock.now())}, before the last event (seq {last[0]} at "
                                  f"{iso(last[1])})")
        if f.repair:
            store.write_meta({NOW: repr(last[1])})
            clock = VirtualClock(last[1])
            problem.repaired = f"the clock set to {iso(last[1])}, the time of the last event"
        else:
            return None
    return clock


def _restored_clock(directory: Path, store: SQLiteStore, meta: dict[str, str],
                    kind: str | None) -> tuple[dict[str, str | None], str] | None:
    """The ``meta`` values that restore a lost clock, and what they do; ``None`` when the
    kind of clock is not known."""
    legacy = _legacy_clock(directory)
    mode = meta.get(CLOCK) if meta.get(CLOCK) in ("wall", "virtual") else None
    mode = mode or kind or (legacy[0] if legacy else None) or ("virtual" if START in meta or NOW in meta else None)
    if mode is None:
        return None
    if mode == "wall":
        return {CLOCK: "wall", NOW: None}, "the run set to the wall clock"
    last = last_event_at(store)
    candidates = [t for t in (legacy[1] if legacy else None, _time(meta.get(START)), last[1] if last else None)
                  if t is not None]
    if legacy and legacy[1] is not None and (last is None or legacy[1] >= last[1]):
        now, why = legacy[1], f"the time `{LEGACY_CLOCK}` kept"
    elif last is not None:
        now, why = max(candidates), "the time of the last event"
    elif candidates:
        now, why = max(candidates), "the time the run started"
    else:
        now = datetime.fromisoformat(DEFAULT_START.replace("Z", "+00:00")).timestamp()
        why = "the default start"
    return {CLOCK: "virtual", NOW: repr(float(now))}, f"the virtual clock set to {iso(now)}, {why}"


def _legacy_clock(directory: Path) -> tuple[str, float | None] | None:
    """What an earlier runtime's ``clock.json`` says (its mode and a usable time), if anything."""
    try:
        with Root(directory) as root:
            raw = root.read_bytes(LEGACY_CLOCK, 4096)
        data = json.loads(raw.decode("utf-8")) if raw is not None else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("mode") not in ("wall", "virtual"):
        return None
    return str(data["mode"]), _time(data.get("now"))


def _time(value: object) -> float | None:
    if isinstance(value, str):
        if clock_problem(value) is not None:
            return None
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if time_problem(value) is None else None


def _check_log(f: Findings, run: Run) -> None:
    """The log replays and verifies; it can be written within the lock wait."""
    count, problems = log_problems(run)
    for p in problems:
        f.add("RUN028", f"the event log: {p}; restore `events.sqlite` from a backup")
    try:
        run.store.write_meta({})  # takes the write lock, as a command does
    except StoreError as exc:
        err = store_error(f.directory, exc)
        f.add(err.code, err.message)
    clock = f"at {iso(run.now)}" if run.virtual else "the wall clock"
    f.notes.append(f"{count} event(s); the clock is {clock}")


def _check_projection(f: Findings, run: Run) -> None:
    """The manifest, what stands in the projection's way, stray files, the projected files."""
    directory, label = f.directory, f"seq-{run.engine.state.last_seq}"
    files = project(run.model, run.engine.state, run.store.read(0), run.now)
    texts = run.texts()
    manifest_problem = None
    with Root(directory) as root:
        try:
            manifest = read_manifest(root)
        except RunError as exc:
            manifest_problem = f.add(exc.code, exc.message)
            manifest = None
            if f.repair and root.kind(MANIFEST) not in (None, "file"):
                root.move_aside(MANIFEST, label)
        for rel, why in blocked(root, sorted({*texts, *(manifest.unwritten if manifest else ())})):
            problem = f.add("RUN035", f"`{rel}` {why}")
            if f.repair:
                moved = root.move_aside(rel, label)
                problem.repaired = f"moved aside to `{moved}`" if moved else "gone already"
        for rel in strays(directory, texts):
            problem = f.add("RUN038", f"`{rel}` is at a path the projection writes, but the log does not produce it")
            if f.repair:
                moved = root.move_aside(rel, label)
                problem.repaired = f"moved aside to `{moved}`" if moved else "gone already"
        left = sum(1 for _, kind in root.walk(TMP) if kind == "file")
        if left and f.repair:
            f.notes.append(f"removed {root.clean_tmp()} temporary file(s) left by interrupted writers")
        elif left:
            f.notes.append(f"{left} temporary file(s) left by interrupted writers in `{TMP}` (`--repair` removes them)")
    stale = differing(directory, texts)
    stale_problem = None
    if stale:
        shown = ", ".join(f"`{s}`" for s in stale[:5]) + (" ..." if len(stale) > 5 else "")
        stale_problem = f.add("RUN036", f"{len(stale)} projected file(s) differ from the log: {shown}")
    if f.repair:
        written = run.project(full=True)
        for rel, why in written.problems:
            f.add("RUN035", f"`{rel}` could not be written: {why}")
        if stale_problem is not None and not differing(directory, texts):
            stale_problem.repaired = f"{len(written.changed)} file(s) written or removed"
        if manifest_problem is not None and not written.problems:
            manifest_problem.repaired = "written afresh"
    _check_schemas(f, sorted({schema for schema, _ in files.values()}))


def _check_schemas(f: Findings, names: list[str]) -> None:
    """``schemas/`` holds a JSON object for every schema a projected file names."""
    with Root(f.directory) as root:
        for name in names:
            rel = f"schemas/{name}.schema.json"
            try:
                raw = root.read_bytes(rel, 16 * 1024 * 1024)
                data = json.loads(raw.decode("utf-8")) if raw is not None else None
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                f.add("RUN037", f"`{rel}` cannot be read ({exc}); copy `schemas/` from the compiled output")
                continue
            if not isinstance(data, dict):
                what = "is missing" if raw is None else "is not a JSON object"
                f.add("RUN037", f"`{rel}` {what}; copy `schemas/` from the compiled output "
                                "(`orchdsl compile SPEC -o OUT` writes OUT/schemas)")
