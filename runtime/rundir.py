"""The run directory: a compiled model, its event log, its clock and the files agents read.

``.orchdsl-run/`` (or ``--dir DIR``, or ``$ORCHDSL_RUN_DIR``) holds
``model.json`` (the compiled model), ``events.sqlite`` (the event log),
``clock.json`` (the wall clock, or a virtual clock and its time), ``schemas/``
(the compiler's JSON Schemas) and ``Agent_Memory/`` (the projection of the log,
rewritten after every command that writes). ``Run.open`` opens one and replays
its log into an engine; ``Run.init`` starts one for a compiled model;
``verify`` replays the whole log afresh and compares.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import tokens
from .clock import Clock, VirtualClock, WallClock
from .contract.events import check_event
from .contract.layout import MEMORY, write_text
from .engine import Engine
from .errors import ModelError, StoreError
from .model import Model, load_model
from .projection import stale_files, write_projection
from .state import OrgState
from .store import SQLiteStore

DEFAULT_DIR = ".orchdsl-run"
DEFAULT_START = "2025-01-06T09:00:00Z"
"""where a virtual clock starts unless told otherwise (a Monday)"""
CLOCK_FILE, MODEL_FILE, STORE_FILE = "clock.json", "model.json", "events.sqlite"
MANIFEST = ".projection.json"


class UsageError(Exception):
    """A problem with how a command was called, or with the run directory (exit 2)."""


class BrokenLog(Exception):
    """The event log cannot be folded into a state (exit 1): it was changed outside the runtime."""


def run_dir(explicit: str | None) -> Path:
    """The run directory: given, else ``$ORCHDSL_RUN_DIR``, else ``.orchdsl-run``."""
    return Path(explicit or os.environ.get("ORCHDSL_RUN_DIR") or DEFAULT_DIR)


@dataclass
class Run:
    """An opened run directory: model, engine (SQLite store) and the persisted clock."""

    dir: Path
    model: Model
    engine: Engine
    store: SQLiteStore
    virtual: bool

    @classmethod
    def open(cls, directory: Path) -> Run:
        if not (directory / MODEL_FILE).is_file():
            raise UsageError(
                f"no run directory at `{directory}`; start one with `orchdsl run init SPEC_OR_MODEL` "
                "or give `--dir DIR`"
            )
        try:
            model = load_model(directory / MODEL_FILE)
        except ModelError as exc:
            raise UsageError(str(exc)) from exc
        clock_data = _read_json(directory / CLOCK_FILE) or {"mode": "wall"}
        virtual = clock_data.get("mode") == "virtual"
        clock: Clock = VirtualClock(float(clock_data.get("now", 0.0))) if virtual else WallClock()
        try:
            store = SQLiteStore(directory / STORE_FILE)
            engine = Engine(model, store, clock)
        except StoreError as exc:
            raise UsageError(f"cannot open the event log of `{directory}`: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            store.close()
            raise BrokenLog(f"the event log of `{directory}` cannot be replayed: {type(exc).__name__}: {exc}") from exc
        return cls(directory, model, engine, store, virtual)

    @classmethod
    def init(cls, directory: Path, model_path: Path, start: float | None, force: bool = False,
             schemas: Path | None = None, memory: Path | None = None) -> Run:
        """Create a run directory for a compiled model; ``schemas`` and ``memory``
        default to the ``schemas/`` and ``Agent_Memory/`` beside the model, and the agents'
        prompts (``agents/``) beside it are copied too."""
        try:
            model_text = model_path.read_text(encoding="utf-8")
            load_model(json.loads(model_text))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the compiled model `{model_path}`: {exc}") from exc
        except ModelError as exc:
            raise UsageError(str(exc)) from exc
        if (directory / STORE_FILE).exists():
            if not force:
                raise UsageError(f"`{directory}` holds a run already; use `--force` to start afresh")
            for name in (STORE_FILE, STORE_FILE + "-wal", STORE_FILE + "-shm", CLOCK_FILE):
                (directory / name).unlink(missing_ok=True)
            for sub in (MEMORY, "schemas", "agents"):
                shutil.rmtree(directory / sub, ignore_errors=True)
            (directory / MANIFEST).unlink(missing_ok=True)
        directory.mkdir(parents=True, exist_ok=True)
        write_text(directory / MODEL_FILE, model_text)
        clock = {"mode": "virtual", "now": start} if start is not None else {"mode": "wall"}
        write_text(directory / CLOCK_FILE, json.dumps(clock, sort_keys=True) + "\n")
        here = model_path.resolve().parent
        for src, name in ((schemas or here / "schemas", "schemas"), (memory or here / MEMORY, MEMORY),
                          (here / "agents", "agents")):
            if src.is_dir() and src.resolve() != (directory / name).resolve():
                shutil.copytree(src, directory / name, dirs_exist_ok=True)
        run = cls.open(directory)
        run.project()
        tokens.issue(directory, run.model.agents)
        return run

    @property
    def now(self) -> float:
        return self.engine.clock.now()

    def save_clock(self) -> None:
        if self.virtual:
            data = {"mode": "virtual", "now": self.now}
            write_text(self.dir / CLOCK_FILE, json.dumps(data, sort_keys=True) + "\n")

    def project(self) -> list[str]:
        """Rewrite the Agent_Memory projection; returns the files that changed."""
        return write_projection(self.dir, self.model, self.engine.state, self.store.read(0), self.now)

    def close(self) -> None:
        self.store.close()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise UsageError(f"`{path}` is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else None


def verify(run: Run) -> dict[str, Any]:
    """Replay the whole store into a fresh state and compare it with the engine's state;
    check that sequence numbers run 1..N, that every event has its declared shape, and that
    the projection is current."""
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
    try:
        for e in events:
            fresh.apply(e)
    except Exception as exc:  # a broken log cannot be folded: report, do not crash
        problems.append(f"replay failed at event {fresh.last_seq + 1}: {type(exc).__name__}: {exc}")
    else:
        run.engine.refresh()
        live, replayed = run.engine.state.dump(), fresh.dump()
        if live != replayed:
            keys = sorted(k for k in live if live[k] != replayed.get(k))
            problems.append(f"the replayed state differs from the engine's in {', '.join(keys)}")
    stale = stale_files(run.dir, run.model, run.engine.state, events, run.now)
    if stale:
        problems.append(f"{len(stale)} projected file(s) differ from the log: {', '.join(stale[:5])}")
    return {"ok": not problems, "events": len(events), "problems": problems}
