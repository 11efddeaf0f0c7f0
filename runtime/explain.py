"""Guards of transitions at run time: their environment, and why a false one is false.

``Guards(ctx)`` evaluates a transition's guard for a task (``holds``) and,
when a move is refused because of it, raises ``Refused`` with the smallest
parts of the guard that are false and the values that make them so:
``RUN008`` when only unmet dependencies hold the move, ``RUN009`` when only
the assignee's capacity does, ``RUN016`` when the guard cannot be evaluated,
``RUN005`` otherwise.

The guard environment (``getters``) is the compiled model's
``guard_variables``: each variable is read from the task, the clock or the
capacity ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .context import Context, q
from .contract.guards import compile_guard, guard_text
from .errors import Refused
from .model import TransitionRec
from .records import Task

Getter = Callable[[Task, float], Any]


class Guards:
    """Transition guards evaluated against the state, and refusals that explain them."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.getters = self._getters()
        ctx.on_reload.append(self._rebind)

    def _rebind(self) -> None:
        self.getters = self._getters()

    def env(self, rec: TransitionRec, t: Task, now: float) -> dict[str, Any]:
        g = self.getters
        return {v: g[v](t, now) for v in rec.guard_vars if v in g}

    def holds(self, rec: TransitionRec, t: Task, now: float, tokens: float | None = None) -> bool:
        """Whether the guard holds (an unevaluable guard does not)."""
        if rec.guard is None:
            return True
        env = self.env(rec, t, now)
        if tokens is not None:
            env["tokens_in_state"] = tokens
        try:
            return rec.guard(env)
        except (KeyError, TypeError):
            return False

    def check(self, rec: TransitionRec, t: Task, now: float) -> None:
        """Refuse a move whose guard is false or cannot be evaluated, saying why."""
        assert rec.guard is not None and rec.guard_tree is not None
        env = self.env(rec, t, now)
        try:
            ok = rec.guard(env)
        except (KeyError, TypeError) as exc:
            raise Refused("RUN016", f"guard {q(rec.guard_text)} cannot be evaluated: {exc}", task=t.id) from exc
        if ok:
            return
        detail = "; ".join(false_parts(rec.guard_tree, env))
        variables = {v for p in false_nodes(rec.guard_tree, env) for v in _vars(p)}
        head = f"guard {q(rec.guard_text)} of {q(rec.source + ' -> ' + rec.target)} is false: {detail}"
        state = self.ctx.state
        if variables == {"task.dependencies_met"}:
            states = self.ctx.model.states
            unmet = [d for d in t.dependencies if states[state.tasks[d].state].terminal != "success"]
            shown = ", ".join(f"{q(d)} is {q(state.tasks[d].state)}" for d in unmet)
            raise Refused("RUN008", f"{head} ({shown})", task=t.id, unmet=unmet)
        if variables == {"assignee.has_capacity"} and t.assignee is not None:
            util = state.ledger.utilisation(t.assignee)
            raise Refused("RUN009", f"{head} ({q(t.assignee)} is at {util:.0%} of capacity)", task=t.id)
        raise Refused("RUN005", head, task=t.id)

    def _getters(self) -> dict[str, Getter]:
        state = self.ctx.state
        terminal = {name: st.terminal for name, st in self.ctx.model.states.items()}

        def deps_met(t: Task, now: float) -> bool:
            tasks = state.tasks
            return all(terminal[tasks[d].state] == "success" for d in t.dependencies)

        def has_capacity(t: Task, now: float) -> bool:
            return t.assignee is not None and not state.ledger.over_ic_limit(t.assignee)

        def utilization(t: Task, now: float) -> float:
            return state.ledger.utilisation(t.assignee) if t.assignee is not None else 0.0

        return {
            "tier": lambda t, now: t.tier,
            "task.kind": lambda t, now: t.kind,
            "task.complexity": lambda t, now: t.complexity,
            "task.priority": lambda t, now: t.priority,
            "task.domain": lambda t, now: t.domain,
            "task.cross_domain": lambda t, now: t.handoff_to is not None,
            "task.dependencies_met": deps_met,
            "assignee.has_capacity": has_capacity,
            "assignee.utilization": utilization,
            "time_in_state": lambda t, now: now - t.entered_at,
            "tokens_in_state": lambda t, now: t.tokens_in_state,
        }


# -- explaining a false guard ---------------------------------------------------------


def false_nodes(node: Mapping[str, Any], env: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The smallest parts of a false guard that make it false."""
    if node.get("op") == "and":
        out: list[Mapping[str, Any]] = []
        for a in node["args"]:
            if not compile_guard(a)(env):
                out += false_nodes(a, env)
        return out
    if node.get("op") == "or":
        return [p for a in node["args"] for p in false_nodes(a, env)]
    return [node]


def _vars(node: Mapping[str, Any]) -> list[str]:
    return sorted(compile_guard(node).variables)


def false_parts(tree: Mapping[str, Any], env: Mapping[str, Any]) -> list[str]:
    """Each false part as text, with the values of its variables."""
    parts = []
    for n in false_nodes(tree, env):
        shown = guard_text(n)
        values = ", ".join(f"{v} = {_value(env.get(v))}" for v in _vars(n))
        text = f"`{shown}` is false"
        parts.append(f"{text} ({values})" if values and _vars(n) != [shown] else text)
    return parts


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
