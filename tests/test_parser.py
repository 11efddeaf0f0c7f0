"""The parser stage: every grammar rule has a handler and is used somewhere,
syntax errors are located and explained, and AST spans are exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark

from orchdsl import ast
from orchdsl.codes import CODES
from orchdsl.diagnostics import Diagnostics, Span
from orchdsl.parser import AstBuilder, grammar_rule_names, parse_text, top_keywords
from orchdsl.pipeline import check_text

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "grammar" / "orch.lark"
ORCH_BLOCK = re.compile(r"^```orch[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


# ---------------------------------------------------------------- rule coverage


@lru_cache(maxsize=4)
def plain_parser(grammar: str) -> Lark:
    """A Lark parser with the options of the real one, minus the transformer."""
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        strict=True,
        keep_all_tokens=True,
        maybe_placeholders=True,
    )


def rule_names(lark: Lark) -> set[str]:
    """Rules and aliases of ``lark`` whose trees reach the transformer."""
    names: set[str] = set()
    for rule in lark.rules:
        name = str(rule.alias or rule.origin.name)
        if name.startswith("_") or name == "start":
            continue
        if rule.options.expand1 and len(rule.expansion) == 1 and not rule.alias:
            continue  # a `?rule` alternative with one child is inlined
        names.add(name)
    return names


def missing_handlers(names: Iterable[str], builder: type[AstBuilder] = AstBuilder) -> list[str]:
    """Rules with no handler: neither a method of the builder itself nor a
    clause or block rule it declares. Methods inherited from Lark's
    ``Transformer`` do not count: a rule named ``transform`` is not handled."""
    handled = set(builder.CLAUSE_RULES) | set(builder.BLOCK_RULES)
    own = {name for klass in builder.__mro__ if issubclass(klass, AstBuilder) for name in vars(klass)}
    return sorted(n for n in names if n not in handled and n not in own)


def test_rule_names_match_the_parsers_own_list() -> None:
    assert rule_names(plain_parser(GRAMMAR.read_text(encoding="utf-8"))) == grammar_rule_names()


def test_the_grammar_has_rules() -> None:
    names = grammar_rule_names()
    assert {"org", "role", "state", "transition", "compare", "gate", "metric"} <= names
    assert len(names) > 80


def test_every_rule_has_a_handler() -> None:
    assert missing_handlers(grammar_rule_names()) == []


def test_a_rule_without_a_handler_is_caught() -> None:
    grammar = GRAMMAR.read_text(encoding="utf-8")
    grown = grammar.replace("| gate | metric", "| gate | metric | frobnicate", 1)
    assert grown != grammar, "the top-level alternatives of the grammar changed shape"
    grown += '\nfrobnicate: "frobnicate" NAME\n'
    lark = plain_parser(grown)
    # The dummy rule is live: it parses and produces its own tree.
    tree = lark.parse("frobnicate widget\n")
    assert "frobnicate" in {str(t.data) for t in tree.iter_subtrees()}
    assert missing_handlers(rule_names(lark)) == ["frobnicate"]


def test_a_declared_clause_rule_counts_as_handled() -> None:
    class Extended(AstBuilder):
        CLAUSE_RULES = AstBuilder.CLAUSE_RULES | {"frobnicate"}

    assert missing_handlers({"frobnicate", "org"}, Extended) == []
    assert missing_handlers({"transform", "org"}) == ["transform"]


def usage_texts() -> list[tuple[str, str]]:
    """Every spec, example and ```orch block of the language reference."""
    texts = []
    files = sorted((ROOT / "specs").glob("*.orch")) + sorted((ROOT / "examples").rglob("*.orch"))
    for f in files:
        texts.append((f.relative_to(ROOT).as_posix(), f.read_text(encoding="utf-8")))
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    for i, block in enumerate(ORCH_BLOCK.findall(doc), start=1):
        texts.append((f"docs/language.md block {i}", block))
    return texts


def test_every_rule_is_used_and_documented() -> None:
    lark = plain_parser(GRAMMAR.read_text(encoding="utf-8"))
    seen: set[str] = set()
    unparsed: list[str] = []
    for name, text in usage_texts():
        try:
            tree = lark.parse(text)
        except Exception as err:  # a broken example is reported, not hidden
            unparsed.append(f"{name}: {type(err).__name__}")
            continue
        seen |= {str(t.data) for t in tree.iter_subtrees()}
    # Only the deliberately broken example may fail to parse, and it parses today.
    assert unparsed == []
    unused = sorted(grammar_rule_names() - seen)
    assert unused == [], f"grammar rules no spec, example or doc block uses: {unused}"


# ---------------------------------------------------------------- syntax errors

# (snippet, code, line, column, text the "expected" note or the help must contain)
BROKEN = [
    ("role a {\n  reports_to\n}\n", "ORC001", 3, 1, "expected a name"),
    ("skills {\n  levels { a: 1 }\n}\n", "ORC001", 2, 13, "expected `=`"),
    ("role a {\n  title 'x'\n}\n", "ORC002", 2, 9, "double quotes"),
    ("role a {\n  frobnicate b\n}\n", "ORC001", 2, 3, "`reports_to`"),
    ("lifecycle {\n  state A {\n    -> B when x ==\n  }\n}\n", "ORC001", 4, 3, "a name"),
    ("domain d {\n  member a {\n    skills { python = expert }\n  }\n}\n", "ORC001", 3, 21, "expected `:`"),
    ("org 1x\n", "ORC001", 1, 5, "expected a name"),
    ("capacity {\n  at 80 busy\n}\n", "ORC001", 2, 6, "expected a percentage"),
    ('metric m "t": x >\n', "ORC001", 1, 17, "a whole number"),
    ("tier one { }\n", "ORC001", 1, 6, "expected a whole number"),
    ("gate g {\n  outcome ok pass\n}\n", "ORC001", 2, 14, "expected `:`"),
    ("standup s { every q }\n", "ORC001", 1, 19, "a duration"),
    ('org x\nrole a {\n  title "a"\n}}\n', "ORC001", 4, 2, "`domain`"),
]


@pytest.mark.parametrize(("text", "code", "line", "column", "hint"), BROKEN,
                         ids=[f"broken{i}" for i in range(1, len(BROKEN) + 1)])
def test_syntax_error(text: str, code: str, line: int, column: int, hint: str) -> None:
    diags = Diagnostics()
    assert parse_text(text, "broken.orch", diags) is None
    found = list(diags)
    assert found, "a syntax error produced no diagnostic"
    first = found[0]
    assert first.code == code, first
    assert first.span is not None
    assert (first.span.file, first.span.line, first.span.column) == ("broken.orch", line, column)
    assert first.span.end_line == line and first.span.end_column >= column
    assert first.message.startswith("unexpected"), first.message
    advice = " ".join([*first.notes, first.help or ""])
    assert hint in advice, f"{hint!r} not in {advice!r}"
    if code == "ORC001":
        assert any(n.startswith("expected ") for n in first.notes), first.notes


@pytest.mark.parametrize(("text", "block", "where", "label"), [
    ('org x {\n  title "a"\n', (1, 1, 8), (2, 11), "the file ends here"),
    ('org x\nrole a {\n  title "a {"\nrole b { }\n', (2, 1, 9), (4, 1), "`role` starts here"),
    ("lifecycle {\n  state A { initial # {\n  state B { terminal }\n}\n", (2, 3, 12), (3, 3), "`state` starts"),
])
def test_a_missing_brace_points_at_the_block_left_open(
        text: str, block: tuple[int, int, int], where: tuple[int, int], label: str) -> None:
    """Reported at the block left open (strings and comments skipped), with the place the
    parser gave up as a secondary span; it was reported there alone."""
    diags = Diagnostics()
    assert parse_text(text, "open.orch", diags) is None
    first = list(diags)[0]
    assert first.message.endswith("is not closed: `}` missing"), first.message
    assert first.span is not None and (first.span.line, first.span.column, first.span.end_column) == block
    [lab] = first.labels
    assert (lab.span.line, lab.span.column) == where and lab.message.startswith(label)


@pytest.mark.parametrize(("text", "unit", "meant"), [
    ("lifecycle { state A { sla 4hours } }\n", "hours", "h"),
    ("lifecycle { state A { sla 50k } }\n", "k", "K"),
    ("standup s { every 1q }\n", "q", None),
])
def test_an_unknown_unit_is_named(text: str, unit: str, meant: str | None) -> None:
    """`sla 4hours` said "unexpected `4`"; the units are those of the one budget grammar."""
    diags = Diagnostics()
    assert parse_text(text, "units.orch", diags) is None
    [d] = list(diags)
    assert d.message.startswith(f"unknown unit `{unit}`"), d.message
    assert d.help == (f"did you mean `{meant}`?" if meant else None)
    literal = re.search(r"[0-9.]+" + unit, text)
    assert literal is not None and d.span is not None
    assert (d.span.column, d.span.end_column) == (literal.start() + 1, literal.end() + 1)


@pytest.mark.parametrize(("text", "meant"), [
    ('role a {\n  titel "A"\n}\n', "title"),
    ("org x\nrol b { }\n", "role"),
    ("lifecycle { state A { intial } }\n", "initial"),
])
def test_an_unknown_keyword_gets_did_you_mean(text: str, meant: str) -> None:
    diags = Diagnostics()
    assert parse_text(text, "kw.orch", diags) is None
    assert list(diags)[0].help == f"did you mean `{meant}`?"


def test_errors_in_several_declarations_are_all_reported() -> None:
    text = (
        'org x\n'
        'role a { title "a" }\n'
        "role b { title }\n"
        'role c { title "c" }\n'
        "role d { layer }\n"
        "gate g { reviewer }\n"
        "tier 1 { planning x }\n"
    )
    diags = Diagnostics()
    assert parse_text(text, "many.orch", diags) is None
    where = [(d.code, d.span.line if d.span else 0) for d in diags]
    assert where == [("ORC001", 3), ("ORC001", 5), ("ORC001", 6), ("ORC001", 7)]


def _item_keywords_from_the_rules() -> set[str]:
    """The first keyword of each declaration the grammar's `_item` rule lists, read from the rules."""
    lark = Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", keep_all_tokens=True)
    declarations = {sym.name for rule in lark.rules if rule.origin.name == "_item" for sym in rule.expansion}
    words = set()
    for rule in lark.rules:
        if rule.origin.name in declarations and rule.expansion:
            first = rule.expansion[0]
            assert first.is_term, f"`{rule.origin.name}` does not start with a keyword"
            words.add(lark.get_terminal(first.name).pattern.value)
    return words


def _keyword_terminals() -> set[str]:
    lark = Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", keep_all_tokens=True)
    return {t.pattern.value for t in lark.terminals
            if t.pattern.type == "str" and t.pattern.value.isidentifier()}


def test_top_keywords_are_the_grammars_declarations() -> None:
    assert set(top_keywords()) == _item_keywords_from_the_rules()
    assert len(top_keywords()) == len(set(top_keywords())) >= 17


@pytest.mark.parametrize("word", sorted(_keyword_terminals()))
def test_only_top_keywords_start_a_file(word: str) -> None:
    """A file starting with a keyword gets past the keyword exactly when it is a top keyword."""
    diags = Diagnostics()
    parse_text(f"{word} !\n", "kw.orch", diags)
    first = next(iter(diags))
    assert first.span is not None
    passed_the_keyword = first.span.line > 1 or first.span.column > len(word)
    assert passed_the_keyword == (word in top_keywords()), (first.span, first.message)


@pytest.mark.parametrize("word", top_keywords())
def test_a_file_is_split_at_every_top_keyword(word: str) -> None:
    """After a first syntax error, a later declaration starting with any top keyword is parsed on its own."""
    diags = Diagnostics()
    parse_text(f"role r {{ bogus }}\n{word} !\n", "split.orch", diags)
    assert [d.span.line if d.span else 0 for d in diags] == [1, 2], [d.message for d in diags]


def test_an_error_is_not_reported_twice() -> None:
    diags = Diagnostics()
    parse_text('org x\nrole a {\n  title\n  layer ic\n}\nrole b { title "b" }\n', "one.orch", diags)
    assert [(d.code, d.span.line if d.span else 0) for d in diags] == [("ORC001", 4)]


# Texts that must never make a Lark exception escape.
ODD_TEXTS = [
    "",
    "\n\n",
    "}",
    "{{{{",
    "org",
    "org x version",
    'org x version "1" {',
    "role",
    "\x00\x01",
    "ünïcödé",
    '"unterminated',
    "role a { title \"a\" } }}} role",
    "lifecycle { state A { -> -> -> } }",
    "state A { initial }",
    "-> B when ((((( x",
    "metric m: f(g(h)) > 1",
    "include",
    "# only a comment",
    "org x\n" * 50,
    "org x {\n" + "  title \"t\"\n" * 3,
]


@pytest.mark.parametrize("text", ODD_TEXTS, ids=[f"odd{i}" for i in range(1, len(ODD_TEXTS) + 1)])
def test_check_text_never_raises(text: str) -> None:
    result = check_text(text, "odd.orch")
    lines = text.count("\n") + 1
    for d in result.diagnostics:
        assert d.code in CODES
        assert d.message
        if d.span is not None:
            assert 1 <= d.span.line <= lines, d


def assert_well_formed(text: str) -> None:
    result = check_text(text, "any.orch")
    lines = text.count("\n") + 1
    for d in result.diagnostics:
        assert d.code in CODES and d.message
        if d.span is not None:
            assert 1 <= d.span.line <= lines, d


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_never_raises(text: str) -> None:
    assert_well_formed(text)


WORDS = ("org", "role", "state", "lifecycle", "gate", "tier", "{", "}", "->", ":", ",", "=", "(", ")",
         "[", "]", "when", "and", "not", "in", "by", "x", "@lead", '"s"', "4h", "2x", "50K", "90%", "1",
         "1.5", "*", "-", "\n", "initial", "terminal", "owner", "sla", "warn", "escalate", "to")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_token_soup_never_raises(words: list[str]) -> None:
    assert_well_formed(" ".join(words))


def test_empty_text_is_not_a_syntax_error() -> None:
    result = check_text("", "empty.orch")
    assert all(d.code not in ("ORC001", "ORC002") for d in result.diagnostics)


# ---------------------------------------------------------------- spans

SPANNED = """\
org demo version "1.0"
role boss {
  title "Boss"
}
lifecycle {
  state OPEN {
    initial
    owner boss
    -> DONE "finish" when task.tier >= 2 and not blocked or kind in [bug, chore] by boss after 4h
  }
  state DONE { terminal }
}
"""


def parsed(text: str) -> ast.File:
    diags = Diagnostics()
    tree = parse_text(text, "s.orch", diags)
    assert tree is not None, [d.message for d in diags]
    return tree


def at(line: int, col: int, end_line: int, end_col: int) -> Span:
    return Span("s.orch", line, col, end_line, end_col)


def test_spans_of_names_and_blocks() -> None:
    org, role, lifecycle = parsed(SPANNED).items
    assert isinstance(org, ast.Block) and org.name is not None
    assert org.name.span == at(1, 5, 1, 9)
    version = org.extra["version"]
    assert isinstance(version, ast.Text) and version.span == at(1, 18, 1, 23)
    assert isinstance(role, ast.Block) and role.name is not None
    assert role.name.span == at(2, 6, 2, 10)
    assert role.span == at(2, 1, 4, 2)
    (title,) = role.clauses
    assert isinstance(title, ast.Clause) and title.span == at(3, 3, 3, 15)
    assert isinstance(lifecycle, ast.Block) and lifecycle.span == at(5, 1, 12, 2)
    open_, done = lifecycle.clauses
    assert isinstance(open_, ast.Block) and open_.name is not None
    assert open_.name.span == at(6, 9, 6, 13)
    assert open_.span == at(6, 3, 10, 4)
    assert isinstance(done, ast.Block) and done.span == at(11, 3, 11, 26)


def first_transition(text: str) -> ast.Transition:
    lifecycle = parsed(text).items[-1]
    assert isinstance(lifecycle, ast.Block)
    state = lifecycle.clauses[0]
    assert isinstance(state, ast.Block)
    transition = state.clauses[-1]
    assert isinstance(transition, ast.Transition)
    return transition


def test_spans_of_a_transition() -> None:
    transition = first_transition(SPANNED)
    assert transition.span == at(9, 5, 9, 98)
    assert transition.target.text == "DONE" and transition.target.span == at(9, 8, 9, 12)
    assert transition.label is not None and transition.label.span == at(9, 13, 9, 21)
    when, by, after = transition.clauses
    assert (when.kind, by.kind, after.kind) == ("when", "by", "after")
    assert when.span == at(9, 22, 9, 81)
    assert by.span == at(9, 82, 9, 89)
    assert isinstance(by.value, list) and by.value[0].span == at(9, 85, 9, 89)
    assert after.span == at(9, 90, 9, 98)
    assert isinstance(after.value, ast.Budget) and after.value.span == at(9, 96, 9, 98)


def test_spans_of_a_guard() -> None:
    guard = first_transition(SPANNED).clauses[0].value
    # (task.tier >= 2 and not blocked) or kind in [bug, chore]
    assert isinstance(guard, ast.BoolOp) and guard.op == "or"
    assert guard.span == at(9, 27, 9, 81)
    both = guard.left
    assert isinstance(both, ast.BoolOp) and both.op == "and"
    assert both.span == at(9, 27, 9, 57)
    compare = both.left
    assert isinstance(compare, ast.Compare) and compare.op == ">="
    assert compare.span == at(9, 27, 9, 41)
    assert isinstance(compare.left, ast.Path) and compare.left.parts == ["task", "tier"]
    assert compare.left.span == at(9, 27, 9, 36)
    assert isinstance(compare.right, ast.Literal) and compare.right.span == at(9, 40, 9, 41)
    negated = both.right
    assert isinstance(negated, ast.Not) and negated.span == at(9, 46, 9, 57)
    assert isinstance(negated.arg, ast.Path) and negated.arg.span == at(9, 50, 9, 57)
    member = guard.right
    assert isinstance(member, ast.MemberOf)
    assert member.span == at(9, 61, 9, 81)
    assert [i.span for i in member.items] == [at(9, 70, 9, 73), at(9, 75, 9, 80)]


PARENTHESISED = """\
lifecycle {
  state OPEN {
    -> DONE when not (blocked or held)
  }
}
"""


def test_spans_of_a_parenthesised_guard() -> None:
    guard = first_transition(PARENTHESISED).clauses[0].value
    assert isinstance(guard, ast.Not)
    assert guard.span == at(3, 18, 3, 39)


def test_spans_point_into_the_text() -> None:
    """Every name span of the V2 spec covers exactly the name's text."""
    text = (ROOT / "specs" / "orchestration_v2.orch").read_text(encoding="utf-8")
    lines = text.splitlines()
    count = 0

    def visit(node: object) -> None:
        nonlocal count
        if isinstance(node, ast.Name):
            s = node.span
            assert s.line == s.end_line
            written = lines[s.line - 1][s.column - 1 : s.end_column - 1]
            assert written in (node.text, f'"{node.text}"')  # a channel may be named by a string
            count += 1
        elif isinstance(node, (list, tuple)):
            for x in node:
                visit(x)
        elif isinstance(node, dict):
            for x in node.values():
                visit(x)
        elif hasattr(node, "__slots__") and not isinstance(node, Span):
            for slot in node.__slots__:
                visit(getattr(node, slot))

    for item in parse_text(text, "v2.orch", Diagnostics()).items:  # type: ignore[union-attr]
        visit(item)
    assert count > 500
