"""A run served to agents: commands and views as calls, the clock on time, the projection kept current.

``Service`` holds an open run directory (its engine in memory) for a process
that lives: the MCP servers (``orchdsl run mcp`` over stdio, ``orchdsl run
serve --http``) and the clock loop of ``orchdsl run serve``. Every call names
the agent making it; an agent acts only as itself and is offered only the
commands its role may ever issue (``roles.commands_for``). A call runs through
the command table like the command line (``invoke``), under one lock: the
engine belongs to one thread at a time. After every change the projection is
brought up to date, so agents reading files see what the tools said.

Other processes may write to the same run directory (the command line,
another server): every call and every tick refreshes the engine from the store
first, and the store's optimistic concurrency keeps every command whole.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .contract.commands import BY_NAME, Command
from .errors import Refused
from .invoke import ArgumentError, arguments, invoke
from .roles import commands_for
from .rundir import Run, UsageError
from .views import VIEWS, command_out


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call gave: structured data and text, or an error (a refusal, a bad argument)."""

    data: dict[str, Any]
    text: str
    error: bool = False


class Service:
    """One open run, serving calls from agents and firing its clock."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.lock = threading.RLock()
        self._offered: dict[str, dict[str, Command]] = {}

    @property
    def model(self) -> Any:
        return self.run.model

    def offered(self, agent: str) -> dict[str, Command]:
        """The commands (and views) offered to an agent, by name."""
        cached = self._offered.get(agent)
        if cached is None:
            cached = self._offered[agent] = {c.name: c for c in commands_for(self.run.model, agent)}
        return cached

    def call(self, agent: str, name: str, args: Mapping[str, Any] | None) -> Outcome:
        """One call of ``agent``: a command it is offered, with its arguments as JSON values."""
        if agent not in self.run.model.agents:
            return _error("unknown-agent", f"unknown agent `{agent}`")
        command = self.offered(agent).get(name)
        if command is None:
            known = BY_NAME.get(name)
            if known is None:
                return _error("unknown-tool", f"no command `{name}`")
            return _error("not-offered", f"`{name}` is not offered to `{agent}`: its role may never issue it")
        values = dict(args or {})
        claimed = values.pop("as", agent)
        if claimed != agent:
            return _error("identity", f"`{agent}` acts only as itself, not as `{claimed}`")
        for p in command.params:
            if p.me:
                if values.get(p.name, agent) != agent:
                    return _error("identity", f"`{agent}` sees only its own {p.name}")
                values[p.name] = agent
        with self.lock:
            run = self.run
            before = run.store.last_seq()
            try:
                run.engine.refresh()
                if command.view:
                    kwargs = arguments(command, values)
                    if command.acts:
                        kwargs["agent"] = agent
                    out = VIEWS[command.method](run, **kwargs)
                    return Outcome(_as_dict(out.data), out.text)
                if not run.virtual:
                    run.engine.process_clock()
                result = invoke(run.engine, command, agent, values)
                out = command_out(command, values, result)
                return Outcome(_as_dict(out.data), out.text)
            except Refused as r:
                return Outcome({"refused": {"code": r.code, "name": r.name, "reason": r.reason}},
                               f"refused: {r.code} {r.name}: {r.reason}", error=True)
            except (ArgumentError, UsageError) as exc:
                return _error("bad-argument", str(exc))
            finally:
                if run.store.last_seq() != before:
                    self.after_change()

    def tick(self) -> int:
        """Fire what is due by the clock and take in what other writers recorded; how many events
        are new."""
        with self.lock:
            run = self.run
            before = run.engine.state.last_seq
            run.engine.refresh()
            if not run.virtual:
                run.engine.process_clock()
            new = run.engine.state.last_seq - before
            if new:
                self.after_change()
            return new

    def warm(self) -> None:
        """Import what a first call would otherwise import (numpy, for the commands that score
        candidates; YAML, for the projection): a server lives long and pays it once, as it
        starts, not in a call."""
        from . import candidates  # noqa: F401
        from .contract.layout import dumper

        dumper()

    def next_due(self) -> float | None:
        """When the clock next has something to fire (``None``: nothing is planned)."""
        with self.lock:
            state = self.run.engine.state
            state.flush()
            return state.timers.next_due()

    def after_change(self) -> None:
        """Bring the projection up to date, only the files the new events touch (the clock is
        recorded with the events), and keep a snapshot of the state now and then, for the
        processes that open the run later. What the projection cannot write never fails the
        call that was recorded: the next change or `orchdsl run doctor --repair` completes it."""
        try:
            self.run.project()
            self.run.checkpoint()
        except Exception:  # noqa: BLE001 - after the commit nothing may fail the call
            pass

    def close(self) -> None:
        with self.lock:
            self.run.close()


def _error(code: str, message: str) -> Outcome:
    return Outcome({"error": {"code": code, "message": message}}, message, error=True)


def _as_dict(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {"result": data}
