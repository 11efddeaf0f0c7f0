"""Rendering diagnostics as a SARIF 2.1.0 log, the format code-scanning tools read.

In: diagnostics and the source texts they point into. Out: one SARIF log
(a dict, ``json.dumps``-ready) with one run. Each code of the registry that
occurs becomes a rule (its code, kebab-case name, summary, default level, a
help URI at its page and, where the page is at hand, the page itself as
Markdown help); each diagnostic becomes a result with its level, message,
physical location and related locations (the labels), and a "did you mean"
becomes a fix that replaces the misspelt name. A usage, I/O or internal
error becomes a run whose invocation failed, with the error as a notification.

Paths are written as relative URIs against ``%SRCROOT%`` (the working
directory, where paths in diagnostics are relative to it), as ``file:`` URIs
otherwise.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from orchdsl import __version__
from orchdsl.codes import CODES, Code
from orchdsl.diagnostics import Diagnostic, Span, suggestion

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://orchdsl.dev/"
# The page of every code is docs/codes/<code>.md; `orchdsl explain CODE` prints it.
HELP_URI = "https://orchdsl.dev/docs/codes/{code}.md"
_PAGES = Path(__file__).resolve().parent.parent / "docs" / "codes"


def _driver(rules: list[dict[str, object]]) -> dict[str, object]:
    return {"name": "orchdsl", "version": __version__, "semanticVersion": __version__,
            "informationUri": INFORMATION_URI, "rules": rules}


def _level(code: Code) -> str:
    return "error" if code.severity.value == "error" else "warning"


def rule(code: Code) -> dict[str, object]:
    """The SARIF rule (reporting descriptor) of one diagnostic code."""
    out: dict[str, object] = {
        "id": code.code,
        "name": code.name,
        "shortDescription": {"text": code.summary},
        "helpUri": HELP_URI.format(code=code.code),
        "defaultConfiguration": {"level": _level(code)},
    }
    page = _PAGES / f"{code.code}.md"
    if page.is_file():
        text = page.read_text(encoding="utf-8")
        out["help"] = {"text": f"{code.summary}; run `orchdsl explain {code.code}` for the page",
                       "markdown": text}
    return out


def artifact_uri(file: str) -> tuple[str, str | None]:
    """A file name as it appears in a span, as a URI and its base id."""
    if file.startswith("<") and file.endswith(">"):  # <stdin>, <input>
        return quote(file.strip("<>")), None
    path = Path(file)
    if not path.is_absolute():
        return quote(path.as_posix()), "%SRCROOT%"
    return path.as_uri(), None


def _location(span: Span) -> dict[str, object]:
    uri, base = artifact_uri(span.file)
    artifact: dict[str, object] = {"uri": uri}
    if base:
        artifact["uriBaseId"] = base
    return {"physicalLocation": {
        "artifactLocation": artifact,
        "region": {"startLine": max(span.line, 1), "startColumn": max(span.column, 1),
                   "endLine": max(span.end_line, span.line, 1),
                   "endColumn": max(span.end_column, 1)},
    }}


def _message(d: Diagnostic) -> str:
    return "\n".join([d.message, *d.notes, *([d.help] if d.help else [])])


def result(d: Diagnostic, rule_index: int) -> dict[str, object]:
    out: dict[str, object] = {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": "error" if d.is_error else "warning",
        "message": {"text": _message(d)},
    }
    if d.span is not None:
        out["locations"] = [_location(d.span)]
    if d.labels:
        out["relatedLocations"] = [
            {"id": i, **_location(lb.span), "message": {"text": lb.message}}
            for i, lb in enumerate(d.labels, start=1)
        ]
    fix = suggestion(d)
    if fix is not None and d.span is not None:
        change = _location(d.span)["physicalLocation"]
        assert isinstance(change, dict)
        out["fixes"] = [{
            "description": {"text": f"replace with `{fix}`"},
            "artifactChanges": [{"artifactLocation": change["artifactLocation"],
                                 "replacements": [{"deletedRegion": change["region"],
                                                   "insertedContent": {"text": fix}}]}],
        }]
    return out


# %SRCROOT% is left for the reader to set (code scanning takes the repository's root): the
# log names no directory of the machine that wrote it, so the same spec gives the same log.
_RUN_BASE = {"columnKind": "unicodeCodePoints"}


def sarif_log(diags: list[Diagnostic]) -> dict[str, object]:
    """A SARIF log of one run that reported ``diags``."""
    used = sorted({d.code for d in diags})
    index = {code: i for i, code in enumerate(used)}
    run: dict[str, object] = {
        "tool": {"driver": _driver([rule(CODES[c]) for c in used])},
        "invocations": [{"executionSuccessful": True}],
        **_RUN_BASE,
        "results": [result(d, index[d.code]) for d in diags],
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def failed_run(kind: str, message: str) -> dict[str, object]:
    """A SARIF log of a run that could not check anything: a usage, I/O or internal error."""
    run: dict[str, object] = {
        "tool": {"driver": _driver([])},
        "invocations": [{
            "executionSuccessful": False,
            "exitCode": 3 if kind == "internal" else 2,
            "toolExecutionNotifications": [
                {"level": "error", "message": {"text": message}, "descriptor": {"id": kind}},
            ],
        }],
        **_RUN_BASE,
        "results": [],
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
