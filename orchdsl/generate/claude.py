"""The Claude Code layout (``orchdsl compile --layout claude``): the model in, ``.claude/agents/``
and ``.mcp.json`` out, besides the usual output.

Each agent is a Claude Code subagent, ``.claude/agents/{agent}.md``: YAML front matter (``name``,
``description``, ``tools``, then ``model`` and ``color`` when the role declares them) and the
prompt as its body (``prompts.prompt_files`` with ``mcp``). Its tools are the role's declared
tools and those of its own MCP server, spelled ``mcp__orchdsl-{agent}__{command}``. ``.mcp.json``
at the output root declares one stdio server per agent, ``orchdsl-{agent}``, launching
``orchdsl run mcp --as AGENT --dir RUN_DIR``: an agent's identity is fixed when its server
starts, and no agent is offered another's tools.

The output root is often a project of its own, so compilation keeps what it did not make: the
servers of an existing ``.mcp.json`` that do not launch ``orchdsl run mcp`` stay
(``merge_mcp``), and in ``.claude/agents/`` it replaces or removes only files that carry the
prompts' marker (``owned``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchdsl_runtime.contract.paths import inside
from orchdsl_runtime.model import Model

from orchdsl.generate import common as c
from orchdsl.generate.common import mcp_server
from orchdsl.generate.prompts import MARKER, prompt_files
from orchdsl.model import Organisation

AGENTS = ".claude/agents"
MCP_JSON = ".mcp.json"
ROOTS = (AGENTS, MCP_JSON)
"""what the layout may own in the output root, besides the usual output"""


def launch(agent: str, run_dir: str) -> dict[str, Any]:
    """The stdio server of one agent, as ``.mcp.json`` declares it."""
    return {"command": "orchdsl", "args": ["run", "mcp", "--as", agent, "--dir", run_dir]}


def _ours(server: Any) -> bool:
    return (isinstance(server, dict) and server.get("command") == "orchdsl"
            and list(server.get("args") or [])[:2] == ["run", "mcp"])


def mcp_json(agents: list[str], run_dir: str) -> str:
    servers = {mcp_server(a): launch(a, run_dir) for a in agents}
    return json.dumps({"mcpServers": servers}, indent=2, ensure_ascii=False) + "\n"


def claude_files(org: Organisation, model: Model | None, run_dir: str) -> dict[str, str]:
    """``.claude/agents/{agent}.md`` for every agent, and ``.mcp.json``."""
    files = prompt_files(org, model, run_dir, mcp=True)
    agents = [a.id for a in c.People(org).agents if f"{AGENTS}/{a.id}.md" in files]
    files[MCP_JSON] = mcp_json(agents, run_dir)
    return files


def merge_mcp(existing: str, ours: str) -> str:
    """An existing ``.mcp.json`` with its ``orchdsl run mcp`` servers replaced by ours, its other
    servers and keys kept; ``ValueError`` when it is not a JSON object of that form."""
    try:
        data = json.loads(existing)
    except ValueError as exc:
        raise ValueError(f"`{MCP_JSON}` is not JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers", {}), dict):
        raise ValueError(f"`{MCP_JSON}` must be an object whose `mcpServers` is an object")
    kept = {name: s for name, s in data.get("mcpServers", {}).items() if not _ours(s)}
    servers = {**kept, **json.loads(ours)["mcpServers"]}
    return json.dumps({**data, "mcpServers": servers}, indent=2, ensure_ascii=False) + "\n"


def settle(root: Path, files: dict[str, str], present: dict[str, int]) -> None:
    """Fit the files of the layout to what the output root holds: merge ``.mcp.json``."""
    if MCP_JSON in files and MCP_JSON in present:
        existing = inside(root, MCP_JSON).read_text(encoding="utf-8")
        files[MCP_JSON] = merge_mcp(existing, files[MCP_JSON])


def owned(root: Path, present: dict[str, int]) -> dict[str, int]:
    """The files of the output root compilation owns, without the subagent files it did not
    make (those without the prompts' marker)."""
    out = {}
    for rel, size in present.items():
        if rel.startswith(AGENTS + "/"):
            mine = rel.count("/") == 2 and rel.endswith(".md") and MARKER in inside(root, rel).read_text(
                encoding="utf-8", errors="replace")
            if not mine:
                continue
        out[rel] = size
    return out
