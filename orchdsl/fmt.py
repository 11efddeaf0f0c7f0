"""Formatting: `.orch` text in, the same declarations in the canonical layout out.

The formatter changes only the space between tokens: every token of the
input is written out as it was, in the same order, so the formatted text
parses to the same syntax tree. It reads the parse tree (every keyword and
punctuation mark kept) and the comments, which the lexer hands over as it
skips them, and lays the tokens out again:

- one top-level declaration per line, and one clause per line in a body that
  spans several lines, indented by two spaces per level;
- a body written on one line (``role dev { title "Dev" }``) stays on one
  line; a body that spans lines has each clause, or each item of a comma list
  (``levels``, ``skills``, ``performance``, ``experience``, a category), on its
  own line, list items each followed by a comma;
- one space between words, none before ``,`` and ``:``, none inside
  parentheses and brackets, none around ``-`` in ranges (``tier 1-2``) and
  around ``:`` in flow steps (``router:answer``);
- a line break the author put inside a clause (a long ``flow`` or guard) is
  kept, the rest of the clause indented four more spaces; no other break is
  added or removed inside a clause;
- blank lines between declarations and between clauses are kept, at most
  one in a row, none at the start or end of a body or of the file;
- a comment stays where it was: a comment on a line of its own stays on a
  line of its own before what followed it, indented with it; a comment after
  code stays after the same code, two spaces after the end of its line. When
  comments meet on one line (two declarations written on one line are split,
  a brace on its own line is joined to its keyword), they move above that
  line, in order.

A file with syntax errors is not formatted; the errors are reported as by
``orchdsl check``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from threading import Lock

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from orchdsl.diagnostics import Diagnostics

INDENT = "  "
# Rules whose braces hold a comma-separated list rather than clauses.
COMMA_BODIES = frozenset({"levels", "experience", "held_skills", "performance", "category"})


@dataclass(slots=True)
class _Comment:
    text: str
    line: int
    blank_before: bool = False


@dataclass(slots=True)
class _Notes:
    """What the layout needs to know about one token besides its text."""

    leading: list[_Comment] = field(default_factory=list)  # own-line comments before it
    trailing: list[_Comment] = field(default_factory=list)  # comments after it on its line
    blank_before: bool = False  # an empty line between it and what came before


class _Collector:
    """Comments seen by the lexer during one parse."""

    def __init__(self) -> None:
        self.comments: list[Token] = []

    def __call__(self, tok: Token) -> Token:
        self.comments.append(tok)
        return tok


_lock = Lock()


@lru_cache(maxsize=1)
def _tree_parser() -> tuple[Lark, _Collector]:
    collector = _Collector()
    lark = Lark.open_from_package(
        "orchdsl_grammar",
        "orch.lark",
        parser="lalr",
        lexer="contextual",
        keep_all_tokens=True,
        maybe_placeholders=False,
        lexer_callbacks={"COMMENT": collector},
        cache=True,
    )
    return lark, collector


def format_text(text: str, name: str, diags: Diagnostics) -> str | None:
    """The canonical layout of ``text``; None (and syntax errors in ``diags``) if it does not parse."""
    lark, collector = _tree_parser()
    with _lock:
        collector.comments = []
        try:
            tree = lark.parse(text)
        except UnexpectedInput:
            tree = None
        comments = collector.comments
    if tree is None:
        from orchdsl.parser import parse_text

        parse_text(text, name, diags)  # reports every syntax error, as `check` does
        return None
    return _Layout(tree, comments).render()


def unified_diff(old: str, new: str, name: str, colour: bool = False) -> str:
    """What formatting changes in a file, as a unified diff (coloured for a terminal)."""
    import difflib

    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=name, tofile=f"{name} (formatted)")
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        if colour:
            code = {"+": "32", "-": "31", "@": "36"}.get(line[:1])
            if line.startswith(("+++", "---")):
                code = "1"
            if code:
                line = f"\033[{code}m{line.rstrip(chr(10))}\033[0m\n"
        out.append(line)
    return "".join(out)


# ---------------------------------------------------------------------- comments


def _tokens(tree: Tree[Token]) -> list[Token]:
    return [t for t in tree.scan_values(lambda v: isinstance(v, Token))]


def _attach(tokens: list[Token], comments: list[Token]) -> tuple[dict[int, _Notes], _Notes]:
    """Notes per token (keyed by ``id``) and for the end of the file.

    A comment with code before it on its line trails the last token before
    it; any other comment leads the next token (or the end of the file).
    """
    notes: dict[int, _Notes] = {}
    end = _Notes()
    items: list[tuple[int, int, Token | _Comment]] = [(t.line or 0, t.column or 0, t) for t in tokens]
    items += [(c.line or 0, c.column or 0, _Comment(str(c).rstrip(), c.line or 0)) for c in comments]
    items.sort(key=lambda it: (it[0], it[1]))
    last_token: Token | None = None
    last_line = 0  # line of the last token or comment
    last_token_line = 0
    pending: list[_Comment] = []
    for line, _, item in items:
        gap = last_line > 0 and line - last_line >= 2
        if isinstance(item, _Comment):
            if last_token is not None and last_token_line == line and not pending:
                notes.setdefault(id(last_token), _Notes()).trailing.append(item)
            else:
                item.blank_before = gap
                pending.append(item)
        else:
            n = notes.setdefault(id(item), _Notes())
            n.leading, pending = pending, []
            n.blank_before = gap
            last_token, last_token_line = item, line
        last_line = line
    end.leading = pending
    end.blank_before = False
    return notes, end


# ---------------------------------------------------------------------- layout


def _is_comma(node: Tree[Token] | Token) -> bool:
    return isinstance(node, Token) and node.type == "COMMA"


def _no_space(prev: str, prev_rule: str, tok: Token, rule: str) -> bool:
    t = str(tok)
    if t in (",", ")", "]", ":", ".") or prev in ("(", "[", "."):
        return True
    if t == "-" or prev == "-":
        return True  # ranges: `tier 1-2`, `band 6-14`, `planning 3-8`
    if prev == ":" and prev_rule == "role_step":
        return True  # flow steps: `router:answer`
    return t == "(" and rule == "measure"  # `sla_met(DOMAIN_REVIEW)`


class _Layout:
    def __init__(self, tree: Tree[Token], comments: list[Token]) -> None:
        self.tree = tree
        self.notes, self.end = _attach(_tokens(tree), comments)
        self.out: list[str] = []
        self.depth = 0
        self.line: list[str] = []  # the parts of the line being built
        self.above: list[str] = []  # comments moved above the line being built
        self.trailing: list[str] = []
        self.prev = ""  # the last token on the line being built, and its rule
        self.prev_rule = ""
        self.prev_line = 0  # the source line of the last token written
        self.pad = ""  # the indentation of the line being built
        self.continued = False  # the element being written has continuation lines
        self.blank = False  # an empty line is wanted before the next line
        self.opened = True  # the last line written opened a body (or nothing is written yet)

    # -- output -------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self.blank and not self.opened:
            self.out.append("")
        self.blank = False
        self.out.append(text)

    def _indent(self) -> str:
        return INDENT * (self.depth + (2 if self.continued else 0))

    def _comment_line(self, c: _Comment) -> None:
        if c.blank_before and not self.continued:  # blank lines separate clauses, not parts of one
            self.blank = True
        self._write(self._indent() + c.text)
        self.opened = False

    def end_line(self, element_done: bool = True) -> None:
        if element_done:
            self.continued = False
        if not self.line:
            return
        pad = self.pad
        if len(self.trailing) > 1:
            self.above += self.trailing
            self.trailing = []
        for text in self.above:
            self._write(pad + text)
            self.opened = False
        code = "".join(self.line)
        if self.trailing:
            code += "  " + self.trailing[0]
        self._write(pad + code)
        self.opened = self.prev == "{"
        self.line, self.above, self.trailing = [], [], []
        self.prev = self.prev_rule = ""

    def put(self, tok: Token, rule: str, space: bool | None = None) -> None:
        if self.line and space is None:
            space = not _no_space(self.prev, self.prev_rule, tok, rule)
            if space and tok.line and self.prev_line and tok.line > self.prev_line:
                # The author broke the clause here: keep the break, indent the rest.
                self.end_line(element_done=False)
                self.continued = True
        n = self.notes.get(id(tok))
        if n is not None:
            if self.line:
                self._hoist(n.leading)
            else:
                for c in n.leading:
                    self._comment_line(c)
                if n.blank_before and not self.continued:
                    self.blank = True
        if self.line:
            if space:
                self.line.append(" ")
        else:
            self.pad = self._indent()
        self.line.append(str(tok))
        self.prev, self.prev_rule = str(tok), rule
        self.prev_line = tok.line or self.prev_line
        if n is not None:
            self.trailing += [c.text for c in n.trailing]

    def _hoist(self, comments: list[_Comment]) -> None:
        """Move own-line comments met in the middle of an output line above it, after
        the comments already on that line, so that comments keep their order."""
        if comments:
            self.above += self.trailing + [c.text for c in comments]
            self.trailing = []

    def skip(self, tok: Token) -> None:
        """Leave out a token (a trailing comma) but keep its comments."""
        n = self.notes.get(id(tok))
        if n is not None:
            self._hoist(n.leading)
            self.trailing += [c.text for c in n.trailing]

    # -- structure ----------------------------------------------------------

    def render(self) -> str:
        for item in self.tree.children:
            self.end_line()
            self.node(item, "start")
        self.end_line()
        for c in self.end.leading:
            self._comment_line(c)
        return "\n".join(self.out) + "\n" if self.out else ""

    def node(self, node: Tree[Token] | Token, parent: str) -> None:
        if isinstance(node, Token):
            self.put(node, parent)
            return
        rule = str(node.data)
        children = node.children
        if rule == "name_list" and parent not in COMMA_BODIES and _is_comma(children[-1]):
            # `tools a, b,` has a trailing comma only in a body that spans lines.
            for c in children[:-1]:
                self.node(c, rule)
            self.skip(children[-1])  # type: ignore[arg-type]
            return
        i = 0
        while i < len(children):
            c = children[i]
            if isinstance(c, Token) and c.type == "LBRACE":
                close = max(j for j, x in enumerate(children) if isinstance(x, Token) and x.type == "RBRACE")
                self.body(rule, c, children[i + 1:close], children[close])  # type: ignore[arg-type]
                i = close + 1
                continue
            self.node(c, rule)
            i += 1

    def body(self, rule: str, lbrace: Token, inner: list[Tree[Token] | Token], rbrace: Token) -> None:
        commas = rule in COMMA_BODIES
        if commas and len(inner) == 1 and isinstance(inner[0], Tree) and inner[0].data == "name_list":
            inner = list(inner[0].children)
        elements: list[tuple[Tree[Token] | Token, Token | None]] = []  # each with its comma
        for c in inner:
            if isinstance(c, Token) and c.type == "COMMA":
                if elements and elements[-1][1] is None:
                    elements[-1] = (elements[-1][0], c)
                continue
            elements.append((c, None))
        close_notes = self.notes.get(id(rbrace))
        has_comments = bool(close_notes and close_notes.leading)
        expanded = lbrace.line != rbrace.line and (bool(elements) or has_comments)
        self.put(lbrace, rule, space=True)
        if not expanded:
            if not elements:
                self.put(rbrace, rule, space=False)
                return
            for k, (el, comma) in enumerate(elements):
                self.node(el, rule)
                if commas and k + 1 < len(elements):
                    self.put(comma or Token("COMMA", ","), rule)
                elif comma is not None:
                    self.skip(comma)
            self.put(rbrace, rule, space=True)
            return
        self.end_line()
        self.depth += 1
        for el, comma in elements:
            self.node(el, rule)
            if commas:
                self.put(comma or Token("COMMA", ","), rule)
            self.end_line()
        if close_notes is not None:
            for comment in close_notes.leading:
                self._comment_line(comment)
            close_notes.leading, close_notes.blank_before = [], False
        self.depth -= 1
        self.blank = False
        self.put(rbrace, rule)
