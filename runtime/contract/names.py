"""Names that become paths: the one rule every spec name and command id follows.

Roles, agents, domains, channels, instructions, tasks, handoffs and every id a
runtime command accepts end up as folder or file names in the Agent_Memory
tree. A name is safe when it could be a file name on every common platform:

- 1 to ``MAX_NAME`` characters of ASCII letters, digits, ``.``, ``_`` and ``-``;
- it starts with a letter or a digit and does not end with ``.``;
- it holds no ``..``;
- it is not a name Windows reserves for devices (``CON``, ``NUL``, ``COM1``...,
  with or without an extension, in any case).

``name_problem`` says what is wrong with a name (or ``None``); the checker and
the runtime both call it, so they can never disagree.
"""

from __future__ import annotations

import re

MAX_NAME = 100
"""the longest name, in characters"""

_SAFE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(10)}
    | {f"LPT{i}" for i in range(10)}
)
SAFE_NAME_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9_-])?$"
"""the rule as a JSON Schema pattern (all but the reserved device names), for ids in generated schemas"""
SAFE_NAME_RULE = (
    "1 to 100 ASCII letters, digits, `.`, `_` or `-`, starting with a letter or a digit, "
    "not ending with `.`, without `..`, and not a reserved device name such as `CON` or `NUL`"
)
"""the rule, in words, for messages"""


def name_problem(name: object) -> str | None:
    """What makes ``name`` unusable as a file name, or ``None`` when it is safe."""
    if not isinstance(name, str):
        return "a name is a text"
    if not name:
        return "the name is empty"
    if len(name) > MAX_NAME:
        return f"the name has {len(name)} characters; at most {MAX_NAME} are allowed"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
    if bad:
        shown = ", ".join(_show(c) for c in bad[:5])
        return f"the name holds {shown}; names use ASCII letters, digits, `.`, `_` and `-`"
    if ".." in name:
        return "the name holds `..`"
    if not _SAFE.fullmatch(name):
        return "a name starts with a letter or a digit and does not end with `.`"
    if name.split(".", 1)[0].upper() in _RESERVED:
        return f"`{name.split('.', 1)[0]}` is a device name that Windows reserves"
    return None


def is_safe_name(name: object) -> bool:
    """Whether ``name`` follows the rule (see ``name_problem``)."""
    return name_problem(name) is None


def _show(c: str) -> str:
    if c == "/" or c == "\\":
        return f"the separator `{c}`"
    if c == " ":
        return "a space"
    if not c.isprintable():
        return f"the control character U+{ord(c):04X}"
    return f"`{c}`"
