"""Rendering diagnostics: the same data as a human view, short lines, JSON,
GitHub workflow annotations or a SARIF log (``sarif``).

In: diagnostics and the source texts they point into. Out: text.

At most ``MAX_PER_FILE`` diagnostics are shown per file (errors before
warnings), followed by an "and N more" line in every format; the counts in
summaries stay those of every diagnostic. Control characters in messages and
source lines are shown as visible symbols, never written to the terminal raw.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass

from orchdsl.diagnostics import Diagnostic, Span

FORMATS = ("human", "short", "json", "github", "sarif")

MAX_PER_FILE = 200
"""the most diagnostics shown for one file; the rest are counted in an "and N more" line"""

# C0 controls (but tab and newline) as their Unicode control pictures; DEL, C1 and the
# bidirectional controls that reorder text as U+FFFD: one character each, so columns stay.
_VISIBLE = {c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A)}
_VISIBLE.update({c: 0xFFFD for c in [*range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]})


def visible(text: str) -> str:
    """Text with its control characters (but tab and newline) replaced by visible symbols."""
    return text.translate(_VISIBLE)


@dataclass(frozen=True, slots=True)
class Omitted:
    """Diagnostics of one file that were not shown."""

    file: str
    errors: int
    warnings: int

    @property
    def count(self) -> int:
        return self.errors + self.warnings

    def message(self) -> str:
        kinds = [f"{n:,} {word}{'s' if n != 1 else ''}"
                 for n, word in ((self.errors, "error"), (self.warnings, "warning")) if n]
        where = f" in `{visible(self.file)}`" if self.file else " without a location"
        return f"and {self.count:,} more{where} ({', '.join(kinds)}) not shown; fix these and check again"


def capped(diags: list[Diagnostic], limit: int = MAX_PER_FILE) -> tuple[list[Diagnostic], list[Omitted]]:
    """At most ``limit`` diagnostics per file, errors first, in their original order; and
    what was left out, per file."""
    by_file: dict[str, list[Diagnostic]] = {}
    for d in diags:
        by_file.setdefault(d.span.file if d.span else "", []).append(d)
    keep: set[int] = set()
    omitted: list[Omitted] = []
    for file, items in by_file.items():
        if len(items) <= limit:
            keep.update(map(id, items))
            continue
        chosen = sorted(items, key=lambda d: not d.is_error)[:limit]
        keep.update(map(id, chosen))
        left = len(items) - limit
        errors = sum(d.is_error for d in items) - sum(d.is_error for d in chosen)
        omitted.append(Omitted(file, errors, left - errors))
    return [d for d in diags if id(d) in keep], omitted

_COLOURS = {"error": "\033[1;31m", "warning": "\033[1;33m", "bold": "\033[1m", "blue": "\033[1;34m",
            "reset": "\033[0m"}


def colour_enabled(choice: str, stream: object) -> bool:
    """Whether to colour output to ``stream``: ``--color always|never``, else a terminal
    unless ``NO_COLOR`` is set to anything (https://no-color.org)."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Paint:
    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, text: str, colour: str) -> str:
        return f"{_COLOURS[colour]}{text}{_COLOURS['reset']}" if self.on else text


def summary_line(diags: list[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) if parts else "no problems found"


def render(diags: list[Diagnostic], sources: dict[str, str], fmt: str, colour: bool = False) -> str:
    shown, omitted = capped(diags)
    if fmt == "json":
        return json.dumps(
            {"diagnostics": [d.to_json() for d in shown],
             "errors": sum(d.is_error for d in diags),
             "warnings": sum(not d.is_error for d in diags),
             "omitted": [{"file": o.file or None, "errors": o.errors, "warnings": o.warnings,
                          "message": o.message()} for o in omitted]},
            indent=2,
        ) + "\n"
    if fmt == "sarif":
        from orchdsl.sarif import sarif_log

        return json.dumps(sarif_log(diags), indent=2, ensure_ascii=False) + "\n"
    if fmt == "short":
        return "".join(short(d) + "\n" for d in shown) + "".join(
            f"{visible(o.file) + ': ' if o.file else ''}note: {o.message()}\n" for o in omitted)
    if fmt == "github":
        return "".join(github(d) + "\n" for d in shown) + "".join(
            f"::notice {_gh_file(o.file)}title=more diagnostics::{_gh_escape(o.message())}\n"
            for o in omitted)
    paint = _Paint(colour)
    lines = SourceLines(sources)
    out = [human(d, lines, paint) for d in shown]
    out += [paint("note", "bold") + f": {o.message()}" for o in omitted]
    return "\n".join(out) + ("\n" if out else "")


def short(d: Diagnostic) -> str:
    where = f"{visible(d.span.file)}:{d.span.line}:{d.span.column}: " if d.span else ""
    return f"{where}{d.severity.value}[{d.code}]: {visible(d.message)}"


def _gh_file(file: str) -> str:
    return f"file={_gh_escape(file, True)}," if file else ""


def _gh_escape(text: str, prop: bool = False) -> str:
    text = visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github(d: Diagnostic) -> str:
    kind = "error" if d.is_error else "warning"
    props = [f"title={_gh_escape(f'{d.code} {d.name}', True)}"]
    if d.span:
        props = [
            f"file={_gh_escape(d.span.file, True)}",
            f"line={d.span.line}",
            f"col={d.span.column}",
            f"endLine={d.span.end_line}",
            f"endColumn={d.span.end_column}",
            *props,
        ]
    message = d.message + (f"\n{d.help}" if d.help else "")
    return f"::{kind} {','.join(props)}::{_gh_escape(message)}"


class SourceLines:
    """Lines of each source, split once."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources
        self._cache: dict[str, list[str]] = {}

    def line(self, file: str, n: int) -> str | None:
        if file not in self._cache:
            text = self.sources.get(file)
            if text is None:
                return None
            # Lines end at "\n" only, as the parser counts them (splitlines would also
            # break at form feeds and other separators, and shift the line numbers).
            self._cache[file] = [ln.removesuffix("\r") for ln in text.split("\n")]
        lines = self._cache[file]
        return lines[n - 1] if 0 < n <= len(lines) else None


def human(d: Diagnostic, lines: SourceLines, paint: _Paint) -> str:
    sev = d.severity.value
    head = paint(f"{sev}[{d.code}]", sev) + paint(f": {visible(d.message)}", "bold")
    out = [head]
    spans: list[tuple[Span, str, bool]] = []
    if d.span:
        spans.append((d.span, "", True))
    spans.extend((lb.span, lb.message, False) for lb in d.labels)
    width = max((len(str(s.line)) for s, _, _ in spans), default=1)
    gutter = " " * width
    bar = paint("|", "blue")
    if d.span:
        out.append(f"{gutter}{paint('-->', 'blue')} {visible(d.span.file)}:{d.span.line}:{d.span.column}")
    current_file = d.span.file if d.span else None
    # One snippet per source line, with one underline row per span on it.
    for (file, line_no), marks in _by_line(spans):
        if file != current_file:
            first = marks[0][0]
            out.append(f"{gutter}{paint('::>', 'blue')} {visible(file)}:{first.line}:{first.column}")
            current_file = file
        text = lines.line(file, line_no)
        if text is None:
            continue
        text = visible(text.replace("\t", " "))
        out.append(f"{gutter} {bar}")
        out.append(f"{paint(str(line_no).rjust(width), 'blue')} {bar} {text}")
        for span, message, primary in marks:
            start = max(span.column - 1, 0)
            end = span.end_column - 1 if span.end_line == span.line else len(text)
            mark = ("^" if primary else "-") * max(end - start, 1)
            label = f" {visible(message)}" if message else ""
            out.append(f"{gutter} {bar} {' ' * start}{paint(mark + label, sev if primary else 'blue')}")
    for note in d.notes:
        out.append(f"{gutter} {paint('=', 'blue')} note: {visible(note)}")
    if d.help:
        out.append(f"{gutter} {paint('=', 'blue')} help: {visible(d.help)}")
    return "\n".join(out)


def _by_line(
    spans: Iterable[tuple[Span, str, bool]],
) -> list[tuple[tuple[str, int], list[tuple[Span, str, bool]]]]:
    """Spans grouped by source line: the primary span's line first, then in
    source order; within a line, the primary span first, then by column."""
    groups: dict[tuple[str, int], list[tuple[Span, str, bool]]] = {}
    for item in _ordered(spans):
        groups.setdefault((item[0].file, item[0].line), []).append(item)
    for marks in groups.values():
        marks.sort(key=lambda m: (not m[2], m[0].column))
    return list(groups.items())


def _ordered(spans: Iterable[tuple[Span, str, bool]]) -> list[tuple[Span, str, bool]]:
    """Primary first, then labels in source order."""
    items = list(spans)
    primary = [s for s in items if s[2]]
    rest = sorted((s for s in items if not s[2]), key=lambda s: (s[0].file, s[0].line, s[0].column))
    return primary + rest
