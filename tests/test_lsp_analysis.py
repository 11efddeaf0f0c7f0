"""The language server's analysis without a client: re-parsing only what changed gives
exactly what `orchdsl check` gives (the same trees with the same spans, the same syntax
errors), on generated specs and on every kind of edit of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import mutated, valid_specs

from orchdsl.diagnostics import Diagnostics
from orchdsl.lsp.analysis import ChunkCache, analyse
from orchdsl.parser import parse_text
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(p for top in ("specs", "examples") for p in (ROOT / top).rglob("*.orch") if "shared" not in p.parts)


def spans(node: object) -> object:
    """A syntax tree as nested tuples, spans included."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__, tuple(spans(getattr(node, f.name)) for f in dataclasses.fields(node)))
    if isinstance(node, (list, tuple)):
        return tuple(spans(x) for x in node)
    if isinstance(node, dict):
        return tuple(sorted((k, spans(v)) for k, v in node.items()))
    return node


def both(cache: ChunkCache, text: str) -> None:
    mine, theirs = Diagnostics(), Diagnostics()
    a = cache.parse(text, "t.orch", mine)
    b = parse_text(text, "t.orch", theirs)
    assert (a is None) == (b is None)
    assert [dataclasses.astuple(d) for d in mine.sorted()] == [dataclasses.astuple(d) for d in theirs.sorted()]
    if a is not None and b is not None:
        assert spans(a) == spans(b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs().flatmap(lambda text: st.tuples(st.just(text), mutated(text), st.integers(0, 3))))
def test_reparsing_what_changed_is_parsing_everything(case: tuple[str, str, int]) -> None:
    text, edited, lines_above = case
    cache = ChunkCache()
    both(cache, text)
    both(cache, edited)
    both(cache, "# a note\n" * lines_above + edited)  # every declaration moved down
    both(cache, text)


def test_an_edit_reparses_one_declaration_and_lines_added_move_the_rest() -> None:
    text = (ROOT / "specs" / "orchestration_v2.orch").read_text(encoding="utf-8")
    cache = ChunkCache()
    assert cache.parse(text, "v2.orch", Diagnostics()) is not None
    first = cache.parsed
    assert first > 50
    cache.parse(text.replace("Router", "Routeur", 1), "v2.orch", Diagnostics())
    assert cache.parsed == first + 1
    cache.parse("\n\n" + text.replace("Router", "Routeur", 1), "v2.orch", Diagnostics())
    assert cache.parsed == first + 1 and cache.moved >= first - 1


def test_a_declaration_written_twice() -> None:
    one = 'role a { title "A" }\n'
    cache = ChunkCache()
    both(cache, one + "role b {}\n" + one)
    both(cache, "\n" + one + one + "role b {}\n")
    both(cache, one + one + one)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_analysis_is_check(spec: Path) -> None:
    a = analyse(spec.read_text(encoding="utf-8"), spec, ChunkCache())
    expected = check_files([spec]).diagnostics
    assert [dataclasses.astuple(d) for d in a.diagnostics] == [dataclasses.astuple(d) for d in expected]
    assert a.index.occurrences


def test_a_state_class_refers_to_its_states() -> None:
    """`work WORKING` is a reference to the state, so references and rename reach it."""
    from orchdsl.lsp.index import Index

    text = "lifecycle {\n  state WORKING { initial -> DONE }\n  state DONE { terminal }\n  work WORKING\n}\n"
    tree = parse_text(text, "t.orch", Diagnostics())
    assert tree is not None
    refs = Index([tree]).references("state", "WORKING")
    assert [(o.span.line, o.span.column, o.declaration) for o in refs] == [(2, 9, True), (4, 8, False)]
