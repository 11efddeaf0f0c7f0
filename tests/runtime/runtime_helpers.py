"""Helpers of the runtime tests: refusals that must change nothing, tasks in a given state, the
command line of a run directory in this process."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from orchdsl_runtime import HUMAN, Engine, Refused
from orchdsl_runtime.cli import main


def refused(engine: Engine, code: str, fn: Callable[..., object], *args: object, **kwargs: object) -> Refused:
    """Call a command that must be refused with ``code``; assert nothing changed."""
    seq = engine.store.last_seq()
    before = engine.state.dump()
    with pytest.raises(Refused) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    assert engine.store.last_seq() == seq
    assert engine.state.dump() == before
    return info.value


def new_task(engine: Engine, domain: str = "backend", tier: int = 2, **kwargs: Any) -> str:
    ins = engine.submit_instruction(HUMAN, "build the thing", tier)
    kwargs.setdefault("required_skills", ["python"] if domain == "backend" else [])
    kwargs.setdefault("estimate_hours", 4.0)
    return engine.create_task("planner", ins, kwargs.pop("kind", "tactical"), domain, "a task", **kwargs)


def in_progress(engine: Engine, agent: str = "backend-developer-1", domain: str = "backend", **kwargs: Any) -> str:
    tid = new_task(engine, domain, **kwargs)
    lead = engine.model.agents_for("@lead", domain)[0]
    engine.assign(lead, tid, agent)
    engine.move(agent, tid, "IN_PROGRESS")
    return tid


START = "2025-01-06T09:00:00Z"
DEV, LEAD, TASK = "senior-developer", "backend-lead", "TT0.1"


def started_run(directory: Path, model: Path, estimate: str = "4h") -> Path:
    """A run directory on a virtual clock with one task, `TASK`, in progress by `DEV`."""
    ok(directory, "init", str(model), "--virtual-clock", START)
    ok(directory, "submit", "--as", "human", "--tier", "2", "shared", "work")
    ok(directory, "task", "create", "--as", "planner", "--instruction", "I1", "--domain", "backend", "--title",
       "shared", "--skills", "python", "--estimate", estimate)
    ok(directory, "assign", TASK, "--as", LEAD, "--to", DEV)
    ok(directory, "move", TASK, "IN_PROGRESS", "--as", DEV)
    return directory


def cli(directory: Path, *args: str) -> tuple[int, str, str]:
    """``orchdsl run ARGS --dir DIRECTORY`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--dir", str(directory)])
    return code, out.getvalue(), err.getvalue()


def ok(directory: Path, *args: str) -> str:
    code, out, err = cli(directory, *args)
    assert code == 0, (args, out, err)
    return out


def events(run: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(run / "events.sqlite")
    try:
        return db.execute("SELECT seq, type, at, actor, data FROM events ORDER BY seq").fetchall()
    finally:
        db.close()
