"""Writing the projection: the files ``projection.texts`` gives, put safely into the run directory.

In: the run directory and the projected texts of a state (path under ``Agent_Memory/`` ->
YAML text), with the last sequence number and clock time they reflect. Out: the files on
disk, the manifest ``.projection.json``, and what changed or could not be written.

- Every path is one the projection computed from the model and checked ids (``layout.path``);
  it is written through ``rootfs.Root``, so it is proven inside the run directory and no link
  is ever followed. A file is written only when its bytes differ, atomically, its temporary
  file in the run-level ``rootfs.TMP`` folder.
- The manifest records what was applied: ``{"format": 1, "applied": SEQ, "now": TIME,
  "files": [...]}``. It is a hint, never trusted: ``applied`` says whether the files reflect
  the log up to ``SEQ`` (a projection cut short leaves the older number, so the next command or
  ``doctor --repair`` completes it), and a file it lists that the state no longer produces
  is removed only when its path is one the projection writes (``is_projected``: a template of
  ``PROJECTED`` filled with safe names), a regular file or a link (never a folder), reached
  without following a link. A manifest in another form, or listing any other path, is
  ``RUN034``.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .contract import layout
from .contract.names import name_problem
from .contract.paths import UnsafePath
from .errors import RunError
from .rootfs import Root

MANIFEST = ".projection.json"
LOCK = ".projection.lock"
FORMAT = 1
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
    """What the last projection wrote: its files, and the log (``applied``, -1 when unknown)
    and clock time they reflect."""

    applied: int = -1
    now: float | None = None
    files: list[str] = field(default_factory=list)

    def text(self) -> str:
        data = {"format": FORMAT, "applied": self.applied, "now": self.now, "files": sorted(self.files)}
        return json.dumps(data, indent=0) + "\n"


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
        data = {"format": FORMAT, "applied": -1, "now": None, "files": data}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _damaged(f"holds {_kind(data)}, not the runtime's list of projected files")
    applied, now, files = data.get("applied"), data.get("now"), data.get("files")
    if isinstance(applied, bool) or not isinstance(applied, int) or applied < -1:
        raise _damaged("has no `applied` sequence number")
    if now is not None and (isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now)):
        raise _damaged("has a `now` that is not a time")
    if not isinstance(files, list):
        raise _damaged("has no list of `files`")
    for rel in files:
        if not isinstance(rel, str):
            raise _damaged(f"lists {_kind(rel)} among its files")
        if not is_projected(rel):
            raise _damaged(f"lists `{_shown(rel)}`, which is no file the projection writes")
    return Manifest(applied, None if now is None else float(now), list(files))


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
    """What a projection did: the files it changed or removed, and those it could not write."""

    changed: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def write(run_dir: Path, texts: dict[str, str], applied: int, now: float) -> Written:
    """Write ``texts``, the projection of the state at ``applied`` and clock time ``now``,
    under ``run_dir``, and remove what the manifest lists that they no longer hold. The
    caller holds ``lock``."""
    out = Written()
    with Root(run_dir) as root:
        root.clean_tmp()
        try:
            manifest = read_manifest(root)
        except RunError:
            manifest = None  # a hint only: written afresh below (`doctor` finds what it listed)
        for rel, text in sorted(texts.items()):
            data = text.encode("utf-8")
            try:
                if not root.same(rel, data):
                    root.write_bytes(rel, data)
                    out.changed.append(rel)
            except OSError as exc:
                out.problems.append((rel, _reason(exc)))
        left = []
        for rel in sorted(set(manifest.files if manifest else ()) - set(texts)):
            try:
                if root.remove(rel):
                    out.changed.append(rel)
            except OSError as exc:
                out.problems.append((rel, _reason(exc)))
                left.append(rel)
        done = not out.problems
        record = Manifest(applied if done else (manifest.applied if manifest else -1),
                          now if done else (manifest.now if manifest else None), [*texts, *left])
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

