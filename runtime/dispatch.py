"""``orchdsl run dispatch``: start agents when work waits for them.

Given a command template, the dispatcher watches the run (polling the store,
or in ``orchdsl run serve --dispatch`` on the served engine) and starts one
agent process per waiting item (``work.waiting``): an assigned task to work
on, a task to assign, a review or gate due, a delegation to acknowledge, a
handoff to make, tick or accept, a consultation to answer, a stage of an
instruction's flow to run. It records each launch and each exit as an event
(``agent_launched``, ``agent_exited``), so that it never starts two agents for
one item (nor does a second dispatcher): an item several agents could take
goes to the first of them (a state's owner before the others), and one agent
runs one item at a time.
An agent that fails or hangs is
stopped and its item offered again (three times at most; then the spec's own
SLAs escalate what waits). An agent that exits 0 has done what it could for
its item; the item is not offered again.

The template is split like a shell command line (no shell runs it) and each
word is filled with the item: ``{agent}``, ``{kind}``, ``{id}``, ``{key}``,
``{task}``, ``{task_file}``, ``{prompt}``, ``{run_dir}``, ``{item}`` (the item
as JSON). The agent's environment carries the same, and the line that launches
its MCP server: ``ORCHDSL_AS``, ``ORCHDSL_RUN_DIR``, ``ORCHDSL_ITEM``,
``ORCHDSL_TASK``, ``ORCHDSL_TASK_FILE``, ``ORCHDSL_PROMPT``, ``ORCHDSL_MCP``
(a command line) and ``ORCHDSL_MCP_ARGV`` (the same as a JSON list); when the
dispatcher runs in ``serve --http``, also ``ORCHDSL_MCP_URL`` and the agent's
``ORCHDSL_MCP_TOKEN``, so the agent can use the served endpoint instead.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .clock import elapsed
from .contract import layout
from .errors import Refused
from .launches import MAX_ATTEMPTS
from .projection import task_path
from .records import Launch
from .service import Service
from .tokens import load as load_tokens
from .work import Item, waiting

PLACEHOLDERS = ("agent", "kind", "id", "key", "task", "task_file", "prompt", "run_dir", "item")


class TemplateError(ValueError):
    """An agent command template that cannot be used."""


@dataclass
class Running:
    item: Item
    process: subprocess.Popen[bytes]
    started: float


def parse_template(template: str) -> list[str]:
    """The template as words; ``TemplateError`` when it cannot be split or names an unknown field."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise TemplateError(f"the agent command cannot be split into words: {exc}") from None
    if not words:
        raise TemplateError("the agent command is empty")
    for word in words:
        for field in layout.fields(word):
            if field not in PLACEHOLDERS:
                raise TemplateError(f"unknown placeholder `{{{field}}}` in the agent command; "
                                    f"placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
    return words


class Dispatcher:
    """Starts agent processes for waiting items and records their launches and exits."""

    def __init__(self, service: Service, template: str, max_running: int = 4, timeout: float | None = None,
                 log: TextIO | None = None, mcp_url: str | None = None) -> None:
        self.service = service
        self.mcp_url = mcp_url
        """where the serving process answers MCP over HTTP, if it does"""
        self.words = parse_template(template)
        self.max_running = max(1, max_running)
        self.timeout = timeout
        self.log = log
        self.running: dict[str, Running] = {}
        self.orchdsl = str(Path(sys.executable).with_name("orchdsl"))

    # -- one step ---------------------------------------------------------------------------

    def step(self) -> int:
        """Reap the agents that ended, then start agents for the items waiting; how many started."""
        self._reap()
        started = 0
        with self.service.lock:
            engine = self.service.run.engine
            engine.refresh()
            launches = engine.state.launches
            busy = {r.item.agent for r in self.running.values()}
            asked: set[str] = set()
            for item in waiting(engine):
                if len(self.running) >= self.max_running:
                    break
                if item.key in asked:
                    continue  # an item several agents could take is for the first of them
                asked.add(item.key)
                last = launches.get(item.key)
                if item.key in self.running or item.agent in busy or (last is not None and last.reason == "done"):
                    continue
                try:
                    engine.record_launch(item.key, item.agent, item.kind, item.what, item.task)
                except Refused:
                    continue  # running elsewhere, or launched too often: its SLAs take over
                self.running[item.key] = Running(item, self._start(item), elapsed())
                busy.add(item.agent)
                started += 1
                self._say(f"started {item.agent} for {item.key}")
            if started:
                self.service.after_change()
        return started

    def idle(self) -> bool:
        """Nothing runs and nothing waits that could be started."""
        if self.running:
            return False
        with self.service.lock:
            engine = self.service.run.engine
            engine.refresh()
            launches = engine.state.launches
            return all(_spent(launches.get(i.key)) for i in waiting(engine))

    def stop(self) -> None:
        """Stop every agent still running and record it."""
        for r in list(self.running.values()):
            _terminate(r.process)
            self._exited(r, r.process.returncode, "stopped")

    # -- processes ----------------------------------------------------------------------------

    def _start(self, item: Item) -> subprocess.Popen[bytes]:
        run = self.service.run
        fields = self._fields(item)
        argv = [word.format(**fields) for word in self.words]
        mcp = [self.orchdsl, "run", "mcp", "--as", item.agent, "--dir", fields["run_dir"]]
        env = dict(os.environ)
        env.update(ORCHDSL_AS=item.agent, ORCHDSL_RUN_DIR=fields["run_dir"], ORCHDSL_ITEM=fields["item"],
                   ORCHDSL_TASK=fields["task"], ORCHDSL_TASK_FILE=fields["task_file"],
                   ORCHDSL_PROMPT=fields["prompt"], ORCHDSL_MCP=shlex.join(mcp), ORCHDSL_MCP_ARGV=json.dumps(mcp))
        if self.mcp_url is not None:
            token = load_tokens(run.dir).get(item.agent)
            if token is not None:
                env.update(ORCHDSL_MCP_URL=self.mcp_url, ORCHDSL_MCP_TOKEN=token)
        try:
            return subprocess.Popen(argv, env=env, cwd=run.dir, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise TemplateError(f"cannot start `{argv[0]}`: {exc.strerror or exc}") from exc

    def _fields(self, item: Item) -> dict[str, str]:
        run = self.service.run
        root = run.dir.resolve()
        task = run.engine.state.tasks.get(item.task or "")
        task_file = str(root / layout.MEMORY / task_path(task)) if task is not None else ""
        role = run.model.agents[item.agent].role
        prompt = next((str(p) for p in (root / "agents" / f"{item.agent}.md", root / "agents" / f"{role}.md")
                       if p.is_file()), "")
        return {"agent": item.agent, "kind": item.kind, "id": item.what, "key": item.key, "task": item.task or "",
                "task_file": task_file, "prompt": prompt, "run_dir": str(root), "item": json.dumps(item.dump())}

    def _reap(self) -> None:
        now = elapsed()
        for r in list(self.running.values()):
            code = r.process.poll()
            if code is None and self.timeout is not None and now - r.started > self.timeout:
                _terminate(r.process)
                self._exited(r, None, "timeout")
            elif code is not None:
                self._exited(r, code, "done" if code == 0 else "failed")

    def _exited(self, r: Running, code: int | None, reason: str) -> None:
        del self.running[r.item.key]
        with self.service.lock:
            try:
                self.service.run.engine.record_exit(r.item.key, code, reason)
            except Refused:
                pass  # recorded by another dispatcher's view of it already
            self.service.after_change()
        self._say(f"{r.item.agent} for {r.item.key}: {reason}" + (f" (exit {code})" if code is not None else ""))

    def _say(self, text: str) -> None:
        if self.log is not None:
            self.log.write(text + "\n")
            self.log.flush()


def _spent(launch: Launch | None) -> bool:
    """Whether an item's launches are over: done, or tried as often as allowed."""
    return launch is not None and (launch.reason == "done" or launch.attempt >= MAX_ATTEMPTS)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the agent's process group, SIGKILL after five seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def run_dispatch(service: Service, template: str, max_running: int, timeout: float | None, poll: float,
                 until_idle: bool, log: TextIO | None, stopped: Callable[[], bool]) -> int:
    """The standalone dispatcher: steps until stopped (or, with ``until_idle``, until nothing is left)."""
    dispatcher = Dispatcher(service, template, max_running, timeout, log)
    try:
        while not stopped():
            service.tick()
            dispatcher.step()
            if until_idle and dispatcher.idle():
                return 0
            time.sleep(poll)
        return 0
    finally:
        dispatcher.stop()
