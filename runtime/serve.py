"""``orchdsl run serve`` and ``orchdsl run mcp``: the runtime as a process that lives.

``serve`` keeps a run's engine in memory on the wall clock: it fires every SLA
warning, escalation, automatic transition, acknowledgement deadline and
standup at its due time (it sleeps until the next one, and looks for what
other writers recorded every ``poll`` seconds), projects after every change,
and with ``--http HOST:PORT`` also serves MCP over streamable HTTP for many
agents at once, each authenticated by its token. SIGTERM or SIGINT stops it
cleanly: the command in progress finishes, nothing recorded is lost, the store
is closed.

``mcp --as AGENT`` serves one agent over standard input and output: what an
agent tool (Claude Code, any MCP client) launches from its configuration.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any, TextIO

import anyio

from .dispatch import Dispatcher, run_dispatch
from .rundir import Run
from .service import Service
from .timefmt import iso
from .views import describe


async def clock_loop(service: Service, stop: anyio.Event, poll: float, out: TextIO | None,
                     dispatcher: Dispatcher | None = None) -> None:
    """Fire what falls due, on time, until ``stop`` is set; with a dispatcher, start agents for
    what waits after each pass."""
    clock = service.run.engine.clock
    while not stop.is_set():
        if dispatcher is not None:
            await anyio.to_thread.run_sync(dispatcher.step)
        before = service.run.store.last_seq()
        fired = await anyio.to_thread.run_sync(service.tick)
        if fired and out is not None:
            for e in service.run.store.read(before):
                out.write(f"{iso(e.at)}  {e.actor or '(clock)':<21} {describe(e)}\n")
            out.flush()
        due = await anyio.to_thread.run_sync(service.next_due)
        wait = poll if due is None else max(0.0, min(poll, due - clock.now()))
        with anyio.move_on_after(wait):
            await stop.wait()


async def serve(run: Run, http: tuple[str, int] | None, poll: float, out: TextIO | None,
                ready: TextIO | None = None, dispatching: dict[str, Any] | None = None) -> None:
    """Serve a run until SIGTERM or SIGINT."""
    service = Service(run)
    stop = anyio.Event()
    url = f"http://{http[0]}:{http[1]}/mcp" if http is not None else None
    dispatcher = _dispatcher(service, dispatching, out, url)
    try:
        service.warm()  # before it says it serves: no first deadline or call waits for an import
        async with anyio.create_task_group() as tg:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                tg.start_soon(_wait_for_signal, signals, stop)
                tg.start_soon(clock_loop, service, stop, poll, out, dispatcher)
                server = None
                if http is not None:
                    server = _http_server(service, *http)
                    tg.start_soon(server.serve)
                if ready is not None:
                    where = f"; MCP at http://{http[0]}:{http[1]}/mcp" if http is not None else ""
                    ready.write(f"serving {run.model.name} from {run.dir} on the "
                                f"{'virtual' if run.virtual else 'wall'} clock{where}\n")
                    ready.flush()
                await stop.wait()
                if server is not None:
                    server.should_exit = True
                tg.cancel_scope.deadline = anyio.current_time() + 10
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        service.close()


def _dispatcher(service: Service, dispatching: dict[str, Any] | None, out: TextIO | None,
                url: str | None) -> Dispatcher | None:
    if dispatching is None:
        return None
    return Dispatcher(service, dispatching["template"], dispatching["max_running"], dispatching["timeout"],
                      None if dispatching["quiet"] else out, url)


def _http_server(service: Service, host: str, port: int) -> Any:
    import uvicorn

    from .mcp_server import http_app
    from .tokens import load

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the serve loop handles SIGTERM and SIGINT for the whole process

    app = http_app(service, load(service.run.dir), host, port)
    return Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))


async def _wait_for_signal(signals: AsyncIterator[int], stop: anyio.Event) -> None:
    async for _ in signals:
        stop.set()
        return


def run_serve(run: Run, http: tuple[str, int] | None, poll: float, quiet: bool,
              dispatching: dict[str, Any] | None = None) -> int:
    anyio.run(serve, run, http, poll, None if quiet else sys.stdout, sys.stderr, dispatching)
    return 0


def run_dispatcher(run: Run, dispatching: dict[str, Any] | None, poll: float, until_idle: bool) -> int:
    """The dispatcher on its own, polling the run until SIGTERM or SIGINT (or, with ``until_idle``,
    until nothing is left to start)."""
    assert dispatching is not None
    service = Service(run)
    stopping: list[int] = []
    previous = {sig: signal.signal(sig, lambda n, f: stopping.append(n)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return run_dispatch(service, dispatching["template"], dispatching["max_running"], dispatching["timeout"],
                            poll, until_idle, None if dispatching["quiet"] else sys.stdout, lambda: bool(stopping))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        service.close()


def run_mcp(run: Run, agent: str) -> int:
    from .mcp_server import serve_stdio

    service = Service(run)
    try:
        anyio.run(serve_stdio, service, agent)
    finally:
        service.close()
    return 0
