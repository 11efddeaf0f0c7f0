"""Guard evaluation: compiled guard JSON -> closures, built once per guard.

In: a guard tree in the compiled model's format (``GUARD_FORMAT`` of the
compiler's model: ``{"op": ...}``, ``{"var": name}``, ``{"const": value}``).
Out: a ``Guard``, a callable from an environment (variable -> value) to
``bool``. Nothing is parsed or executed from text: each node becomes a small
closure when the guard is compiled, and evaluation only calls them.

Semantics: ``and``/``or`` short-circuit left to right; ``not`` negates; a bare
variable or constant in a boolean position is taken by its truth value;
comparisons follow Python value semantics, so ints and floats compare as
numbers (percents are already fractions, durations seconds, tokens counts).
Reading a variable that the environment lacks raises ``KeyError`` with the
variable's name; ordering values of different kinds (a string and a number)
raises ``TypeError``. A malformed tree raises ``ValueError`` when compiled.

``Guard.vector`` evaluates the same tree elementwise over numpy arrays (one
array per variable); assignment uses it to filter every (task, candidate)
pair of a batch in one pass.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

Env = Mapping[str, Any]
Fn = Callable[[Env], Any]
BoolArray = npt.NDArray[np.bool_]

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
OPS = ("and", "or", "not", "in", *_COMPARE)


class Guard:
    """A compiled guard. Call it with an environment to evaluate it."""

    __slots__ = ("_fn", "_vec", "tree", "variables")

    def __init__(self, tree: Mapping[str, Any] | None) -> None:
        self.tree = tree
        self.variables: frozenset[str] = variables(tree)
        self._fn: Fn = _compile(tree) if tree is not None else _always_true
        self._vec: Fn | None = None

    def __call__(self, env: Env) -> bool:
        return bool(self._fn(env))

    def vector(self, env: Mapping[str, Any], shape: tuple[int, ...] | None = None) -> BoolArray:
        """Evaluate elementwise: ``env`` maps variables to arrays of one shape
        (or scalars); the result is a boolean array of that shape (``shape``
        gives it when no variable is read)."""
        if self._vec is None:
            self._vec = _compile_vector(self.tree) if self.tree is not None else _always_true
        out = np.asarray(self._vec(env), dtype=np.bool_)
        if shape is None:
            arrays = [np.shape(env[v]) for v in self.variables if v in env]
            shape = np.broadcast_shapes(*arrays) if arrays else out.shape
        return np.broadcast_to(out, shape).copy() if out.shape != shape else out

    def __repr__(self) -> str:
        return f"Guard({self.tree!r})"


def compile_guard(tree: Mapping[str, Any] | None) -> Guard:
    """Compile a guard tree; ``None`` (no guard) always holds."""
    return Guard(tree)


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
            stack.extend(v for k, v in node.items() if k in ("args", "arg", "left", "right", "items"))
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return frozenset(found)


def _always_true(env: Env) -> bool:
    return True


# -- scalar closures ----------------------------------------------------------


def _leaf(node: Mapping[str, Any]) -> tuple[bool, Any]:
    """(is_constant, value or variable name) of a ``var``/``const`` node."""
    if "const" in node:
        if len(node) != 1:
            raise ValueError(f"malformed guard node {dict(node)!r}")
        return True, node["const"]
    name = node.get("var")
    if len(node) != 1 or not isinstance(name, str):
        raise ValueError(f"malformed guard node {dict(node)!r}")
    return False, name


def _operand(node: Any) -> Fn:
    if not isinstance(node, Mapping):
        raise ValueError(f"a guard node must be an object, not {node!r}")
    if "op" in node:
        return _compile(node)
    is_const, value = _leaf(node)
    if is_const:
        return lambda env: value
    return operator.itemgetter(value)


def _compile(node: Any) -> Fn:
    if not isinstance(node, Mapping):
        raise ValueError(f"a guard node must be an object, not {node!r}")
    if "op" not in node:
        return _operand(node)
    op = node["op"]
    if op in ("and", "or"):
        args = node.get("args")
        if not isinstance(args, list | tuple) or len(args) < 1 or set(node) != {"op", "args"}:
            raise ValueError(f"`{op}` needs a list `args`: {dict(node)!r}")
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
            raise ValueError(f"`not` needs `arg`: {dict(node)!r}")
        inner = _compile(node["arg"])
        return lambda env: not inner(env)
    if op == "in":
        items = node.get("items")
        if not isinstance(items, list | tuple) or set(node) != {"op", "left", "items"}:
            raise ValueError(f"`in` needs `left` and a list `items`: {dict(node)!r}")
        left = _operand(node["left"])
        leaves = [i for i in items if isinstance(i, Mapping) and "const" in i and len(i) == 1]
        if len(leaves) == len(items):
            consts = tuple(i["const"] for i in items)
            return lambda env: _in_consts(left(env), consts)
        item_fns = [_operand(i) for i in items]
        return lambda env: _member(left(env), item_fns, env)
    if op in _COMPARE:
        if set(node) != {"op", "left", "right"}:
            raise ValueError(f"`{op}` needs `left` and `right`: {dict(node)!r}")
        cmp = _COMPARE[op]
        lnode, rnode = node["left"], node["right"]
        # The common shapes `var op const` and `const op var` read one key and
        # compare with a captured constant.
        if _is_leaf(lnode) and _is_leaf(rnode):
            lc, lv = _leaf(lnode)
            rc, rv = _leaf(rnode)
            if not lc and rc:
                return lambda env: cmp(env[lv], rv)
            if lc and not rc:
                return lambda env: cmp(lv, env[rv])
        lf, rf = _operand(lnode), _operand(rnode)
        return lambda env: cmp(lf(env), rf(env))
    raise ValueError(f"unknown guard operator {op!r}")


def _is_leaf(node: Any) -> bool:
    return isinstance(node, Mapping) and "op" not in node


def _member(value: Any, fns: list[Fn], env: Env) -> bool:
    return any(value == f(env) for f in fns)


def _in_consts(value: Any, consts: tuple[Any, ...]) -> bool:
    # `==` rather than `in`, which would also match by identity (NaN)
    return any(value == c for c in consts)


# -- elementwise closures (numpy) ----------------------------------------------

_VCOMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _compile_vector(node: Any) -> Fn:
    if not isinstance(node, Mapping):
        raise ValueError(f"a guard node must be an object, not {node!r}")
    if "op" not in node:
        is_const, value = _leaf(node)
        if is_const:
            return lambda env: np.asarray(value)
        return lambda env: np.asarray(env[value])
    op = node["op"]
    if op in ("and", "or"):
        fns = [_compile_vector(a) for a in node["args"]]
        combine = np.logical_and if op == "and" else np.logical_or

        def fold(env: Env) -> Any:
            acc = fns[0](env)
            for f in fns[1:]:
                acc = combine(acc, f(env))
            return acc

        return fold
    if op == "not":
        inner = _compile_vector(node["arg"])
        return lambda env: np.logical_not(inner(env))
    if op == "in":
        left = _compile_vector(node["left"])
        item_fns = [_compile_vector(i) for i in node["items"]]

        def member(env: Env) -> Any:
            value = left(env)
            acc: Any = np.zeros(np.shape(value), dtype=np.bool_)
            for f in item_fns:
                acc = np.logical_or(acc, np.equal(value, f(env)))
            return acc

        return member
    if op in _VCOMPARE:
        cmp = _VCOMPARE[op]
        lf, rf = _compile_vector(node["left"]), _compile_vector(node["right"])
        return lambda env: cmp(lf(env), rf(env))
    raise ValueError(f"unknown guard operator {op!r}")
