"""Agent tokens: how an agent proves who it is to ``orchdsl run serve --http``.

``tokens.json`` in the run directory maps each agent to a random token (256
bits, URL-safe); the file is created owner-only (mode 0600) and never
rewritten in place. ``issue`` makes tokens for agents that have none (or new
ones with ``rotate``); ``agent_of`` finds the agent a presented token belongs
to, comparing in constant time. Over stdio there is no token: the agent is
fixed when the server is launched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

TOKENS_FILE = "tokens.json"


class TokenError(Exception):
    """The tokens file cannot be used (unreadable, not JSON, readable by others)."""


def load(run_dir: Path) -> dict[str, str]:
    """Agent -> token, as stored; ``{}`` when no token was issued."""
    path = run_dir / TOKENS_FILE
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    if not stat.S_ISREG(st.st_mode):
        raise TokenError(f"`{path}` is not a file")
    if st.st_mode & 0o077:
        raise TokenError(f"`{path}` can be read by others (mode {stat.S_IMODE(st.st_mode):o}); "
                         f"run `chmod 600 {path}` or issue new tokens with `orchdsl run tokens --rotate`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TokenError(f"`{path}` cannot be read: {exc}") from exc
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in agents.items()):
        raise TokenError(f"`{path}` does not hold tokens by agent")
    return dict(agents)


def issue(run_dir: Path, agents: Iterable[str], rotate: bool = False) -> dict[str, str]:
    """Give every agent of ``agents`` a token (a new one with ``rotate``); returns all tokens."""
    tokens = load(run_dir)
    for agent in agents:
        if rotate or agent not in tokens:
            tokens[agent] = secrets.token_urlsafe(32)
    _write(run_dir / TOKENS_FILE, json.dumps({"agents": dict(sorted(tokens.items()))}, indent=2) + "\n")
    return tokens


def agent_of(tokens: dict[str, str], presented: str) -> str | None:
    """The agent a token belongs to, or ``None``; every stored token is compared, in constant time."""
    given = hashlib.sha256(presented.encode("utf-8")).digest()
    found = None
    for agent, token in tokens.items():
        if hmac.compare_digest(hashlib.sha256(token.encode("utf-8")).digest(), given):
            found = agent
    return found


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
