"""Diagnostics: the data every stage reports problems as.

A diagnostic is detected once and rendered many ways (see ``render``). Each
carries a code from the registry in ``codes``, a primary span, labelled
secondary spans, notes and an optional help line. Stages collect diagnostics
into a ``Diagnostics`` list; the pipeline sorts and de-duplicates them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from orchdsl.codes import CODES, Severity


class Span(NamedTuple):
    """A range of source text: 1-based lines and columns, end exclusive.

    A named tuple rather than a dataclass: one is made for every token parsed,
    and tuples are the cheapest immutable records Python has.
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


@dataclass(frozen=True, slots=True)
class Label:
    """A secondary span with a short message."""

    span: Span
    message: str


@dataclass(slots=True)
class Diagnostic:
    """One problem found in a spec."""

    code: str
    message: str
    span: Span | None = None
    labels: list[Label] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    help: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def name(self) -> str:
        return CODES[self.code].name

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[object, ...]:
        s = self.span
        where = (s.file, s.line, s.column) if s else ("", 0, 0)
        return (*where, self.code, self.message)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "span": self.span.to_json() if self.span else None,
            "labels": [{"span": lb.span.to_json(), "message": lb.message} for lb in self.labels],
            "notes": list(self.notes),
            "help": self.help,
        }


class Diagnostics:
    """An ordered collection of diagnostics from one or more stages."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []

    def add(
        self,
        code: str,
        message: str,
        span: Span | None = None,
        *,
        labels: Iterable[Label] = (),
        notes: Iterable[str] = (),
        help: str | None = None,
    ) -> Diagnostic:
        diag = Diagnostic(
            code=code,
            message=message,
            span=span,
            labels=list(labels),
            notes=list(notes),
            help=help,
            severity=CODES[code].severity,
        )
        self._items.append(diag)
        return diag

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self._items.extend(other)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    def sorted(self) -> list[Diagnostic]:
        """Sorted by place and code, duplicates removed."""
        seen: set[tuple[object, ...]] = set()
        out: list[Diagnostic] = []
        for d in sorted(self._items, key=Diagnostic.sort_key):
            key = d.sort_key()
            if key in seen:
                continue
            seen.add(key)
            out.append(d)
        return out


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt name, as a help line, if any is close."""
    import difflib

    pool = sorted(set(candidates))
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower().replace("_", "-"): c for c in pool}
        key = name.lower().replace("_", "-")
        if key in lowered:
            match = [lowered[key]]
    return f"did you mean `{match[0]}`?" if match else None


_SUGGESTED = re.compile(r"did you mean `([^`]+)`\?")


def suggestion(d: Diagnostic) -> str | None:
    """The name that a diagnostic's "did you mean" help offers in place of the text at its
    primary span (what editors offer as a quick fix and SARIF as a fix), if any."""
    found = _SUGGESTED.search(d.help or "")
    return found.group(1) if found and d.span is not None else None
