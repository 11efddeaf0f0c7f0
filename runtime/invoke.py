"""Commands of the table applied to an engine: arguments checked and converted, the engine called.

Every adapter (the command line, scenarios, the MCP tools) hands ``invoke`` the
command, the acting agent and the raw argument values as it has them: text
from a command line, YAML values from a scenario, JSON values from a tool
call. ``convert`` reads each by its parameter's kind (``4h`` or ``1.5d`` for a
duration, ``12K`` or ``12000`` for tokens, ``NAME=N`` pairs or a mapping for
scores...) and raises ``ArgumentError`` naming the parameter when a value
cannot be read; the engine then validates the command against the state and
refuses it (``Refused``) or records it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .contract import budgets
from .contract.commands import Command, Param
from .contract.events import Event
from .engine import Engine


class ArgumentError(ValueError):
    """An argument that cannot be read as its parameter's kind, or a missing one."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class Result:
    """What a command recorded: its events, and the id of what it created (if it creates one)."""

    events: list[Event]
    created: str | None = None


def invoke(engine: Engine, command: Command, as_: str | None, values: Mapping[str, Any]) -> Result:
    """Run an engine command with raw argument values; the events it recorded."""
    if command.view:
        raise ValueError(f"`{command.name}` is a view, not an engine command")
    unknown = sorted(set(values) - {p.name for p in command.params})
    if unknown:
        raise ArgumentError(unknown[0], f"`{command.name}` takes no `{unknown[0]}`")
    kwargs = arguments(command, values)
    method = getattr(engine, command.method)
    before = engine.store.last_seq()
    if command.acts:
        if not as_:
            raise ArgumentError("as", f"`{command.name}` needs the acting agent")
        out = method(as_, **kwargs)
    else:
        out = method(**kwargs)
    created = out if isinstance(out, str) else None
    events = out if isinstance(out, list) else engine.store.read(before)
    return Result(events, created)


def arguments(command: Command, values: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's keyword arguments from raw values (defaults for what is not given)."""
    kwargs: dict[str, Any] = {}
    for p in command.params:
        raw = values.get(p.name)
        if raw is None or (p.many and raw == []):
            if p.required:
                raise ArgumentError(p.name, f"`{command.name}` needs `{p.name}` ({p.help})")
            if p.kind == "estimate":
                continue
            if p.default is not None or p.many:
                kwargs[p.keyword] = p.default if p.default is not None else ()
            continue
        value = convert(p, raw)
        if p.kind == "estimate":
            kwargs["estimate_hours"], kwargs["estimate_tokens"] = value
        else:
            kwargs[p.keyword] = value
    return kwargs


def convert(p: Param, raw: Any) -> Any:
    """A raw value read as the parameter's kind; ``ArgumentError`` says what was expected."""
    try:
        return _CONVERT[p.kind](p, raw)
    except budgets.BudgetError as exc:
        raise ArgumentError(p.name, f"`{p.name}`: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ArgumentError(p.name, f"`{p.name}`: {exc}") from None


def _text(p: Param, raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise TypeError(f"expected a text, got {_kind(raw)}")
    return str(raw)  # a YAML scalar such as 3 or 1.5 is a text here


def _words(p: Param, raw: Any) -> str:
    if isinstance(raw, list | tuple):
        return " ".join(_text(p, w) for w in raw)
    return _text(p, raw)


def _choice(p: Param, raw: Any) -> str:
    text = _text(p, raw)
    if p.choices and text not in p.choices:
        raise ValueError(f"`{text}` is not one of {', '.join(f'`{c}`' for c in p.choices)}")
    return text


def _list(p: Param, raw: Any, split: bool) -> list[str]:
    items = list(raw) if isinstance(raw, list | tuple) else [raw]
    out: list[str] = []
    for item in items:
        text = _text(p, item)
        out += [s.strip() for s in text.split(",") if s.strip()] if split else [text]
    return out


def _int(p: Param, raw: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError("expected a whole number, got a boolean")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        value = int(raw.strip())
    else:
        raise ValueError(f"expected a whole number, got `{raw}`")
    if abs(value) > 2**53:
        raise ValueError("the number is too large")
    return value


def _flag(p: Param, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    raise TypeError(f"expected true or false, got {_kind(raw)}")


def _duration(raw: Any) -> float:
    return budgets.parse_duration(_text(Param("", "text", ""), raw))


def _time(p: Param, raw: Any) -> float:
    if isinstance(raw, datetime):
        dt = raw
    else:
        try:
            dt = datetime.fromisoformat(_text(p, raw).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"bad time `{raw}`; write e.g. 2025-01-06T09:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    t = dt.timestamp()
    problem = budgets.time_problem(t)
    if problem is not None:
        raise ValueError(f"`{raw}`: {problem}")
    return t


def _tokens(p: Param, raw: Any) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if not math.isfinite(raw) or not 0 <= raw <= budgets.MAX_TOKENS:
            raise ValueError(f"a token count is between 0 and {budgets.MAX_TOKENS:g}")
        return float(raw)
    return budgets.parse_tokens(_text(p, raw))


def _estimate(p: Param, raw: Any) -> tuple[float | None, float | None]:
    return budgets.parse_estimate(_list(p, raw, split=False))


def _pairs(p: Param, raw: Any, number: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        items = [(str(k), v) for k, v in raw.items()]
    else:
        items = []
        for item in _list(p, raw, split=False):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"bad pair `{item}`; write NAME=VALUE")
            items.append((key.strip(), value.strip()))
    return {k: number(v) for k, v in items}


def _score(v: Any) -> int:
    return _int(Param("", "int", ""), v)


def _measure(v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError("expected a number, got a boolean")
    if isinstance(v, str):
        text = v.strip()
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    elif isinstance(v, int | float):
        value = float(v)
    else:
        raise TypeError(f"expected a number, got {_kind(v)}")
    if not math.isfinite(value):
        raise ValueError("a measure must be a finite number")
    return value


def _kind(v: Any) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, Mapping):
        return "a mapping"
    if isinstance(v, Sequence) and not isinstance(v, str):
        return "a list"
    return f"`{v}`"


_CONVERT: dict[str, Any] = {
    "text": _text,
    "words": _words,
    "id": _text,
    "choice": _choice,
    "ids": lambda p, raw: _list(p, raw, split=True),
    "texts": lambda p, raw: _list(p, raw, split=False),
    "int": _int,
    "flag": _flag,
    "hours": lambda p, raw: _duration(raw) / 3600.0,
    "seconds": lambda p, raw: _duration(raw),
    "time": _time,
    "tokens": _tokens,
    "estimate": _estimate,
    "scores": lambda p, raw: _pairs(p, raw, _score),
    "measures": lambda p, raw: _pairs(p, raw, _measure),
}
