"""`orchdsl run serve` on the wall clock: deadlines fire by themselves at their due time, other
processes write beside it, and SIGTERM or SIGINT stop it with nothing lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ORCHDSL = str(Path(sys.executable).with_name("orchdsl"))

# A lifecycle whose first state warns its owner three seconds (0.05 minutes) after a task enters it.
SPEC = """\
org timing

skills {
  levels { working = 1 }
  category languages { python }
}

experience { mid = 1 }

role lead { title "Lead" }
role dev { title "Developer" reports_to lead }

domain api {
  lead lead
  member dev { experience mid skills { python: working } }
}

lifecycle task {
  tiers 1
  state TODO {
    initial
    owner @lead
    sla 0.05m
    warn 1x to @lead
    -> DOING by @lead
  }
  state DOING {
    owner @assignee
    sla 1h
    -> DONE by @assignee
  }
  state DONE { terminal success }
}

tier 0 "Trivial" { flow lead:answer }
tier 1 "Task" { flow @lead:tactical_planning -> @assignee:execution }
"""


def cli(run: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCHDSL, "run", *args, "--dir", str(run)], capture_output=True, text=True, check=False)


def events(run: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(cli(run, "log", "--json").stdout)["events"]
    return out


@pytest.fixture
def wall_run(tmp_path: Path) -> Path:
    spec = tmp_path / "timing.orch"
    spec.write_text(SPEC)
    run = tmp_path / "run"
    proc = subprocess.run([ORCHDSL, "run", "init", str(spec), "--dir", str(run)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return run


def start(run: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([ORCHDSL, "run", "serve", "--dir", str(run), "--poll", "0.2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    assert "serving timing" in proc.stderr.readline()
    return proc


def wait_for(run: Path, kind: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(run) if e["type"] == kind]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {kind} within {timeout} s: {[e['type'] for e in events(run)]}")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_fires_a_deadline_by_itself_and_stops_cleanly(wall_run: Path, stop: signal.Signals) -> None:
    proc = start(wall_run)
    try:
        assert cli(wall_run, "submit", "--as", "human", "--tier", "1", "go").returncode == 0
        created = cli(wall_run, "task", "create", "--as", "lead", "--instruction", "I1", "--domain", "api",
                      "--title", "t", "--json")
        assert created.returncode == 0, created.stderr
        at = json.loads(created.stdout)["events"][0]["at"]
        warning = wait_for(wall_run, "sla_warning")  # no command runs meanwhile: serve fires it
        assert warning["actor"] is None and warning["at"] == pytest.approx(at + 3.0)
        assert warning["data"]["to"] == ["lead"]
        inbox = wall_run / "Agent_Memory" / "_communication" / "inbox" / "lead"
        deadline = time.monotonic() + 5
        while not any(p.name.startswith("sla_warning_") for p in inbox.glob("*.yaml")):
            assert time.monotonic() < deadline, "serve did not project the warning"
            time.sleep(0.1)
    finally:
        proc.send_signal(stop)
        assert proc.wait(timeout=15) == 0
    assert proc.stdout is not None and "SLA WARNING TT0.1" in proc.stdout.read()
    assert [e["type"] for e in events(wall_run)] == ["instruction_submitted", "task_created", "sla_warning"]
    assert cli(wall_run, "log", "--verify").returncode == 0


def test_serve_and_the_command_line_write_to_one_run(wall_run: Path) -> None:
    proc = start(wall_run)
    try:
        assert cli(wall_run, "submit", "--as", "human", "--tier", "1", "go").returncode == 0
        for k in range(5):
            assert cli(wall_run, "task", "create", "--as", "lead", "--instruction", "I1", "--domain", "api",
                       "--title", f"t{k}").returncode == 0
        wait_for(wall_run, "sla_warning")
        deadline = time.monotonic() + 20
        while sum(1 for e in events(wall_run) if e["type"] == "sla_warning") < 5:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    log = events(wall_run)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    warned = [e["data"]["task"] for e in log if e["type"] == "sla_warning"]
    assert sorted(warned) == [f"TT0.{k}" for k in range(1, 6)]  # each once
    assert cli(wall_run, "log", "--verify").returncode == 0
