"""What the language server knows about an open spec, and the answers it gives.

In: a document's text (and its path, for includes). Out: an ``Analysis``,
the same ``Result`` as ``orchdsl check`` gives for that text (diagnostics,
model, syntax trees) plus the ``Index`` of its names, and from it the
answers to the editor's questions: where a name is declared and used, what a
hover shows, what completes at a place, which quick fixes apply. Places are
``Span``s here (1-based lines and columns); ``server`` converts them to LSP
positions.

Parsing keeps what it parsed before: a spec is cut into its top-level
declarations (each starts a line with a top-level keyword), and each
declaration's syntax tree is kept by its text and first line, so that a
change re-parses only the declarations it touched. When any piece does not
parse on its own, the whole text is parsed as ``orchdsl check`` parses it,
so that syntax errors are the same as the command line's.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from orchdsl import ast
from orchdsl.diagnostics import Diagnostic, Diagnostics, Span, suggestion
from orchdsl.lsp.index import Index, Occurrence
from orchdsl.parser import TOP_KEYWORDS, parse_text
from orchdsl.pipeline import Result, check_text, display_path

_TOP_LINE = re.compile(r"^(?:" + "|".join(TOP_KEYWORDS) + r")\b", re.M)


class ChunkCache:
    """Syntax trees of top-level declarations, by their text and first line (least recently
    used dropped first)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._trees: OrderedDict[tuple[str, str, int], list[ast.Block | ast.Clause] | None] = OrderedDict()
        self.parsed = 0  # pieces parsed (not found), for tests and benchmarks

    def parse(self, text: str, name: str, diags: Diagnostics) -> ast.File | None:
        """``parser.parse_text``, reusing the trees of declarations seen before."""
        starts = [m.start() for m in _TOP_LINE.finditer(text)]
        head = text[: starts[0]] if starts else text
        if not _only_comments(head):  # something before the first declaration: the parser judges it
            return parse_text(text, name, diags)
        items: list[ast.Block | ast.Clause] = []
        line = 1 + head.count("\n")
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(text)
            chunk = text[start:end]
            key = (name, chunk, line)
            if key in self._trees:
                self._trees.move_to_end(key)
                found = self._trees[key]
            else:
                self.parsed += 1
                # Blank lines in front keep every span at its place in the whole text.
                tree = parse_text("\n" * (line - 1) + chunk, name, Diagnostics())
                found = tree.items if tree is not None else None
                self._trees[key] = found
                if len(self._trees) > self.limit:
                    self._trees.popitem(last=False)
            if found is None:
                return parse_text(text, name, diags)  # the whole text, for check's own errors
            items.extend(found)
            line += chunk.count("\n")
        return ast.File(name, items)


def _only_comments(text: str) -> bool:
    return all(not s.strip() or s.lstrip().startswith(("#", "//")) for s in text.splitlines())


@dataclass
class Analysis:
    """One check of a document's text, and the index of its names."""

    name: str  # the document as diagnostics name it
    text: str
    version: int | None
    result: Result
    index: Index
    uri: str | None = None  # the editor's name for the document

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.result.diagnostics

    def lines(self, file: str) -> list[str]:
        source = self.text if file == self.name else self.result.sources.get(file)
        if source is None:
            try:
                source = Path(file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return []
        return source.split("\n")


def analyse(text: str, path: Path | None, cache: ChunkCache, version: int | None = None,
            name: str | None = None) -> Analysis:
    """Check ``text`` as ``orchdsl check`` checks the file ``path`` (includes read from disk)."""
    name = name or (display_path(path) if path is not None else "<untitled>")
    base = path.parent if path is not None else None
    result = check_text(text, name, base, parse=cache.parse)
    return Analysis(name, text, version, result, Index(result.trees))


# ---------------------------------------------------------------------- answers


def definitions(a: Analysis, line: int, column: int) -> list[Occurrence]:
    occ = a.index.at(a.name, line, column)
    if occ is None:
        return []
    return a.index.declarations(occ.kind, occ.key)


def references(a: Analysis, line: int, column: int, include_declaration: bool) -> list[Occurrence]:
    occ = a.index.at(a.name, line, column)
    if occ is None:
        return []
    return a.index.references(occ.kind, occ.key, include_declaration)


def _source_of(a: Analysis, span: Span, limit: int = 16) -> str:
    lines = a.lines(span.file)
    first, last = span.line - 1, min(span.end_line, span.line + limit) - 1
    chunk = lines[first : last + 1]
    if not chunk:
        return ""
    indent = min((len(x) - len(x.lstrip()) for x in chunk if x.strip()), default=0)
    out = [x[indent:] if x[:indent].isspace() else x.lstrip() for x in chunk]
    if span.end_line - 1 > last:
        out.append("...")
    return "\n".join(out).rstrip()


def _doc_comments(a: Analysis, span: Span) -> list[str]:
    """The comment lines right above a declaration."""
    lines = a.lines(span.file)
    out: list[str] = []
    i = span.line - 2
    while i >= 0 and lines[i].lstrip().startswith(("#", "//")):
        text = lines[i].lstrip()
        out.append(text[2:] if text.startswith("//") else text[1:])
        i -= 1
    return [x.strip() for x in reversed(out) if x.strip(" -")]


def _description(node: object) -> list[str]:
    out = []
    if isinstance(node, ast.Block):
        for c in node.clauses:
            if isinstance(c, ast.Clause) and c.kind in ("title", "description") and isinstance(c.value, ast.Text):
                out.append(c.value.value)
        title = node.extra.get("title")
        if isinstance(title, ast.Text):
            out.insert(0, title.value)
    return out


def hover(a: Analysis, line: int, column: int) -> tuple[str, Span] | None:
    """Markdown for the name at a place: its declaration and its documentation."""
    occ = a.index.at(a.name, line, column)
    if occ is None:
        return None
    shown = occ.key.split("/", 1)[1] if occ.kind == "outcome" else occ.key
    decls = a.index.declarations(occ.kind, occ.key)
    uses = len(a.index.references(occ.kind, occ.key, include_declarations=False))
    parts = [f"**{occ.kind}** `{shown}`"]
    if not decls:
        parts.append(f"not declared ({uses} use{'s' if uses != 1 else ''})")
        return "\n\n".join(parts), occ.span
    decl = decls[0]
    node = decl.node
    where = node.span if isinstance(node, (ast.Block, ast.Clause, ast.Step)) else decl.span
    code = _source_of(a, where)
    if code:
        parts.append(f"```orch\n{code}\n```")
    docs = _description(node) + _doc_comments(a, where)
    if docs:
        parts.append("\n\n".join(docs))
    parts.append(f"declared at {decl.span.file}:{decl.span.line}; {uses} use{'s' if uses != 1 else ''}")
    return "\n\n".join(parts), occ.span


def quick_fixes(a: Analysis, line: int, end_line: int) -> list[tuple[Diagnostic, str]]:
    """The diagnostics of the document on the given lines that offer a name instead of theirs."""
    out = []
    for d in a.diagnostics:
        fix = suggestion(d)
        if fix is None or d.span is None or d.span.file != a.name:
            continue
        if d.span.end_line >= line and d.span.line <= end_line:
            out.append((d, fix))
    return out
