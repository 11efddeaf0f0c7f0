"""Budgets: amounts of time and tokens, one grammar of units for the language and the runtime.

A budget literal is a number followed by a unit: time in minutes, hours, days
or weeks (``30m``, ``4h``, ``1.5d``, ``2w``), tokens in thousands or millions
(``50K``, ``1.2M``). ``TIME_UNITS`` and ``TOKEN_UNITS`` are the only units;
the checker reads a spec's budgets with ``parse_budget`` and suggests a unit
for a misspelt one (``unit_suggestion``), and every runtime command reads
durations, token counts and estimates with the same functions.

Formatting is the inverse for the files agents read (``time_text``,
``tokens_text``, ``budget_text``) and, for people reading status views,
``span_text`` rounds a span to the unit a person expects.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Literal

TIME_UNITS: dict[str, float] = {"m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
"""time unit -> seconds"""
TOKEN_UNITS: dict[str, float] = {"K": 1_000.0, "M": 1_000_000.0}
"""token unit -> tokens"""
UNIT_NAMES = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks", "K": "thousand tokens",
              "M": "million tokens"}

MAX_SECONDS = 100 * 365 * 86_400.0
"""the longest time a budget or a clock step may span (a hundred years)"""
MAX_TOKENS = 1e15
"""the largest token amount"""
MIN_TIME = 0.0
"""the earliest time of a clock, in seconds since the epoch (1970-01-01T00:00:00Z)"""
MAX_TIME = 64_060_588_800.0
"""the latest time of a clock (4000-01-01T00:00:00Z): deadlines a hundred years of budgets
later and forecasts still fall inside the calendar every time is written in"""

_LITERAL = re.compile(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]+)")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")

Dimension = Literal["time", "tokens"]


class BudgetError(ValueError):
    """A budget literal that cannot be read; the message says what to write instead."""


def parse_budget(text: str) -> tuple[Dimension, float]:
    """``4h`` -> ``("time", 14400.0)``; ``50K`` -> ``("tokens", 50000.0)``."""
    t = text.strip()
    m = _LITERAL.fullmatch(t)
    if m is None:
        raise BudgetError(f"bad budget `{text}`; write a number and a unit, e.g. 30m, 4h, 1.5d or 50K")
    number, unit = float(m.group(1)), m.group(2)
    if unit in TIME_UNITS:
        return "time", _bounded(number * TIME_UNITS[unit], MAX_SECONDS, text)
    if unit in TOKEN_UNITS:
        return "tokens", _bounded(number * TOKEN_UNITS[unit], MAX_TOKENS, text)
    hint = unit_suggestion(unit)
    raise BudgetError(f"unknown unit `{unit}` in `{text}`" + (f"; did you mean `{hint}`" if hint else "")
                      + "; units are m, h, d, w (time) and K, M (tokens)")


def parse_duration(text: str) -> float:
    """``30m``, ``4h``, ``1.5d``, ``2w`` -> seconds."""
    if not _LITERAL.fullmatch(text.strip()):
        raise BudgetError(f"bad duration `{text}`; write a number and a unit, e.g. 30m, 4h, 1.5d or 2w")
    dim, value = parse_budget(text)
    if dim != "time":
        raise BudgetError(f"`{text}` is a token amount; give a duration such as 30m, 4h or 1.5d")
    return value


def parse_tokens(text: str) -> float:
    """``12000``, ``12K``, ``1.2M`` -> a token count."""
    t = text.strip()
    if _NUMBER.fullmatch(t):
        return _bounded(float(t), MAX_TOKENS, text)
    dim, value = parse_budget(t)
    if dim != "tokens":
        raise BudgetError(f"`{text}` is a duration; give tokens such as 12000, 12K or 1.2M")
    return value


def parse_estimate(items: list[str] | tuple[str, ...]) -> tuple[float | None, float | None]:
    """Estimates as written (``6h``, ``50K``; a time and a token amount at most) -> (hours, tokens)."""
    hours = tokens = None
    for text in items:
        try:
            dim, value = parse_budget(text)
        except BudgetError as exc:
            raise BudgetError(f"bad estimate `{text}`; write hours (6h, 1.5d) or tokens (50K, 1.2M)") from exc
        if dim == "time":
            hours = value / 3600.0
        else:
            tokens = value
    return hours, tokens


def literal_at(text: str, pos: int = 0) -> tuple[str, str] | None:
    """The number and the unit (letters, known or not) of a budget literal starting at ``pos``."""
    m = _LITERAL.match(text, pos)
    return (m.group(1), m.group(2)) if m else None


def unit_suggestion(unit: str) -> str | None:
    """The unit someone probably meant by ``unit`` (``hours`` -> ``h``), if any."""
    lowered = unit.lower()
    for short, name in UNIT_NAMES.items():
        if short in TIME_UNITS and (lowered == name or lowered == name.rstrip("s") or
                                    (len(lowered) > 1 and name.startswith(lowered))):
            return short
    if lowered in ("k", "thousand"):
        return "K"
    if lowered in ("mil", "million", "millions"):
        return "M"
    if lowered in ("min", "mins", "minute"):
        return "m"
    if lowered in ("hr", "hrs"):
        return "h"
    close = difflib.get_close_matches(unit, [*TIME_UNITS, *TOKEN_UNITS], n=1)
    return close[0] if close else None


def time_problem(t: object) -> str | None:
    """What makes ``t`` unusable as a clock's time (seconds since the epoch), or ``None``."""
    if isinstance(t, bool) or not isinstance(t, int | float):
        return "a time is a number of seconds since 1970-01-01T00:00:00Z"
    if not math.isfinite(t):
        return f"`{t}` is not a finite number"
    if not MIN_TIME <= t <= MAX_TIME:
        return "a time lies between 1970-01-01T00:00:00Z and 4000-01-01T00:00:00Z"
    return None


def _bounded(value: float, limit: float, text: str) -> float:
    if not math.isfinite(value) or value > limit:
        raise BudgetError(f"`{text}` is too large")
    return value


# -- formatting -------------------------------------------------------------------------


def number_text(x: float) -> str:
    """``4.0`` -> ``4``, ``1.5`` -> ``1.5``."""
    return f"{x:g}" if x != int(x) else str(int(x))


def time_text(seconds: float) -> str:
    """Seconds as the largest whole unit: 172800 -> 2d, 14400 -> 4h, 1800 -> 30m."""
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 3600:
        return f"{number_text(round(seconds / 3600, 2))}h"
    if seconds >= 60:
        return f"{number_text(round(seconds / 60, 2))}m"
    return f"{number_text(seconds)}s"


def tokens_text(tokens: float) -> str:
    """A token count as a budget literal: 50000 -> 50K, 1200000 -> 1.2M, 800 -> 800."""
    if tokens >= 1_000_000 and tokens % 10_000 == 0:
        return f"{number_text(tokens / 1_000_000)}M"
    if tokens >= 1000 and tokens % 10 == 0:
        return f"{number_text(tokens / 1000)}K"
    return number_text(tokens)


def estimate_text(share: float) -> str:
    """A share of a task's estimate: 1 -> ``estimate``, 0.5 -> ``50% of estimate``."""
    if share == 1:
        return "estimate"
    return f"{number_text(round(share * 100, 4))}% of estimate"


def budget_text(kind: str, value: float, text: str = "") -> str:
    """A budget as a person would write it, computed from its value (a multiple keeps its text)."""
    if kind == "time":
        return time_text(value)
    if kind == "tokens":
        return tokens_text(value)
    if kind == "estimate":
        return estimate_text(value)
    return text or f"{number_text(value)}x"


def hours_text(hours: float) -> str:
    """An amount of work in hours as a literal: 6 -> ``6h``, 1.25 -> ``1.25h``."""
    return f"{_plain(hours)}h"


def span_text(seconds: float) -> str:
    """A span for people: seconds under a minute, minutes under an hour, hours under two days, then days."""
    s = abs(seconds)
    if s < 60:
        return f"{_plain(round(s))}s"
    if s < 3600:
        return f"{_plain(round(s / 60, 1))}m"
    if s < 2 * 86400:
        return f"{_plain(round(s / 3600, 1))}h"
    return f"{_plain(round(s / 86400, 1))}d"


def count_text(n: float) -> str:
    """A token count for people: 12000 -> ``12K``, 1500000 -> ``1.5M``."""
    if n >= 1e6:
        return f"{_plain(round(n / 1e6, 3))}M"
    if n >= 1e3:
        return f"{_plain(round(n / 1e3, 3))}K"
    return _plain(n)


def _plain(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def effort_text(hours: float | None, tokens: float | None) -> str:
    """A task's estimate as a literal (``6h``, ``50K``, ``1.2M``); hours win when both are given."""
    if hours is not None:
        return f"{_plain(hours)}h"
    if tokens is not None:
        if tokens >= 1e6 and re.fullmatch(r"\d+(\.\d+)?", _plain(tokens / 1e6)):
            return f"{_plain(tokens / 1e6)}M"
        return f"{_plain(tokens / 1e3)}K"
    return "0h"
