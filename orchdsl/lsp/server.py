"""``orchdsl lsp``: the language server, over standard input and output (pygls).

It checks each open spec as ``orchdsl check`` would check it saved (its
includes read from disk) when it is opened, saved and, a moment after the
last keystroke, changed; and publishes the diagnostics of the spec and of the
files it includes. From the last check it answers go-to-definition,
find-references, rename, hover, completion, document symbols, formatting
(``orchdsl fmt``) and quick fixes (a diagnostic's "did you mean").

Positions: this module converts between LSP positions (0-based, in the
client's code units) and the 1-based code-point ``Span``s of the compiler.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from orchdsl import __version__
from orchdsl.codes import CODES
from orchdsl.diagnostics import Diagnostic, Span, suggestion
from orchdsl.lsp.analysis import Analysis, ChunkCache, analyse, definitions, hover, quick_fixes, references
from orchdsl.lsp.complete import complete
from orchdsl.lsp.index import Occurrence, Outline

DEBOUNCE = float(os.environ.get("ORCHDSL_LSP_DEBOUNCE", "0.1"))  # seconds after the last change
HELP_URI = "https://orchdsl.dev/docs/codes/{code}.md"

_SYMBOL_KINDS = {
    "org": lsp.SymbolKind.Module, "role": lsp.SymbolKind.Class, "domain": lsp.SymbolKind.Namespace,
    "member": lsp.SymbolKind.Field, "lifecycle": lsp.SymbolKind.Enum, "state": lsp.SymbolKind.EnumMember,
    "transition": lsp.SymbolKind.Event, "gate": lsp.SymbolKind.Interface, "tier": lsp.SymbolKind.Number,
    "channel": lsp.SymbolKind.Struct, "standup": lsp.SymbolKind.Event, "consultation": lsp.SymbolKind.Event,
    "handoff": lsp.SymbolKind.Event, "metric": lsp.SymbolKind.Constant, "escalation": lsp.SymbolKind.Event,
}
_COMPLETION_KINDS = {
    "keyword": lsp.CompletionItemKind.Keyword, "relation": lsp.CompletionItemKind.Variable,
    "role": lsp.CompletionItemKind.Class, "state": lsp.CompletionItemKind.EnumMember,
    "skill": lsp.CompletionItemKind.Value, "level": lsp.CompletionItemKind.Value,
    "experience": lsp.CompletionItemKind.Value, "gate": lsp.CompletionItemKind.Interface,
    "domain": lsp.CompletionItemKind.Module, "tier": lsp.CompletionItemKind.Constant,
    "stage": lsp.CompletionItemKind.Event, "outcome": lsp.CompletionItemKind.EnumMember,
    "variable": lsp.CompletionItemKind.Variable, "escalation": lsp.CompletionItemKind.Event,
}


class OrchServer(LanguageServer):
    """The language server, with the last analysis of each open document."""

    def __init__(self) -> None:
        super().__init__("orchdsl", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, Analysis] = {}
        self.parsed: dict[str, Analysis] = {}  # the last analysis whose text parsed, for names while typing
        self.cache = ChunkCache()
        self.published: dict[str, set[str]] = {}  # document -> uris it published diagnostics to
        self._pending: dict[str, asyncio.Task[None]] = {}
        # One worker: checks run one at a time, off the loop that reads the client's messages.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orchdsl-check")

    # -- checking ---------------------------------------------------------

    def schedule(self, uri: str, delay: float) -> None:
        """Check a document after ``delay`` seconds, unless it changes again before."""
        old = self._pending.pop(uri, None)
        if old is not None:
            old.cancel()
        self._pending[uri] = asyncio.ensure_future(self._check_later(uri, delay))

    async def _check_later(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.check(uri)

    async def check(self, uri: str) -> Analysis | None:
        doc = self.workspace.get_text_document(uri)
        text, version = doc.source, doc.version
        path = _path_of(uri)
        loop = asyncio.get_running_loop()
        a = await loop.run_in_executor(self._worker, analyse, text, path, self.cache, version,
                                       None if path else uri)
        a.uri = uri
        current = self.workspace.text_documents.get(uri)
        if current is None or current.version != version:
            return a  # changed or closed meanwhile: a newer check follows
        self.analyses[uri] = a
        if a.result.trees:
            self.parsed[uri] = a
        self.publish(uri, a)
        return a

    async def current(self, uri: str) -> Analysis | None:
        """The analysis of the document as it is now."""
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return None
        a = self.analyses.get(uri)
        if a is None or a.version != doc.version:
            pending = self._pending.pop(uri, None)
            if pending is not None:
                pending.cancel()
            a = await self.check(uri)
        return a

    def publish(self, uri: str, a: Analysis) -> None:
        by_uri: dict[str, list[lsp.Diagnostic]] = {uri: []}
        for d in a.diagnostics:
            target = uri if d.span is None or d.span.file == a.name else _uri_of(d.span.file)
            by_uri.setdefault(target, []).append(to_lsp_diagnostic(d, a, self))
        for gone in self.published.get(uri, set()) - set(by_uri):
            by_uri[gone] = []
        self.published[uri] = {u for u, ds in by_uri.items() if ds}
        for target, diags in by_uri.items():
            version = a.version if target == uri else None
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=target, diagnostics=diags, version=version))

    def forget(self, uri: str) -> None:
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.analyses.pop(uri, None)
        self.parsed.pop(uri, None)
        for target in self.published.pop(uri, set()) | {uri}:
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=target, diagnostics=[]))

    # -- positions ----------------------------------------------------------

    def to_range(self, a: Analysis, span: Span) -> lsp.Range:
        lines = a.lines(span.file)
        codec = self.workspace.position_codec

        def pos(line: int, column: int) -> lsp.Position:
            return codec.position_to_client_units(lines, lsp.Position(max(line - 1, 0), max(column - 1, 0)))

        return lsp.Range(start=pos(span.line, span.column), end=pos(span.end_line, span.end_column))

    def location(self, a: Analysis, span: Span) -> lsp.Location:
        uri = self._uri_for(a, span.file)
        return lsp.Location(uri=uri, range=self.to_range(a, span))

    def _uri_for(self, a: Analysis, file: str) -> str:
        return a.uri if file == a.name and a.uri else _uri_of(file)

    def from_position(self, uri: str, position: lsp.Position) -> tuple[int, int]:
        """A client position as a 1-based line and column."""
        doc = self.workspace.get_text_document(uri)
        p = self.workspace.position_codec.position_from_client_units(doc.lines, position)
        return p.line + 1, p.character + 1


def _path_of(uri: str) -> Path | None:
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path) if path else None


def _uri_of(file: str) -> str:
    return Path(os.path.abspath(file)).as_uri()


def to_lsp_diagnostic(d: Diagnostic, a: Analysis, server: OrchServer) -> lsp.Diagnostic:
    span = d.span or Span(a.name, 1, 1, 1, 1)
    message = "\n".join([d.message, *d.notes, *([d.help] if d.help else [])])
    related = [lsp.DiagnosticRelatedInformation(location=server.location(a, lb.span), message=lb.message)
               for lb in d.labels]
    tags = [lsp.DiagnosticTag.Unnecessary] if d.code.startswith("ORC8") and d.code != "ORC805" else None
    fix = suggestion(d)
    return lsp.Diagnostic(
        range=server.to_range(a, span),
        message=message,
        severity=lsp.DiagnosticSeverity.Error if d.is_error else lsp.DiagnosticSeverity.Warning,
        code=d.code,
        code_description=lsp.CodeDescription(href=HELP_URI.format(code=d.code)),
        source="orchdsl",
        related_information=related or None,
        tags=tags,
        data={"name": CODES[d.code].name, **({"suggestion": fix} if fix else {})},
    )


server = OrchServer()


# ---------------------------------------------------------------------- documents


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: OrchServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: OrchServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, DEBOUNCE)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
async def did_save(ls: OrchServer, params: lsp.DidSaveTextDocumentParams) -> None:
    # Included files may have been saved: check every open document again.
    for uri in list(ls.workspace.text_documents):
        ls.schedule(uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
async def did_close(ls: OrchServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.forget(params.text_document.uri)


# ---------------------------------------------------------------------- names


async def _at(ls: OrchServer, uri: str, position: lsp.Position) -> tuple[Analysis, int, int] | None:
    a = await ls.current(uri)
    if a is None:
        return None
    line, column = ls.from_position(uri, position)
    return a, line, column


def _locations(ls: OrchServer, a: Analysis, found: list[Occurrence]) -> list[lsp.Location]:
    return [ls.location(a, o.span) for o in found]


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
async def definition(ls: OrchServer, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
    at = await _at(ls, params.text_document.uri, params.position)
    if at is None:
        return None
    found = definitions(*at)
    return _locations(ls, at[0], found) or None


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
async def find_references(ls: OrchServer, params: lsp.ReferenceParams) -> list[lsp.Location] | None:
    at = await _at(ls, params.text_document.uri, params.position)
    if at is None:
        return None
    found = references(*at, params.context.include_declaration)
    return _locations(ls, at[0], found) or None


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
async def on_hover(ls: OrchServer, params: lsp.HoverParams) -> lsp.Hover | None:
    at = await _at(ls, params.text_document.uri, params.position)
    if at is None:
        return None
    shown = hover(*at)
    if shown is None:
        return None
    text, span = shown
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                     range=ls.to_range(at[0], span))


@server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
async def prepare_rename(ls: OrchServer, params: lsp.PrepareRenameParams) -> lsp.Range | None:
    at = await _at(ls, params.text_document.uri, params.position)
    if at is None:
        return None
    a, line, column = at
    occ = a.index.at(a.name, line, column)
    if occ is None or occ.kind in ("tier", "outcome") or not a.index.declarations(occ.kind, occ.key):
        return None
    return ls.to_range(a, occ.span)


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
async def rename(ls: OrchServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    at = await _at(ls, params.text_document.uri, params.position)
    if at is None:
        return None
    a = at[0]
    changes: dict[str, list[lsp.TextEdit]] = {}
    for occ in references(*at, True):
        if occ.kind in ("tier", "outcome"):
            return None
        loc = ls.location(a, occ.span)
        changes.setdefault(loc.uri, []).append(lsp.TextEdit(range=loc.range, new_text=params.new_name))
    return lsp.WorkspaceEdit(changes=changes) if changes else None


# ---------------------------------------------------------------------- completion and outline


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                lsp.CompletionOptions(trigger_characters=[" ", "@", ":", ">", ".", "("]))
async def completion(ls: OrchServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    at = await _at(ls, params.text_document.uri, params.position)
    if at is None:
        return None
    a, line, column = at
    lines = a.text.split("\n")
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + column - 1
    names = (ls.parsed.get(params.text_document.uri) or a).index
    items = []
    for it in complete(a.text, offset, names):
        detail = it.detail or it.kind
        if it.kind == "role":
            titles = names.declarations("role", it.label)
            node = titles[0].node if titles else None
            title = next((c.value.value for c in getattr(node, "clauses", []) if getattr(c, "kind", "") == "title"
                          and hasattr(c.value, "value")), None)
            detail = f"role: {title}" if title else "role"
        items.append(lsp.CompletionItem(label=it.label, kind=_COMPLETION_KINDS.get(it.kind), detail=detail))
    return lsp.CompletionList(is_incomplete=False, items=items)


def _symbol(ls: OrchServer, a: Analysis, o: Outline) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(
        name=o.name, detail=o.detail, kind=_SYMBOL_KINDS.get(o.kind, lsp.SymbolKind.Object),
        range=ls.to_range(a, o.span), selection_range=ls.to_range(a, o.selection),
        children=[_symbol(ls, a, c) for c in o.children] or None,
    )


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
async def document_symbols(ls: OrchServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
    a = await ls.current(params.text_document.uri)
    if a is None:
        return None
    return [_symbol(ls, a, o) for o in a.index.outlines.get(a.name, [])]


# ---------------------------------------------------------------------- formatting and fixes


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
async def formatting(ls: OrchServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    from orchdsl.diagnostics import Diagnostics
    from orchdsl.fmt import format_text

    doc = ls.workspace.get_text_document(params.text_document.uri)
    formatted = format_text(doc.source, doc.uri, Diagnostics())
    if formatted is None or formatted == doc.source:
        return None  # a spec with syntax errors is left as it is; its errors are on show
    lines = doc.lines
    end = ls.workspace.position_codec.position_to_client_units(
        lines, lsp.Position(line=len(lines), character=0)) if lines else lsp.Position(line=0, character=0)
    return [lsp.TextEdit(range=lsp.Range(start=lsp.Position(line=0, character=0), end=end),
                         new_text=formatted)]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
async def code_actions(ls: OrchServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
    uri = params.text_document.uri
    a = await ls.current(uri)
    if a is None:
        return None
    actions = []
    for d, fix in quick_fixes(a, params.range.start.line + 1, params.range.end.line + 1):
        assert d.span is not None
        diag = to_lsp_diagnostic(d, a, ls)
        actions.append(lsp.CodeAction(
            title=f"Replace with `{fix}`", kind=lsp.CodeActionKind.QuickFix, diagnostics=[diag],
            is_preferred=True,
            edit=lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(range=diag.range, new_text=fix)]}),
        ))
    return actions or None


def serve(**kwargs: Any) -> None:
    """Serve one client over standard input and output until it exits."""
    server.start_io(**kwargs)
