"""Writing the projection: the files the log gives, put safely into the run directory.

In: the run directory, the state and the clock; what the fold noted the events since the
last projection touched (``state.changes``). Out: the files on disk, the manifest
``.projection.json``, and what changed or could not be written.

- **Incremental** (``update``): after a command only the files its events touch are
  written (``changed_files``): a task its task file and the files of its escalations (they
  show its state), an inbox message its notice, a new escalation, gate decision, broadcast
  or standup report its file, a handoff, delegation (with its acknowledgement) or
  consultation its files, a domain whose commitments changed its capacity file and the
  system-wide one; a new day rewrites every capacity file (their forecasts are dated). The
  content of each is the full projection's (``projection.py``), so an incremental
  projection and a full one write the same bytes. When the manifest is missing, damaged, of
  another model, ahead of the log, or older than the changes the state noted (a process
  stopped between appending and projecting), the whole projection is written from the log
  instead (``write``).
- Every path is one the projection computed from the model and checked ids (``layout.path``);
  it is written through ``rootfs.Root``, so it is proven inside the run directory and no link
  is ever followed. A file is written only when its bytes differ, atomically, its temporary
  file in the run-level ``rootfs.TMP`` folder. The projection never deletes a file: one at
  a projected path that the log does not produce is a stray (``strays``), which
  ``doctor`` reports and moves aside.
- The manifest records how far the projection got: ``{"format": 2, "applied": SEQ, "now":
  TIME, "day": DAY, "model": DIGEST, "unwritten": [...]}``: the files reflect the log up to
  ``SEQ`` and the capacity forecasts the day ``DAY`` (a projection cut short leaves the older
  number, so the next command or ``doctor --repair`` completes it), and ``unwritten`` lists
  the files the last projection could not write (the next writing command checks what stands
  there first). Its size does not grow with the run. It is a hint, never trusted for a
  delete: a manifest in another form, or listing a path that is not one the projection
  writes (``is_projected``: a template of ``PROJECTED`` filled with safe names), is
  ``RUN034``; the first form (a list of files, or ``files`` in format 1) is read, its paths
  checked, and projected afresh.
- Writers of one run directory take turns (``lock``, an advisory lock on ``LOCK``), and each
  projects the newest state it can see, so the last projection reflects the last command.

A file that cannot be written (a folder or a link in its place, ``ENOSPC``) does not stop the
others; it is reported (``Written.problems``), and the manifest keeps the older ``applied``.
"""

from __future__ import annotations

import errno
import functools
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .contract import layout
from .contract.events import Event
from .contract.names import name_problem
from .contract.paths import UnsafePath
from .errors import RunError
from .model import Model
from .projection import (
    File,
    broadcast_files,
    capacity_files,
    consultation_files,
    decision_file,
    delegation_files,
    dump,
    escalation_file,
    handoff_files,
    notice_file,
    standup_files,
    task_file,
    texts,
)
from .rootfs import Root
from .state import Changes, OrgState

MANIFEST = ".projection.json"
LOCK = ".projection.lock"
FORMAT = 2
MEMORY = layout.MEMORY
_POLL = 0.01
"""seconds between two tries of a held lock"""
MAX_MANIFEST = 64 * 1024 * 1024
"""the largest manifest read, in bytes"""

PROJECTED = (
    layout.STRATEGIC_TASK, layout.TACTICAL_TASK, layout.NOTICE_FILE, layout.DELEGATION_FILE, layout.ACK_FILE,
    layout.CONSULTATION_FILE, layout.BROADCAST_FILE, layout.HANDOFF_FILE, layout.DAILY_FILE, layout.WEEKLY_FILE,
    layout.PROTOCOL_ESCALATION_FILE, layout.TASK_ESCALATION_FILE, layout.DECISION_FILE, layout.CAPACITY_TEAM,
    layout.SYSTEM_WIDE,
)
"""the templates of the files the projection writes (everything else under Agent_Memory is not its own)"""

_PART = {"YYYYMMDD_HHMMSS": r"\d{8}_\d{6}", "YYYYMMDD": r"\d{8}", "seq": r"\d+", "NN": r"\d{2,}"}
_NAME = r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?)"


def _pattern(template: str) -> re.Pattern[str]:
    out, rest = [], template
    for name in layout.fields(template):
        before, rest = rest.split("{" + name + "}", 1)
        out.append(re.escape(before) + _PART.get(name, _NAME))
    stem = "".join(out) + re.escape(rest)
    # two files of one kind and second get `_2`, `_3`... before `.yaml` (projection._unique)
    return re.compile(re.escape(MEMORY + "/") + stem.replace(re.escape(".yaml"), r"(?:_\d+)?\.yaml"))


_PATTERNS = tuple(_pattern(t) for t in PROJECTED)


@functools.lru_cache(maxsize=1 << 16)
def is_projected(rel: str) -> bool:
    """Whether ``rel`` (from the run directory) is a path the projection writes: one of its
    templates with every name part safe."""
    for p in _PATTERNS:
        m = p.fullmatch(rel)
        if m and all(name_problem(g) is None for g in m.groups()):
            return True
    return False


# -- the manifest -------------------------------------------------------------------------


@dataclass
class Manifest:
    """How far the projection got: the log (``applied``, -1 when unknown), the clock time
    and day, and the model its files reflect; the files it could not write."""

    applied: int = -1
    now: float | None = None
    day: str = ""
    model: str = ""
    unwritten: list[str] = field(default_factory=list)

    def text(self) -> str:
        data = {"format": FORMAT, "applied": self.applied, "now": self.now, "day": self.day, "model": self.model,
                "unwritten": sorted(self.unwritten)}
        return json.dumps(data, indent=0) + "\n"


def day_of(now: float) -> str:
    """The day a clock time falls on (capacity forecasts are dated by it)."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def _damaged(why: str) -> RunError:
    return RunError("RUN034", f"`{MANIFEST}` {why}; it is rebuilt from the log by `orchdsl run doctor --repair`")


def read_manifest(root: Root) -> Manifest | None:
    """The manifest, ``None`` when there is none; ``RunError`` (``RUN034``) when it is not in
    the runtime's form or lists a path the projection never writes."""
    try:
        raw = root.read_bytes(MANIFEST, MAX_MANIFEST)
    except UnsafePath as exc:
        raise _damaged(f"cannot be read: {exc.reason}") from None
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _damaged("is not JSON") from None
    if isinstance(data, list):  # the first form: only the files
        data = {"format": 1, "applied": -1, "now": None, "files": data}
    if not isinstance(data, dict) or data.get("format") not in (1, FORMAT):
        raise _damaged(f"holds {_kind(data)}, not the runtime's record of the projection")
    old = data["format"] == 1  # the files it lists were all written: projected afresh
    applied, now, day, model = data.get("applied"), data.get("now"), data.get("day", ""), data.get("model", "")
    files = data.get("files" if old else "unwritten")
    if isinstance(applied, bool) or not isinstance(applied, int) or applied < -1:
        raise _damaged("has no `applied` sequence number")
    if now is not None and (isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now)):
        raise _damaged("has a `now` that is not a time")
    if not isinstance(day, str) or not isinstance(model, str):
        raise _damaged("has a `day` or a `model` that is not a text")
    if not isinstance(files, list):
        raise _damaged(f"has no list of `{'files' if old else 'unwritten'}`")
    for rel in files:
        if not isinstance(rel, str):
            raise _damaged(f"lists {_kind(rel)} among its files")
        if not is_projected(rel):
            raise _damaged(f"lists `{_shown(rel)}`, which is no file the projection writes")
    if old:
        return Manifest(-1, None)
    return Manifest(applied, None if now is None else float(now), day, model, list(files))


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a text"
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) and not isinstance(value, bool) else "a boolean"


def _shown(text: str) -> str:
    text = text if len(text) <= 120 else text[:117] + "..."
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


# -- the lock -----------------------------------------------------------------------------


@contextmanager
def lock(run_dir: Path, timeout: float) -> Iterator[None]:
    """Hold the run directory's projection lock (waiting at most ``timeout`` seconds;
    ``TimeoutError`` after). Without ``fcntl`` (Windows) writers do not take turns."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(run_dir / LOCK, flags, 0o666)
    try:
        tries = max(1, round(timeout / _POLL))  # slept, not measured: a clock is the engine's only time
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                tries -= 1
                if tries <= 0:
                    raise TimeoutError(errno.EAGAIN, f"another process held `{LOCK}` for {timeout:g} s") from None
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


# -- checking and writing -----------------------------------------------------------------


def blocked(root: Root, files: list[str]) -> list[tuple[str, str]]:
    """``(path, why)`` for ``Agent_Memory`` and each of ``files`` where something other
    than a folder (a regular file) stands, or a link is on the way."""
    out: list[tuple[str, str]] = []
    for rel, want in [(MEMORY, "folder"), *((f, "file") for f in files)]:
        try:
            kind = root.kind(rel)
        except UnsafePath as exc:
            out.append((exc.rel, exc.reason))
            if rel == MEMORY:
                break
            continue
        if kind not in (None, want):
            out.append((rel, f"is a {kind} where the runtime writes a {want}"))
            if rel == MEMORY:
                break
    return out


@dataclass
class Written:
    """What a projection did: the files it changed, and those it could not write."""

    changed: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    full: bool = False
    """the whole projection was written (not only what the events touched)"""


def changed_files(model: Model, state: OrgState, ch: Changes, now: float, new_day: bool) -> list[File]:
    """The files the changes touch, with their content now."""
    out: list[File | None] = []
    tasks = state.tasks
    touched = dict.fromkeys(ch.tasks)
    for tid in list(touched):
        t = tasks.get(tid)
        if t is not None and (t.outputs or t.notes):  # what it left is shown to its consumers
            touched.update(dict.fromkeys(state.consumers.get(tid, ())))
    for tid in touched:
        t = tasks.get(tid)
        if t is not None:
            out.append(task_file(model, state, t))
            out += [escalation_file(state, esc) for esc in state.escalations_by_task.get(tid, ())]
    out += [notice_file(state, agent, m, actor) for agent, m, actor in ch.messages]
    out += [escalation_file(state, esc) for esc in ch.escalations]
    if ch.delegations:
        out += delegation_files(state, ch.delegations)
    if ch.consultations:
        out += consultation_files(model, state, ch.consultations)
    if ch.broadcasts:
        out += broadcast_files(state, {b["seq"] for b in ch.broadcasts})
    for report in ch.standups:
        out += standup_files(model, report)
    if ch.handoffs:
        out += handoff_files(model, state, ch.handoffs)
    out += [decision_file(state, e) for e in ch.decisions]
    if ch.domains or new_day:
        out += capacity_files(model, state, now, None if new_day else ch.domains)
    return [f for f in out if f is not None]


def update(run_dir: Path, model: Model, state: OrgState, read: Callable[[int], Sequence[Event]],
           now: float, full: bool = False) -> Written:
    """Bring the projection under ``run_dir`` up to ``state`` at clock time ``now``: the files
    the noted changes touch, or all of them (``read(0)`` gives the log) when ``full`` or when
    the changes do not reach back to what the manifest says was applied. The caller holds
    ``lock``, and then notes changes afresh (``Context.track_changes``)."""
    day = day_of(now)
    with Root(run_dir) as root:
        try:
            manifest = read_manifest(root)
        except RunError:
            manifest = None  # a hint only: written afresh below (`doctor` reports what it held)
        ch = state.changes
        if (full or manifest is None or manifest.model != model.digest or not 0 <= manifest.applied <= state.last_seq
                or ch is None or ch.since > manifest.applied):
            out = Written(full=True)
            wanted = texts(model, state, read(0), now)
        else:
            if manifest.applied == state.last_seq and manifest.day == day and not manifest.unwritten:
                return Written()  # nothing happened since (another writer projected it)
            out = Written()
            wanted = {f"{MEMORY}/{path}": dump(data)
                      for path, _, data in changed_files(model, state, ch, now, manifest.day != day)}
        root.clean_tmp()
        for rel, text in sorted(wanted.items()):
            data = text.encode("utf-8")
            try:
                if not root.same(rel, data):
                    root.write_bytes(rel, data)
                    out.changed.append(rel)
            except OSError as exc:
                out.problems.append((rel, _reason(exc)))
        if out.problems:
            kept = manifest or Manifest()
            record = Manifest(kept.applied, kept.now, kept.day, kept.model, [rel for rel, _ in out.problems])
        else:
            record = Manifest(state.last_seq, now, day, model.digest)
        try:
            root.write_text(MANIFEST, record.text())
        except OSError as exc:
            out.problems.append((MANIFEST, _reason(exc)))
    return out


def differing(run_dir: Path, texts: dict[str, str]) -> list[str]:
    """The projected files whose content on disk is not ``texts`` (missing, different, or
    something else in their place)."""
    out = []
    with Root(run_dir) as root:
        for rel, text in sorted(texts.items()):
            try:
                if not root.same(rel, text.encode("utf-8")):
                    out.append(rel)
            except OSError:
                out.append(rel)
    return out


def strays(run_dir: Path, texts: dict[str, str]) -> list[str]:
    """Files under Agent_Memory at paths the projection writes that the state does not produce
    (a notice an agent wrote into an inbox, a file left from another run)."""
    out = []
    with Root(run_dir) as root:
        try:
            for rel, kind in root.walk(MEMORY):
                if kind != "folder" and rel not in texts and is_projected(rel):
                    out.append(rel)
        except OSError:
            pass  # a tree that cannot be walked is reported by `blocked`
    return out


def _reason(exc: OSError) -> str:
    if isinstance(exc, UnsafePath):
        return exc.reason
    return exc.strerror or str(exc)

