"""Stage 1, parsing: `.orch` text in, an ``ast.File`` or syntax diagnostics out.

The grammar (``grammar/orch.lark``, shipped as the ``orchdsl_grammar``
package) is loaded once, LALR, strict. AST nodes are built while parsing by
an inline transformer (`ast_builder.py`), so no intermediate parse tree is kept; spans come from
the tokens themselves (``keep_all_tokens``), which is why every handler sees
keywords and punctuation among its children and filters them out.

Syntax errors are converted here and nowhere else: no Lark exception leaves
this module. After a first error the file is split at its top-level
declarations and each piece parsed again, so that every broken declaration
is reported, not only the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from orchdsl_runtime.contract import budgets

from orchdsl import ast
from orchdsl.ast_builder import MAX_DIGITS, AstBuilder, char_name
from orchdsl.diagnostics import Diagnostic, Diagnostics, Label, Span, did_you_mean

__all__ = ["MAX_DIGITS", "AstBuilder", "grammar_rule_names", "parse_text", "top_keywords"]


# ---------------------------------------------------------------------- the parser


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, AstBuilder]:
    builder = AstBuilder()
    lark = Lark.open_from_package(
        "orchdsl_grammar",
        "orch.lark",
        parser="lalr",
        lexer="contextual",
        # Strict mode (no shift/reduce conflicts, no colliding terminals) is
        # asserted by tests/test_grammar.py; at run time the analysis is skipped.
        strict=False,
        keep_all_tokens=True,
        maybe_placeholders=True,
        transformer=builder,
        cache=True,
    )
    return lark, builder


@lru_cache(maxsize=1)
def top_keywords() -> tuple[str, ...]:
    """The keywords that start a top-level declaration (``org``, ``role``...), as the grammar
    says: the keyword terminals the parser accepts at the start of a file."""
    lark, _ = _parser()
    words = []
    accepted: set[str] = lark.parse_interactive("").accepts()  # type: ignore[no-untyped-call]
    for name in accepted:
        if name == "$END":
            continue
        pattern = lark.get_terminal(name).pattern
        if pattern.type == "str" and pattern.value.isidentifier():
            words.append(pattern.value)
    return tuple(sorted(words))


@lru_cache(maxsize=1)
def _top_line() -> re.Pattern[str]:
    """A line that starts a top-level declaration: where a file is split after a syntax error."""
    return re.compile(r"^(?:" + "|".join(top_keywords()) + r")\b", re.M)


def grammar_rule_names() -> set[str]:
    """Names of every rule and alias in the grammar that reaches the transformer."""
    lark, _ = _parser()
    names: set[str] = set()
    for rule in lark.rules:
        origin = rule.alias or rule.origin.name
        name = str(origin)
        if name.startswith("_") or name == "start":
            continue
        if rule.options.expand1 and len(rule.expansion) == 1 and not rule.alias:
            continue  # ?rule with one child: inlined, never reaches a handler
        names.add(name)
    return names


_PUNCT_NAMES = {
    "NAME": "a name",
    "RELATION": "a relation such as `@lead`",
    "STRING": "a string",
    "INT": "a whole number",
    "FLOAT": "a decimal number",
    "PERCENT": "a percentage",
    "DURATION": "a duration such as `4h`",
    "TOKENS": "a token budget such as `50K`",
    "MULTIPLE": "a multiple such as `2x`",
    "COUNT": "a count such as `x2`",
    "COMP_OP": "a comparison",
    "TERMINAL_KIND": "`success` or `failure`",
    "BLOCKING": "`blocking` or `nonblocking`",
    "STATE_CLASS": "`work`, `blocked`, `escalated`, `ready` or `done`",
    "TASK_KIND": "`strategic` or `tactical`",
    "STAR": "`*`",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "$END": "the end of the file",
}


@lru_cache(maxsize=1)
def _terminal_text() -> dict[str, str]:
    lark, _ = _parser()
    out = dict(_PUNCT_NAMES)
    for t in lark.terminals:
        if t.name not in out and t.pattern.type == "str":
            out[t.name] = f"`{t.pattern.value}`"
    return out


def _describe_expected(expected: set[str]) -> str:
    names = _terminal_text()
    words = sorted({names.get(e, e) for e in expected})
    if len(words) > 12:
        words = words[:12] + ["..."]
    return ", ".join(words)


def _syntax_diagnostic(err: UnexpectedInput, path: str, line_offset: int, diags: Diagnostics,
                       text: str = "") -> None:
    line = (err.line or 1) + line_offset
    col = err.column or 1
    if isinstance(err, UnexpectedCharacters):
        ch = err.char
        span = Span(path, line, col, line, col + 1)
        diags.add("ORC002", f"unexpected character {char_name(ch)}", span,
                  help="strings are written in double quotes; comments start with `#` or `//`"
                  if ch in "'\"" else None)
        return
    if isinstance(err, UnexpectedEOF):
        span = Span(path, line, col, line, col)
        if not _unclosed(text, len(text), None, _end_span(text, line_offset, path), line_offset, path, diags):
            diags.add("ORC001", EOF_MESSAGE, span,
                      notes=[f"expected {_describe_expected(set(err.expected))}"])
        return
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    expected = set(err.accepts or err.expected)
    if tok.type == "$END":
        span = Span(path, line, col, line, col)
        found = "end of file"
    else:
        span = Span(path, line, col, line, col + max(1, len(str(tok))))
        found = f"`{tok}`"
        if _unknown_unit(text, tok, expected, span, diags):
            return
    if "RBRACE" in expected:
        end = tok.type == "$END"
        if _unclosed(text, len(text) if end else (tok.start_pos or 0), None if end else str(tok),
                     _end_span(text, line_offset, path) if end else span, line_offset, path, diags):
            return
    diags.add(
        "ORC001",
        f"unexpected {found}",
        span,
        notes=[f"expected {_describe_expected(expected)}"],
        help=_hint(str(tok), expected),
    )


def _unknown_unit(text: str, tok: Token, expected: set[str], span: Span, diags: Diagnostics) -> bool:
    """``4hours`` where a budget belongs: an unknown unit, with the unit meant."""
    if not expected & {"DURATION", "TOKENS"} or tok.type not in ("INT", "FLOAT") or tok.start_pos is None:
        return False
    literal = budgets.literal_at(text, tok.start_pos)
    if literal is None or literal[1] in budgets.TIME_UNITS or literal[1] in budgets.TOKEN_UNITS:
        return False
    number, unit = literal
    meant = budgets.unit_suggestion(unit)
    units = [*(budgets.TIME_UNITS if "DURATION" in expected else ()),
             *(budgets.TOKEN_UNITS if "TOKENS" in expected else ())]
    diags.add("ORC001", f"unknown unit `{unit}` in `{number}{unit}`",
              Span(span.file, span.line, span.column, span.line, span.column + len(number) + len(unit)),
              notes=["units: " + ", ".join(f"`{u}` ({budgets.UNIT_NAMES[u]})" for u in units)],
              help=f"did you mean `{meant}`?" if meant else None)
    return True


FILE_ENDS = "the file ends here, inside the open block"
EOF_MESSAGE = "unexpected end of file"


def at_end_of_text(d: Diagnostic) -> bool:
    """Whether a syntax error is that the text ended (what more text may mend)."""
    return d.message == EOF_MESSAGE or any(lab.message == FILE_ENDS for lab in d.labels)


def _end_span(text: str, line_offset: int, path: str) -> Span:
    """The last character of a text that is not white space: where the file ends."""
    end = len(text.rstrip())
    start = text.rfind("\n", 0, end) + 1
    line = text.count("\n", 0, end) + 1 + line_offset
    return Span(path, line, max(1, end - start), line, max(1, end - start) + 1)


def _open_braces(text: str, end: int) -> list[int]:
    """The offsets of the ``{`` not closed before ``end`` (strings and comments skipped)."""
    stack: list[int] = []
    i = 0
    while i < end:
        c = text[i]
        if c == '"':
            i += 1
            while i < end and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif c == "#" or text.startswith("//", i):
            nl = text.find("\n", i)
            i = end if nl < 0 else nl
        elif c == "{":
            stack.append(i)
        elif c == "}" and stack:
            stack.pop()
        i += 1
    return stack


def _unclosed(text: str, pos: int, found: str | None, gave_up: Span, line_offset: int, path: str,
              diags: Diagnostics) -> bool:
    """A block left open: the file ends inside it, or a declaration like the block's own (or a
    top-level one) starts inside it. Reported at the block, the place the parser gave up beside."""
    stack = _open_braces(text, pos)
    if not stack:
        return False
    opened = stack[-1]
    start = text.rfind("\n", 0, opened) + 1
    head = text[start:opened].strip()
    keyword = head.split()[0] if head else ""
    if found is not None and found not in top_keywords() and found != keyword:
        return False
    indent = len(text[start:opened]) - len(text[start:opened].lstrip())
    line = text.count("\n", 0, opened) + 1 + line_offset
    span = Span(path, line, indent + 1, line, opened - start + 2)
    what = f"`{head} {{`" if head else "this block"
    diags.add("ORC001", f"{what} is not closed: `}}` missing", span,
              labels=[Label(gave_up, FILE_ENDS if found is None
                            else f"`{found}` starts here, inside the open block")],
              help="add `}` where the block ends")
    return True


def _hint(found: str, expected: set[str]) -> str | None:
    if found == "=" and "COLON" in expected:
        return "use `:` here"
    if found == ":" and "EQUAL" in expected:
        return "levels are written `name = number`"
    if found.isidentifier():
        meant = did_you_mean(found, _keywords(expected))
        if meant:
            return meant
        if "RBRACE" in expected:
            return f"`{found}` is not a clause of this block"
    return None


def _keywords(expected: set[str]) -> list[str]:
    """The keywords among the terminals a parser expects."""
    lark, _ = _parser()
    words = []
    for name in expected:
        try:
            pattern = lark.get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str" and pattern.value.isidentifier():
            words.append(pattern.value)
    return words


def parse_text(text: str, path: str, diags: Diagnostics) -> ast.File | None:
    """Parse one file's text; on syntax errors, add them all and return None.

    A byte-order mark at the start is skipped. Strings holding control characters and
    numbers out of range are reported (the tree is still returned); a text over the size
    limit of a file is not parsed.
    """
    from orchdsl.sources import MAX_FILE_BYTES

    if text.startswith("\ufeff"):
        text = text[1:]
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        diags.add("ORC011", f"`{path}` is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                  help="split it into files that include each other")
        return None
    lark, builder = _parser()
    builder.file = path
    builder.problems = []
    try:
        try:
            items: list[ast.Block | ast.Clause] = lark.parse(text)  # type: ignore[assignment]
        except UnexpectedInput as err:
            _syntax_diagnostic(err, path, 0, diags, text)
            _report(builder, diags)
            _more_errors(text, path, err, diags)
            return None
        _report(builder, diags)
    finally:
        builder.problems = []
    return ast.File(path, items)


def _report(builder: AstBuilder, diags: Diagnostics) -> None:
    for code, message, span, help in builder.problems:
        diags.add(code, message, span, help=help)
    builder.problems = []


def _more_errors(text: str, path: str, first: UnexpectedInput, diags: Diagnostics) -> None:
    """Find syntax errors after the first, one top-level declaration at a time."""
    lark, builder = _parser()
    starts = [m.start() for m in _top_line().finditer(text)]
    first_line = first.line or 1
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        line_offset = text.count("\n", 0, start)
        if line_offset + 1 <= first_line:
            continue  # before or containing the first error: already reported
        try:
            lark.parse(text[start:end])
        except UnexpectedInput as err:
            _syntax_diagnostic(err, path, line_offset, diags, text[start:end])
        finally:
            builder.file = path


ParseFn = Callable[[str, str, Diagnostics], "ast.File | None"]
