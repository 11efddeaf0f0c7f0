"""`orchdsl run dispatch`: agents started when work waits for them, each launch and exit recorded.

The agents are the scripted agent of `examples/agents/` (deterministic, acting only through MCP):
a tier-3 instruction with a handoff goes from submission to COMPLETED with no other human step,
once served over HTTP with the dispatcher inside `serve`, once with a standalone dispatcher while
one agent crashes; a hanging agent is stopped and its item offered again."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from orchdsl_runtime import Engine, Refused
from orchdsl_runtime.launches import MAX_ATTEMPTS

ROOT = Path(__file__).resolve().parents[2]
ORCHDSL = str(Path(sys.executable).with_name("orchdsl"))
AGENT = f"{sys.executable} {ROOT / 'examples' / 'agents' / 'scripted_agent.py'} --plan {ROOT / 'examples' / 'agents' / 'plan.yaml'}"


def cli(run: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCHDSL, "run", *args, "--dir", str(run)], capture_output=True, text=True, check=False)


def events(run: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(cli(run, "log", "--json").stdout)["events"]
    return out


@pytest.fixture
def submitted(tmp_path: Path, compiled_dir: Path) -> Path:
    run = tmp_path / "run"
    assert cli(run, "init", str(compiled_dir / "model.json"), "--virtual-clock").returncode == 0
    assert cli(run, "submit", "--as", "human", "--tier", "3", "--id", "I1",
               "Let users save searches and rerun them").returncode == 0
    return run


def assert_completed(run: Path) -> list[dict[str, Any]]:
    log = events(run)
    status = json.loads(cli(run, "status", "--json").stdout)
    assert status["tasks_by_state"] == {"COMPLETED": 3}, status["tasks_by_state"]
    assert [e["actor"] for e in log if e["type"] == "instruction_submitted"] == ["human"]
    humans = [e for e in log if e["actor"] == "human"]
    assert len(humans) == 1  # nothing but the submission came from outside the organisation
    assert any(e["type"] == "handoff_accepted" for e in log)
    running: set[str] = set()
    for e in log:  # never two agents for one item at once
        if e["type"] == "agent_launched":
            assert e["data"]["key"] not in running
            running.add(e["data"]["key"])
        elif e["type"] == "agent_exited":
            running.discard(e["data"]["key"])
    assert not running
    assert cli(run, "log", "--verify").returncode == 0
    return log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_dispatches_a_tier3_instruction_to_completion_while_an_agent_crashes(submitted: Path) -> None:
    """The dispatcher inside `serve --http`: the agents use the served endpoint with their tokens;
    the backend lead's agent crashes the first time it is to hand the API over."""
    port = free_port()
    proc = subprocess.Popen([ORCHDSL, "run", "serve", "--dir", str(submitted), "--http", f"127.0.0.1:{port}",
                             "--dispatch", f"{AGENT} --crash backend-lead:handoff_create", "--max-agents", "4",
                             "--poll", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = json.loads(cli(submitted, "status", "--json").stdout)["tasks_by_state"]
            if state.get("COMPLETED") == 3:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    log = assert_completed(submitted)
    assert_crashed_once(log)


@pytest.mark.slow
def test_a_standalone_dispatcher_with_stdio_agents(submitted: Path) -> None:
    """The dispatcher on its own, polling the store; each agent launches its own MCP server."""
    proc = subprocess.run([ORCHDSL, "run", "dispatch", "--dir", str(submitted), "--agent-cmd", AGENT,
                           "--until-idle", "--max-agents", "4", "--poll", "0.1"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = assert_completed(submitted)
    assert all(e["data"]["reason"] == "done" for e in log if e["type"] == "agent_exited")


def assert_crashed_once(log: list[dict[str, Any]]) -> None:
    """The backend lead's agent died once, about to hand the API over; the handoff was made after."""
    [crashed] = [e for e in log if e["type"] == "agent_exited" and e["data"]["reason"] == "failed"]
    assert (crashed["data"]["agent"], crashed["data"]["code"]) == ("backend-lead", 3)
    created = [e for e in log if e["type"] == "handoff_created"]
    assert created and all(e["seq"] > crashed["seq"] for e in created)
    relaunched = [e for e in log if e["type"] == "agent_launched" and e["seq"] > crashed["seq"]
                  and e["data"]["agent"] == "backend-lead"]
    assert relaunched, "the backend lead was not started again"


def test_a_hanging_agent_is_stopped_and_tried_again_then_left_to_the_slas(tmp_path: Path, compiled_dir: Path) -> None:
    run = tmp_path / "run"
    assert cli(run, "init", str(compiled_dir / "model.json"), "--virtual-clock").returncode == 0
    assert cli(run, "delegate", "--as", "engineering-manager", "--to", "tech-lead", "--subject", "plan Q3"
               ).returncode == 0
    proc = subprocess.run([ORCHDSL, "run", "dispatch", "--dir", str(run), "--agent-cmd", "sleep 60",
                           "--agent-timeout", "0.3", "--until-idle", "--poll", "0.05"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    log = events(run)
    exits = [e["data"] for e in log if e["type"] == "agent_exited"]
    assert [(x["key"], x["reason"]) for x in exits] == [("delegation:D1", "timeout")] * MAX_ATTEMPTS
    assert "tech-lead for delegation:D1: timeout" in proc.stdout
    assert cli(run, "log", "--verify").returncode == 0


def test_a_bad_template_is_a_usage_error(submitted: Path) -> None:
    proc = subprocess.run([ORCHDSL, "run", "dispatch", "--dir", str(submitted), "--agent-cmd", "agent {nope}"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "unknown placeholder `{nope}`" in proc.stderr
    proc = subprocess.run([ORCHDSL, "run", "dispatch", "--dir", str(submitted), "--agent-cmd", "agent 'unclosed"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "cannot be split" in proc.stderr


def test_one_running_launch_per_item(engine: Engine) -> None:
    engine.record_launch("delegation:D1", "tech-lead", "delegation", "D1")
    with pytest.raises(Refused) as info:
        engine.record_launch("delegation:D1", "tech-lead", "delegation", "D1")
    assert info.value.code == "RUN021" and "already running" in info.value.reason
    engine.record_exit("delegation:D1", 1, "failed")
    with pytest.raises(Refused):
        engine.record_exit("delegation:D1", 0, "done")
    for _ in range(MAX_ATTEMPTS - 1):
        engine.record_launch("delegation:D1", "tech-lead", "delegation", "D1")
        engine.record_exit("delegation:D1", None, "timeout")
    with pytest.raises(Refused, match="launched 3 times"):
        engine.record_launch("delegation:D1", "tech-lead", "delegation", "D1")
    with pytest.raises(Refused) as bad:
        engine.record_launch("x", "tech-lead", "../etc", "D1")
    assert bad.value.code == "RUN013"
