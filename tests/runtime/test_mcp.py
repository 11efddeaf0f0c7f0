"""The MCP interface, tested with the official SDK's client against real server processes:
a tier-3 instruction played entirely through MCP (one stdio server per agent, refusals included),
identities that hold, and several HTTP clients at once on loopback with their tokens."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from orchdsl_runtime.scenario import STEP_COMMANDS

ROOT = Path(__file__).resolve().parents[2]
ORCHDSL = str(Path(sys.executable).with_name("orchdsl"))
TIER3 = ROOT / "examples" / "scenarios" / "tier3_feature_handoff.yaml"


def last_seq(run: Path) -> int:
    """The store's last sequence number, read directly (a command line per step would be slow)."""
    import sqlite3

    db = sqlite3.connect(run / "events.sqlite")
    try:
        seq: int = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        return seq
    finally:
        db.close()


def cli(run: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCHDSL, "run", *args, "--dir", str(run)], capture_output=True, text=True, check=False)


@pytest.fixture
def run_dir(tmp_path: Path, compiled_dir: Path) -> Path:
    run = tmp_path / "run"
    proc = cli(run, "init", str(compiled_dir / "model.json"), "--virtual-clock", "2025-01-06T09:00:00Z")
    assert proc.returncode == 0, proc.stderr
    return run


def stdio(run: Path, agent: str) -> Client:
    return Client(StdioServerParameters(command=ORCHDSL, args=["run", "mcp", "--as", agent, "--dir", str(run)]))


class Agents:
    """One MCP client (one `orchdsl run mcp` process) per agent, started on first use."""

    def __init__(self, run: Path, stack: AsyncExitStack) -> None:
        self.run, self.stack = run, stack
        self.clients: dict[str, Any] = {}

    async def call(self, agent: str, tool: str, args: dict[str, Any]) -> Any:
        client = self.clients.get(agent)
        if client is None:
            client = self.clients[agent] = await self.stack.enter_async_context(stdio(self.run, agent))
        return await client.call_tool(tool, args)


def test_a_tier3_instruction_played_through_mcp(run_dir: Path) -> None:
    """Every step of the tier-3 example is a tool call of its agent (the person who submits uses
    the command line, and so does the operator who moves the virtual clock); refusals come back as
    tool errors with the expected code and change nothing."""
    steps = yaml.safe_load(TIER3.read_text())["steps"]

    async def main() -> list[str]:
        seen: list[str] = []
        async with AsyncExitStack() as stack:
            agents = Agents(run_dir, stack)
            for step in steps:
                if "at" in step:
                    assert cli(run_dir, "clock", "to", step["at"]).returncode == 0
                if "advance" in step:
                    assert cli(run_dir, "clock", "advance", step["advance"]).returncode == 0
                key = next((k for k in step if k in STEP_COMMANDS), None)
                if key is None:
                    continue
                command = STEP_COMMANDS[key]
                args = dict(step[key])
                agent = args.pop("as", "human")
                if agent == "human":
                    flags = [x for k, v in args.items() if k != "text" for x in (f"--{k}", str(v))]
                    proc = cli(run_dir, command.name, "--as", "human", *flags, args["text"])
                    assert proc.returncode == 0, proc.stderr
                    continue
                before = last_seq(run_dir)
                result = await agents.call(agent, command.name, args)
                refused = step.get("expect_refused")
                if refused is None:
                    assert not result.is_error, (step, result.content[0].text)
                    seen.append(command.name)
                else:
                    code = refused if isinstance(refused, str) else refused["code"]
                    assert result.is_error and result.structured_content["refused"]["code"] == code, result
                    assert last_seq(run_dir) == before  # nothing recorded
                    seen.append(f"refused {code}")
        return seen

    seen = anyio.run(main)
    assert {"handoff_create", "handoff_tick", "handoff_accept", "gate", "heartbeat"} <= set(seen)
    assert sum(1 for s in seen if s.startswith("refused")) >= 5
    shown = json.loads(cli(run_dir, "status", "--json").stdout)
    assert shown["tasks_by_state"]["COMPLETED"] == 2
    verify = cli(run_dir, "log", "--verify")
    assert verify.returncode == 0, verify.stdout


def test_an_agent_acts_only_as_itself(run_dir: Path) -> None:
    async def main() -> None:
        async with stdio(run_dir, "executor") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"work", "moves", "inbox", "status"} <= names
            assert not {"clock_advance", "clock_to", "standup_generate"} & names  # the operator's
            assert not {"move", "assign", "gate"} & names  # V2 names no transition or gate of the executor
            tool = next(t for t in (await client.list_tools()).tools if t.name == "submit")
            assert "as" not in tool.input_schema["properties"]
            r = await client.call_tool("submit", {"text": "fix the login", "tier": 1, "as": "backend-lead"})
            assert r.is_error and r.structured_content["error"]["code"] == "identity"
            r = await client.call_tool("inbox", {"agent": "backend-lead"})
            assert r.is_error and r.structured_content["error"]["code"] == "identity"
            r = await client.call_tool("clock_advance", {"amount": "1d"})
            assert r.is_error and r.structured_content["error"]["code"] == "not-offered"
            r = await client.call_tool("move", {"task": "nowhere", "to": "DONE"})
            assert r.is_error and r.structured_content["error"]["code"] == "not-offered"
            r = await client.call_tool("instruction_close", {"instruction": "nowhere"})
            assert r.is_error and r.structured_content["refused"]["code"] == "RUN002"
            r = await client.call_tool("submit", {"text": "fix the login", "tier": "one"})
            assert r.is_error and r.structured_content["error"]["code"] == "bad-argument"

    anyio.run(main)
    assert json.loads(cli(run_dir, "log", "--json").stdout)["events"] == []


def test_an_unknown_agent_is_not_served(run_dir: Path) -> None:
    proc = subprocess.run([ORCHDSL, "run", "mcp", "--as", "intruder", "--dir", str(run_dir)],
                          capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "unknown agent `intruder`" in proc.stderr


# -- over HTTP -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(run_dir: Path) -> Any:
    """`orchdsl run serve --http` on loopback, stopped with SIGTERM at the end."""
    port = free_port()
    proc = subprocess.Popen([ORCHDSL, "run", "serve", "--dir", str(run_dir), "--http", f"127.0.0.1:{port}",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "MCP at" in line, line + proc.stderr.read()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield run_dir, f"http://127.0.0.1:{port}/mcp", proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


@asynccontextmanager
async def http(url: str, token: str) -> AsyncIterator[Any]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as hc:
        async with Client(streamable_http_client(url, http_client=hc)) as client:
            yield client


def tokens(run: Path) -> dict[str, str]:
    assert oct((run / "tokens.json").stat().st_mode & 0o777) == "0o600"
    data: dict[str, str] = json.loads((run / "tokens.json").read_text())["agents"]
    return data


def test_several_agents_at_once_over_http(served: Any) -> None:
    run, url, proc = served
    tok = tokens(run)
    devs = ["backend-developer-1", "backend-developer-2", "senior-developer"]
    assert cli(run, "submit", "--as", "human", "--tier", "2", "--id", "I1", "API work").returncode == 0

    async def main() -> list[Any]:
        results: list[Any] = []

        async def one(agent: str, k: int) -> None:
            async with http(url, tok[agent]) as client:
                work = await client.call_tool("work", {})
                assert not work.is_error and work.structured_content["agent"] == agent
                r = await client.call_tool("record_clarification", {"task": "none", "note": f"{agent} {k}"})
                results.append(r.structured_content)

        async with anyio.create_task_group() as tg:
            for k in range(3):
                for agent in devs:
                    tg.start_soon(one, agent, k)
        async with http(url, tok["backend-lead"]) as lead:
            for k in range(6):
                r = await lead.call_tool("task_create", {"instruction": "I1", "domain": "backend",
                                                          "title": f"endpoint {k}", "skills": "python"})
                assert not r.is_error, r.content[0].text
        return results

    results = anyio.run(main)
    assert len(results) == 9 and all(r["refused"]["code"] == "RUN002" for r in results)
    created = [e for e in json.loads(cli(run, "log", "--json").stdout)["events"] if e["type"] == "task_created"]
    assert [e["data"]["task"] for e in created] == [f"TT0.{k}" for k in range(1, 7)]
    assert all(e["actor"] == "backend-lead" for e in created)


def test_a_request_without_a_valid_token_is_refused(served: Any) -> None:
    run, url, proc = served
    before = cli(run, "log", "--json").stdout

    async def main() -> None:
        for token in ("", "not-a-token", tokens(run)["executor"] + "x"):
            with pytest.raises(BaseException):  # noqa: B017 - the client gives up on a 401 in its own way
                async with http(url, token) as client:
                    await client.call_tool("submit", {"text": "x", "tier": 1})

    anyio.run(main)
    response = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                           headers={"Authorization": "Bearer nope", "Accept": "application/json"})
    assert response.status_code == 401
    assert cli(run, "log", "--json").stdout == before


def test_serve_stops_cleanly_on_sigterm(served: Any) -> None:
    run, url, proc = served
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert cli(run, "log", "--verify").returncode == 0
    os.kill(os.getpid(), 0)  # the test process is untouched
