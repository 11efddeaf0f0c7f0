"""Guard expressions: type checking and lowering to the compiled form.

In: ``ast`` expressions and a type environment. Out: the JSON tree of
``model.GUARD_FORMAT`` and diagnostics ORC310 (type errors) and ORC311
(unknown variables). The runtime's contract (``contract.guards``) owns what a
tree means: its evaluator, its printer (``to_text``) and the three-valued
evaluation the checker uses when only some variables are known
(``partial_eval``: the tier, when a lifecycle graph of one tier is built).
Nothing here or there calls Python ``eval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchdsl_runtime.contract.guards import MAX_DEPTH, MAX_NODES, guard_text, partial_eval
from orchdsl_runtime.contract.model import COMPLEXITIES, KINDS

from orchdsl import ast
from orchdsl.diagnostics import Diagnostics, did_you_mean

to_text = guard_text
"""a compiled guard written back as source text (for prompts and messages)"""
__all__ = ["GuardChecker", "Type", "factor_environment", "partial_eval", "task_environment", "to_text"]


@dataclass(frozen=True, slots=True)
class Type:
    """A guard type: ``bool``, ``number``, ``int``, ``duration``, ``tokens``,
    ``string``, or ``enum`` with its members."""

    name: str
    members: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.name == "enum":
            return "one of " + ", ".join(self.members)
        return self.name

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.name}
        if self.members:
            out["values"] = list(self.members)
        return out

    @property
    def numeric(self) -> bool:
        return self.name in ("int", "number")

    @property
    def ordered(self) -> bool:
        return self.name in ("int", "number", "duration", "tokens")


BOOL = Type("bool")
INT = Type("int")
NUMBER = Type("number")
DURATION = Type("duration")
TOKENS = Type("tokens")
STRING = Type("string")


def enum(*members: str) -> Type:
    return Type("enum", tuple(members))


def task_environment(domains: list[str], priorities: list[str],
                     complexities: list[str] | None = None) -> dict[str, Type]:
    """The variables a lifecycle guard may use (``task.priority`` and ``task.complexity`` take the
    declared priorities and complexities; the default complexities when none are given)."""
    return {
        "tier": INT,
        "task.kind": enum(*KINDS),
        "task.complexity": enum(*(complexities or COMPLEXITIES)),
        "task.priority": enum(*priorities),
        "task.cross_domain": BOOL,
        "task.dependencies_met": BOOL,
        "task.domain": enum(*domains),
        "assignee.has_capacity": BOOL,
        "assignee.utilization": NUMBER,
        "time_in_state": DURATION,
        "tokens_in_state": TOKENS,
    }


def factor_environment(factors: tuple[str, ...]) -> dict[str, Type]:
    """The variables an assignment filter may use: each factor, a number in [0, 1]."""
    return {f: NUMBER for f in factors}


_LITERAL_TYPES = {
    "int": INT, "number": NUMBER, "percent": NUMBER, "duration": DURATION,
    "tokens": TOKENS, "string": STRING, "bool": BOOL,
}


def _compatible(a: Type, b: Type) -> bool:
    if a.numeric and b.numeric:
        return True
    return a.name == b.name


class GuardChecker:
    """Type-checks one expression and lowers it; reports into ``diags``."""

    def __init__(self, env: dict[str, Type], diags: Diagnostics, what: str = "guard") -> None:
        self.env = env
        self.diags = diags
        self.what = what
        self.ok = True

    def check(self, expr: ast.Expr) -> dict[str, Any] | None:
        """The compiled tree of a boolean expression, or None after errors."""
        if not self._bounded(expr):
            return None
        tree, ty = self._expr(expr)
        if ty is not None and ty != BOOL:
            self._error(expr, f"this {self.what} is {ty}, not a condition",
                        help="compare it with something, e.g. `x == y`")
        return tree if self.ok else None

    def _bounded(self, expr: ast.Expr) -> bool:
        """Whether the compiled tree of ``expr`` stays within the contract's limits (nesting
        ``MAX_DEPTH``, size ``MAX_NODES``, counted as ``contract.guards.check_tree`` counts
        them: the root at depth 1, a list of operands as a node); if not, say so (ORC321).
        The runtime refuses a model with such a guard, and the limits keep every later walk
        (typing, the compiled JSON, the evaluator) far from Python's recursion limit; this
        walk keeps its own stack."""
        nodes = 0
        too_deep: ast.Expr | None = None
        stack: list[tuple[ast.Expr, int]] = [(expr, 1)]
        while stack:
            node, depth = stack.pop()
            nodes += 1
            if depth > MAX_DEPTH and too_deep is None:
                too_deep = node
            if isinstance(node, ast.Not):
                stack.append((node.arg, depth + 1))
            elif isinstance(node, ast.MemberOf):
                nodes += 1  # the list of items
                stack.extend((n, depth + 1) for n in [node.left, *node.items])
            elif isinstance(node, (ast.BoolOp, ast.Compare)):
                nodes += isinstance(node, ast.BoolOp)  # the list of the two operands
                stack.extend(((node.left, depth + 1), (node.right, depth + 1)))
        if nodes > MAX_NODES:
            self._error(expr, f"this {self.what} has {nodes:,} nodes in its compiled form; at most "
                        f"{MAX_NODES:,} are allowed", code="ORC321", help=f"write a shorter {self.what}")
            return False
        if too_deep is not None:
            self._error(too_deep, f"this {self.what} nests more than {MAX_DEPTH} levels deep here",
                        code="ORC321",
                        help="each `and`, `or`, `not`, comparison and `in` is a level, and so is the name "
                        f"or value below it (`a == 1 and b == 2` is three); write a shorter {self.what}")
            return False
        return True

    def _error(self, node: ast.Expr, message: str, *, help: str | None = None,
               code: str = "ORC310") -> None:
        self.ok = False
        self.diags.add(code, message, node.span, help=help)

    def _expr(self, e: ast.Expr, expect: Type | None = None) -> tuple[dict[str, Any], Type | None]:
        if isinstance(e, ast.BoolOp):
            lt, lty = self._expr(e.left)
            rt, rty = self._expr(e.right)
            for side, ty in ((e.left, lty), (e.right, rty)):
                if ty is not None and ty != BOOL:
                    self._error(side, f"`{e.op}` needs conditions on both sides; this is {ty}")
            return {"op": e.op, "args": [lt, rt]}, BOOL
        if isinstance(e, ast.Not):
            t, ty = self._expr(e.arg)
            if ty is not None and ty != BOOL:
                self._error(e.arg, f"`not` needs a condition; this is {ty}")
            return {"op": "not", "arg": t}, BOOL
        if isinstance(e, ast.Compare):
            return self._compare(e)
        if isinstance(e, ast.MemberOf):
            lt, lty = self._expr(e.left)
            items = []
            for it in e.items:
                t, ty = self._expr(it, lty)
                items.append(t)
                if lty is not None and ty is not None and not _compatible(lty, ty):
                    self._error(it, f"`{_text(it)}` is {ty}, but `{_text(e.left)}` is {lty}")
            return {"op": "in", "left": lt, "items": items}, BOOL
        if isinstance(e, ast.Literal):
            return {"const": e.value}, _LITERAL_TYPES[e.type]
        assert isinstance(e, ast.Path)
        return self._path(e, expect)

    def _path(self, p: ast.Path, expect: Type | None) -> tuple[dict[str, Any], Type | None]:
        name = p.dotted
        if name in self.env:
            return {"var": name}, self.env[name]
        if len(p.parts) == 1 and expect is not None and expect.name == "enum":
            if name in expect.members:
                return {"const": name}, expect
            self._error(p, f"`{name}` is not one of {', '.join(expect.members)}",
                        help=did_you_mean(name, expect.members))
            return {"const": name}, None
        if len(p.parts) == 1 and expect is not None and expect.name == "bool" and name in ("yes", "no"):
            self._error(p, f"`{name}` is not a boolean", help="write `true` or `false`")
            return {"const": name}, None
        owners = [v for v, t in self.env.items() if name in t.members]
        if len(p.parts) == 1 and expect is not None and owners:
            # A value of another variable's enum, compared with the wrong thing.
            self._error(p, f"cannot compare {expect} with the word `{name}`",
                        help=f"`{name}` is a value of `{owners[0]}`")
            return {"const": name}, None
        help = did_you_mean(name, self.env)
        if help is None and len(p.parts) == 1:
            help = "a bare word is an enum member and must be compared with a variable of that enum"
        self._error(p, f"unknown variable `{name}` in {self.what}", help=help, code="ORC311")
        return {"var": name}, None

    def _compare(self, e: ast.Compare) -> tuple[dict[str, Any], Type | None]:
        # Type the side that is a known variable first, so a bare enum member
        # on the other side can be resolved against it.
        left_first = not (isinstance(e.left, ast.Path) and e.left.dotted not in self.env)
        if left_first:
            lt, lty = self._expr(e.left)
            rt, rty = self._expr(e.right, lty)
        else:
            rt, rty = self._expr(e.right)
            lt, lty = self._expr(e.left, rty)
        if lty is not None and rty is not None:
            if not _compatible(lty, rty):
                self._error(e, f"cannot compare {lty} with {rty}",
                            help=_compare_help(lty, rty))
            elif e.op in ("<", "<=", ">", ">=") and not lty.ordered:
                self._error(e, f"`{e.op}` needs numbers, durations or token counts; this compares {lty}")
        return {"op": e.op, "left": lt, "right": rt}, BOOL


def _compare_help(a: Type, b: Type) -> str | None:
    if {a.name, b.name} == {"duration", "tokens"}:
        return "time and tokens are different budgets; use `time_in_state` or `tokens_in_state`"
    if "enum" in (a.name, b.name):
        e = a if a.name == "enum" else b
        return f"the values are {', '.join(e.members)}"
    return None


def _text(e: ast.Expr) -> str:
    if isinstance(e, ast.Path):
        return e.dotted
    if isinstance(e, ast.Literal):
        return e.text
    return "expression"
