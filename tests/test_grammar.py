"""The grammar is LALR(1) without conflicts and its terminals never collide."""

from __future__ import annotations

from pathlib import Path

from lark import Lark

GRAMMAR = Path(__file__).resolve().parent.parent / "grammar" / "orch.lark"


def test_grammar_is_strict_lalr() -> None:
    # strict=True raises on shift/reduce conflicts and on regular expressions
    # of two terminals that can match the same text.
    Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", lexer="contextual", strict=True,
         keep_all_tokens=True)


def test_grammar_is_the_packaged_one() -> None:
    import orchdsl_grammar

    packaged = Path(orchdsl_grammar.__file__).parent / "orch.lark"
    assert packaged.resolve() == GRAMMAR.resolve()
