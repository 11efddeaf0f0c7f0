#!/usr/bin/env python3
"""A scripted agent: what `orchdsl run dispatch` starts for a waiting item, acting only through MCP.

It stands in for an LLM agent in demos and tests: deterministic, no network. The
dispatcher starts it with the item in its environment (``ORCHDSL_ITEM``) and the
line that launches the agent's MCP server (``ORCHDSL_MCP_ARGV``), or the URL and
token of a served endpoint (``ORCHDSL_MCP_URL``, ``ORCHDSL_MCP_TOKEN``); it
connects with the official MCP client, does what the item asks (if it still
waits), then whatever else waits for it (the ``work`` tool), and exits 0. It reads the
compiled model (``model.json`` in the run directory) to know the lifecycle and
the gates, and a plan (``--plan FILE``) to know which tasks to create when an
instruction reaches a planning stage.

What it does for each kind of item:

- ``stage``: at a planning stage, creates the plan's tasks of its kind (the
  planner the strategic ones; each lead the tactical ones of its domain);
  otherwise records that the stage ran;
- ``stage_gate``, ``gate``: decides the gate with a passing outcome (scores in a
  passing band, measures at the thresholds);
- ``assign``: assigns the task to the best candidate;
- ``task``: reports a heartbeat, then makes the allowed move that brings the
  task closest to a successful end, never back to a state it left nor aside
  into a state the clock moves tasks out of (attesting what the target requires);
- ``handoff_create``, ``handoff_tick``, ``handoff``: hands the task over, ticks
  the checklist, accepts the handoff;
- ``delegation``, ``consultation``: acknowledges, answers.

``--crash AGENT:KIND`` makes it exit with status 3 midway, the first time it is
about to handle an item of KIND as AGENT (a marker file in the run directory
remembers it), to show that the dispatcher offers the work again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import deque
from pathlib import Path
from typing import Any

import anyio
import httpx2
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


class Agent:
    def __init__(self, client: Any, model: dict[str, Any], plan: dict[str, Any], me: str, run_dir: Path,
                 crash: str | None = None) -> None:
        self.client, self.model, self.plan, self.me = client, model, plan, me
        self.run_dir, self.crash = run_dir, crash
        self.states = {s["name"]: s for s in model["lifecycle"]["states"]}
        self.gates = {g["name"]: g for g in model["gates"]}

    async def call(self, tool: str, **args: Any) -> dict[str, Any]:
        result = await self.client.call_tool(tool, args)
        data: dict[str, Any] = result.structured_content or {}
        if result.is_error:
            raise RuntimeError(f"{tool} {args}: {result.content[0].text}")
        return data

    # -- items ------------------------------------------------------------------------------

    async def work(self, item: dict[str, Any], most: int = 20) -> None:
        """The item it was started for, then whatever else waits for it, as long as something does."""
        done: set[str] = set()
        for _ in range(most):
            waiting = (await self.call("work"))["items"]
            mine = next((i for i in waiting if i["key"] == item["key"]), None)
            if mine is None:
                mine = next((i for i in waiting if i["key"] not in done), None)
            if mine is None:
                return
            done.add(mine["key"])
            await self.handle(mine)
            item = {"key": ""}

    async def handle(self, item: dict[str, Any]) -> None:
        kind = item["kind"]
        if self.crash == f"{self.me}:{kind}":
            marker = self.run_dir / f".crashed-{self.me}-{kind}"
            if not marker.exists():
                marker.write_text("crashed once\n")
                os._exit(3)  # midway: what it did before stays recorded, this item is not done
        if kind == "stage":
            await self.stage(item["instruction"], item["detail"])
        elif kind == "stage_gate":
            outcome, scores = self.passing(item["detail"], None)
            await self.call("instruction_gate", instruction=item["instruction"], gate=item["detail"],
                            **({"scores": scores} if scores else {"outcome": outcome}))
        elif kind == "gate":
            await self.gate(item["task"], item["detail"])
        elif kind == "assign":
            await self.call("assign", task=item["task"])
        elif kind == "task":
            await self.work_on(item["task"])
        elif kind == "handoff_create":
            await self.call("handoff_create", task=item["task"], summary=f"{item['task']} is done and documented")
        elif kind == "handoff_tick":
            status = await self.call("status")
            h = next(h for h in status["handoffs"] if h["id"] == item["id"])
            await self.call("handoff_tick", handoff=h["id"], items=[i for i in h["checklist"] if i not in h["ticked"]])
        elif kind == "handoff":
            status = await self.call("status")
            h = next(h for h in status["handoffs"] if h["id"] == item["id"])
            await self.call("handoff_accept", handoff=h["id"], attest=self.states[h["on_accept"]]["requires"])
        elif kind == "delegation":
            await self.call("ack", delegation=item["id"], notes="on it")
        elif kind == "consultation":
            await self.call("answer", consultation=item["id"], answer="agreed; go ahead as planned")

    async def stage(self, instruction: str, stage: str) -> None:
        planning = {"strategic_planning": "strategic", "tactical_planning": "tactical", "delegation": "tactical"}
        kind = planning.get(stage)
        if kind is None:
            await self.call("instruction_stage", instruction=instruction, stage=stage)
            return
        me = next(a for a in self.model["agents"] if a["id"] == self.me)
        role = next(r for r in self.model["roles"] if r["id"] == me["role"])
        status = await self.call("status")
        tasks = [t for t in status["tasks"] if t["instruction"] == instruction]
        ids = {t["title"]: t["id"] for t in tasks}
        parent = next((t["id"] for t in tasks if t["kind"] == "strategic"), None)
        for entry in self.plan.get(kind, []):
            if role["kind"] == "lead" and entry["domain"] != me["domain"]:
                continue
            if entry["title"] in ids:
                continue
            args = {k: v for k, v in entry.items() if k not in ("depends",)}
            if entry.get("depends"):
                args["depends"] = [ids[d] for d in entry["depends"] if d in ids]
            if kind == "tactical" and parent is not None:
                args["parent"] = parent
            created = await self.call("task_create", instruction=instruction, kind=kind, **args)
            ids[entry["title"]] = created["task"]

    async def gate(self, task: str, gate: str) -> None:
        shown = await self.call("show", task=task)
        outcome, scores = self.passing(gate, shown["tier"])
        args: dict[str, Any] = {"task": task, "gate": gate}
        if scores:
            args["scores"] = scores
        else:
            args["outcome"] = outcome
        thresholds = {c: by_tier[str(shown["tier"])] for c, by_tier in self.gates[gate]["thresholds"].items()
                      if str(shown["tier"]) in by_tier}
        if thresholds:
            args["measures"] = {c: min(1.0, v + 0.05) for c, v in thresholds.items()}
        await self.call("gate", **args)

    def passing(self, gate: str, tier: int | None) -> tuple[str, dict[str, int]]:
        g = self.gates[gate]
        passes = [o["name"] for o in g["outcomes"] if o["effect"] == "pass"]
        if not g["bands"]:
            return passes[0], {}
        band = next(b for b in g["bands"] if b["outcome"] in passes)
        cats = g["score_categories"]
        total, each = band["low"], max(g["score_min"] or 0, band["low"] // len(cats))
        scores = dict.fromkeys(cats, each)
        scores[cats[0]] += total - each * len(cats)
        return band["outcome"], scores

    async def work_on(self, task: str) -> None:
        shown = await self.call("show", task=task)
        if shown["assignee"] == self.me and self.states[shown["state"]].get("heartbeat") is not None:
            await self.call("heartbeat", task=task, tokens=1000, note="progress", remaining="1h")
        options = (await self.call("moves", task=task))["moves"]
        distance = self.distances(shown["tier"])
        here = distance.get(shown["state"], 10**6)
        visited = {h[2] for h in shown["history"]}  # never back to a state the task has left
        # closer to the end; or as close, into a state that is not one the clock moves tasks out of
        waiting = {n for n, s in self.states.items() if any(t["after"] for t in s["transitions"])}
        allowed = [o for o in options if o["allowed"] and o["target"] not in visited
                   and (distance.get(o["target"], 10**6) < here
                        or (distance.get(o["target"], 10**6) == here and o["target"] not in waiting))]
        if not allowed:
            return
        best = min(allowed, key=lambda o: (distance[o["target"]], o["target"]))
        await self.call("move", task=task, to=best["target"], attest=best["requires"])

    def distances(self, tier: int) -> dict[str, int]:
        """Steps from each state to a successful end, over the transitions at ``tier``."""
        into: dict[str, list[str]] = {}
        for s in self.states.values():
            for t in s["transitions"]:
                if tier in t["tiers"]:
                    into.setdefault(t["target"], []).append(s["name"])
        ends = [n for n, s in self.states.items() if s["terminal"] == "success"]
        out = dict.fromkeys(ends, 0)
        queue = deque(ends)
        while queue:
            n = queue.popleft()
            for prev in into.get(n, []):
                if prev not in out:
                    out[prev] = out[n] + 1
                    queue.append(prev)
        return out


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plan", type=Path, required=True, help="the tasks to create at planning stages (YAML)")
    p.add_argument("--crash", default=None, metavar="AGENT:KIND", help="exit 3 the first time started so")
    a = p.parse_args()
    item = json.loads(os.environ["ORCHDSL_ITEM"])
    run_dir = Path(os.environ["ORCHDSL_RUN_DIR"])
    model = json.loads((run_dir / "model.json").read_text())
    plan = yaml.safe_load(a.plan.read_text()) or {}
    url = os.environ.get("ORCHDSL_MCP_URL")
    if url:  # the dispatcher runs in `serve --http`: use the served endpoint with this agent's token
        headers = {"Authorization": f"Bearer {os.environ['ORCHDSL_MCP_TOKEN']}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                await Agent(client, model, plan, item["agent"], run_dir, a.crash).work(item)
        return 0
    argv = json.loads(os.environ["ORCHDSL_MCP_ARGV"])  # else launch this agent's own MCP server
    async with Client(StdioServerParameters(command=argv[0], args=argv[1:])) as client:
        await Agent(client, model, plan, item["agent"], run_dir, a.crash).work(item)
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
