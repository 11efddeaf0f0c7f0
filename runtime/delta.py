"""The incremental projection: only the files that the events since the last projection touch.

In: the state, what the fold noted the events after the last projected
sequence number touched (``state.changes``), and the clock. Out: those files
rewritten, and the record of how far the projection got (``.projected.json``
in the run directory: the format, the model, the last sequence number
projected and the day the capacity forecasts start from).

Each kind of change names its files: a task its task file and the files of
its escalations (they show its state), an inbox message its notice, a new
escalation, gate decision, broadcast or standup report its file, a handoff,
delegation (with its acknowledgement) or consultation its files, a domain
whose commitments changed its capacity file and the system-wide one; a new
day rewrites every capacity file (their forecasts are dated). The content of
every file is the full projection's (``projection.py``), so an incremental
projection and a full one write the same bytes.

When the record is missing, of another format or model, past the log, or
older than the changes the state noted (a process stopped between appending
and projecting, or the changes were not noted), the whole projection is
rebuilt from the log instead. Projections of one run directory take turns (a
lock file), each after catching up with the store, so the latest state is the
last written.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .contract.events import Event
from .contract.layout import write_text
from .model import Model
from .projection import (
    MEMORY,
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
    write_projection,
    write_texts,
)
from .state import Changes, OrgState

PROGRESS = ".projected.json"
LOCK = ".projection.lock"
FORMAT = 1


@dataclass(frozen=True)
class Progress:
    """How far the projection of a run directory got."""

    seq: int
    day: str
    model: str


def day_of(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def read_progress(run_dir: Path) -> Progress | None:
    """The record of the last projection, or None when there is no usable one."""
    try:
        data = json.loads((run_dir / PROGRESS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(data, dict) or data.get("format") != FORMAT or type(data.get("seq")) is not int
            or not isinstance(data.get("day"), str) or not isinstance(data.get("model"), str)):
        return None
    return Progress(data["seq"], data["day"], data["model"])


def _write_progress(run_dir: Path, progress: Progress) -> None:
    data = {"format": FORMAT, "seq": progress.seq, "day": progress.day, "model": progress.model}
    write_text(run_dir / PROGRESS, json.dumps(data, sort_keys=True) + "\n")


@contextmanager
def projection_lock(run_dir: Path) -> Iterator[None]:
    """Projections of one run directory, one at a time."""
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def changed_files(model: Model, state: OrgState, ch: Changes, now: float, new_day: bool) -> list[File]:
    """The files the changes touch, with their content now."""
    out: list[File | None] = []
    tasks = state.tasks
    for tid in ch.tasks:
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


def update_projection(run_dir: Path, model: Model, state: OrgState, read: Callable[[int], Sequence[Event]],
                      now: float) -> list[str]:
    """Bring the projection up to the state: the files the noted changes touch, or all of them
    (``read(0)`` gives the log) when the changes do not reach back to the last projection.
    Returns the paths written; the caller then notes changes afresh (``Context.track_changes``)."""
    progress = read_progress(run_dir)
    ch = state.changes
    day = day_of(now)
    if (progress is None or progress.model != model.digest or progress.seq > state.last_seq
            or ch is None or ch.since > progress.seq):
        changed = write_projection(run_dir, model, state, read(0), now)
    else:
        texts: dict[str, str] = {}
        for path, _, data in changed_files(model, state, ch, now, progress.day != day):
            texts[f"{MEMORY}/{path}"] = dump(data)
        changed = write_texts(run_dir, texts)
    _write_progress(run_dir, Progress(state.last_seq, day, model.digest))
    return changed


def forget_progress(run_dir: Path) -> None:
    """Drop the record, so the next projection is a full one."""
    (run_dir / PROGRESS).unlink(missing_ok=True)

