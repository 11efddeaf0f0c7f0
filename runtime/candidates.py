"""The candidates for a task: the members of its domain, scored by the model's assignment.

In: a task and the state (each member's committed hours, the IC capacity
limit). Out: every member of the task's domain with its score, its factors and
whether it is eligible, the eligible first and the best first. A member above
the IC limit is not eligible (``rejected_by`` is ``capacity``). Assignment
and reassignment both choose from this list.
"""

from __future__ import annotations

from dataclasses import replace

from .assignment import Scored, TaskNeeds, score_candidates
from .context import Context
from .records import Task


def score_task(ctx: Context, t: Task) -> list[Scored]:
    """Every member of the task's domain scored for it, the eligible first, best first."""
    m, ledger = ctx.model, ctx.state.ledger
    candidates = [
        replace(m.candidates[a], committed_hours=ledger.committed(a))
        for a in m.domain_members.get(t.domain, ())
        if a in m.candidates
    ]
    needs = TaskNeeds(t.required_skills, t.nice_skills, t.complexity, float(t.estimate_hours or 0.0))
    scored = score_candidates(needs, candidates, m.weights, m.fit, m.horizon_days, m.assignment_filter)
    out = []
    for s in scored:
        if s.eligible and ledger.over_ic_limit(s.agent):
            s = Scored(s.agent, s.score, s.factors, False, "capacity")
        out.append(s)
    out.sort(key=lambda r: (not r.eligible, -r.score, r.agent))
    return out
