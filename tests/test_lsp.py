"""The language server, end to end: `orchdsl lsp` in a subprocess, driven over
standard input and output by pytest-lsp's client (pygls), as an editor drives it.

Diagnostics are those of `orchdsl check` at the same places; go-to-definition
and references work for every kind of name; hover, completion, outline,
formatting, rename and the "did you mean" quick fixes answer from the last check.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parent.parent
V2 = (ROOT / "specs" / "orchestration_v2.orch").read_text(encoding="utf-8")


def v2_warning(got: list[lsp.Diagnostic]) -> lsp.Diagnostic:
    """V2's one warning (ORC328: its one-member `security` domain cannot peer review), the only
    diagnostic of ``got``."""
    (d,) = got
    assert d.code == "ORC328" and d.severity == lsp.DiagnosticSeverity.Warning
    assert d.range.start.line == position_of(V2, "state UNDER_REVIEW").line
    return d


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "specs" / "orchestration_v2.orch", tmp_path / "v2.orch")
    shutil.copy(ROOT / "examples" / "bad" / "twelve_mistakes.orch", tmp_path / "twelve.orch")
    shutil.copy(ROOT / "examples" / "token_budget.orch", tmp_path / "token_budget.orch")
    shutil.copytree(ROOT / "examples" / "shared", tmp_path / "shared")
    return tmp_path


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "orchdsl", "lsp"],
                                              server_env={"ORCHDSL_LSP_DEBOUNCE": "0.05"}))
async def client(lsp_client: LanguageClient, workspace: Path):  # type: ignore[no-untyped-def]
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=workspace.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def diagnostics_for(client: LanguageClient, uri: str, timeout: float = 30) -> list[lsp.Diagnostic]:
    """Wait until the server has published diagnostics for ``uri`` (``open_doc`` and ``change``
    forget the ones before)."""
    async def wait() -> list[lsp.Diagnostic]:
        while uri not in client.diagnostics:
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return list(client.diagnostics[uri])

    return await asyncio.wait_for(wait(), timeout)


def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="orch", version=1, text=text if text is not None else path.read_text(encoding="utf-8"))))
    return uri


async def change(client: LanguageClient, uri: str, version: int, text: str) -> list[lsp.Diagnostic]:
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
    return await diagnostics_for(client, uri)


def position_of(text: str, needle: str, offset: int = 0, nth: int = 0) -> lsp.Position:
    """The position ``offset`` characters into the ``nth`` occurrence of ``needle``."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += offset
    line = text.count("\n", 0, at)
    return lsp.Position(line=line, character=at - (text.rfind("\n", 0, at) + 1))


def text_at(text: str, r: lsp.Range) -> str:
    lines = text.split("\n")
    assert r.start.line == r.end.line
    return lines[r.start.line][r.start.character : r.end.character]


# ---------------------------------------------------------------- diagnostics


async def test_diagnostics_are_those_of_check(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "twelve.orch")
    got = await diagnostics_for(client, uri)
    expected = check_files([workspace / "twelve.orch"]).diagnostics
    assert len(got) == len(expected) > 10
    for d, e in zip(sorted(got, key=lambda d: (d.range.start.line, d.range.start.character, str(d.code))),
                    expected, strict=True):
        assert e.span is not None
        assert d.code == e.code
        assert d.message.split("\n")[0] == e.message
        assert (d.range.start.line, d.range.start.character) == (e.span.line - 1, e.span.column - 1)
        assert (d.range.end.line, d.range.end.character) == (e.span.end_line - 1, e.span.end_column - 1)
        assert d.severity == (lsp.DiagnosticSeverity.Error if e.is_error else lsp.DiagnosticSeverity.Warning)
        assert d.source == "orchdsl" and d.code_description is not None
        assert d.code_description.href.endswith(f"/docs/codes/{e.code}.md")
        assert len(d.related_information or []) == len(e.labels)
    v2_warning(await diagnostics_for(client, open_doc(client, workspace / "v2.orch")))


async def test_a_change_is_checked_and_fixed_by_the_quick_fix(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "v2.orch")
    warning = v2_warning(await diagnostics_for(client, uri))
    broken = V2.replace("reports_to engineering-manager", "reports_to engineering-manger", 1)
    got = await change(client, uri, 2, broken)
    assert warning in got
    (d,) = [d for d in got if d != warning]
    assert d.code == "ORC102" and "did you mean `engineering-manager`?" in d.message
    assert text_at(broken, d.range) == "engineering-manger"
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=d.range,
        context=lsp.CodeActionContext(diagnostics=[d])))
    assert actions is not None
    (action,) = actions
    assert isinstance(action, lsp.CodeAction) and action.kind == lsp.CodeActionKind.QuickFix
    assert action.edit is not None and action.edit.changes is not None
    (edit,) = action.edit.changes[uri]
    assert edit.new_text == "engineering-manager" and edit.range == d.range
    assert await change(client, uri, 3, V2) == [warning]


async def test_included_files_get_their_own_diagnostics(client: LanguageClient, workspace: Path) -> None:
    base = workspace / "shared" / "base_org.orch"
    base.write_text(base.read_text(encoding="utf-8").replace("reports_to", "reports_to nobody-at-all\n  layer", 1),
                    encoding="utf-8")
    uri = open_doc(client, workspace / "token_budget.orch")
    await diagnostics_for(client, uri)
    in_base = await diagnostics_for(client, base.as_uri())
    assert any(d.code == "ORC102" and "nobody-at-all" in d.message for d in in_base)
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))

    async def cleared() -> None:
        while client.diagnostics.get(base.as_uri()) or client.diagnostics.get(uri):
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    await asyncio.wait_for(cleared(), 30)  # closing the spec clears what it published


async def test_syntax_errors_are_reported_while_typing(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "v2.orch")
    await diagnostics_for(client, uri)
    typing = V2.replace('role router {\n  title "Router"', 'role router {\n  title', 1)
    got = await change(client, uri, 2, typing)
    assert [d.code for d in got] == ["ORC001"]
    assert got[0].range.start.line == position_of(typing, "role router {").line + 2


# ---------------------------------------------------------------- names


DEFINITIONS = [
    # (what is clicked, how far into it, where the definition is, how far into that)
    ("reports_to tech-lead", 11, "role tech-lead {", 5),  # a role
    ("-> IN_PLANNING", 3, "state IN_PLANNING {", 6),  # a state
    ("handoff backend -> frontend", 8, "domain backend {", 7),  # a domain
    ("skills { frontend: advanced, typescript", 30, "category programming_languages { python, javascript, typescript", 54),
    ("frontend: advanced", 10, "beginner = 1, intermediate = 2, advanced", 33),  # a level
    ("experience mid", 11, "junior = 1, mid", 12),  # an experience level
    ("-> gate validation", 8, "gate validation {", 5),  # a gate
    ("channel domain-leads", 8, "channel domain-leads", 8),  # a channel is declared only
    ("sla tier 1-2: 2h", 11, 'tier 2 "Moderate"', 5),  # a tier, the end of a range
    ("guards UNDER_REVIEW -> DOMAIN_REVIEW", 8, "state UNDER_REVIEW {", 6),  # a state a gate guards
    ("guards stage tactical_planning", 13, "@lead:tactical_planning", 6),  # a stage
    ("band 6-14 -> APPROVE", 13, "outcome APPROVE: pass", 8),  # a gate's outcome
]


async def test_go_to_definition_of_every_kind_of_name(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "v2.orch")
    await diagnostics_for(client, uri)
    for clicked, offset, declared, decl_offset in DEFINITIONS:
        found = await client.text_document_definition_async(lsp.DefinitionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=position_of(V2, clicked, offset)))
        assert isinstance(found, list) and found, clicked
        target = position_of(V2, declared, decl_offset)
        assert any(loc.uri == uri and loc.range.start.line == target.line
                   and loc.range.start.character <= target.character <= loc.range.end.character
                   for loc in found), (clicked, found)


async def test_definition_in_an_included_file(client: LanguageClient, workspace: Path) -> None:
    text = (workspace / "token_budget.orch").read_text(encoding="utf-8")
    uri = open_doc(client, workspace / "token_budget.orch")
    await diagnostics_for(client, uri)
    name = "engineering-manager"  # a role of the included base
    found = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=position_of(text, f"to {name}", 4)))
    assert found and isinstance(found, list)
    (loc,) = found
    base = workspace / "shared" / "base_org.orch"
    assert loc.uri == base.as_uri()
    assert text_at(base.read_text(encoding="utf-8"), loc.range) == name


async def test_references_and_rename(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "v2.orch")
    await diagnostics_for(client, uri)
    at = lsp.TextDocumentIdentifier(uri=uri)
    pos = position_of(V2, "role tech-lead {", 5)
    with_decl = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=at, position=pos, context=lsp.ReferenceContext(include_declaration=True)))
    without = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=at, position=pos, context=lsp.ReferenceContext(include_declaration=False)))
    assert with_decl is not None and without is not None
    assert len(with_decl) == len(without) + 1
    assert all(text_at(V2, loc.range) == "tech-lead" for loc in with_decl)
    import re
    assert len(with_decl) == len(re.findall(r"(?<![\w-])tech-lead(?![\w-])", V2))

    prepared = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(text_document=at, position=pos))
    assert prepared is not None
    edit = await client.text_document_rename_async(lsp.RenameParams(text_document=at, position=pos,
                                                                    new_name="cto"))
    assert edit is not None and edit.changes is not None
    assert len(edit.changes[uri]) == len(with_decl)


async def test_hover_shows_the_declaration_and_its_documentation(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "v2.orch")
    await diagnostics_for(client, uri)
    shown = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=position_of(V2, "reports_to backend-lead", 12)))
    assert shown is not None and isinstance(shown.contents, lsp.MarkupContent)
    text = shown.contents.value
    assert text.startswith("**role** `backend-lead`")
    assert "```orch\nrole backend-lead {" in text and "Backend Lead" in text
    assert "Backend tactical planning, API and database coordination" in text
    state = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=position_of(V2, "-> BLOCKED", 4)))
    assert state is not None and isinstance(state.contents, lsp.MarkupContent)
    assert "conflict: a BLOCKED task escalates" in state.contents.value  # the comment above it


async def test_completion_of_names_and_keywords(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "v2.orch")
    await diagnostics_for(client, uri)
    text = V2.replace('role router {\n  title "Router"', 'role router {\n  title "Router"\n  reports_to ', 1)
    await change(client, uri, 2, text)
    pos = position_of(text, "reports_to \n", len("reports_to "))
    got = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos))
    assert isinstance(got, lsp.CompletionList)
    roles = {i.label for i in got.items if i.kind == lsp.CompletionItemKind.Class}
    assert {"engineering-manager", "tech-lead", "qa-engineer"} <= roles
    assert {i.label for i in got.items if i.kind == lsp.CompletionItemKind.Keyword} == set()

    text = V2.replace('state BLOCKED {\n', 'state BLOCKED {\n    \n', 1)
    await change(client, uri, 3, text)
    got = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=position_of(text, "state BLOCKED {\n    \n", 20)))
    assert isinstance(got, lsp.CompletionList)
    keywords = {i.label for i in got.items if i.kind == lsp.CompletionItemKind.Keyword}
    assert {"owner", "sla", "warn", "escalate", "heartbeat", "initial", "terminal"} <= keywords
    assert "reports_to" not in keywords


async def test_document_symbols(client: LanguageClient, workspace: Path) -> None:
    uri = open_doc(client, workspace / "v2.orch")
    await diagnostics_for(client, uri)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert symbols is not None
    names = [s.name for s in symbols if isinstance(s, lsp.DocumentSymbol)]
    assert names[:3] == ["orchestration-v2", "skills", "experience"]
    assert "engineering-manager" in names and "backend -> frontend" in names
    lifecycle = next(s for s in symbols if isinstance(s, lsp.DocumentSymbol) and s.name == "task")
    states = [c.name for c in lifecycle.children or []]
    assert states[0] == "PENDING" and "CANCELLED" in states and len(states) == 11
    pending = (lifecycle.children or [])[0]
    assert [c.name for c in pending.children or []][:2] == ["-> IN_PLANNING", "-> ASSIGNED"]


async def test_formatting_is_fmt(client: LanguageClient, workspace: Path) -> None:
    from orchdsl.diagnostics import Diagnostics
    from orchdsl.fmt import format_text

    messy = 'role boss{title "Boss"}\nrole dev {  title "Dev" reports_to boss }   # the IC\n'
    uri = open_doc(client, workspace / "messy.orch", messy)
    await diagnostics_for(client, uri)
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert edits is not None
    (edit,) = edits
    assert edit.range.start == lsp.Position(line=0, character=0)
    assert edit.new_text == format_text(messy, "messy.orch", Diagnostics())


async def test_positions_count_utf16_code_units(client: LanguageClient, workspace: Path) -> None:
    text = 'org emoji\nrole boss { title "🚀 Boss" }\nrole dev { title "🚀 Dev" reports_to bos }\n'
    uri = open_doc(client, workspace / "emoji.orch", text)
    got = await diagnostics_for(client, uri)
    unknown = next(d for d in got if d.code == "ORC102")
    line = text.split("\n")[2]
    utf16 = len(line[: line.index("bos }")].encode("utf-16-le")) // 2
    assert unknown.range.start == lsp.Position(line=2, character=utf16)
    assert unknown.range.end.character - unknown.range.start.character == 3
