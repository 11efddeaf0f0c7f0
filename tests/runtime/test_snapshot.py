"""Snapshots: a state kept in the store loads back equal, decoding only the records a command
uses; a process opened on a snapshot folds only the later events and then behaves exactly as
one that folded the whole log; a snapshot that is damaged, of another format or model, or past
the log is ignored, and one whose records do not decode is dropped; `log --verify` compares the
snapshot with the log."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from orchdsl_runtime import HUMAN, Engine, Model, SQLiteStore, VirtualClock, context, load_model, snapshot
from orchdsl_runtime.cli import main
from orchdsl_runtime.rundir import Run
from runtime_helpers import START, drive, in_progress, new_task

H = 3600.0
DEV1, DEV2, LEAD = "backend-developer-1", "backend-developer-2", "backend-lead"


def encoded(table: dict[str, Any]) -> list[str]:
    """The keys whose records are still encoded."""
    return [k for k in table if isinstance(dict.__getitem__(table, k), str)]


def test_a_snapshot_loads_back_equal_and_decodes_only_what_is_used(compiled_dir: Path, tmp_path: Path) -> None:
    run = Run.init(tmp_path / "run", compiled_dir / "model.json", START)
    try:
        drive(run)  # tasks, handoffs, delegations, consultations, broadcasts, standups, escalations
        state = run.engine.state
        text = snapshot.encode(state)
        loaded = snapshot.decode(run.model, text)
    finally:
        run.close()
    assert sorted(encoded(loaded.tasks)) == sorted(state.tasks)
    assert loaded.tasks["TT1.2"].state == "ASSIGNED"
    assert sorted(encoded(loaded.tasks)) == sorted(set(state.tasks) - {"TT1.2"})
    assert snapshot.encode(loaded) == text  # what is still encoded is written back as it was
    assert loaded.dump() == state.dump()
    assert not encoded(loaded.tasks) and not encoded(loaded.delegations)
    assert snapshot.encode(loaded) == text  # and what was decoded encodes to the same text


def test_the_dispatchers_launches_are_kept(v2: Model) -> None:
    engine = Engine(v2, clock=VirtualClock(START))
    task = in_progress(engine)
    engine.record_launch(f"task:{task}:1", DEV1, "task", task, task)
    engine.record_launch("delegation:D1", "tech-lead", "delegation", "D1")
    engine.record_exit(f"task:{task}:1", 0, "done")
    loaded = snapshot.decode(v2, snapshot.encode(engine.state))
    assert loaded.launches[f"task:{task}:1"].running is False and loaded.launches["delegation:D1"].running
    assert loaded.dump() == engine.state.dump()


def scenario(engine: Engine) -> list[str]:
    """Open deadlines of every kind: SLA thresholds, a heartbeat, an automatic move out of
    BLOCKED, an acknowledgement, a consultation timeout, a domain over capacity, standups."""
    a = in_progress(engine)
    b = in_progress(engine, DEV2, estimate_hours=20.0)
    engine.move(DEV2, b, "BLOCKED")
    c = new_task(engine)
    engine.assign(LEAD, c)
    engine.schedule_standups(HUMAN)
    engine.advance(1 * H)
    engine.heartbeat(DEV1, a, tokens=100, remaining_hours=2)
    ins = engine.submit_instruction(HUMAN, "plan the migration", 3)
    engine.consult("planner", "plan-architecture", "one service or two?", instruction=ins)
    engine.delegate("tech-lead", "backend-lead", "own the rollout", instruction=ins)
    typo = engine.submit_instruction(HUMAN, "fix the typo", 2)
    engine.consult("router", "tier-check", "is the typo tier 1?", instruction=typo)
    return [a, b, c]


def test_a_process_opened_on_a_snapshot_behaves_as_one_that_replayed_the_log(v2: Model, tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    clock = VirtualClock(START)
    live = Engine(v2, SQLiteStore(path), clock)
    tasks = scenario(live)
    assert live.ctx.checkpoint(every=0)
    kept = live.state.last_seq
    live.move(DEV2, tasks[1], "IN_PROGRESS")  # events after the snapshot
    live.advance(30 * 60)
    opened = Engine(v2, SQLiteStore(path), VirtualClock(clock.now()))
    assert opened.ctx.snapshot_seq == kept and opened.state.last_seq == live.state.last_seq
    assert encoded(opened.state.tasks) == [tasks[0], tasks[2]]  # the events after it touched the second
    replayed_store = SQLiteStore(path)
    replayed_store.drop_snapshots()
    replayed = Engine(v2, replayed_store, VirtualClock(clock.now()))
    assert replayed.ctx.snapshot_seq == 0
    assert opened.state.dump() == live.state.dump() == replayed.state.dump()
    # three days on, every deadline fires alike: SLA notices, automatic moves, the consultation's
    # default, the overdue acknowledgement, standups (each engine writes them in turn; the others
    # would find the store ahead, so each runs on its own copy of the log)
    fired = []
    for engine in (live, opened, replayed):
        copy = tmp_path / f"copy-{len(fired)}.db"
        with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        engine.ctx.store = SQLiteStore(copy)
        engine.advance_to(START + 3 * 24 * H)
        fired.append([(e.type, e.at, e.actor, e.data) for e in engine.events(kept)])
        assert engine.state.dump() == live.state.dump()
    assert fired[0] == fired[1] == fired[2]
    types = {t for t, *_ in fired[0]}
    assert {"sla_warning", "sla_escalation", "task_moved", "consultation_timed_out", "delegation_overdue",
            "standup_reported", "heartbeat_missed"} <= types, types


def _kept(path: Path) -> tuple[int, bytes, str]:
    db = sqlite3.connect(path)
    row = db.execute("SELECT seq, data, checksum FROM snapshots").fetchone()
    db.close()
    return int(row[0]), bytes(row[1]), str(row[2])


@pytest.mark.parametrize("damage", ["a flipped byte", "another format", "another model", "past the log",
                                    "a bad header"])
def test_a_snapshot_that_does_not_fit_is_ignored(v2: Model, tmp_path: Path, damage: str) -> None:
    path = tmp_path / "org.db"
    live = Engine(v2, SQLiteStore(path), VirtualClock(START))
    scenario(live)
    live.ctx.checkpoint(every=0)
    seq, data, checksum = _kept(path)
    db = sqlite3.connect(path)
    if damage == "a flipped byte":
        db.execute("UPDATE snapshots SET data = ?", (data[:100] + bytes([data[100] ^ 1]) + data[101:],))
    elif damage == "another format":
        db.execute("UPDATE snapshots SET format = ?", (snapshot.FORMAT + 1,))
    elif damage == "another model":
        db.execute("UPDATE snapshots SET digest = 'another'")
    elif damage == "past the log":
        db.execute("UPDATE snapshots SET seq = ?", (seq + 1,))
    else:
        forged = data.replace(b'"kind_counts":[', b'"kind_counts":[7,', 1)
        assert forged != data
        db.execute("UPDATE snapshots SET data = ?, checksum = ?", (forged, snapshot.checksum(forged)))
    db.commit()
    db.close()
    opened = Engine(v2, SQLiteStore(path), VirtualClock(START))
    assert opened.ctx.snapshot_seq == 0
    assert opened.state.dump() == live.state.dump()


def forge(path: Path, change: Any) -> None:
    """Rewrite the kept snapshot's text with ``change(lines)``, with a checksum that fits."""
    seq, data, _ = _kept(path)
    lines = data.decode().split("\n")
    change(lines)
    text = "\n".join(lines).encode()
    store = SQLiteStore(path)
    store.drop_snapshots()
    store.write_snapshot(snapshot.FORMAT, json.loads(lines[0])["digest"], seq, text, snapshot.checksum(text))
    store.close()


def task_line(lines: list[str], task: str) -> int:
    """Where a task's record is: the tasks come first, their ids on the line after the header."""
    return 2 + lines[1].split("\t").index(task)


def cli(*args: str) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def run_with_snapshot(compiled_dir: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    directory = tmp_path / "run"
    run = Run.init(directory, compiled_dir / "model.json", START)
    try:
        tasks = scenario(run.engine)
        run.project()
        assert run.engine.ctx.checkpoint(every=0)
    finally:
        run.close()
    return directory, tasks


def test_a_record_that_does_not_decode_drops_the_snapshot(compiled_dir: Path, tmp_path: Path) -> None:
    directory, tasks = run_with_snapshot(compiled_dir, tmp_path)

    def bad_tier(lines: list[str]) -> None:
        i = task_line(lines, tasks[2])
        state, row = lines[i].split("\t")
        fields = json.loads(row)
        fields[4] = "two"  # the tier
        lines[i] = "\t".join([state, json.dumps(fields)])

    forge(directory / "events.sqlite", bad_tier)
    code, out, err = cli("log", "--verify", "--dir", str(directory))
    assert code == 1 and f"record `{tasks[2]}` of the snapshot" in out and "does not decode" in out, (out, err)
    code, _, err = cli("show", tasks[2], "--dir", str(directory))
    assert code == 2 and "RUN028" in err and "the snapshot" in err and "is damaged" in err
    assert "run the command again" in err
    store = SQLiteStore(directory / "events.sqlite")
    assert store.read_snapshot(snapshot.FORMAT, load_model(directory / "model.json").digest) is None
    store.close()
    code, out, _ = cli("show", tasks[2], "--dir", str(directory))
    assert code == 0 and tasks[2] in out
    assert cli("log", "--verify", "--dir", str(directory))[0] == 0


def test_verify_compares_the_snapshot_with_the_log(compiled_dir: Path, tmp_path: Path) -> None:
    directory, tasks = run_with_snapshot(compiled_dir, tmp_path)
    assert cli("log", "--verify", "--dir", str(directory))[0] == 0

    def other_title(lines: list[str]) -> None:
        i = task_line(lines, tasks[2])
        state, row = lines[i].split("\t")
        fields = json.loads(row)
        fields[3] = "another title"
        lines[i] = "\t".join([state, json.dumps(fields)])

    forge(directory / "events.sqlite", other_title)
    code, out, _ = cli("log", "--verify", "--dir", str(directory))
    assert code == 1 and "differs from the snapshot at event" in out and "tasks" in out


def test_the_command_line_keeps_a_snapshot_every_so_many_events(compiled_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "SNAPSHOT_EVERY", 8)
    directory = tmp_path / "run"
    Run.init(directory, compiled_dir / "model.json", START).close()

    digest = load_model(directory / "model.json").digest

    def kept() -> int | None:
        store = SQLiteStore(directory / "events.sqlite")
        found = store.read_snapshot(snapshot.FORMAT, digest)
        store.close()
        return found[0] if found else None

    d = ["--dir", str(directory)]
    assert cli("submit", "--as", "human", "--tier", "2", "--id", "I1", "fix", "it", *d)[0] == 0
    for n in range(1, 4):
        assert cli("task", "create", "--as", LEAD, "--instruction", "I1", "--domain", "backend", "--title",
                   f"t{n}", "--skills", "python", *d)[0] == 0
    assert kept() is None  # 4 events
    assert cli("move", "TT0.1", "ASSIGNED", "--as", LEAD, *d)[0] == 1  # refused: no assignee
    assert kept() is None
    for n in range(1, 4):
        assert cli("assign", f"TT0.{n}", "--as", LEAD, *d)[0] == 0
    assert kept() == 8  # kept by the command that reached 8 events (4 + two assignments of two events)
    run = Run.open(directory)
    try:
        assert run.engine.ctx.snapshot_seq == 8 and run.engine.state.last_seq == 10
        assert encoded(run.engine.state.tasks) == ["TT0.1", "TT0.2"]  # the events after it touched TT0.3
    finally:
        run.close()


def test_the_index_of_tasks_by_state_is_kept_by_the_fold(compiled_dir: Path, tmp_path: Path) -> None:
    run = Run.init(tmp_path / "run", compiled_dir / "model.json", START)
    try:
        state = run.engine.state
        assert state.by_state() == {}  # made before any task exists, then kept by the fold
        drive(run)
        assert run.engine.state is state
        fresh: dict[str, list[str]] = {}
        for tid, st in state.tasks.tags():
            fresh.setdefault(st, []).append(tid)
        assert {st: list(ids) for st, ids in state.by_state().items() if ids} == fresh
    finally:
        run.close()
