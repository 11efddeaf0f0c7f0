"""Guards: the one evaluator and the one printer of the guard format.

A guard is a JSON tree (``model.GUARD_FORMAT``): ``{"op": ...}`` nodes over
``{"var": name}`` and ``{"const": value}`` leaves. ``compile_guard`` checks a
tree (shape, operators, constants, and the limits ``MAX_DEPTH`` and
``MAX_NODES``, without recursing) and turns it into a ``Guard``, a callable
from an environment (variable -> value) to ``bool``: each node becomes a small
closure, so nothing is parsed or executed from text. ``guard_text`` writes a
tree back as the language writes it; ``partial_eval`` evaluates it when only
some variables are known (the checker uses it to see which tiers a guard can
hold at). The checker and the runtime share all three, so they cannot disagree
about what a guard means.

Semantics: ``and``/``or`` short-circuit left to right; ``not`` negates; a bare
variable or constant in a boolean position is taken by its truth value;
comparisons follow Python value semantics, so ints and floats compare as
numbers (percents are fractions, durations seconds, tokens counts); ``in``
compares with ``==``. Reading a variable the environment lacks raises
``KeyError`` with its name; ordering values of different kinds raises
``TypeError``. A malformed or oversized tree raises ``ValueError`` when compiled.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

Env = Mapping[str, Any]
Fn = Callable[[Env], Any]

MAX_DEPTH = 100
"""the deepest nesting of a guard tree"""
MAX_NODES = 10_000
"""the most nodes in a guard tree"""
MAX_CONST = 2.0**53
"""the largest magnitude of a numeric constant"""

COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
OPS = ("and", "or", "not", "in", *COMPARE)
_CHILDREN = ("args", "arg", "left", "right", "items")


class Guard:
    """A compiled guard. Call it with an environment to evaluate it."""

    __slots__ = ("_fn", "derived", "tree", "variables")

    def __init__(self, tree: Mapping[str, Any] | None) -> None:
        if tree is not None:
            check_tree(tree)
        self.tree = tree
        self.variables: frozenset[str] = variables(tree)
        self._fn: Fn = _compile(tree) if tree is not None else _always_true
        self.derived: dict[str, Any] = {}
        """other forms compiled from the same tree (the runtime's vector form), cached"""

    def __call__(self, env: Env) -> bool:
        return bool(self._fn(env))

    def __repr__(self) -> str:
        return f"Guard({self.tree!r})"


def compile_guard(tree: Mapping[str, Any] | None) -> Guard:
    """Compile a guard tree; ``None`` (no guard) always holds."""
    return Guard(tree)


def check_tree(tree: Any) -> None:
    """Refuse a tree deeper than ``MAX_DEPTH`` or larger than ``MAX_NODES``, walking it without recursion."""
    stack: list[tuple[Any, int]] = [(tree, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ValueError(f"the guard has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise ValueError(f"the guard is nested more than {MAX_DEPTH} deep")
        if isinstance(node, Mapping):
            for key in _CHILDREN:
                if key in node:
                    stack.append((node[key], depth + 1))
        elif isinstance(node, list | tuple):
            stack.extend((item, depth) for item in node)


def variables(tree: Mapping[str, Any] | None) -> frozenset[str]:
    """The variables a guard tree reads."""
    if tree is None:
        return frozenset()
    found: set[str] = set()
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if "var" in node:
                found.add(str(node["var"]))
            stack.extend(v for k, v in node.items() if k in _CHILDREN)
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return frozenset(found)


def _always_true(env: Env) -> bool:
    return True


# -- the printer ---------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def guard_text(tree: Mapping[str, Any], top: bool = True) -> str:
    """A guard tree written as the language writes it; nested ``and``/``or`` in parentheses."""
    if "var" in tree:
        return str(tree["var"])
    if "const" in tree:
        return const_text(tree["const"])
    op = tree["op"]
    if op in ("and", "or"):
        text = f" {op} ".join(guard_text(a, False) for a in tree["args"])
        return text if top else f"({text})"
    if op == "not":
        return f"not {guard_text(tree['arg'], False)}"
    if op == "in":
        return f"{guard_text(tree['left'], False)} in [{', '.join(guard_text(i, False) for i in tree['items'])}]"
    return f"{guard_text(tree['left'], False)} {op} {guard_text(tree['right'], False)}"


def const_text(value: Any) -> str:
    """A constant as the language writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and not _BARE.fullmatch(value):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return str(value)


# -- evaluation with unknowns ----------------------------------------------------------

UNKNOWN: Any = object()


def partial_eval(tree: Mapping[str, Any] | None, known: Mapping[str, Any]) -> bool | None:
    """Evaluate with some variables known: ``True``, ``False``, or ``None`` (undecided)."""
    if tree is None:
        return True
    v = _peval(tree, known)
    return None if v is UNKNOWN else bool(v)


def _peval(t: Mapping[str, Any], known: Mapping[str, Any]) -> Any:
    if "var" in t:
        return known.get(t["var"], UNKNOWN)
    if "const" in t:
        return t["const"]
    op = t["op"]
    if op in ("and", "or"):
        decisive = op == "or"  # the value that decides the whole: True for `or`, False for `and`
        unknown = False
        for a in t["args"]:
            v = _peval(a, known)
            if v is UNKNOWN:
                unknown = True
            elif bool(v) is decisive:
                return decisive
        return UNKNOWN if unknown else not decisive
    if op == "not":
        a = _peval(t["arg"], known)
        return UNKNOWN if a is UNKNOWN else not a
    if op == "in":
        left = _peval(t["left"], known)
        items = [_peval(i, known) for i in t["items"]]
        if left is UNKNOWN or any(i is UNKNOWN for i in items):
            return UNKNOWN
        return any(left == i for i in items)
    left, right = _peval(t["left"], known), _peval(t["right"], known)
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    return COMPARE[op](left, right)


# -- closures ----------------------------------------------------------------------------


def leaf(node: Mapping[str, Any]) -> tuple[bool, Any]:
    """(is_constant, value or variable name) of a ``var``/``const`` node."""
    if "const" in node:
        if len(node) != 1:
            raise ValueError(f"malformed guard node {dict(node)!r}")
        value = node["const"]
        if not isinstance(value, str | int | float) or (
            isinstance(value, int | float) and not isinstance(value, bool)
            and (abs(value) > MAX_CONST or not math.isfinite(value))
        ):
            raise ValueError(f"a guard constant must be a finite number (at most 2**53), a text or a boolean, "
                             f"not {_short(value)}")
        return True, value
    name = node.get("var")
    if len(node) != 1 or not isinstance(name, str):
        raise ValueError(f"malformed guard node {_short(dict(node))}")
    return False, name


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _operand(node: Any) -> Fn:
    if not isinstance(node, Mapping):
        raise ValueError(f"a guard node must be an object, not {_short(node)}")
    if "op" in node:
        return _compile(node)
    is_const, value = leaf(node)
    if is_const:
        return lambda env: value
    return operator.itemgetter(value)


def _compile(node: Any) -> Fn:
    if not isinstance(node, Mapping):
        raise ValueError(f"a guard node must be an object, not {_short(node)}")
    if "op" not in node:
        return _operand(node)
    op = node["op"]
    if op in ("and", "or"):
        args = node.get("args")
        if not isinstance(args, list | tuple) or len(args) < 1 or set(node) != {"op", "args"}:
            raise ValueError(f"`{op}` needs a list `args`: {_short(dict(node))}")
        fns = [_compile(a) for a in args]
        if len(fns) == 2:
            a, b = fns
            if op == "and":
                return lambda env: bool(a(env)) and bool(b(env))
            return lambda env: bool(a(env)) or bool(b(env))
        if op == "and":
            return lambda env: all(bool(f(env)) for f in fns)
        return lambda env: any(bool(f(env)) for f in fns)
    if op == "not":
        if set(node) != {"op", "arg"}:
            raise ValueError(f"`not` needs `arg`: {_short(dict(node))}")
        inner = _compile(node["arg"])
        return lambda env: not inner(env)
    if op == "in":
        items = node.get("items")
        if not isinstance(items, list | tuple) or set(node) != {"op", "left", "items"}:
            raise ValueError(f"`in` needs `left` and a list `items`: {_short(dict(node))}")
        left = _operand(node["left"])
        leaves = [i for i in items if isinstance(i, Mapping) and "const" in i and len(i) == 1]
        if len(leaves) == len(items):
            consts = tuple(leaf(i)[1] for i in items)
            return lambda env: _in_consts(left(env), consts)
        item_fns = [_operand(i) for i in items]
        return lambda env: _member(left(env), item_fns, env)
    if op in COMPARE:
        if set(node) != {"op", "left", "right"}:
            raise ValueError(f"`{op}` needs `left` and `right`: {_short(dict(node))}")
        cmp = COMPARE[op]
        lnode, rnode = node["left"], node["right"]
        # The common shapes `var op const` and `const op var` read one key and
        # compare with a captured constant.
        if _is_leaf(lnode) and _is_leaf(rnode):
            lc, lv = leaf(lnode)
            rc, rv = leaf(rnode)
            if not lc and rc:
                return lambda env: cmp(env[lv], rv)
            if lc and not rc:
                return lambda env: cmp(lv, env[rv])
        lf, rf = _operand(lnode), _operand(rnode)
        return lambda env: cmp(lf(env), rf(env))
    raise ValueError(f"unknown guard operator {_short(op)}")


def _is_leaf(node: Any) -> bool:
    return isinstance(node, Mapping) and "op" not in node


def _member(value: Any, fns: list[Fn], env: Env) -> bool:
    return any(value == f(env) for f in fns)


def _in_consts(value: Any, consts: tuple[Any, ...]) -> bool:
    # `==` rather than `in`, which would also match by identity (NaN)
    return any(value == c for c in consts)
