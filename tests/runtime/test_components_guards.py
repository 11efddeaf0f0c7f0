"""The runtime's guard evaluator: every operator, errors, agreement with a
reference interpreter, the vector form, and every guard of the compiled V2 model."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orchdsl_runtime.contract.guards import compile_guard, variables
from orchdsl_runtime.guards import vector

ROOT = Path(__file__).resolve().parents[2]


def var(name: str) -> dict[str, Any]:
    return {"var": name}


def const(value: Any) -> dict[str, Any]:
    return {"const": value}


def cmp(op: str, left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {"op": op, "left": left, "right": right}


# -- operators ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("==", 3, 3.0, True), ("==", "x", "y", False), ("!=", "x", "y", True), ("!=", 2, 2, False),
        ("<", 1, 2, True), ("<", 2, 2, False), ("<=", 2, 2, True), ("<=", 3, 2, False),
        (">", 2.5, 2, True), (">", 2, 2, False), (">=", 2, 2.0, True), (">=", 1, 2, False),
    ],
)
def test_comparisons(op: str, a: Any, b: Any, expected: bool) -> None:
    assert compile_guard(cmp(op, var("a"), var("b")))({"a": a, "b": b}) is expected
    assert compile_guard(cmp(op, var("a"), const(b)))({"a": a}) is expected
    assert compile_guard(cmp(op, const(a), var("b")))({"b": b}) is expected
    assert compile_guard(cmp(op, const(a), const(b)))({}) is expected


@pytest.mark.parametrize(("a", "b"), [(False, False), (False, True), (True, False), (True, True)])
def test_boolean_operators(a: bool, b: bool) -> None:
    env = {"a": a, "b": b}
    assert compile_guard({"op": "and", "args": [var("a"), var("b")]})(env) is (a and b)
    assert compile_guard({"op": "or", "args": [var("a"), var("b")]})(env) is (a or b)
    assert compile_guard({"op": "not", "arg": var("a")})(env) is (not a)


def test_membership() -> None:
    g = compile_guard({"op": "in", "left": var("p"), "items": [const("critical"), const("high")]})
    assert g({"p": "high"}) is True
    assert g({"p": "low"}) is False
    mixed = compile_guard({"op": "in", "left": var("n"), "items": [const(1), var("m")]})
    assert mixed({"n": 1.0, "m": 5}) is True
    assert mixed({"n": 5, "m": 5.0}) is True
    assert mixed({"n": 2, "m": 5}) is False
    assert compile_guard({"op": "in", "left": var("n"), "items": []})({"n": 1}) is False
    with pytest.raises(KeyError):
        compile_guard({"op": "in", "left": var("n"), "items": []})({})


def test_no_guard_always_holds() -> None:
    assert compile_guard(None)({}) is True
    assert variables(None) == frozenset()


def test_bare_values_by_truth() -> None:
    assert compile_guard(var("flag"))({"flag": True}) is True
    assert compile_guard(var("flag"))({"flag": False}) is False
    assert compile_guard(const(True))({}) is True


def test_missing_variable_raises_key_error_with_its_name() -> None:
    g = compile_guard(cmp(">=", var("tier"), const(3)))
    with pytest.raises(KeyError) as err:
        g({"task.kind": "strategic"})
    assert err.value.args == ("tier",)
    nested = compile_guard({"op": "and", "args": [var("a"), {"op": "not", "arg": var("task.cross_domain")}]})
    with pytest.raises(KeyError, match="task.cross_domain"):
        nested({"a": True})


def test_short_circuit_reads_only_what_it_needs() -> None:
    g = compile_guard({"op": "or", "args": [var("a"), var("missing")]})
    assert g({"a": True}) is True
    with pytest.raises(KeyError):
        g({"a": False})


def test_ordering_unlike_values_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        compile_guard(cmp("<", var("a"), const(3)))({"a": "x"})


@pytest.mark.parametrize(
    "tree",
    [
        {"op": "xor", "args": [const(True), const(False)]},
        {"op": "and", "args": const(True)},
        {"op": "not"},
        {"op": "<", "left": var("a")},
        {"op": "in", "left": var("a"), "items": const(1)},
        {"var": 3},
        {"var": "a", "const": 1},
        {"nothing": 1},
        ["not", "a", "node"],
    ],
)
def test_malformed_trees_are_refused_when_compiled(tree: Any) -> None:
    with pytest.raises(ValueError):
        compile_guard(tree)


def test_variables_lists_every_variable() -> None:
    tree = {"op": "and", "args": [
        cmp("<", var("a"), var("b")),
        {"op": "not", "arg": {"op": "in", "left": var("c"), "items": [var("d"), const(1)]}},
    ]}
    assert variables(tree) == frozenset("abcd")
    assert compile_guard(tree).variables == frozenset("abcd")


# -- reference interpreter ---------------------------------------------------

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt,
        "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def reference(tree: dict[str, Any], env: dict[str, Any]) -> Any:
    """The obvious recursive reading of the guard format."""
    if "var" in tree:
        return env[tree["var"]]
    if "const" in tree:
        return tree["const"]
    op = tree["op"]
    if op == "and":
        return bool(reference(tree["args"][0], env)) and bool(reference(tree["args"][1], env))
    if op == "or":
        return bool(reference(tree["args"][0], env)) or bool(reference(tree["args"][1], env))
    if op == "not":
        return not reference(tree["arg"], env)
    if op == "in":
        left = reference(tree["left"], env)
        return any(left == reference(i, env) for i in tree["items"])
    return _OPS[op](reference(tree["left"], env), reference(tree["right"], env))


NUM_VARS = ("n1", "n2", "n3")
STR_VARS = ("s1", "s2")
BOOL_VARS = ("b1", "b2")
WORDS = ("strategic", "tactical", "high")
numbers = st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False))

num_operand = st.one_of(st.sampled_from(NUM_VARS).map(var), numbers.map(const))
str_operand = st.one_of(st.sampled_from(STR_VARS).map(var), st.sampled_from(WORDS).map(const))
any_operand = st.one_of(num_operand, str_operand, st.sampled_from(("b1", "missing")).map(var))

leaf_conditions = st.one_of(
    st.sampled_from(BOOL_VARS).map(var),
    st.booleans().map(const),
    st.builds(cmp, st.sampled_from(sorted(_OPS)), num_operand, num_operand),
    st.builds(cmp, st.sampled_from(("==", "!=")), str_operand, str_operand),
    # occasionally ill-typed or missing: both sides must fail the same way
    st.builds(cmp, st.sampled_from(sorted(_OPS)), any_operand, any_operand),
    st.builds(lambda left, items: {"op": "in", "left": left, "items": items},
              num_operand, st.lists(num_operand, max_size=3)),
    st.builds(lambda left, items: {"op": "in", "left": left, "items": items},
              str_operand, st.lists(str_operand, max_size=3)),
    st.builds(lambda left, items: {"op": "in", "left": left, "items": items},
              any_operand, st.lists(any_operand, max_size=2)),
)
conditions = st.recursive(
    leaf_conditions,
    lambda inner: st.one_of(
        st.builds(lambda a, b: {"op": "and", "args": [a, b]}, inner, inner),
        st.builds(lambda a, b: {"op": "or", "args": [a, b]}, inner, inner),
        st.builds(lambda a: {"op": "not", "arg": a}, inner),
    ),
    max_leaves=12,
)
environments = st.fixed_dictionaries(
    {
        **{v: numbers for v in NUM_VARS},
        **{v: st.sampled_from(WORDS) for v in STR_VARS},
        **{v: st.booleans() for v in BOOL_VARS},
    }
)


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "value", bool(fn(*args))
    except (KeyError, TypeError) as exc:
        return type(exc).__name__, exc.args if isinstance(exc, KeyError) else None


@settings(max_examples=250, deadline=None)
@given(conditions, environments)
def test_compiled_guard_equals_reference(tree: dict[str, Any], env: dict[str, Any]) -> None:
    assert outcome(compile_guard(tree), env) == outcome(reference, tree, env)


# -- the vector form -----------------------------------------------------------

FACTOR_VARS = ("f1", "f2")
factor_operand = st.one_of(st.sampled_from(FACTOR_VARS).map(var),
                           st.sampled_from((0.0, 0.25, 0.6, 0.9, 1.0)).map(const))
factor_conditions = st.recursive(
    st.one_of(
        st.builds(cmp, st.sampled_from(sorted(_OPS)), factor_operand, factor_operand),
        st.builds(lambda left, items: {"op": "in", "left": left, "items": items},
                  factor_operand, st.lists(factor_operand, max_size=3)),
        st.booleans().map(const),
    ),
    lambda inner: st.one_of(
        st.builds(lambda a, b: {"op": "and", "args": [a, b]}, inner, inner),
        st.builds(lambda a, b: {"op": "or", "args": [a, b]}, inner, inner),
        st.builds(lambda a: {"op": "not", "arg": a}, inner),
    ),
    max_leaves=8,
)
factor_values = st.sampled_from((0.0, 0.25, 0.5, 0.6, 0.9, 1.0, 1.5))


@settings(max_examples=200, deadline=None)
@given(factor_conditions, st.lists(st.tuples(factor_values, factor_values), min_size=1, max_size=12))
def test_vector_form_equals_scalar_form(tree: dict[str, Any], rows: list[tuple[float, float]]) -> None:
    g = compile_guard(tree)
    arrays = {"f1": np.array([r[0] for r in rows]), "f2": np.array([r[1] for r in rows])}
    got = vector(g, arrays, (len(rows),))
    assert got.shape == (len(rows),)
    assert got.tolist() == [g({"f1": a, "f2": b}) for a, b in rows]


def test_vector_form_broadcasts_rows_and_columns() -> None:
    g = compile_guard({"op": "and", "args": [cmp(">=", var("skill_match"), const(0.6)),
                                              cmp("<=", var("workload"), const(0.9))]})
    skill = np.array([[0.5, 0.7], [0.9, 0.6]])
    workload = np.array([[0.1, 1.0]])  # one row, broadcast over the tasks
    assert vector(g, {"skill_match": skill, "workload": workload}).tolist() == [[False, False], [True, False]]
    assert vector(compile_guard(None), {}, (2, 3)).shape == (2, 3)


# -- the V2 model ----------------------------------------------------------------


def v2_model() -> dict[str, Any]:
    from orchdsl.pipeline import check_files

    result = check_files([ROOT / "specs" / "orchestration_v2.orch"])
    assert result.model is not None
    data: dict[str, Any] = result.model.model_dump(mode="json", by_alias=True)
    return data


def test_every_v2_guard_compiles_and_evaluates() -> None:
    model = v2_model()
    env = {
        "tier": 3, "task.kind": "strategic", "task.complexity": "high", "task.priority": "normal",
        "task.cross_domain": True, "task.dependencies_met": True, "task.domain": "backend",
        "assignee.has_capacity": True, "assignee.utilization": 0.5,
        "time_in_state": 3600.0, "tokens_in_state": 1000,
    }
    assert set(env) == set(model["guard_variables"])
    guards = [(f"{t['source']} -> {t['target']}", t["guard"])
              for s in model["lifecycle"]["states"] for t in s["transitions"] if t["guard"] is not None]
    assert len(guards) >= 5
    results = {name: compile_guard(tree)(env) for name, tree in guards}
    assert results["PENDING -> IN_PLANNING"] is True
    assert results["PENDING -> ASSIGNED"] is False
    assert results["ASSIGNED -> IN_PROGRESS"] is True
    assert results["IN_PROGRESS -> COMPLETED"] is False
    assert results["DOMAIN_REVIEW -> READY_FOR_HANDOFF"] is True
    assert results["DOMAIN_REVIEW -> COMPLETED"] is False
    tactical = {**env, "tier": 2, "task.kind": "tactical", "task.cross_domain": False}
    assert compile_guard(dict(guards)["PENDING -> ASSIGNED"])(tactical) is True
    assert compile_guard(dict(guards)["DOMAIN_REVIEW -> COMPLETED"])(tactical) is True

    factor_env = {"skill_match": 0.6, "workload": 0.9, "complexity_fit": 1.0,
                  "learning_opportunity": 0.0, "recent_performance": 0.5}
    filt = compile_guard(model["assignment"]["filter"])
    assert filt(factor_env) is True
    assert filt({**factor_env, "skill_match": 0.59}) is False
    assert filt({**factor_env, "workload": 0.91}) is False


# -- limits, the printer and evaluation with unknowns (contract.guards) -----------------


def test_deep_long_and_huge_guards_are_refused_without_recursing() -> None:
    from orchdsl_runtime.contract.guards import MAX_DEPTH, MAX_NODES

    deep: dict[str, Any] = var("a")
    for _ in range(5000):
        deep = {"op": "not", "arg": deep}
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} deep"):
        compile_guard(deep)
    wide = {"op": "and", "args": [var("a")] * (MAX_NODES + 1)}
    with pytest.raises(ValueError, match=f"more than {MAX_NODES} nodes"):
        compile_guard(wide)
    for bad in (10**309, float("nan"), float("inf"), [1]):
        with pytest.raises(ValueError, match="guard constant"):
            compile_guard(cmp("<", var("a"), const(bad)))
    ok = {"op": "and", "args": [var("a")] * 500}
    assert compile_guard(ok)({"a": True}) is True


def test_the_printer_writes_the_language() -> None:
    from orchdsl_runtime.contract.guards import guard_text

    tree = {"op": "and", "args": [
        cmp(">=", var("tier"), const(3)),
        {"op": "or", "args": [{"op": "not", "arg": var("task.cross_domain")},
                              {"op": "in", "left": var("task.priority"), "items": [const("high"), const("a b")]}]},
        cmp("<", var("assignee.utilization"), const(0.85)),
    ]}
    assert guard_text(tree) == ('tier >= 3 and (not task.cross_domain or task.priority in [high, "a b"]) '
                                "and assignee.utilization < 0.85")
    assert guard_text(const(True)) == "true"


def test_partial_evaluation() -> None:
    from orchdsl_runtime.contract.guards import partial_eval

    tree = {"op": "and", "args": [cmp(">=", var("tier"), const(3)), var("task.cross_domain")]}
    assert partial_eval(tree, {"tier": 2}) is False
    assert partial_eval(tree, {"tier": 3}) is None
    assert partial_eval(tree, {"tier": 3, "task.cross_domain": True}) is True
    assert partial_eval({"op": "or", "args": [var("x"), cmp("==", var("tier"), const(1))]}, {"tier": 1}) is True
    assert partial_eval(None, {}) is True
