"""Benchmark of the cost of a command as an organisation and its history grow.

Families of rows, measured side by side in one run (``FAMILIES``; another family is a function
added there):

- **floor**: a fresh ``python -c pass`` and ``orchdsl --help``, the least any command costs;
- **cli**: ``orchdsl run move``, ``status`` and ``assign`` as an agent runs them, one process per
  command, in run directories of 10, 1,000, 10,000 and 100,000 tasks (``build_run``); the
  sizes take turns in every round, so that a change in the machine's load touches all alike;
- **replay**: folding a log of assigned tasks (every ``task_created`` followed by its
  ``task_assigned`` and ``task_moved``) of 10,000, 100,000 and 1,000,000 events: the fold alone,
  an engine opening the SQLite log with no snapshot, and one opening it on a snapshot;
- **memory**: the memory the state holds per open task and per assigned task;
- **mcp**: the same calls as tools of a warm MCP server, in copies of the run directories: through
  the ``mcp`` SDK's client over stdio and through the server's in-process handler, beside the
  floor of a tool call (``clock_show``);
- **serve**: a real ``orchdsl run serve`` on the wall clock firing SLA warnings by itself, the
  delay from each due time to its event in the log.

With ``--compare NAME=DIR`` (``DIR`` the ``bin`` folder of another installation, e.g. of the
main branch before a change), the cli rows run that installation's ``orchdsl`` too, on copies of
the same directories up to 10,000 tasks, in the same rounds, and the replay (up to 100,000
events) and memory rows are measured by this script in that installation's interpreter: the
figures before and after a change come from one run on one machine.

The run directories (``build_run``) hold the V2 organisation on a virtual clock: every task is
a tier-1 instruction of one tactical task; all but the last few are taken to COMPLETED through
the whole tier-1 path (assign, IN_PROGRESS, the validation gate, COMPLETED), one simulated
minute each, so the history grows with the size; the last ones stay open (``OPEN`` in
progress, as many as the V2 capacity holds, and ``PENDING`` waiting for assignment), so the
work in progress does not. Each directory is built in batches through the engine, fully
projected and snapshotted once, and the commands measured then run on it as agents run them.

    .venv/bin/python bench/commands_bench.py            # the full run (about 10 minutes)
    .venv/bin/python bench/commands_bench.py --quick    # small sizes, a smoke run
    .venv/bin/python bench/commands_bench.py --readme   # also write the figures into bench/README.md
    .venv/bin/python bench/commands_bench.py --compare before=/tmp/main/.venv/bin

Every command row records the wall time and the CPU time of the process (the latter moves less
when other work shares the machine). Prints a Markdown report and writes
``bench/results/commands_latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from orchdsl_runtime import HUMAN, Engine, MemoryStore, SQLiteStore, VirtualClock, load_model
from orchdsl_runtime.contract.events import Event
from orchdsl_runtime.model import Model
from orchdsl_runtime.rundir import Run
from orchdsl_runtime.state import OrgState
from runtime_bench import Row as TimedRow
from runtime_bench import loadavg, machine_info

ROOT = Path(__file__).resolve().parent.parent
V2 = ROOT / "specs" / "orchestration_v2.orch"
RESULTS = ROOT / "bench" / "results"
README = ROOT / "bench" / "README.md"
BIN = Path(sys.executable).parent
START = 1736154000.0  # 2025-01-06T09:00:00Z
DOMAINS = {  # domain -> (the skill its tasks need, its members)
    "backend": ("python", ("backend-developer-1", "backend-developer-2", "senior-developer")),
    "frontend": ("react", ("frontend-developer-1", "frontend-developer-2", "ux-designer")),
    "qa": ("python", ("qa-engineer-1", "qa-engineer-2")),
    "devops": ("docker", ("devops-engineer", "sysadmin")),
    "data": ("sql", ("dba", "data-analyst")),
}
OPEN = 60
"""tasks in progress at most: the V2 ICs' capacity holds about this many tasks of 2 h"""
PENDING = 100
"""tasks waiting for assignment at most"""


@dataclass(frozen=True)
class Sizes:
    tasks: tuple[int, ...]
    rounds: int
    replay_events: tuple[int, ...]
    replay_rounds: int
    memory_tasks: int


FULL = Sizes(tasks=(10, 1_000, 10_000, 100_000), rounds=7, replay_events=(10_000, 100_000, 1_000_000),
             replay_rounds=3, memory_tasks=20_000)
QUICK = Sizes(tasks=(10, 1_000), rounds=2, replay_events=(10_000,), replay_rounds=1, memory_tasks=2_000)


@dataclass
class Row(TimedRow):
    """A row of a family: its times (seconds per run; memory rows: bytes per task), the CPU time
    of each run of a command, and at what size, of which installation."""

    family: str = ""
    size: int | None = None
    variant: str = ""
    """the installation measured ("" for this checkout, else the name given to ``--compare``)"""
    cpu: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"family": self.family, "key": self.key, "label": self.label, "unit": self.unit, "size": self.size,
                "variant": self.variant, "values": self.times, "cpu": self.cpu, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        return cls(d["key"], d["label"], d["unit"], 1, list(d["values"]), d["note"], d["family"], d["size"],
                   d["variant"], list(d["cpu"]))


@dataclass
class Bench:
    sizes: Sizes
    work: Path
    log: Callable[[str], None]
    orchdsl: Path = BIN / "orchdsl"
    compiled: Path | None = None
    compare: dict[str, Path] = field(default_factory=dict)
    """another installation's name -> its bin folder"""
    compare_tasks: int = 10_000
    """the largest run directory the other installations run commands on"""
    compare_events: int = 100_000
    """the largest log the other installations replay"""
    max_events: int | None = None
    """the largest log this run replays (None: every size)"""
    mcp_rounds: int = 30
    """calls of each tool per size (``assign``: at most one per task left pending)"""
    fires: int = 10
    """deadlines ``serve`` fires"""
    built: dict[int, Built] = field(default_factory=dict)
    """the run directories of each size, built once"""
    mcp_copies: dict[int, Built] = field(default_factory=dict)
    """a copy of each, made before any command ran on it, for the tool calls"""

    def run_of(self, n: int) -> Built:
        """The run directory of ``n`` tasks (built on first use, with its copy for the tool calls)."""
        if n not in self.built:
            self.log(f"building a run directory of {n:,} tasks")
            built = build_run(self.work / f"run-{n}", self.model_json(), n)
            self.log(f"  {built.events:,} events, {built.files:,} files, built in {built.seconds:.1f} s")
            copy = self.work / f"run-{n}-mcp"
            shutil.copytree(built.directory, copy, symlinks=True)
            self.built[n], self.mcp_copies[n] = built, Built(**{**built.__dict__, "directory": copy})
        return self.built[n]

    def model_json(self) -> Path:
        """The V2 organisation compiled once (model.json, schemas, Agent_Memory)."""
        if self.compiled is None:
            self.compiled = self.work / "compiled"
            subprocess.run([str(self.orchdsl), "compile", str(V2), "-o", str(self.compiled)], check=True,
                           capture_output=True)
        return self.compiled / "model.json"


# -- the run directories ----------------------------------------------------------------------


@dataclass
class Built:
    """A run directory of ``tasks`` tasks and what the commands measured act on."""

    directory: Path
    tasks: int
    events: int
    files: int
    seconds: float
    moving: tuple[str, str]
    """an IN_PROGRESS task and its assignee"""
    pending: list[tuple[str, str]]
    """PENDING tasks and the lead who assigns each"""


def build_run(directory: Path, model_json: Path, n: int, batch: int = 2_000) -> Built:
    """A run directory of ``n`` tier-1 tasks: all but the last few COMPLETED, ``min(OPEN, ...)``
    IN_PROGRESS and ``min(PENDING, ...)`` PENDING; projected in full and snapshotted."""
    start = time.perf_counter()
    pending_n = min(PENDING, max(8, n // 10))
    open_n = min(OPEN, max(2, (n - pending_n) * 3 // 10))
    done_n = n - pending_n - open_n
    run = Run.init(directory, model_json, START)
    engine, clock = run.engine, run.engine.clock
    assert isinstance(clock, VirtualClock)
    domains = list(DOMAINS)
    moving: tuple[str, str] = ("", "")
    pending: list[tuple[str, str]] = []
    try:
        for first in range(0, n, batch):
            with engine.batch():
                for i in range(first, min(n, first + batch)):
                    domain = domains[i % len(domains)]
                    skill, members = DOMAINS[domain]
                    agent, lead = members[(i // len(domains)) % len(members)], f"{domain}-lead"
                    ins = engine.submit_instruction(HUMAN, f"request {i}", 1)
                    task = engine.create_task("executor", ins, "tactical", domain, f"task {i}",
                                              required_skills=[skill], estimate_hours=2.0)
                    if i >= done_n + open_n:
                        pending.append((task, lead))
                        continue
                    engine.assign(lead, task, agent)
                    engine.move(agent, task, "IN_PROGRESS")
                    if i >= done_n:
                        moving = (task, agent)
                        continue
                    engine.decide_gate("validator", task, "validation", "PASS",
                                       measures={"test_coverage": 0.9, "tests_pass": 1})
                    engine.move(agent, task, "COMPLETED", attest=["all_acceptance_criteria_met"])
                    clock.advance(60.0)
        run.project(full=True)
        engine.ctx.checkpoint(every=0)
        events = run.store.last_seq()
    finally:
        run.close()
    files = sum(1 for _ in (directory / "Agent_Memory").rglob("*.yaml"))
    return Built(directory, n, events, files, time.perf_counter() - start, moving, pending)


# -- the families --------------------------------------------------------------------------


def _timed(argv: Sequence[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(list(argv), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


COMMANDS = (("move", "`orchdsl run move`"), ("status", "`orchdsl run status`"), ("assign", "`orchdsl run assign`"))


def floor_and_cli(bench: Bench) -> list[Row]:
    """Fresh processes: the floor, then ``move``, ``status`` and ``assign`` at every size (and with
    every installation compared), the sizes and commands taking turns in every round (one
    unmeasured round first)."""
    runs: list[tuple[str, Path, Built]] = []
    for n in bench.sizes.tasks:
        built = bench.run_of(n)
        runs.append(("", bench.orchdsl, built))
        if n <= bench.compare_tasks:
            for name, bin_dir in bench.compare.items():
                copy = bench.work / f"run-{n}-{name}"
                shutil.copytree(built.directory, copy, symlinks=True)
                runs.append((name, bin_dir / "orchdsl", Built(**{**built.__dict__, "directory": copy})))
    py = str(BIN / "python")
    floor = [Row("python", "`python -c pass`", "process", 1, family="floor"),
             Row("help", "`orchdsl --help`", "process", 1, family="floor")]
    floor_argv = [[py, "-c", "pass"], [str(bench.orchdsl), "--help"]]
    rows: dict[tuple[str, str, int], Row] = {}
    for variant, _, b in runs:
        note = f"{b.events:,} events, {b.files:,} files"
        for key, label in COMMANDS:
            rows[(variant, key, b.tasks)] = Row(key, label, "command", 1, note=note, family="cli", size=b.tasks,
                                                variant=variant)
    for r in range(bench.sizes.rounds + 1):
        bench.log(f"commands: round {r + 1} of {bench.sizes.rounds + 1}")
        for row, argv in zip(floor, floor_argv, strict=True):
            wall, cpu = _timed(argv)
            if r:
                row.times.append(wall)
                row.cpu.append(cpu)
        for variant, orch, b in runs:
            d = ["--dir", str(b.directory)]
            task, agent = b.moving
            target = "BLOCKED" if r % 2 == 0 else "IN_PROGRESS"
            pend, lead = b.pending[r]
            for key, argv in (("move", [str(orch), "run", "move", task, target, "--as", agent, *d]),
                              ("status", [str(orch), "run", "status", *d]),
                              ("assign", [str(orch), "run", "assign", pend, "--as", lead, *d])):
                wall, cpu = _timed(argv)
                if r:
                    rows[(variant, key, b.tasks)].times.append(wall)
                    rows[(variant, key, b.tasks)].cpu.append(cpu)
    return [*floor, *rows.values()]


def mcp_calls(bench: Bench) -> list[Row]:
    """The same calls as tools of a warm MCP server, in the copies of the run directories: through
    the ``mcp`` SDK's own client over stdio (one ``orchdsl run mcp --as AGENT`` process per agent,
    started and called once before measuring), and through the server's in-process handler
    (``Service.call``, what each tool call runs after the protocol)."""
    rows: list[Row] = []
    for n in bench.sizes.tasks:
        bench.run_of(n)
        b = bench.mcp_copies[n]
        bench.log(f"MCP tool calls at {n:,} tasks")
        sdk = {key: Row(key, f"`{key}` through the SDK client (stdio)", "call", 1, note="", family="mcp", size=n,
                        variant="stdio") for key, _ in COMMANDS}
        sdk["ping"] = Row("ping", "`clock_show` through the SDK client (stdio): the floor of a tool call", "call", 1,
                          note="", family="mcp", size=n, variant="stdio")
        anyio.run(_stdio_calls, bench, b, sdk)
        local = {key: Row(key, f"`{key}` in-process (`Service.call`)", "call", 1, note="", family="mcp", size=n,
                          variant="handler") for key, _ in COMMANDS}
        _handler_calls(bench, b, local)
        rows += [r for r in (*sdk.values(), *local.values()) if r.times]
    return rows


async def _stdio_calls(bench: Bench, b: Built, rows: dict[str, Row]) -> None:
    from contextlib import AsyncExitStack

    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    async with AsyncExitStack() as stack:
        clients: dict[str, Any] = {}
        task, agent = b.moving
        for who in {agent, *(lead for _, lead in b.pending)}:
            params = StdioServerParameters(command=str(bench.orchdsl), args=["run", "mcp", "--as", who, "--dir",
                                                                              str(b.directory)])
            clients[who] = await stack.enter_async_context(Client(params))
            await clients[who].call_tool("status", {})  # warm: the state decoded as a call needs it

        async def timed(row: Row | None, who: str, tool: str, args: dict[str, Any]) -> None:
            t = time.perf_counter()
            result = await clients[who].call_tool(tool, args)
            elapsed = time.perf_counter() - t
            if result.is_error:
                raise RuntimeError(f"{tool} {args} as {who}: {result.content[0].text}")
            if row is not None:
                row.times.append(elapsed)

        half = len(b.pending) // 2  # the other half is left to the in-process handler
        for r in range(bench.mcp_rounds + 1):
            keep = r > 0
            await timed(rows["ping"] if keep else None, agent, "clock_show", {})
            await timed(rows["move"] if keep else None, agent, "move",
                        {"task": task, "to": "BLOCKED" if r % 2 == 0 else "IN_PROGRESS"})
            await timed(rows["status"] if keep else None, agent, "status", {})
            if r < max(half, 2):
                pend, lead = b.pending[r]
                await timed(rows["assign"] if keep else None, lead, "assign", {"task": pend})


def _handler_calls(bench: Bench, b: Built, rows: dict[str, Row]) -> None:
    from orchdsl_runtime.service import Service

    task, agent = b.moving
    service = Service(Run.open(b.directory))
    try:
        moving = service.run.engine.state.tasks[task].state
        left = b.pending[max(len(b.pending) // 2, 2):]  # those the SDK client did not assign
        for r in range(bench.mcp_rounds + 1):
            moving = "IN_PROGRESS" if moving == "BLOCKED" else "BLOCKED"
            calls = [("move", agent, {"task": task, "to": moving}), ("status", agent, {})]
            if r < len(left):
                calls.append(("assign", left[r][1], {"task": left[r][0]}))
            for key, who, args in calls:
                t = time.perf_counter()
                out = service.call(who, key, args)
                elapsed = time.perf_counter() - t
                if out.error:
                    raise RuntimeError(f"{key} {args} as {who}: {out.text}")
                if r:
                    rows[key].times.append(elapsed)
    finally:
        service.close()


TIMING = Path(__file__).resolve().parent / "timing.orch"
"""a wall-clock organisation whose first state warns its lead three seconds after a task enters it"""
WARN_AFTER = 3.0
"""seconds from a task's creation to its SLA warning in ``TIMING``"""


def serve_firing(bench: Bench) -> list[Row]:
    """``orchdsl run serve`` on the wall clock firing deadlines by itself: tasks created by the
    command line, each warned ``WARN_AFTER`` seconds later; the delay from each warning's due time
    (its ``at``) to the moment its event is in the log (the log read every 2 ms by this process)."""
    import sqlite3

    directory = bench.work / "serve"
    orch = str(bench.orchdsl)
    subprocess.run([orch, "run", "init", str(TIMING), "--dir", str(directory)], check=True, capture_output=True)
    row = Row("fire", "`orchdsl run serve`: a deadline's event in the log after its due time", "deadline", 1,
              note=f"{bench.fires} SLA warnings, each due {WARN_AFTER:g} s after its task's creation", family="serve")
    proc = subprocess.Popen([orch, "run", "serve", "--dir", str(directory), "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None and "serving timing" in proc.stderr.readline()
        subprocess.run([orch, "run", "submit", "--as", "human", "--tier", "1", "go", "--dir", str(directory)],
                       check=True, capture_output=True)
        seen: dict[int, float] = {}
        done = threading.Event()

        def watch() -> None:  # from before the first task: some fall due while others are created
            db = sqlite3.connect(f"file:{directory / 'events.sqlite'}?mode=ro", uri=True)
            deadline = time.monotonic() + WARN_AFTER + 60
            while len(seen) < bench.fires and time.monotonic() < deadline and not done.is_set():
                now = time.time()
                for seq, at in db.execute("SELECT seq, at FROM events WHERE type = 'sla_warning'"):
                    if seq not in seen:
                        seen[seq] = now - at
                time.sleep(0.002)
            db.close()

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            for i in range(bench.fires):
                subprocess.run([orch, "run", "task", "create", "--as", "lead", "--instruction", "I1", "--domain",
                                "api", "--title", f"t{i}", "--dir", str(directory)], check=True, capture_output=True)
                time.sleep(0.25)
        finally:
            watcher.join(timeout=WARN_AFTER + 65)
            done.set()
        if len(seen) < bench.fires:
            raise RuntimeError(f"serve fired {len(seen)} of {bench.fires} warnings")
        row.times = [seen[seq] for seq in sorted(seen)]  # in the order they fell due
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return [row]


def assigned_log(model: Model, n_events: int) -> list[Event]:
    """A log of at most ``n_events`` events: an instruction, then tasks created, assigned and moved
    to ASSIGNED, each triple the engine's own events for one task with the task id and the agent
    changed (round robin over the backend members)."""
    engine = Engine(model, MemoryStore(), VirtualClock(START))
    engine.submit_instruction(HUMAN, "x", 2, id="I1")
    tid = engine.create_task("backend-lead", "I1", "tactical", "backend", "t", required_skills=["python"],
                             estimate_hours=0.001)
    engine.assign("backend-lead", tid)
    events = engine.events()
    head, (created, assigned, moved) = events[:-3], events[-3:]
    agents = DOMAINS["backend"][1]
    out = list(head)
    i = 0
    while len(out) + 3 <= n_events:
        i += 1
        task = f"TT0.{i}"
        for proto in (created, assigned, moved):
            data = dict(proto.data, task=task)
            if proto is assigned:
                data["agent"] = agents[i % len(agents)]
            out.append(Event(len(out) + 1, proto.type, proto.at + i, proto.actor, data))
    return out


def replay(bench: Bench) -> list[Row]:
    """The fold of a log of assigned tasks, and an engine opening it from SQLite with and
    without a snapshot."""
    model = load_model(bench.model_json())
    rows: list[Row] = []
    for n in bench.sizes.replay_events:
        if bench.max_events is not None and n > bench.max_events:
            continue
        bench.log(f"replay: a log of {n:,} events")
        events = assigned_log(model, n)
        path = bench.work / f"replay-{n}.sqlite"
        path.unlink(missing_ok=True)
        store = SQLiteStore(path)
        store.claim(model.digest)
        for i in range(0, len(events), 50_000):
            store.append(events[i:i + 50_000], i)
        store.close()
        tasks = (len(events) - 1) // 3
        fold, cold, warm = (Row(key, label, "event", len(events), note=f"{tasks:,} tasks assigned",
                                family="replay", size=len(events)) for key, label in (
            ("fold", "fold (`OrgState.apply`), events in memory"),
            ("open", "open the SQLite log, no snapshot (read, decode, fold)"),
            ("snapshot", "open the SQLite log on a snapshot of its last event")))
        for _ in range(bench.sizes.replay_rounds):
            state = OrgState(model)
            gc.collect()
            gc.disable()
            t = time.perf_counter()
            for e in events:
                state.apply(e)
            fold.times.append(time.perf_counter() - t)
            gc.enable()
            del state
            gc.collect()
            t = time.perf_counter()
            engine = Engine(model, SQLiteStore(path), VirtualClock(START))
            cold.times.append(time.perf_counter() - t)
            if not hasattr(engine.ctx, "checkpoint"):  # an installation without snapshots
                continue
            engine.ctx.checkpoint(every=0)
            del engine
            gc.collect()
            t = time.perf_counter()
            engine = Engine(model, SQLiteStore(path), VirtualClock(START))
            warm.times.append(time.perf_counter() - t)
            assert engine.ctx.snapshot_seq == len(events)
            del engine
            SQLiteStore(path).drop_snapshots()
        rows += [r for r in (fold, cold, warm) if r.times]
        del events
        path.unlink()
    return rows


def memory(bench: Bench) -> list[Row]:
    """Bytes the state holds per task, open (created) and assigned (created, assigned and moved
    to ASSIGNED): the growth of traced memory while folding events decoded from their JSON,
    as a process folding the log from SQLite holds them."""
    model = load_model(bench.model_json())
    n = bench.sizes.memory_tasks
    log = assigned_log(model, 3 * n + 1)
    head = log[:1]
    rows = []
    for key, label, kinds in (("open", "per open task", ("task_created",)),
                              ("assigned", "per assigned task", ("task_created", "task_assigned", "task_moved"))):
        texts = [(e.type, e.at, e.actor, json.dumps(e.data)) for e in log[1:] if e.type in kinds]
        state = OrgState(model)
        for e in head:
            state.apply(e)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i, (typ, at, actor, text) in enumerate(texts, start=len(head) + 1):
            state.apply(Event(i, typ, at, actor, json.loads(text)))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        rows.append(Row(key, label, "task", n, [held / n], note=f"{n:,} tasks folded", family="memory", size=n))
        del state
    return rows


Family = Callable[[Bench], list[Row]]
FAMILIES: dict[str, tuple[str, Family]] = {
    "cli": ("command latency, one process per command (includes the floor)", floor_and_cli),
    "replay": ("replay of a log of assigned tasks", replay),
    "memory": ("memory held by the state", memory),
    "mcp": ("tool calls to a warm MCP server", mcp_calls),
    "serve": ("deadlines fired by `orchdsl run serve`", serve_firing),
}
"""the families of rows, in report order: name -> (title, function)"""


# -- the report ------------------------------------------------------------------------------


def _ms(s: float) -> str:
    return f"{s * 1e3:,.0f} ms" if s >= 0.01 else f"{s * 1e3:.1f} ms"


def _s(s: float) -> str:
    return f"{s:,.2f} s" if s < 100 else f"{s:,.0f} s"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _named(label: str, variant: str) -> str:
    return f"{label} ({variant})" if variant else label


def targets(rows: list[Row], sizes: Sizes) -> list[tuple[str, str, bool]]:
    """The targets, measured on this checkout: (what, measured, met)."""
    by = {(r.family, r.key, r.size): r for r in rows if not r.variant}
    out = []
    small, big = sizes.tasks[0], 10_000 if 10_000 in sizes.tasks else sizes.tasks[-1]
    for key, _ in COMMANDS:
        a, b = by.get(("cli", key, small)), by.get(("cli", key, big))
        if a and b:
            ratio = b.median / a.median
            out.append((f"`orchdsl run {key}` at {big:,} tasks within 1.5x of its time at {small:,} tasks",
                        f"median {_ms(b.median)} against {_ms(a.median)}, {ratio:.2f}x (CPU "
                        f"{statistics.median(b.cpu) / statistics.median(a.cpu):.2f}x)", ratio <= 1.5))
    moves = [r for r in rows if r.family == "cli" and r.key == "move" and not r.variant]
    if moves:
        worst = max(moves, key=lambda r: r.median)
        out.append(("`orchdsl run move` under 0.3 s at every size",
                    f"at most {_ms(worst.median)} (median, at {worst.size:,} tasks)", worst.median < 0.3))
    mcp = {(r.variant, r.key, r.size): r for r in rows if r.family == "mcp"}
    for variant, how in (("stdio", "through the SDK client over stdio"), ("handler", "in the server's handler")):
        worst = [r for (v, key, size), r in mcp.items() if v == variant and size == big and key != "ping"]
        if worst:
            top = max(worst, key=lambda r: r.median)
            ping = mcp.get((variant, "ping", big))
            floor = f" (the floor, `clock_show`: {_ms(ping.median)})" if ping else ""
            out.append((f"an MCP tool call on a warm server under 5 ms median at {big:,} tasks, {how}",
                        "medians " + ", ".join(f"`{r.key}` {_ms(r.median)}" for r in worst) + floor,
                        top.median < 0.005))
    for r in rows:
        if r.family == "serve":
            out.append(("`serve` firing a due deadline within 1 s of its due time",
                        f"at most {_ms(max(r.times))} late (median {_ms(r.median)}, {len(r.times)} deadlines)",
                        max(r.times) < 1.0))
    for r in rows:
        if r.family == "replay" and r.key == "open" and not r.variant and r.size and r.size >= 1_000_000:
            out.append((f"{r.size:,} events replayed in under 30 s",
                        f"{_s(r.best)} to open the log with no snapshot (fold alone: "
                        f"{_s(by[('replay', 'fold', r.size)].best)})", r.best < 30))
    return out


def report(result: dict[str, Any]) -> str:
    rows = [Row.from_dict(r) for r in result["rows"]]
    m = result["machine"]
    load = result["loadavg"]
    lines = [f"### Command figures, {result['when'][:16].replace('T', ' ')} UTC", "",
             f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; {m['python']}, SQLite "
             f"{m['versions'].get('sqlite')}; commit {m['commit']}"
             + "".join(f"; `{name}`: {what}" for name, what in result.get("compare", {}).items())
             + f"; load average {' '.join(f'{x:.2f}' for x in load['start'] or [])} before, "
             f"{' '.join(f'{x:.2f}' for x in load['end'] or [])} after"
             + ("; **quick run** (small sizes)" if result["quick"] else ""), ""]
    lines += ["#### targets", ""]
    lines += [f"- {what}: {measured}: **{'met' if ok else 'not met'}**." for what, measured, ok in result["targets"]]
    variants = sorted({r.variant for r in rows if r.family != "mcp"}, key=lambda v: (v != "", v))
    floor = [r for r in rows if r.family == "floor"]
    cli = [r for r in rows if r.family == "cli"]
    if cli:
        sizes = sorted({r.size for r in cli if r.size is not None})
        lines += ["", f"#### one command in a fresh process: median wall time (median CPU time) of {len(cli[0].times)} "
                  "runs", "", "| command | " + " | ".join(f"{s:,} tasks" for s in sizes) + " |",
                  "|---|" + "---:|" * len(sizes)]

        def cell(r: Row) -> str:
            return f"{_ms(r.median)} ({_ms(statistics.median(r.cpu))})"

        for r in floor:
            lines.append(f"| {r.label} | " + " | ".join([cell(r)] * len(sizes)) + " |")
        for variant in variants:
            for key, label in COMMANDS:
                by_size = {r.size: r for r in cli if r.key == key and r.variant == variant}
                if by_size:
                    lines.append(f"| {_named(label, variant)} | "
                                 + " | ".join(cell(by_size[s]) if s in by_size else "" for s in sizes) + " |")
        notes = {r.size: r.note for r in cli if not r.variant}
        lines += ["", "Run directories: " + "; ".join(f"{s:,} tasks: {notes[s]}" for s in sizes if s in notes) + "."]
    mcp = [r for r in rows if r.family == "mcp"]
    if mcp:
        sizes = sorted({r.size for r in mcp if r.size is not None})
        lines += ["", "#### the same calls as tools of a warm MCP server: median (90th percentile) per call", "",
                  "| tool | " + " | ".join(f"{s:,} tasks" for s in sizes) + " |", "|---|" + "---:|" * len(sizes)]
        for variant in ("stdio", "handler"):
            for key in ("ping", *(k for k, _ in COMMANDS)):
                by_size = {r.size: r for r in mcp if r.key == key and r.variant == variant}
                if by_size:
                    label = next(iter(by_size.values())).label
                    lines.append(f"| {label} | " + " | ".join(
                        f"{_ms(by_size[s].median)} ({_ms(_pct(by_size[s].times, 0.9))}, {len(by_size[s].times)} calls)"
                        if s in by_size else "" for s in sizes) + " |")
    fire = [r for r in rows if r.family == "serve"]
    for r in fire:
        lines += ["", "#### deadlines fired by `orchdsl run serve` (a real process on the wall clock)", "",
                  f"{r.note}: the event in the log {_ms(min(r.times))} to {_ms(max(r.times))} after its due "
                  f"time (median {_ms(r.median)}; the log read every 2 ms)."]
    rep = [r for r in rows if r.family == "replay"]
    if rep:
        sizes = sorted({r.size for r in rep if r.size is not None})
        lines += ["", "#### replay of a log of assigned tasks: fastest of "
                  f"{max(len(r.times) for r in rep)} (µs per event)", "",
                  "| | " + " | ".join(f"{s:,} events" for s in sizes) + " |", "|---|" + "---:|" * len(sizes)]
        for variant in variants:
            for key in ("fold", "open", "snapshot"):
                by_size = {r.size: r for r in rep if r.key == key and r.variant == variant}
                if by_size:
                    label = next(iter(by_size.values())).label
                    lines.append(f"| {_named(label, variant)} | " + " | ".join(
                        f"{_s(by_size[s].best)} ({by_size[s].best / s * 1e6:.1f})" if s in by_size else ""
                        for s in sizes) + " |")
    mem = [r for r in rows if r.family == "memory"]
    if mem:
        lines += ["", "#### memory the state holds", "", "| | " + " | ".join(v or "this checkout" for v in variants)
                  + " |", "|---|" + "---:|" * len(variants)]
        for key in ("open", "assigned"):
            by_variant = {r.variant: r for r in mem if r.key == key}
            if by_variant:
                label = next(iter(by_variant.values())).label
                lines.append(f"| {label} | " + " | ".join(
                    f"{by_variant[v].best / 1024:.1f} KB" if v in by_variant else "" for v in variants) + " |")
        lines += ["", f"({mem[0].note}.)"]
    return "\n".join(lines) + "\n"


def write_readme(text: str) -> None:
    begin, end = "<!-- command figures -->", "<!-- /command figures -->"
    readme = README.read_text(encoding="utf-8")
    if begin not in readme:
        raise SystemExit(f"{README}: no `{begin}` marker")
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{begin}\n{text}{end}{tail}", encoding="utf-8")


def compared(bench: Bench, name: str, bin_dir: Path) -> list[Row]:
    """The replay and memory rows of another installation: this script in its interpreter."""
    out = bench.work / f"compare-{name}.json"
    sizes = bench.sizes
    argv = [str(bin_dir / "python"), __file__, "--only", "replay", "--only", "memory", "--out", str(out),
            "--max-events", str(bench.compare_events), "--events", ",".join(map(str, sizes.replay_events)),
            "--replay-rounds", str(sizes.replay_rounds), "--memory-tasks", str(sizes.memory_tasks)]
    bench.log(f"replay and memory with `{name}` ({bin_dir})")
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    rows = [Row.from_dict(r) for r in json.loads(out.read_text())["rows"]]
    for r in rows:
        r.variant = name
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer rounds (a smoke run)")
    parser.add_argument("--only", action="append", choices=list(FAMILIES), help="run only these families")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=BIN_DIR",
                        help="also measure another installation (its bin folder), side by side")
    parser.add_argument("--max-events", type=int, default=None, help="replay logs up to this size only")
    parser.add_argument("--tasks", help="the sizes of the run directories, e.g. 10,1000")
    parser.add_argument("--rounds", type=int, help="rounds of commands")
    parser.add_argument("--events", help="the sizes of the logs replayed, e.g. 10000,100000")
    parser.add_argument("--replay-rounds", type=int, help="rounds of replays")
    parser.add_argument("--memory-tasks", type=int, help="tasks folded to measure memory")
    parser.add_argument("--mcp-rounds", type=int, help="calls of each MCP tool per size")
    parser.add_argument("--fires", type=int, help="deadlines `serve` fires")
    parser.add_argument("--out", type=Path, default=RESULTS / "commands_latest.json", help="the JSON results file")
    parser.add_argument("--readme", action="store_true", help="write the figures into bench/README.md")
    parser.add_argument("--keep", type=Path, default=None, help="build the run directories here and keep them")
    parser.add_argument("--from-json", type=Path, default=None, help="report saved results without measuring")
    args = parser.parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        sizes = QUICK if args.quick else FULL
        sizes = Sizes(
            tasks=tuple(int(x) for x in args.tasks.split(",")) if args.tasks else sizes.tasks,
            rounds=args.rounds or sizes.rounds,
            replay_events=tuple(int(x) for x in args.events.split(",")) if args.events else sizes.replay_events,
            replay_rounds=args.replay_rounds or sizes.replay_rounds,
            memory_tasks=args.memory_tasks or sizes.memory_tasks,
        )
        work = args.keep or Path(tempfile.mkdtemp(prefix="orch-commands-"))
        work.mkdir(parents=True, exist_ok=True)
        compare = dict(item.split("=", 1) for item in args.compare)
        bench = Bench(sizes, work, lambda s: print(f"… {s}", file=sys.stderr, flush=True),
                      compare={k: Path(v) for k, v in compare.items()}, max_events=args.max_events,
                      mcp_rounds=args.mcp_rounds or (5 if args.quick else 30),
                      fires=args.fires or (3 if args.quick else 10))
        info, load = machine_info(), {"start": loadavg()}
        rows: list[Row] = []
        try:
            families = args.only or list(FAMILIES)
            for name in families:
                rows += FAMILIES[name][1](bench)
            if {"replay", "memory"} & set(families):
                for name, bin_dir in bench.compare.items():
                    rows += compared(bench, name, bin_dir)
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
        load["end"] = loadavg()
        what = {}
        for name, bin_dir in bench.compare.items():
            version = subprocess.run([str(bin_dir / "python"), "-c", "import orchdsl_runtime, pathlib; "
                                      "print(pathlib.Path(orchdsl_runtime.__file__).parent)"],
                                     capture_output=True, text=True, check=False).stdout.strip()
            what[name] = f"the installation of `{version}`"
        result = {"quick": args.quick, "sizes": sizes.__dict__, "machine": info, "loadavg": load, "compare": what,
                  "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                  "rows": [r.as_dict() for r in rows], "targets": targets(rows, sizes)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    text = report(result)
    print(text)
    if args.readme:
        write_readme(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
