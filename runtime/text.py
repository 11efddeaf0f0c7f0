"""Text for people: aligned tables, percentages and numbers, as the command line and the report print them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], indent: str = "") -> str:
    """An aligned text table; columns of numbers are right-aligned."""
    body = [["" if c is None else str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in body:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    numeric = [all(_numeric(r[i]) for r in body) and bool(body) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return (indent + "  ".join(out)).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in body)])


def _numeric(s: str) -> bool:
    return bool(re.fullmatch(r"-?[\d.,]+%?|", s))


def pct(x: float) -> str:
    """A share as a whole percentage: 0.854 -> ``85%``."""
    return f"{x * 100:.0f}%"


def number(x: float, places: int = 2) -> float | int:
    """A number for output: rounded, and an int when whole."""
    r = round(float(x), places)
    return int(r) if r == int(r) else r
