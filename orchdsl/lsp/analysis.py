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

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from orchdsl import ast
from orchdsl.diagnostics import Diagnostic, Diagnostics, Span, suggestion
from orchdsl.lsp.index import Index, Occurrence

# The lines where `parse_text` cuts a text after a syntax error: the pieces here must be its
# pieces, for the syntax errors to be the same.
from orchdsl.parser import _top_line, at_end_of_text, parse_text
from orchdsl.pipeline import Result, check_text, display_path


class ChunkCache:
    """Syntax trees of top-level declarations, by their text and first line (least recently
    used dropped first), with the syntax error of each that does not parse on its own."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._pieces: OrderedDict[tuple[str, str, int], tuple[list[ast.Block | ast.Clause] | None,
                                                              list[Diagnostic]]] = OrderedDict()
        self._lines: dict[tuple[str, str], int] = {}  # where each piece was last seen
        self.parsed = 0  # pieces parsed (not found), for tests and benchmarks
        self.moved = 0  # pieces found at another line and moved there

    def _piece(self, name: str, text: str, line: int,
               taken: set[tuple[str, int]]) -> tuple[list[ast.Block | ast.Clause] | None, list[Diagnostic]]:
        key = (name, text, line)
        found = self._pieces.get(key)
        if found is not None:
            self._pieces.move_to_end(key)
            taken.add((text, line))
            return found
        was = self._lines.get((name, text))
        # A piece already in this text (the same declaration written twice) stays where it is.
        old = None
        if was is not None and (text, was) not in taken:
            old = self._pieces.pop((name, text, was), None)
        if was is not None and old is not None and old[0] is not None:
            # The same declaration, moved up or down by lines added or removed above it.
            _shift(old[0], line - was)
            self.moved += 1
            self._pieces[key] = old
            self._lines[(name, text)] = line
            taken.add((text, line))
            return old
        self.parsed += 1
        diags = Diagnostics()
        # Blank lines in front keep every span at its place in the whole text.
        tree = parse_text("\n" * (line - 1) + text, name, diags)
        found = (tree.items if tree is not None else None, list(diags))
        self._pieces[key] = found
        self._lines[(name, text)] = line
        taken.add((text, line))
        if len(self._pieces) > self.limit:
            (gone_name, gone_text, _), _ = self._pieces.popitem(last=False)
            self._lines.pop((gone_name, gone_text), None)
        return found

    def parse(self, text: str, name: str, diags: Diagnostics) -> ast.File | None:
        """``parser.parse_text``, reusing what was parsed of the declarations seen before.

        When a declaration does not parse, the syntax errors are those ``parse_text`` gives
        for the whole text: the first error comes from parsing on from that declaration
        (the text before it parsed, so the parser starts there as it would have), as far as
        it takes to find an error that is not the end of what was parsed; after it, each
        later declaration reports its own first error, as ``parse_text`` does.
        """
        starts = [m.start() for m in _top_line().finditer(text)]
        head = text[: starts[0]] if starts else text
        if not _only_comments(head):  # something before the first declaration: the parser judges it
            return parse_text(text, name, diags)
        if not starts:
            return ast.File(name, [])  # nothing but comments
        ends = [*starts[1:], len(text)]
        lines = [1 + head.count("\n")]
        for start, end in zip(starts, ends, strict=True):
            lines.append(lines[-1] + text.count("\n", start, end))
        taken: set[tuple[str, int]] = set()
        pieces = [self._piece(name, text[s:e], line, taken) for s, e, line in zip(starts, ends, lines, strict=False)]
        broken = next((i for i, (items, _) in enumerate(pieces) if items is None), None)
        if broken is None:
            return ast.File(name, [item for items, _ in pieces for item in items or []])
        upto = broken + 1
        while True:
            first = Diagnostics()
            parse_text("\n" * (lines[broken] - 1) + text[starts[broken]:ends[upto - 1]], name, first)
            found = list(first)
            if upto == len(starts) or not found or not at_end_of_text(found[0]):
                break
            upto += 1  # the error may be the end of this part only: parse on
        diags.extend(found)
        for _, errors in pieces[upto:]:
            diags.extend(errors)
        return None


_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAVES = (str, int, float, bool, type(None))


def _shift(node: object, lines: int) -> None:
    """Move every span in a syntax tree by ``lines`` lines (in place)."""
    if isinstance(node, (list, tuple)):
        for x in node:
            if not isinstance(x, _LEAVES):
                _shift(x, lines)
        return
    if isinstance(node, dict):
        _shift(list(node.values()), lines)
        return
    cls = type(node)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(node)) if dataclasses.is_dataclass(node) else ()
    for name in names:
        value = getattr(node, name)
        if isinstance(value, Span):
            setattr(node, name, value._replace(line=value.line + lines, end_line=value.end_line + lines))
        elif not isinstance(value, _LEAVES):
            _shift(value, lines)


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
