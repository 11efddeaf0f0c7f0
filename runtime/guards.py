"""Guards over arrays: the contract's guard format evaluated elementwise with numpy.

Assignment filters every (task, candidate) pair of a batch in one pass: each
variable of the environment is an array (or a scalar) and ``vector`` gives a
boolean array of their broadcast shape. The scalar evaluator, the printer and
the limits are the contract's (``contract.guards``); the vector form of a
guard is compiled once and kept in the guard's ``derived`` cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .contract.guards import Guard, leaf

Env = Mapping[str, Any]
Fn = Callable[[Env], Any]
BoolArray = npt.NDArray[np.bool_]


def vector(guard: Guard, env: Mapping[str, Any], shape: tuple[int, ...] | None = None) -> BoolArray:
    """Evaluate ``guard`` elementwise: ``env`` maps variables to arrays of one shape
    (or scalars); the result is a boolean array of that shape (``shape`` gives it
    when no variable is read)."""
    fn = guard.derived.get("vector")
    if fn is None:
        fn = guard.derived["vector"] = _compile_vector(guard.tree) if guard.tree is not None else _true
    out = np.asarray(fn(env), dtype=np.bool_)
    if shape is None:
        arrays = [np.shape(env[v]) for v in guard.variables if v in env]
        shape = np.broadcast_shapes(*arrays) if arrays else out.shape
    return np.broadcast_to(out, shape).copy() if out.shape != shape else out


def _true(env: Env) -> bool:
    return True


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
        is_const, value = leaf(node)
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
