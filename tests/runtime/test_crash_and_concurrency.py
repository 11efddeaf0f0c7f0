"""Processes killed at random moments, and several processes at once, on one run directory.

A driver process (`cli_driver.py`) issues `orchdsl run` commands through the `orchdsl` entry
point; it is killed with SIGKILL at a random moment, then the next writing command (or
`doctor --repair`) runs, and the log must replay and verify, projection included, with the
clock never before the last event. Four workers issue commands at once on one run
directory: no update is lost, no event is recorded twice, no command ends in an internal error.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from runtime_helpers import TASK, cli, events, ok, started_run

DRIVER = Path(__file__).with_name("cli_driver.py")


@pytest.fixture(scope="module")
def base_run(compiled_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return started_run(tmp_path_factory.mktemp("crash") / "run", compiled_dir / "model.json")


def driver(directory: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(DRIVER), str(directory), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def kill(base: Path, directory: Path, seed: int) -> int:
    """Copy the run, start a scripted driver and SIGKILL it at a random moment; returns how many
    commands it finished (each of them accepted)."""
    rnd = random.Random(seed)
    shutil.copytree(base, directory, symlinks=True)
    proc = driver(directory, "script", "12")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    time.sleep(rnd.uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    lines = [line.split(" ", 2) for line in out.splitlines()]
    assert all(code == "0" for _, code, _ in lines), out  # each command of the script is accepted
    return len(lines)


def recover(directory: Path, seed: int) -> None:
    """The next writing command (or `doctor --repair`) completes the run; the log verifies."""
    recovery = ("clock", "process") if seed % 2 else ("doctor", "--repair")
    code, out, err = cli(directory, *recovery)
    assert code == 0, (seed, recovery, out, err)
    code, out, err = cli(directory, "log", "--verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True, (seed, out, err)
    assert not list((directory / "Agent_Memory").rglob("*.tmp")), "a temporary file was left in the tree"
    ids = [json.loads(str(e[4]))["task"] for e in events(directory) if e[1] == "task_created"]
    assert len(ids) == len(set(ids))


def test_a_killed_process_leaves_a_run_that_the_next_command_completes(base_run: Path, tmp_path: Path) -> None:
    for seed in range(4):
        kill(base_run, tmp_path / f"run{seed}", seed)
        recover(tmp_path / f"run{seed}", seed)


@pytest.mark.slow
def test_killed_at_random_moments_fifty_times(base_run: Path, tmp_path: Path) -> None:
    seeds = range(100, 150)
    with ThreadPoolExecutor(max_workers=3) as pool:  # the drivers run side by side; recovery is in-process
        done = list(pool.map(lambda s: kill(base_run, tmp_path / f"run{s}", s), seeds))
    for seed in seeds:
        recover(tmp_path / f"run{seed}", seed)
    assert len(set(done)) > 5, done  # the kills landed at many different moments


def workers(base: Path, directory: Path, n_workers: int, n: int) -> None:
    shutil.copytree(base, directory, symlinks=True)
    before = events(directory)
    procs = [driver(directory, "worker", f"w{k}", str(n)) for k in range(n_workers)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        lines = [line.split(" ", 3) for line in out.splitlines()[1:]]
        assert len(lines) == n and all(code == "0" for _, code, *_ in lines), [x for x in lines if x[1] != "0"]
    log = events(directory)
    assert [e[0] for e in log] == list(range(1, len(log) + 1))
    new = [(e[1], json.loads(str(e[4]))) for e in log[len(before):]]
    names = [f"w{k}-{i}" for k in range(n_workers) for i in range(n)]
    beats = sorted(d["note"] for t, d in new if t == "heartbeat")
    submitted = sorted(d["text"] for t, d in new if t == "instruction_submitted")
    tasks = sorted(d["title"] for t, d in new if t == "task_created")
    kinds = {x: "task" if int(x.split("-")[1]) % 8 == 7 else "submit" if int(x.split("-")[1]) % 4 == 1 else "beat"
             for x in names}  # what the driver's worker issues for each command
    assert beats == sorted(x for x in names if kinds[x] == "beat")  # each exactly once: none lost, none twice
    assert submitted == sorted(x for x in names if kinds[x] == "submit")
    assert tasks == sorted(x for x in names if kinds[x] == "task")
    ids = [d["task"] for t, d in new if t == "task_created"]
    assert len(ids) == len(set(ids))  # ids chosen inside the retry: never refused as duplicates
    shown = json.loads(cli(directory, "show", TASK, "--json")[1])
    assert shown["tokens_in_state"] == len(beats)
    assert "ok:" in ok(directory, "log", "--verify")


def test_four_processes_at_once_lose_nothing(base_run: Path, tmp_path: Path) -> None:
    workers(base_run, tmp_path / "run", 4, 25)


@pytest.mark.slow
def test_four_processes_times_two_hundred_commands(base_run: Path, tmp_path: Path) -> None:
    workers(base_run, tmp_path / "run", 4, 200)


def test_the_driver_is_found() -> None:
    assert DRIVER.is_file() and os.access(DRIVER, os.R_OK)
