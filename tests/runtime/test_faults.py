"""A damaged run directory is reported, not crashed on, and nothing outside it is touched.

Each damage of a file of the run directory (the event log, the clock it keeps, the model, the
manifest, the projected tree) is made to a copy of a small run beside a sentinel folder; then a
writing command must end with exit 2 and the damage's RUN code naming the file, record nothing,
and leave everything outside the run directory as it was (a damage of the projected tree below
`Agent_Memory` is met only where a command's events write, never written through: the command is
recorded, with a warning when it meets it). `doctor` reports the same code;
`doctor --repair` restores what the log gives, after which the command is accepted and the log
verifies. Also here: a read-only run directory, a store locked by another process, a full disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from orchdsl_runtime import rootfs
from orchdsl_runtime.store import SQLiteStore
from runtime_helpers import DEV, LEAD, TASK, cli, events, ok, started_run

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parents[2]
WRITE = ("heartbeat", TASK, "--as", DEV, "--tokens", "5")
TASK_FILE = f"Agent_Memory/I1/tasks/tactical/backend/{TASK}.yaml"
LEAD_INBOX = f"Agent_Memory/_communication/inbox/{LEAD}"


@pytest.fixture(scope="module")
def template(compiled_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small run: a task in progress whose missed heartbeats reached the lead's inbox."""
    d = started_run(tmp_path_factory.mktemp("template") / "run", compiled_dir / "model.json", "6h")
    ok(d, "clock", "advance", "5h")
    assert any((d / LEAD_INBOX).iterdir()), "the lead has notices"
    return d


def snapshot(folder: Path, skip: str) -> dict[str, object]:
    """Everything below ``folder`` except ``skip``: kind, mode and bytes of each entry."""
    out: dict[str, object] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if rel.parts[0] == skip:
            continue
        st = p.lstat()
        body: object = os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else "folder"
        out[str(rel)] = (stat.S_IFMT(st.st_mode), body)
    return out


@dataclass
class Site:
    """A copy of the template run beside a sentinel folder, in a folder of its own."""

    base: Path
    run: Path
    sentinel: Path

    def outside(self) -> dict[str, object]:
        return snapshot(self.base, "run")


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Site:
    run, sentinel = tmp_path / "run", tmp_path / "sentinel"
    shutil.copytree(template, run, symlinks=True)
    (sentinel / "sub").mkdir(parents=True)
    (sentinel / "victim.txt").write_text("keep me\n")
    (sentinel / "sub" / "other.yaml").write_text("a: 1\n")
    return Site(tmp_path, run, sentinel)


def meta(run: Path, key: str, value: str | None) -> None:
    db = sqlite3.connect(run / "events.sqlite")
    if value is None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
    db.commit()
    db.close()


def replace_by_folder(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.mkdir()
    (path / "agent-notes.txt").write_text("an agent's own file\n")


def replace_by_link(path: Path, target: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target, target_is_directory=target.is_dir())


def scramble(path: Path, start: int) -> None:
    data = bytearray(path.read_bytes())
    rnd = random.Random(11)
    for i in range(start, len(data)):
        data[i] = rnd.randrange(256)
    path.write_bytes(bytes(data))


def manifest(s: Site, files: object) -> None:
    (s.run / ".projection.json").write_text(json.dumps(files))


def other_model(s: Site) -> None:
    result = check_files([ROOT / "examples" / "token_budget.orch"])
    assert result.model is not None
    (s.run / "model.json").write_text(compiled_json(result.model))


@dataclass(frozen=True)
class Damage:
    id: str
    make: Callable[[Site], None]
    code: str
    names: str
    """a file the message must name"""
    repairable: bool
    before: bool = True
    """found before a writing command records anything; else met only where the events write
    (never written through) and found whole by `doctor`"""


STORE = "events.sqlite"
DAMAGES = [
    # the event log: never started afresh, never repaired (a backup restores it)
    Damage("log-truncated", lambda s: os.truncate(s.run / STORE, (s.run / STORE).stat().st_size // 2), "RUN028",
           STORE, False),
    Damage("log-garbage", lambda s: scramble(s.run / STORE, 0), "RUN028", STORE, False),
    Damage("log-damaged-pages", lambda s: scramble(s.run / STORE, 4096), "RUN028", STORE, False),
    Damage("log-a-folder", lambda s: replace_by_folder(s.run / STORE), "RUN027", STORE, False),
    Damage("log-a-link", lambda s: replace_by_link(s.run / STORE, s.sentinel / "victim.txt"), "RUN027", STORE, False),
    Damage("log-empty", lambda s: os.truncate(s.run / STORE, 0), "RUN027", STORE, False),
    Damage("log-deleted", lambda s: (s.run / STORE).unlink(), "RUN027", STORE, False),
    Damage("log-version", lambda s: meta(s.run, "schema_version", "2"), "RUN029", STORE, False),
    Damage("log-not-ours", lambda s: _foreign_database(s.run / STORE), "RUN028", STORE, False),
    # the clock the log keeps: set from the log by `doctor --repair`
    Damage("clock-a-string", lambda s: meta(s.run, "now", "soon"), "RUN032", STORE, True),
    Damage("clock-nan", lambda s: meta(s.run, "now", "nan"), "RUN032", STORE, True),
    Damage("clock-1e300", lambda s: meta(s.run, "now", "1e300"), "RUN032", STORE, True),
    Damage("clock-negative", lambda s: meta(s.run, "now", "-3600"), "RUN032", STORE, True),
    Damage("clock-without-now", lambda s: meta(s.run, "now", None), "RUN032", STORE, True),
    Damage("clock-before-the-log", lambda s: meta(s.run, "now", "0"), "RUN032", "last event", True),
    Damage("clock-of-an-earlier-runtime", lambda s: (meta(s.run, "clock", None), meta(s.run, "now", None),
                                                      (s.run / "clock.json").write_text('{"mode": "virtual"}')),
           "RUN032", "clock.json", True),
    # the model: put back by hand
    Damage("model-garbage", lambda s: (s.run / "model.json").write_text("{not json"), "RUN033", "model.json", False),
    Damage("model-a-folder", lambda s: replace_by_folder(s.run / "model.json"), "RUN033", "model.json", False),
    Damage("model-a-link", lambda s: replace_by_link(s.run / "model.json", s.sentinel / "victim.txt"), "RUN033",
           "model.json", False),
    Damage("model-deleted", lambda s: (s.run / "model.json").unlink(), "RUN033", "model.json", False),
    Damage("model-of-another-org", other_model, "RUN033", "model.json", False),
    Damage("model-nested-deep", lambda s: (s.run / "model.json").write_text("[" * 100_000), "RUN033", "model.json",
           False),
    # the manifest: a hint, rebuilt; never trusted for a delete
    Damage("manifest-a-number", lambda s: manifest(s, 5), "RUN034", ".projection.json", True),
    Damage("manifest-numbers", lambda s: manifest(s, [1, 2, 3]), "RUN034", ".projection.json", True),
    Damage("manifest-parent", lambda s: manifest(s, ["../sentinel/victim.txt"]), "RUN034", "../sentinel/victim.txt",
           True),
    Damage("manifest-absolute", lambda s: manifest(s, [str(s.sentinel / "victim.txt")]), "RUN034", "victim.txt",
           True),
    Damage("manifest-inside-but-not-projected", lambda s: manifest(s, ["model.json", "Agent_Memory/../model.json"]),
           "RUN034", "model.json", True),
    Damage("manifest-not-json", lambda s: (s.run / ".projection.json").write_text("[\"x"), "RUN034",
           ".projection.json", True),
    Damage("manifest-a-folder", lambda s: replace_by_folder(s.run / ".projection.json"), "RUN034",
           ".projection.json", True),
    # the projected tree: what stands in the way is moved aside, never written through
    Damage("projected-file-a-folder", lambda s: replace_by_folder(s.run / TASK_FILE), "RUN035", TASK_FILE, True,
           False),
    Damage("projected-file-a-link", lambda s: replace_by_link(s.run / TASK_FILE, s.sentinel / "victim.txt"),
           "RUN035", TASK_FILE, True, False),
    Damage("inbox-a-link", lambda s: replace_by_link(s.run / LEAD_INBOX, s.sentinel), "RUN035", LEAD_INBOX, True,
           False),
    Damage("folder-on-the-way-a-file", lambda s: (shutil.rmtree(s.run / "Agent_Memory/I1/tasks"),
                                                   (s.run / "Agent_Memory/I1/tasks").write_text("x")),
           "RUN035", "Agent_Memory/I1/tasks", True, False),
    Damage("agent-memory-a-file", lambda s: (shutil.rmtree(s.run / "Agent_Memory"),
                                             (s.run / "Agent_Memory").write_text("x")), "RUN035", "Agent_Memory", True),
    Damage("agent-memory-a-link", lambda s: replace_by_link(s.run / "Agent_Memory", s.sentinel), "RUN035",
           "Agent_Memory", True),
]


def _foreign_database(path: Path) -> None:
    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.id for d in DAMAGES])
def test_a_damaged_run_directory_is_reported_with_its_code(site: Site, damage: Damage) -> None:
    log = events(site.run)
    damage.make(site)
    outside = site.outside()
    code, out, err = cli(site.run, *WRITE)
    assert "Traceback" not in err and "internal error" not in err
    assert site.outside() == outside, "something outside the run directory changed"
    if damage.before:
        assert code == 2, (out, err)
        assert err.startswith(f"orchdsl run: {damage.code} ") and damage.names in err, err
    else:  # recorded; what the events write is not written through the damage (a warning says so)
        assert code == 0, (out, err)
        assert "RUN036" not in err or damage.names in err, err
        log = events(site.run)
    code, out, err = cli(site.run, "doctor")
    assert code == 2 and damage.code in out, (out, err)
    assert site.outside() == outside
    code, out, err = cli(site.run, "doctor", "--repair")
    assert site.outside() == outside
    if not damage.repairable:
        assert code == 2 and damage.code in out, (out, err)
        return
    assert code == 0 and "repaired" in out, (out, err)
    assert events(site.run) == log, "the repair touched the log"
    ok(site.run, *WRITE)
    assert events(site.run)[: len(log)] == log and len(events(site.run)) == len(log) + 1
    assert "ok:" in ok(site.run, "log", "--verify")
    code, out, _ = cli(site.run, "doctor")
    assert code == 0, out
    assert site.outside() == outside


def test_a_link_placed_where_no_file_is_yet_is_not_written_through(site: Site) -> None:
    """The projection meets the link only after the command is recorded: the command stays
    accepted, the file is not written (a warning says so), and the next command is refused."""
    (site.run / "Agent_Memory" / "I2").symlink_to(site.sentinel)  # before instruction I2 exists
    outside = site.outside()
    ok(site.run, "submit", "--as", "human", "--tier", "3", "a", "page")
    code, out, err = cli(site.run, "task", "create", "--as", "planner", "--instruction", "I2", "--domain",
                         "frontend", "--title", "page", "--estimate", "2h")
    assert code == 0 and "created TT0.2" in out, err
    assert "warning: RUN036 projection-incomplete" in err and "Agent_Memory/I2" in err and "symbolic link" in err
    assert site.outside() == outside
    code, _, err = cli(site.run, *WRITE)
    assert code == 2 and "RUN035" in err and "Agent_Memory/I2" in err
    assert cli(site.run, "doctor", "--repair")[0] == 0
    assert "ok:" in ok(site.run, "log", "--verify") and site.outside() == outside
    assert (site.run / "Agent_Memory/I2/tasks/tactical/frontend/TT0.2.yaml").is_file()


def test_schemas_are_checked_by_doctor_only(site: Site) -> None:
    (site.run / "schemas" / "notice.schema.json").unlink()
    (site.run / "schemas" / "tactical-task.schema.json").write_text("[1, 2]")
    ok(site.run, *WRITE)  # commands do not read the schemas
    for args in (("doctor",), ("doctor", "--repair")):
        code, out, _ = cli(site.run, *args)
        assert code == 2 and out.count("RUN037") == 2 and "notice.schema.json" in out, out


def test_a_stray_file_is_reported_and_moved_aside(site: Site) -> None:
    forged = site.run / LEAD_INBOX / "task_assigned_20250101_000000_99.yaml"
    forged.write_text("type: task_assigned\nmessage: you are fired\n")
    own = site.run / LEAD_INBOX / "my-notes.txt"  # not a path the projection writes: ignored
    own.write_text("mine\n")
    ok(site.run, *WRITE)
    code, out, _ = cli(site.run, "doctor")
    assert code == 2 and "RUN038" in out and forged.name in out and "my-notes" not in out
    code, out, _ = cli(site.run, "doctor", "--repair")
    assert code == 0 and not forged.exists() and own.read_text() == "mine\n"
    assert list((site.run / "displaced").rglob(forged.name))


def test_temporary_files_of_a_killed_writer_are_removed(site: Site) -> None:
    tmp = site.run / rootfs.TMP
    tmp.mkdir(exist_ok=True)
    (tmp / "TT0.1.yaml.999.0.tmp").write_text("half")
    ok(site.run, *WRITE)
    assert not list(tmp.iterdir())
    assert not list((site.run / "Agent_Memory").rglob("*.tmp*"))


@contextlib.contextmanager
def read_only(paths: list[Path]) -> Iterator[None]:
    """Make ``paths`` read-only, for root too (the immutable attribute) where possible."""
    if os.geteuid() != 0:
        modes = [(p, p.stat().st_mode) for p in paths]
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes:
                p.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", *map(str, paths)], capture_output=True).returncode:
        pytest.skip("root cannot make a folder read-only here (no chattr)")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", *map(str, paths)], check=True)


def test_a_read_only_run_directory(site: Site) -> None:
    log = events(site.run)
    outside = site.outside()
    with read_only([site.run, site.run / STORE, site.run / ".projection.json"]):
        code, _, err = cli(site.run, *WRITE)
        assert code == 2 and "RUN031 run-unwritable" in err and STORE in err, err
        code, out, _ = cli(site.run, "doctor")
        assert code == 2 and "RUN031" in out
    assert events(site.run) == log and site.outside() == outside


def test_a_store_locked_by_another_process_waits_then_refuses(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHDSL_LOCK_TIMEOUT", "0.2")
    log = events(site.run)
    holder = sqlite3.connect(site.run / STORE, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        assert cli(site.run, "status")[0] == 0  # readers are not blocked
        code, _, err = cli(site.run, *WRITE)
        assert code == 2 and "RUN030 store-locked" in err and "$ORCHDSL_LOCK_TIMEOUT" in err, err
        code, out, _ = cli(site.run, "doctor")
        assert code == 2 and "RUN030" in out
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert events(site.run) == log
    ok(site.run, *WRITE)
    monkeypatch.setenv("ORCHDSL_LOCK_TIMEOUT", "forever")
    code, _, err = cli(site.run, *WRITE)
    assert code == 2 and "ORCHDSL_LOCK_TIMEOUT" in err


def test_a_full_disk_refuses_the_command_and_keeps_the_log(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite itself reports a full database (its page limit set to the file's size): the command is
    refused with a code, nothing is recorded; the log stays whole and later commands work."""
    real_init = SQLiteStore.__init__

    def capped(self: SQLiteStore, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count = {pages}")

    log = events(site.run)
    monkeypatch.setattr(SQLiteStore, "__init__", capped)
    big = "x" * 20_000  # needs new pages
    code, _, err = cli(site.run, "submit", "--as", "human", "--tier", "2", big)
    assert code == 2 and "RUN031 run-unwritable" in err and "no space" in err, err
    monkeypatch.undo()
    assert events(site.run) == log
    assert "ok:" in ok(site.run, "log", "--verify")
    ok(site.run, "submit", "--as", "human", "--tier", "2", big)


def test_a_full_disk_under_the_projection_keeps_the_command_accepted(site: Site,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC on the projection's writes: the command was recorded, so it is accepted (exit 0)
    with a warning; the files are completed by the next command, no temporary file is left."""
    log = events(site.run)

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rootfs.os, "write", full)
    code, out, err = cli(site.run, "heartbeat", TASK, "--as", DEV, "--remaining", "1h", "--json")  # changes files
    monkeypatch.undo()
    assert code == 0, err
    assert "RUN036 projection-incomplete" in err and "No space left" in err
    assert json.loads(out)["warnings"][0]["code"] == "RUN036"
    assert len(events(site.run)) == len(log) + 1  # recorded once: a retry is not needed
    assert not list((site.run / rootfs.TMP).iterdir())
    assert cli(site.run, "log", "--verify")[0] == 1  # the capacity files are behind the log
    ok(site.run, "clock", "process")  # the next writing command completes the projection
    assert "ok:" in ok(site.run, "log", "--verify")


@pytest.mark.parametrize("args", [("clock", "to", "9999-12-31T23:00:00Z"), ("clock", "advance", "1000000w"),
                                  ("clock", "to", "1969-01-01T00:00:00Z")])
def test_times_beyond_the_calendar_are_refused(site: Site, args: tuple[str, ...]) -> None:
    log = events(site.run)
    code, _, err = cli(site.run, *args)
    assert code == 2 and "Traceback" not in err, err
    assert events(site.run) == log
    assert "ok:" in ok(site.run, "log", "--verify")


def test_a_clock_advance_that_would_fire_too_much_is_refused(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchdsl_runtime import firing

    monkeypatch.setattr(firing, "MAX_FIRINGS", 20)  # a missed heartbeat every four hours
    log = events(site.run)
    code, _, err = cli(site.run, "clock", "advance", "1w")
    assert code == 1 and "RUN039 clock-overrun" in err and "smaller steps" in err, err
    assert events(site.run) == log
    ok(site.run, "clock", "advance", "6h")
    assert len(events(site.run)) > len(log)
    assert "ok:" in ok(site.run, "log", "--verify")
