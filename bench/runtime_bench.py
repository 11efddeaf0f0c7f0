"""Benchmark of the runtime: transitions, durable commands, assignment, SLA sweeps.

Everything runs in one process on the V2 organisation (``specs/orchestration_v2.orch``,
compiled in memory and loaded with ``orchdsl_runtime.load_model``):

- **transitions**: the engine's ``move`` on a legal cycle (``IN_PROGRESS -> BLOCKED ->
  IN_PROGRESS`` by the assignee, over many tier-2 tasks) with a ``MemoryStore`` and with a
  ``SQLiteStore`` (one commit per command), next to the same bare lifecycle (the V2 states and
  transitions, no guards, no actors, no SLAs, one state object per task) in ``transitions``
  (pytransitions) and ``statemachine`` (python-statemachine), and a plain dict lookup as the
  floor. Only moves are counted;
- **full lifecycle**: tier-2 tasks taken from creation to ``COMPLETED`` through every command
  the path needs (assign, moves with attestations, three gate decisions), commands per second;
- **batched writes**: the same moves on ``SQLiteStore`` inside ``Engine.batch()`` (one
  transaction per round of moves), and ``SQLiteStore.append`` of many events in one
  transaction on its own, measured with the events of the in-memory run;
- **assignment** of 1,000 tasks over 1,000 ICs with ``score_matrix`` (candidates cloned from the
  V2 members, tasks needing the V2 domains' skills), the module's own random
  ``bench_assignment``, and ``Engine.assign`` per task (there is no batch path in the engine);
- **SLA**: 100,000 open tasks created through ``create_task`` in a memory store; the engine is
  rebuilt by replaying those events, then ``advance`` moves the virtual clock by one second
  (nothing due) and past the tier-2 ``PENDING`` warning (every task fires one
  ``sla_warning``); and ``timers.bench_sweep`` (push 100,000 timers in one batch, sweep them all).

Every measurement is warmed up, then repeated; the best and the median are reported.
numpy runs on one thread (``OPENBLAS_NUM_THREADS=1``, ``OMP_NUM_THREADS=1``, set before
numpy is imported). Prints a Markdown report and writes ``bench/results/runtime_latest.json``.

    .venv/bin/python bench/runtime_bench.py            # full sizes
    .venv/bin/python bench/runtime_bench.py --quick    # small sizes, fewer repetitions
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime as dt  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from orchdsl_runtime import HUMAN, Engine, MemoryStore, Model, SQLiteStore, VirtualClock, load_model  # noqa: E402
from orchdsl_runtime.assignment import TaskNeeds, bench_assignment, score_matrix  # noqa: E402
from orchdsl_runtime.contract.events import Event  # noqa: E402
from orchdsl_runtime.timers import bench_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
V2 = ROOT / "specs" / "orchestration_v2.orch"
RESULTS = ROOT / "bench" / "results"

PYTRANSITIONS_REFERENCE = 95_000.0
"""transitions per second of pytransitions on this machine, as the targets state it"""


@dataclass(frozen=True)
class Sizes:
    cycle_tasks: int
    cycle_rounds: int
    sqlite_tasks: int
    sqlite_rounds: int
    lifecycle_tasks: int
    batch_events: int
    assign_tasks: int
    assign_ics: int
    engine_assign_tasks: int
    sla_tasks: int
    repeat: int
    sla_repeat: int


FULL = Sizes(
    cycle_tasks=1_000, cycle_rounds=25, sqlite_tasks=200, sqlite_rounds=10, lifecycle_tasks=1_000,
    batch_events=1_000, assign_tasks=1_000, assign_ics=1_000, engine_assign_tasks=1_000, sla_tasks=100_000,
    repeat=7, sla_repeat=3,
)
QUICK = Sizes(
    cycle_tasks=50, cycle_rounds=2, sqlite_tasks=10, sqlite_rounds=2, lifecycle_tasks=20,
    batch_events=100, assign_tasks=50, assign_ics=50, engine_assign_tasks=20, sla_tasks=500,
    repeat=2, sla_repeat=1,
)

Setup = Callable[[], Any]
Run = Callable[[Any], int]


@dataclass
class Row:
    key: str
    label: str
    unit: str
    ops: int
    times: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "unit": self.unit, "ops": self.ops,
            "seconds": self.times, "best_s": self.best, "median_s": self.median,
            "ops_per_s_best": self.ops / self.best if self.best > 0 else None,
            "ops_per_s_median": self.ops / self.median if self.median > 0 else None,
            "us_per_op_best": self.best / self.ops * 1e6 if self.ops else None,
            "us_per_op_median": self.median / self.ops * 1e6 if self.ops else None,
            "note": self.note,
        }


def measure(key: str, label: str, unit: str, setup: Setup, run: Run, repeat: int, warmup: int = 1,
            note: str = "") -> Row:
    """Time ``run(setup())`` (setup not timed) ``warmup + repeat`` times; keeps the last
    ``repeat``. ``run`` returns the number of operations it did, the same every time."""
    row = Row(key, label, unit, 0, note=note)
    for i in range(warmup + repeat):
        arg = setup()
        gc.collect()
        start = time.perf_counter()
        ops = run(arg)
        seconds = time.perf_counter() - start
        if i >= warmup:
            row.times.append(seconds)
            row.ops = ops
        del arg
    return row


# -- the model -------------------------------------------------------------------------


_COMPILE = """
import sys
from pathlib import Path
from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_files
result = check_files([Path(sys.argv[1])])
if result.model is None or not result.ok:
    sys.exit("does not check: " + "; ".join(d.message for d in result.diagnostics))
sys.stdout.write(compiled_json(result.model))
"""


def v2_data() -> dict[str, Any]:
    """The compiled V2 model as data. The compiler runs in a child process, so that this
    process holds what a runtime process holds (the collector scans every live object)."""
    proc = subprocess.run([sys.executable, "-c", _COMPILE, str(V2)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{V2}: {proc.stderr.strip()}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def lifecycle_edges(data: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """The V2 lifecycle as (states, (source, target) transitions, terminal states)."""
    states = data["lifecycle"]["states"]
    names = [s["name"] for s in states]
    edges = [(t["source"], t["target"]) for s in states for t in s["transitions"]]
    terminal = [s["name"] for s in states if s["terminal"] is not None]
    return names, edges, terminal


# -- engine workloads ------------------------------------------------------------------

BACKEND = ("backend-developer-1", "backend-developer-2", "senior-developer")


def engine_in_progress(model: Model, n_tasks: int, store: Any = None) -> tuple[Engine, list[tuple[str, str]]]:
    """An engine with ``n_tasks`` tier-2 backend tasks in IN_PROGRESS, as (assignee, task)."""
    engine = Engine(model, store if store is not None else MemoryStore(), VirtualClock(0.0))
    ins = engine.submit_instruction(HUMAN, "benchmark", tier=2)
    pairs = []
    for k in range(n_tasks):
        tid = engine.create_task("planner", ins, "tactical", "backend", f"task {k}", required_skills=["python"])
        agent = BACKEND[k % len(BACKEND)]
        engine.assign("backend-lead", tid, agent)
        engine.move(agent, tid, "IN_PROGRESS")
        pairs.append((agent, tid))
    return engine, pairs


def cycle_engine(rounds: int, batched: bool = False) -> Run:
    """Every task to BLOCKED and back, ``rounds`` times; with ``batched``, each round (both moves
    of every task) in one ``Engine.batch()``."""

    def run(arg: tuple[Engine, list[tuple[str, str]]]) -> int:
        engine, pairs = arg
        move = engine.move
        for _ in range(rounds):
            with engine.batch() if batched else contextlib.nullcontext():
                for agent, tid in pairs:
                    move(agent, tid, "BLOCKED")
                for agent, tid in pairs:
                    move(agent, tid, "IN_PROGRESS")
        return 2 * rounds * len(pairs)

    return run


def full_lifecycle(model: Model, n_tasks: int) -> tuple[Setup, Run]:
    """Tier-2 backend tasks from creation to COMPLETED: 9 commands each."""

    def setup() -> tuple[Engine, str]:
        engine = Engine(model, MemoryStore(), VirtualClock(0.0))
        return engine, engine.submit_instruction(HUMAN, "benchmark", tier=2)

    def run(arg: tuple[Engine, str]) -> int:
        engine, ins = arg
        commands = 0
        tid = ""
        for k in range(n_tasks):
            agent = BACKEND[k % len(BACKEND)]
            peer = BACKEND[(k + 1) % len(BACKEND)]
            tid = engine.create_task("planner", ins, "tactical", "backend", f"task {k}", required_skills=["python"])
            engine.assign("backend-lead", tid, agent)
            engine.move(agent, tid, "IN_PROGRESS")
            engine.move(agent, tid, "UNDER_REVIEW", attest=["basic_quality_check"])
            engine.decide_gate(peer, tid, "peer_review", "approved")
            engine.move(peer, tid, "DOMAIN_REVIEW")
            engine.decide_gate("backend-lead", tid, "domain_review", "approved")
            engine.decide_gate("validator", tid, "validation", "PASS", measures={"test_coverage": 0.9})
            engine.move("backend-lead", tid, "COMPLETED", attest=["all_acceptance_criteria_met"])
            commands += 9
        assert engine.task(tid)["state"] == "COMPLETED"
        return commands

    return setup, run


# -- the same lifecycle in other libraries ----------------------------------------------


class Plain:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def dict_floor(edges: Sequence[tuple[str, str]], n_tasks: int, rounds: int) -> tuple[Setup, Run]:
    allowed: dict[str, set[str]] = {}
    for s, t in edges:
        allowed.setdefault(s, set()).add(t)

    def setup() -> list[Plain]:
        return [Plain("IN_PROGRESS") for _ in range(n_tasks)]

    def move(task: Plain, target: str) -> None:
        if target not in allowed[task.state]:
            raise ValueError(f"{task.state} -> {target}")
        task.state = target

    def run(tasks: list[Plain]) -> int:
        for _ in range(rounds):
            for t in tasks:
                move(t, "BLOCKED")
            for t in tasks:
                move(t, "IN_PROGRESS")
        return 2 * rounds * len(tasks)

    return setup, run


def pytransitions_cycle(states: list[str], edges: Sequence[tuple[str, str]], n_tasks: int,
                        rounds: int) -> tuple[Setup, Run]:
    from transitions import Machine

    spec = [{"trigger": f"go_{t}", "source": s, "dest": t} for s, t in edges]

    def setup() -> list[Any]:
        tasks = [_Model() for _ in range(n_tasks)]
        Machine(model=tasks, states=states, transitions=spec, initial="IN_PROGRESS", auto_transitions=False)
        return tasks

    def run(tasks: list[Any]) -> int:
        for _ in range(rounds):
            for t in tasks:
                t.go_BLOCKED()
            for t in tasks:
                t.go_IN_PROGRESS()
        assert tasks[0].state == "IN_PROGRESS"
        return 2 * rounds * len(tasks)

    return setup, run


class _Model:
    """A bare model object for pytransitions (it sets ``state`` and trigger methods)."""


def statemachine_cycle(states: list[str], edges: Sequence[tuple[str, str]], terminal: list[str],
                       n_tasks: int, rounds: int) -> tuple[Setup, Run]:
    from statemachine import State, StateMachine

    objs = {name: State(name, value=name, initial=(i == 0), final=name in terminal) for i, name in enumerate(states)}
    attrs: dict[str, Any] = dict(objs)
    by_target: dict[str, Any] = {}
    for s, t in edges:
        tr = objs[s].to(objs[t])
        by_target[t] = tr if t not in by_target else by_target[t] | tr
    for t, trs in by_target.items():
        attrs[f"go_{t}"] = trs
    lifecycle = type("Lifecycle", (StateMachine,), attrs)

    def setup() -> list[Any]:
        machines = []
        for _ in range(n_tasks):
            sm = lifecycle()
            sm.send("go_ASSIGNED")
            sm.send("go_IN_PROGRESS")
            machines.append(sm)
        return machines

    def run(machines: list[Any]) -> int:
        for _ in range(rounds):
            for sm in machines:
                sm.go_BLOCKED()
            for sm in machines:
                sm.go_IN_PROGRESS()
        assert machines[0].current_state_value == "IN_PROGRESS"
        return 2 * rounds * len(machines)

    return setup, run


# -- assignment --------------------------------------------------------------------------


def realistic_assignment(model: Model, data: dict[str, Any], n_tasks: int, n_ics: int,
                         seed: int = 0) -> tuple[list[TaskNeeds], list[Any]]:
    """ICs cloned from the V2 members (ids made unique, commitments drawn at random) and
    tasks needing one to three skills of a V2 domain's needs plus one nice-to-have skill."""
    rng = random.Random(seed)
    members = sorted(model.candidates.values(), key=lambda c: c.agent)
    candidates = [
        replace(members[i % len(members)], agent=f"{members[i % len(members)].agent}-{i:04d}",
                committed_hours=rng.uniform(0.0, 24.0))
        for i in range(n_ics)
    ]
    needs = [list(d["needs"]) for d in data["domains"] if d.get("needs")]
    skills = sorted(model.skills)
    tasks = []
    for _ in range(n_tasks):
        pool = rng.choice(needs)
        tasks.append(TaskNeeds(
            required=tuple(rng.sample(pool, rng.randint(1, min(3, len(pool))))),
            nice=(rng.choice(skills),),
            complexity=rng.choice(["simple", "moderate", "high"]),
            estimate_hours=rng.choice([2.0, 4.0, 8.0]),
        ))
    return tasks, candidates


def engine_assign(model: Model, n_tasks: int) -> tuple[Setup, Run]:
    """``Engine.assign`` without an agent (automatic scoring), one command per task, tier-2
    tasks spread over the V2 domains (two to three members each)."""
    domains = sorted(model.domain_members)

    def setup() -> tuple[Engine, list[tuple[str, str]]]:
        engine = Engine(model, MemoryStore(), VirtualClock(0.0))
        ins = engine.submit_instruction(HUMAN, "benchmark", tier=2)
        out = []
        for k in range(n_tasks):
            domain = domains[k % len(domains)]
            tid = engine.create_task("planner", ins, "tactical", domain, f"task {k}")
            lead = next(a for a, info in model.agents.items()
                        if info.role == model.domain_lead_role.get(domain))
            out.append((lead, tid))
        return engine, out

    def run(arg: tuple[Engine, list[tuple[str, str]]]) -> int:
        engine, pairs = arg
        for lead, tid in pairs:
            engine.assign(lead, tid)
        return len(pairs)

    return setup, run


# -- SLA -----------------------------------------------------------------------------------


def sla_events(model: Model, n_tasks: int) -> tuple[list[Event], float]:
    """The events of ``n_tasks`` tier-2 tasks created through ``create_task`` (all open in
    PENDING, due a warning at 4 h), and the seconds the creation took."""
    engine = Engine(model, MemoryStore(), VirtualClock(0.0))
    domains = sorted(model.domain_members)
    start = time.perf_counter()
    ins = engine.submit_instruction(HUMAN, "benchmark", tier=2)
    for k in range(n_tasks):
        engine.create_task("planner", ins, "tactical", domains[k % len(domains)], f"task {k}")
    seconds = time.perf_counter() - start
    return engine.events(), seconds


def replayed(model: Model, events: list[Event]) -> Engine:
    store = MemoryStore()
    engine = Engine(model, store, VirtualClock(0.0))
    store.append(list(events), 0)
    engine.refresh()
    return engine


def pending_warn_seconds(data: dict[str, Any]) -> float:
    state = next(s for s in data["lifecycle"]["states"] if s["name"] == "PENDING")
    sla = next(b["budget"]["value"] for b in state["sla"] if 2 in b["tiers"])
    warn = state["warn"]["budget"]
    return float(sla * warn["value"] if warn["kind"] == "multiple" else warn["value"])


# -- environment ------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = round(int(line.split()[1]) / 1024 / 1024, 1)
    versions: dict[str, str | None] = {}
    for pkg in ("numpy", "transitions", "python-statemachine", "orchdsl"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    import sqlite3

    versions["sqlite"] = sqlite3.sqlite_version
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(), "versions": versions, "commit": git_commit(),
        "threads": {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
    }


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes" if dirty else "")


def loadavg() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except OSError:
        return None


# -- the run ---------------------------------------------------------------------------------


def run_all(sizes: Sizes, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    data = v2_data()
    model = load_model(data)
    states, edges, terminal = lifecycle_edges(data)
    rows: list[Row] = []
    loads: dict[str, list[float] | None] = {"start": loadavg()}
    r = sizes.repeat
    moves = 2 * sizes.cycle_tasks * sizes.cycle_rounds
    cyc = f"{sizes.cycle_tasks} tasks x {sizes.cycle_rounds} rounds of IN_PROGRESS -> BLOCKED -> IN_PROGRESS"

    log("transitions: dict floor")
    rows.append(measure("dict", "plain dict lookup (floor)", "transition",
                        *dict_floor(edges, sizes.cycle_tasks, sizes.cycle_rounds), repeat=r, note=cyc))
    log("transitions: pytransitions")
    rows.append(measure("pytransitions", "pytransitions, bare V2 lifecycle", "transition",
                        *pytransitions_cycle(states, edges, sizes.cycle_tasks, sizes.cycle_rounds),
                        repeat=r, note="one Machine, one model object per task; " + cyc))
    log("transitions: python-statemachine")
    rows.append(measure("statemachine", "python-statemachine, bare V2 lifecycle", "transition",
                        *statemachine_cycle(states, edges, terminal, sizes.cycle_tasks, sizes.cycle_rounds),
                        repeat=r, note="one machine instance per task; " + cyc))
    log("transitions: engine, memory")
    rows.append(measure("engine_memory", "engine `move`, MemoryStore", "transition",
                        lambda: engine_in_progress(model, sizes.cycle_tasks), cycle_engine(sizes.cycle_rounds),
                        repeat=r, note="actor, transition, owner and attest checks, event, fold, timers; " + cyc))
    assert rows[-1].ops == moves

    tmp = tempfile.TemporaryDirectory(prefix="orch-bench-")
    counter = iter(range(1_000_000))

    def sqlite_setup() -> tuple[Engine, list[tuple[str, str]]]:
        return engine_in_progress(model, sizes.sqlite_tasks, SQLiteStore(Path(tmp.name) / f"s{next(counter)}.db"))

    log("transitions: engine, SQLite")
    rows.append(measure("engine_sqlite", "engine `move`, SQLiteStore, one commit per command", "command",
                        sqlite_setup, cycle_engine(sizes.sqlite_rounds), repeat=r,
                        note=f"WAL, synchronous=NORMAL; {sizes.sqlite_tasks} tasks x {sizes.sqlite_rounds} rounds"))

    rows.append(measure("engine_sqlite_batched", "engine `move`, SQLiteStore, batched", "transition",
                        sqlite_setup, cycle_engine(sizes.sqlite_rounds, batched=True), repeat=r,
                        note=f"one Engine.batch() per round: {2 * sizes.sqlite_tasks} moves per transaction; "
                        f"{sizes.sqlite_tasks} tasks x {sizes.sqlite_rounds} rounds"))

    def sqlite_full_setup() -> tuple[Engine, list[tuple[str, str]]]:
        store = SQLiteStore(Path(tmp.name) / f"f{next(counter)}.db")
        store._db.execute("PRAGMA synchronous=FULL")  # what the store would pay to fsync every commit
        return engine_in_progress(model, sizes.sqlite_tasks, store)

    rows.append(measure("engine_sqlite_full", "engine `move`, SQLiteStore with synchronous=FULL", "command",
                        sqlite_full_setup, cycle_engine(sizes.sqlite_rounds), repeat=r,
                        note="the benchmark sets the pragma on the store's connection: an fsync per commit"))

    log("full lifecycle")
    rows.append(measure("lifecycle_memory", "full tier-2 lifecycle, MemoryStore", "command",
                        *full_lifecycle(model, sizes.lifecycle_tasks), repeat=r,
                        note=f"{sizes.lifecycle_tasks} tasks x 9 commands: create, assign, 4 moves, 3 gates"))

    log("batched append")
    engine, _ = engine_in_progress(model, sizes.cycle_tasks)
    cycle_engine(1)((engine, _))
    recorded = engine.events()[-sizes.batch_events:]

    def batch_setup() -> SQLiteStore:
        store = SQLiteStore(Path(tmp.name) / f"b{next(counter)}.db")
        store.claim(model.digest)
        return store

    def batch_run(store: SQLiteStore) -> int:
        events = [Event(i, e.type, e.at, e.actor, e.data) for i, e in enumerate(recorded, 1)]
        store.append(events, 0)
        return len(events)

    rows.append(measure("sqlite_batch_append", "SQLiteStore.append, events in one transaction", "event",
                        batch_setup, batch_run, repeat=r,
                        note=f"the store alone; {len(recorded)} recorded move events in one append"))

    log("assignment")
    tasks, candidates = realistic_assignment(model, data, sizes.assign_tasks, sizes.assign_ics)
    filt = model.assignment_filter

    def matrix_run(_: object) -> int:
        best = score_matrix(tasks, candidates, model.weights, model.fit, model.horizon_days, filt)
        return len(best)

    rows.append(measure("assign_matrix", f"score_matrix, {sizes.assign_tasks} tasks x {sizes.assign_ics} ICs",
                        "task", lambda: None, matrix_run, repeat=r,
                        note="ICs cloned from the V2 members, V2 weights, fit and filter"))

    def random_run(_: object) -> int:
        with contextlib.redirect_stdout(io.StringIO()):
            seconds = bench_assignment(sizes.assign_tasks, sizes.assign_ics)
        random_row.times.append(seconds)
        return sizes.assign_tasks

    random_row = Row("assign_random", f"bench_assignment, {sizes.assign_tasks} x {sizes.assign_ics} random",
                     "task", sizes.assign_tasks, note="40 random skills; timed inside the function (score_matrix only)")
    for i in range(1 + r):
        random_run(None)
        if i == 0:
            random_row.times.clear()
    rows.append(random_row)

    rows.append(measure("assign_engine", "engine `assign` (automatic), one command per task", "command",
                        *engine_assign(model, sizes.engine_assign_tasks), repeat=r,
                        note=f"{sizes.engine_assign_tasks} tasks over the V2 domains (2-3 members each); no batch path"))

    log(f"SLA: creating {sizes.sla_tasks} tasks")
    loads["sla"] = loadavg()
    created, create_seconds = sla_events(model, sizes.sla_tasks)
    create_row = Row("sla_create", f"create_task x {sizes.sla_tasks}, MemoryStore", "command", sizes.sla_tasks + 1,
                     [create_seconds], note="once; the events are then replayed for each repetition")
    rows.append(create_row)
    rows.append(measure("sla_replay", f"replay of {sizes.sla_tasks} open tasks", "event",
                        lambda: None, lambda _: replayed(model, created).state.last_seq, repeat=sizes.sla_repeat))
    warn_at = pending_warn_seconds(data)

    def first_run(engine: Engine) -> int:
        fired = engine.advance(1.0)
        assert not fired
        return sizes.sla_tasks

    def scheduled() -> Engine:
        engine = replayed(model, created)
        engine.advance(1.0)
        return engine

    rows.append(measure("sla_first", f"first advance 1 s after replay, {sizes.sla_tasks} open tasks", "open task",
                        lambda: replayed(model, created), first_run, repeat=sizes.sla_repeat,
                        note="plans every task's deadlines and pushes its timer (lazy after replay); nothing due"))
    rows.append(measure("sla_idle", f"advance 1 s, {sizes.sla_tasks} open tasks scheduled, nothing due",
                        "open task", scheduled, first_run, repeat=sizes.sla_repeat,
                        note="timers already pushed by an untimed advance"))

    def warn_run(engine: Engine) -> int:
        fired = engine.advance(warn_at)
        assert len(fired) == sizes.sla_tasks and all(e.type == "sla_warning" for e in fired), len(fired)
        return sizes.sla_tasks

    rows.append(measure("sla_warn", f"advance past the warning, {sizes.sla_tasks} warnings fired", "open task",
                        scheduled, warn_run, repeat=sizes.sla_repeat,
                        note=f"timers already pushed; every task fires one sla_warning (PENDING at tier 2, "
                        f"{warn_at / 3600:g} h), one event and one inbox message each, all in one append"))

    sweep_row = Row("sla_timer_sweep", f"timers.bench_sweep, {sizes.sla_tasks} timers", "timer", sizes.sla_tasks,
                    note="push_many of all timers, then one pop_due sweeps them")
    for i in range(1 + r):
        with contextlib.redirect_stdout(io.StringIO()):
            seconds = bench_sweep(sizes.sla_tasks)
        if i > 0:
            sweep_row.times.append(seconds)
    rows.append(sweep_row)
    tmp.cleanup()
    loads["end"] = loadavg()
    return {"rows": rows, "loadavg": loads}


def targets(rows: dict[str, Row], sizes: Sizes) -> list[dict[str, Any]]:
    eng = rows["engine_memory"]
    pyt = rows["pytransitions"]
    out = []
    eng_rate, pyt_rate = eng.ops / eng.best, pyt.ops / pyt.best
    out.append({
        "target": "in-memory engine at least 3x pytransitions per transition",
        "measured": f"{eng_rate:,.0f}/s vs {pyt_rate:,.0f}/s measured ({PYTRANSITIONS_REFERENCE:,.0f}/s stated)",
        "ratio": eng_rate / pyt_rate, "need": 3.0, "met": eng_rate >= 3 * pyt_rate,
    })
    sq = rows["engine_sqlite"]
    sq_rate = sq.ops / sq.best
    out.append({"target": "at least 2,000 durable commands/s, one commit each",
                "measured": f"{sq_rate:,.0f}/s", "ratio": sq_rate / 2000, "need": 1.0, "met": sq_rate >= 2000})
    full = rows["engine_sqlite_full"]
    full_rate = full.ops / full.best
    out.append({"target": "the same with synchronous=FULL (an fsync per commit)",
                "measured": f"{full_rate:,.0f}/s", "ratio": full_rate / 2000, "need": 1.0, "met": full_rate >= 2000})
    am = rows["assign_matrix"]
    out.append({"target": f"assignment of {sizes.assign_tasks} tasks over {sizes.assign_ics} ICs under 0.1 s",
                "measured": f"{am.best:.4f} s", "ratio": 0.1 / am.best, "need": 1.0, "met": am.best < 0.1})
    for key in ("sla_idle", "sla_warn", "sla_first", "sla_timer_sweep"):
        s = rows[key]
        out.append({"target": f"SLA sweep over {sizes.sla_tasks} open tasks under 0.2 s ({key})",
                    "measured": f"{s.best:.4f} s", "ratio": 0.2 / s.best, "need": 1.0, "met": s.best < 0.2})
    return out


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def fmt_us(x: float) -> str:
    if x < 0.01:
        return f"{x:.5f}"
    return f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def report(result: dict[str, Any], info: dict[str, Any], sizes: Sizes, quick: bool) -> str:
    rows: list[Row] = result["rows"]
    lines = [
        f"# Runtime benchmark{' (quick)' if quick else ''}",
        "",
        f"- commit {info['commit']}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['python']}",
        "- " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        "- OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1; load average "
        + "; ".join(f"{k} {' '.join(f'{x:.2f}' for x in v)}" for k, v in result["loadavg"].items() if v),
        f"- best and median of {sizes.repeat} runs after a warm-up ({sizes.sla_repeat} for the SLA rows)",
        "",
        "| measurement | ops | best ops/s | median ops/s | best µs/op | median µs/op | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.ops:,} {row.unit}s | {fmt_rate(row.ops / row.best)} | "
            f"{fmt_rate(row.ops / row.median)} | {fmt_us(row.best / row.ops * 1e6)} | "
            f"{fmt_us(row.median / row.ops * 1e6)} | {row.note} |"
        )
    lines += ["", "| measurement | best s | median s |", "|---|---:|---:|"]
    for row in rows:
        if row.key.startswith(("assign_matrix", "assign_random", "sla_")):
            lines.append(f"| {row.label} | {row.best:.6f} | {row.median:.6f} |")
    if quick:
        lines += ["", "The targets are set for the full sizes; at the quick sizes these lines only show the method."]
    lines += ["", "| target | measured | ratio (≥ 1 = met) | met |", "|---|---|---:|---|"]
    for t in result["targets"]:
        ratio = t["ratio"] / t["need"]
        lines.append(f"| {t['target']} | {t['measured']} | {ratio:.2f} | {'yes' if t['met'] else 'no'} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer repetitions")
    parser.add_argument("--out", type=Path, default=RESULTS / "runtime_latest.json", help="the JSON results file")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    info = machine_info()
    result = run_all(sizes, log=lambda s: print(f"… {s}", file=sys.stderr, flush=True))
    by_key = {row.key: row for row in result["rows"]}
    result["targets"] = targets(by_key, sizes)
    text = report(result, info, sizes, args.quick)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "quick": args.quick, "sizes": sizes.__dict__, "machine": info, "loadavg": result["loadavg"],
        "rows": [row.as_dict() for row in result["rows"]], "targets": result["targets"],
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
