"""The Model Context Protocol interface: the command table as MCP tools, for agents.

``build(service, who)`` makes an MCP server (the official ``mcp`` SDK's
low-level ``Server``) whose tools are the commands the calling agent is
offered: one tool per command of the table, named as the command
(``move``, ``task_create``, ``handoff_accept``...), with the JSON Schema of
its arguments generated from the table; the views (``work``, ``moves``,
``inbox``, ``show``, ``status``...) are tools too. A refusal is a tool error
whose structured content carries the RUN code and the reason.

``who()`` says which agent is calling: over stdio the agent fixed at launch
(``orchdsl run mcp --as AGENT``); over streamable HTTP the agent whose token
the request carried (``http_app``). An agent never names itself in a call:
the identity is the connection's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import ServerRequestContext
from starlette.applications import Starlette

from .contract.commands import Command, arguments_schema
from .service import Outcome, Service
from .tokens import agent_of

INSTRUCTIONS = (
    "You are an agent of an organisation run by orchdsl. Every tool acts as you; a refused call "
    "changes nothing and says why, with a RUN code. Start with `work` to see what waits for you."
)


def tool_of(command: Command, agent: str) -> types.Tool:
    """The MCP tool of a command, as offered to ``agent``."""
    kind = "a read-only view" if command.view else "records what you do"
    return types.Tool(
        name=command.name,
        description=f"{command.summary} ({kind}; you act as `{agent}`).",
        input_schema=arguments_schema(command, acting_as=False, by_agent=True),
        annotations=types.ToolAnnotations(read_only_hint=command.view or not command.writes,
                                          destructive_hint=False, idempotent_hint=command.view),
    )


def result_of(outcome: Outcome) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=outcome.text)],
        structured_content=json.loads(json.dumps(outcome.data, default=str)),
        is_error=outcome.error,
    )


def build(service: Service, who: Callable[[], str | None], name: str = "orchdsl") -> Server[Any]:
    """An MCP server over ``service`` for the agent ``who()`` names on each request."""

    def caller() -> str:
        agent = who()
        if agent is None:
            raise PermissionError("no agent: present the token of an agent")
        return agent

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        agent = caller()
        return types.ListToolsResult(tools=[tool_of(c, agent) for c in service.offered(agent).values()])

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
                        ) -> types.CallToolResult:
        agent = caller()
        outcome = await anyio.to_thread.run_sync(service.call, agent, params.name, params.arguments or {})
        return result_of(outcome)

    return Server(name, version=_version(), instructions=INSTRUCTIONS, on_list_tools=list_tools,
                  on_call_tool=call_tool)


async def serve_stdio(service: Service, agent: str) -> None:
    """Serve one agent over standard input and output until the client closes them."""
    from mcp.server.stdio import stdio_server

    server = build(service, lambda: agent, f"orchdsl-{agent}")
    service.warm()  # before the first request: no call waits for an import
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


class AgentTokens:
    """The SDK's token verifier over the run's agent tokens: a valid token names its agent."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        agent = agent_of(self.tokens, token)
        if agent is None:
            return None
        return AccessToken(token=token, client_id=agent, scopes=["agent"], subject=agent)


def http_app(service: Service, tokens: dict[str, str], host: str, port: int) -> Starlette:
    """The streamable-HTTP app at ``/mcp``: every request carries ``Authorization: Bearer TOKEN``."""

    def who() -> str | None:
        token = get_access_token()
        return token.client_id if token is not None else None

    server = build(service, who)
    base = f"http://{host}:{port}"
    auth = AuthSettings(issuer_url=base, resource_server_url=None, required_scopes=["agent"])  # type: ignore[arg-type]
    return server.streamable_http_app(host=host, auth=auth, token_verifier=AgentTokens(tokens))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("orchdsl")
    except PackageNotFoundError:
        return "0"
