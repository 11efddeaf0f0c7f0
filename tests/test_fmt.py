"""The formatter: the layout rules, comments kept in place and in order, and the
properties (format-then-parse gives the same syntax tree; formatting twice changes
nothing) over generated specs and over the same specs with their layout scrambled.
Every spec and example in the repository, and every ```orch block of the docs
(but those marked `<!-- fmt: off -->`, which show free layout), is formatted.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import valid_specs

from orchdsl.diagnostics import Diagnostics, Span
from orchdsl.fmt import _tree_parser, format_text
from orchdsl.parser import parse_text

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```orch[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
COMMENT = re.compile(r"(?:#|//)[^\n]*")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fmt(text: str) -> str:
    diags = Diagnostics()
    out = format_text(text, "t.orch", diags)
    assert out is not None, [d.message for d in diags]
    return out


def shape(node: object) -> object:
    """A syntax tree with every span left out, for comparing trees of different layouts."""
    if isinstance(node, Span):
        return None
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__,
                tuple((f.name, shape(getattr(node, f.name))) for f in dataclasses.fields(node)
                      if f.name not in ("span", "path")))
    if isinstance(node, (list, tuple)):
        return tuple(shape(x) for x in node)
    if isinstance(node, dict):
        return tuple(sorted((k, shape(v)) for k, v in node.items()))
    return node


def tree_of(text: str) -> object:
    diags = Diagnostics()
    tree = parse_text(text, "t.orch", diags)
    assert tree is not None, [f"{d.span}: {d.message}" for d in diags]
    return shape(tree)


def comments_of(text: str) -> list[str]:
    """The comments of a spec, in order, found by the lexer (a `#` in a string is no comment)."""
    lark, collector = _tree_parser()
    collector.comments = []
    lark.parse(text)
    return [str(c).rstrip() for c in collector.comments]


# ---------------------------------------------------------------- layout rules


def test_spacing_indentation_and_one_clause_per_line() -> None:
    messy = (
        "org   acme version \"1\" {title \"Acme\"}\n"
        "skills{levels{a=1,b=2,}\n  category langs {python,go,}}\n"
        "role boss{title \"Boss\"}\n"
        "lifecycle {\n  tiers 1 - 2\n  state OPEN { initial owner @lead\n"
        "    sla tier 1 : 2h , tier 2:4h\n"
        "    -> DONE when ( task.priority in [ high , low ] or not tier>=2 ) by @assignee , boss\n  }\n"
        "  state DONE { terminal }\n}\n"
        "tier 1 \"x\" { flow boss : answer -> gate g planning 1 - 3 tasks }\n"
        "metric m \"t\" : sla_met ( OPEN ) > 90%\n"
    )
    assert fmt(messy) == (
        'org acme version "1" { title "Acme" }\n'
        "skills {\n"
        "  levels { a = 1, b = 2 }\n"
        "  category langs { python, go }\n"
        "}\n"
        'role boss { title "Boss" }\n'
        "lifecycle {\n"
        "  tiers 1-2\n"
        "  state OPEN {\n"
        "    initial\n"
        "    owner @lead\n"
        "    sla tier 1: 2h, tier 2: 4h\n"
        "    -> DONE when (task.priority in [high, low] or not tier >= 2) by @assignee, boss\n"
        "  }\n"
        "  state DONE { terminal }\n"
        "}\n"
        'tier 1 "x" { flow boss:answer -> gate g planning 1-3 tasks }\n'
        'metric m "t": sla_met(OPEN) > 90%\n'
    )


def test_a_list_body_over_several_lines_has_an_item_a_line_each_with_commas() -> None:
    text = "skills {\n  levels {\n a = 1, b = 2 }\n  category c { x,\n y }\n}\nrole r { tools a, b, }\n"
    assert fmt(text) == (
        "skills {\n"
        "  levels {\n    a = 1,\n    b = 2,\n  }\n"
        "  category c {\n    x,\n    y,\n  }\n"
        "}\n"
        "role r { tools a, b }\n"
    )


def test_empty_bodies_and_blank_lines() -> None:
    text = "\n\n\nrole a {\n}\n\n\n\nrole b { }\nrole c {\n\n  title \"C\"\n\n\n  layer ic\n\n}\n\n\n"
    assert fmt(text) == 'role a {}\n\nrole b {}\nrole c {\n  title "C"\n\n  layer ic\n}\n'


def test_comments_stay_where_they_were() -> None:
    text = (
        "# header\n"
        "\n"
        "org x   // why x\n"
        "role dev {\n"
        "  title \"Dev\"   reports_to boss # who\n"
        "  # before tools\n"
        "\n"
        "  tools Read\n"
        "  # at the end\n"
        "}\n"
        "# the last word\n"
    )
    assert fmt(text) == (
        "# header\n"
        "\n"
        "org x  // why x\n"
        "role dev {\n"
        '  title "Dev"\n'
        "  reports_to boss  # who\n"
        "  # before tools\n"
        "\n"
        "  tools Read\n"
        "  # at the end\n"
        "}\n"
        "# the last word\n"
    )


def test_a_clause_broken_by_its_author_keeps_its_breaks_and_comments() -> None:
    text = (
        "tier 1 \"t\" {\n"
        "  flow a:b # first\n"
        "  # between\n"
        "  -> c:d\n"
        "        -> gate g\n"
        "}\n"
    )
    assert fmt(text) == (
        'tier 1 "t" {\n'
        "  flow a:b  # first\n"
        "      # between\n"
        "      -> c:d\n"
        "      -> gate g\n"
        "}\n"
    )


def test_comments_that_meet_on_one_line_move_above_it_in_order() -> None:
    text = "role x # one\n# two\n{ title \"X\" } # three\n"
    out = fmt(text)
    assert out == '# one\n# two\nrole x { title "X" }  # three\n'
    assert comments_of(out) == comments_of(text)


def test_a_hash_in_a_string_is_not_a_comment() -> None:
    assert fmt('role cto { title "CTO # 1" }   # the title contains "#"\n') == \
        'role cto { title "CTO # 1" }  # the title contains "#"\n'


def test_two_declarations_on_one_line_are_split() -> None:
    assert fmt('role a { title "A" } role b { title "B" }\n') == 'role a { title "A" }\nrole b { title "B" }\n'


def test_empty_and_comment_only_files() -> None:
    assert fmt("") == ""
    assert fmt("\n\n  \n") == ""
    assert fmt("\n# only a comment\n\n\n# and another\n") == "# only a comment\n\n# and another\n"


def test_syntax_errors_are_reported_as_by_check() -> None:
    diags = Diagnostics()
    assert format_text("role x { title }\nrole y {\n", "bad.orch", diags) is None
    codes = [d.code for d in diags]
    assert codes and set(codes) == {"ORC001"}
    assert all(d.span is not None and d.span.file == "bad.orch" for d in diags)


def test_crlf_line_ends_become_newlines() -> None:
    assert fmt('role a {\r\n  title "A"\r\n}\r\n') == 'role a {\n  title "A"\n}\n'


# ---------------------------------------------------------------- the repository is formatted


def repo_specs() -> list[Path]:
    return sorted(p for top in ("specs", "examples") for p in (ROOT / top).rglob("*.orch"))


@pytest.mark.parametrize("spec", repo_specs(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_spec_and_example_is_formatted(spec: Path) -> None:
    text = spec.read_text(encoding="utf-8")
    assert fmt(text) == text, f"run `orchdsl fmt {spec.relative_to(ROOT).as_posix()}`"


def doc_blocks() -> list[tuple[str, str]]:
    out = []
    for page in sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]):
        text = page.read_text(encoding="utf-8")
        for i, m in enumerate(BLOCK.finditer(text)):
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            if before.strip() != "<!-- fmt: off -->":
                out.append((f"{page.relative_to(ROOT).as_posix()} block {i}", m.group(1)))
    return out


def test_docs_code_blocks_are_formatted() -> None:
    blocks = doc_blocks()
    assert len(blocks) > 100
    unformatted = []
    for where, block in blocks:
        out = format_text(block, where, Diagnostics())
        if out is not None and out != block:  # a block that does not parse shows a syntax error
            unformatted.append(where)
    assert unformatted == []


# ---------------------------------------------------------------- properties


@st.composite
def scrambled(draw: st.DrawFn) -> tuple[str, str]:
    """A generated spec, and the same tokens with random white space and comments between them."""
    text = draw(valid_specs())
    lark, _ = _tree_parser()
    tokens = [str(t) for t in lark.parse(text).scan_values(lambda v: True)]
    seps = st.sampled_from([" ", " ", " ", "\n", "\n\n\n", "\t", "  # a note\n", "\n# on its own\n", " // x\n"])
    out = [tokens[0]]
    for tok in tokens[1:]:
        out += [draw(seps), tok]
    return text, "".join(out) + draw(st.sampled_from(["", "\n", "\n# the end\n"]))


@SETTINGS
@given(valid_specs())
def test_formatting_keeps_the_tree_and_is_idempotent(text: str) -> None:
    out = fmt(text)
    assert tree_of(out) == tree_of(text)
    assert fmt(out) == out
    assert comments_of(out) == comments_of(text)


@SETTINGS
@given(scrambled())
def test_formatting_a_scrambled_layout(pair: tuple[str, str]) -> None:
    original, messy = pair
    out = fmt(messy)
    assert tree_of(out) == tree_of(original)
    assert fmt(out) == out
    assert comments_of(out) == comments_of(messy)
    assert all(line == line.rstrip() for line in out.splitlines())
    assert "\n\n\n" not in out and out.endswith("\n")
