"""Checks that a run can always go on (ORC327, ORC413): whoever must act next exists
when the task gets there.

- ORC327: the transition that assigns a task (out of a state a task is in before it has an
  assignee, into a state owned by ``@assignee``) is made by ``@assignee`` alone: the runtime
  refuses ``assign`` to everyone.
- ORC413: a handoff says where accepted work goes (``on accept``) but not where rejected work
  goes back to (``on reject``): the runtime refuses every rejection of it.

A task has no assignee from its creation until ``assign`` moves it into a state owned by
``@assignee``; the states it can be in meanwhile are the initial state and those reached from
it through states not owned by ``@assignee``.
"""

from __future__ import annotations

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.checks.protocols import head_span
from orchdsl.diagnostics import Diagnostics

ASSIGNEE = "@assignee"


def before_assignment(org: m.Organisation) -> set[str]:
    """The states a task can be in before it has an assignee."""
    lc = org.lifecycle
    owned = {s.name for s in lc.states if s.owner == ASSIGNEE}
    start = [s.name for s in lc.states if s.initial]
    seen = set(start)
    todo = list(start)
    while todo:
        state = lc.state(todo.pop())
        for t in state.transitions if state else []:
            if t.target not in owned and t.target not in seen:
                seen.add(t.target)
                todo.append(t.target)
    return seen


def check_actors_exist(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC327: an assignment only the missing assignee may make."""
    lc = org.lifecycle
    owned = {s.name for s in lc.states if s.owner == ASSIGNEE}
    unassigned = before_assignment(org)
    for s in lc.states:
        for t in s.transitions:
            if not t.actors or g.broken("transition", f"{s.name}->{t.target}"):
                continue
            where = t.span or s.span
            if s.name in unassigned and t.target in owned and set(t.actors) == {ASSIGNEE}:
                diags.add("ORC327", f"`{s.name} -> {t.target}` assigns the task, and only `@assignee` may make "
                          "it: a task in this state has no assignee yet", where,
                          notes=[f"`assign` makes this move (`{t.target}` is owned by `@assignee`), and the "
                                 "runtime refuses it to everyone"],
                          help=f"let the one who assigns make it: `-> {t.target} by @lead`")


def check_handoff_rejection(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC413: a handoff whose handoff state has a way out on acceptance and none on rejection."""
    for h in org.handoffs:
        if h.on_accept is None or h.on_reject is not None or g.broken("handoff", h.ends):
            continue
        state = h.on_accept[0]
        diags.add("ORC413", f"handoff `{h.ends.replace('->', ' -> ')}` has no rejection path: accepted work goes "
                  f"`{state} -> {h.on_accept[1]}`, rejected work nowhere",
                  head_span(h.span, "handoff"),
                  notes=["the receiving lead can never send the work back: the runtime refuses every rejection"],
                  help=f"add `on reject {state} -> STATE` with the state rejected work returns to")


CHECKS: list[Check] = [
    check_actors_exist,
    check_handoff_rejection,
]
