"""Assignment: score candidate agents for tasks by the model's weighted factors.

In: task needs (skills, complexity, estimate), candidates (skill level scores,
experience rank, hours per day, committed hours, learning goals,
performance), the model's ``assignment`` weights, fit and filter (a compiled
``Guard``) and the capacity horizon. Out: per candidate the five factor
values, the weighted score and whether the hard filter keeps it.

Every factor is computed with numpy for all candidates (and, in
``score_matrix``, all tasks) at once: skills become a task x skill and a
candidate x skill matrix, and the per-pair sums are matrix products. The
formulas are in ``docs/assignment.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .contract.guards import Guard, compile_guard
from .contract.model import Level, Member
from .guards import vector

FACTORS = ("skill_match", "workload", "complexity_fit", "learning_opportunity", "recent_performance")
FACT_LEVEL_SCORES = (0.5, 0.75, 0.9, 1.0)
LOWEST_LEVEL_SCORE = 0.5
FIT_ONE_BELOW = 0.6
FIT_FURTHER_BELOW = 0.2
NO_PERFORMANCE = 0.5
# Factors and scores are rounded to 12 decimals, so that equal inputs tie
# exactly whatever order a matrix product summed them in (ties then go to
# the agent id) and a factor that is 0.6 on paper is 0.6 for the filter.
_DECIMALS = 12

Array = npt.NDArray[np.float64]
Filter = Callable[[Mapping[str, float]], bool]


@dataclass(frozen=True)
class Candidate:
    """An agent that could take the task, with what assignment needs to know."""

    agent: str
    skills: Mapping[str, float]
    """skill -> level score in [0, 1] (see ``level_score``)"""
    experience_rank: int
    """index in the experience scale, 0 = lowest (see ``experience_rank``)"""
    hours_per_day: float
    committed_hours: float
    """remaining estimated hours of the agent's open tasks due within the horizon"""
    learning: frozenset[str]
    quality: float | None
    on_time: float | None


@dataclass(frozen=True)
class TaskNeeds:
    """What a task asks of its assignee."""

    required: tuple[str, ...]
    nice: tuple[str, ...]
    complexity: str
    estimate_hours: float


@dataclass(frozen=True)
class Scored:
    """One candidate's result: the weighted score, the raw factor values (the
    rationale), and whether the hard filter keeps it."""

    agent: str
    score: float
    factors: dict[str, float]
    eligible: bool
    rejected_by: str | None


# -- scales -------------------------------------------------------------------


def level_score(level_value: float, all_level_values: Iterable[float]) -> float:
    """The score in [0.5, 1] of a skill level: by its rank in the scale, 0.5,
    0.75, 0.9, 1.0 for a four-level scale (the facts' beginner..expert);
    linear between 0.5 and 1 by rank for any other size; 1.0 for a scale of one.
    A level numbered 0 or less (``none = 0``) is not on the scale: it holds nothing."""
    values = sorted({v for v in all_level_values if v > 0})
    if level_value not in values:
        raise KeyError(level_value)
    rank = values.index(level_value)
    if len(values) == len(FACT_LEVEL_SCORES):
        return FACT_LEVEL_SCORES[rank]
    if len(values) == 1:
        return 1.0
    return LOWEST_LEVEL_SCORE + (1.0 - LOWEST_LEVEL_SCORE) * rank / (len(values) - 1)


Scale = Mapping[str, float] | Sequence[Level]
"""a level scale: ``{name: value}`` or the model's levels"""


def _scale_items(scale: Scale) -> list[tuple[str, float]]:
    if isinstance(scale, Mapping):
        return [(str(k), float(v)) for k, v in scale.items()]
    return [(lv.name, float(lv.value)) for lv in scale]


def experience_rank(name: str, scale: Scale) -> int:
    """The rank (0 = lowest) of an experience level in a scale."""
    items = _scale_items(scale)
    ordered = sorted(items, key=lambda nv: nv[1])
    for rank, (n, _) in enumerate(ordered):
        if n == name:
            return rank
    raise KeyError(name)


def fit_ranks(fit: Mapping[str, str], scale: Scale) -> dict[str, int]:
    """The model's ``fit`` (complexity -> minimal experience name) as ranks."""
    return {c: experience_rank(e, scale) for c, e in fit.items()}


def candidate_from_member(
    agent: str,
    member: Member,
    levels: Sequence[Level],
    experience: Scale,
    *,
    committed_hours: float = 0.0,
    default_hours_per_day: float = 8.0,
    quality: float | None = None,
    on_time: float | None = None,
) -> Candidate:
    """A candidate from a member entry of the compiled model's ``domains``.

    ``quality``/``on_time`` (from history) override the declared performance."""
    values = [float(lv.value) for lv in levels]
    by_name = {lv.name: float(lv.value) for lv in levels}
    # a skill at a level numbered 0 (``none = 0``) is not held
    skills = {s: level_score(by_name[lvl], values) for s, lvl in member.skills.items() if by_name[lvl] > 0}
    exp = member.experience
    rank = experience_rank(exp, experience) if exp is not None else 0
    perf = member.performance
    hours = member.hours_per_day
    return Candidate(
        agent=agent,
        skills=skills,
        experience_rank=rank,
        hours_per_day=float(hours) if hours is not None else default_hours_per_day,
        committed_hours=committed_hours,
        learning=frozenset(member.learning),
        quality=quality if quality is not None else perf.get("quality"),
        on_time=on_time if on_time is not None else perf.get("on_time"),
    )


# -- scoring ------------------------------------------------------------------


@dataclass
class _Pool:
    """Candidates as arrays, sorted by agent id (so the first maximum wins ties)."""

    agents: list[str]
    index: dict[str, int]
    levels: Array  # C x S: level score, 0 where not held
    held: Array  # C x S: 1 where held
    learnable: Array  # C x S: 1 where a learning goal or held at the lowest level
    workload: Array  # C
    ranks: npt.NDArray[np.int64]  # C
    performance: Array  # C


def _pool(candidates: Sequence[Candidate], horizon_days: float, wanted: Iterable[str]) -> _Pool:
    # Only the skills some task asks for matter to any factor.
    cands = sorted(candidates, key=lambda c: c.agent)
    index = {s: i for i, s in enumerate(sorted(set(wanted)))}
    n, s = len(cands), len(index)
    levels = np.zeros((n, s))
    learnable = np.zeros((n, s))
    for i, c in enumerate(cands):
        for skill, score in c.skills.items():
            k = index.get(skill)
            if k is not None:
                levels[i, k] = score
                if 0 < score <= LOWEST_LEVEL_SCORE:
                    learnable[i, k] = 1.0
        for skill in c.learning:
            k = index.get(skill)
            if k is not None:
                learnable[i, k] = 1.0
    hours = np.array([c.hours_per_day for c in cands], dtype=np.float64)
    committed = np.array([c.committed_hours for c in cands], dtype=np.float64)
    return _Pool(
        agents=[c.agent for c in cands],
        index=index,
        levels=levels,
        held=(levels > 0).astype(np.float64),
        learnable=learnable,
        workload=committed / (hours * horizon_days),
        ranks=np.array([c.experience_rank for c in cands], dtype=np.int64),
        performance=np.array([_performance(c) for c in cands], dtype=np.float64),
    )


def _performance(c: Candidate) -> float:
    known = [v for v in (c.quality, c.on_time) if v is not None]
    return sum(known) / len(known) if known else NO_PERFORMANCE


def _rows(rows: Sequence[Sequence[str]], index: Mapping[str, int]) -> Array:
    """A 0/1 matrix: row i marks the skills of ``rows[i]``."""
    out = np.zeros((len(rows), len(index)))
    for i, skills in enumerate(rows):
        for skill in skills:
            out[i, index[skill]] = 1.0
    return out


def _per_row_share(marks: Array) -> tuple[Array, Array]:
    """Each row divided by its count (rows of zeros stay zero), and the rows
    that are empty."""
    count = marks.sum(axis=1, keepdims=True)
    empty = count == 0
    return marks / np.where(empty, 1.0, count), empty[:, 0]


def _factors(tasks: Sequence[TaskNeeds], pool: _Pool, fit: Mapping[str, int]) -> dict[str, Array]:
    """Each factor as a T x C matrix (workload and performance as 1 x C rows)."""
    req = _rows([t.required for t in tasks], pool.index)
    nice = _rows([t.nice for t in tasks], pool.index)
    req_share, no_req = _per_row_share(req)
    nice_share, no_nice = _per_row_share(nice)

    # skill_match in one product: 0.8 * mean required level + 0.2 * share of
    # nice skills held. A missing required skill adds -penalty / n_required,
    # which is below -1, so the pair ends below 0 and is clipped to 0 (the
    # positive part is at most 1).
    penalty = 2.0 * float(req.sum(axis=1).max(initial=0.0)) + 2.0
    left = np.concatenate([req_share, 0.2 * nice_share], axis=1)
    right = np.concatenate([0.8 * pool.levels - penalty * (1.0 - pool.held), pool.held], axis=1)
    skill_match = left @ right.T
    skill_match += (0.8 * no_req + 0.2 * no_nice)[:, None]  # an empty list counts as fully met
    np.maximum(skill_match, 0.0, out=skill_match)

    wanted_share, _ = _per_row_share(np.maximum(req, nice))
    learning = wanted_share @ pool.learnable.T
    np.minimum(learning, 1.0, out=learning)

    need = np.array([fit.get(t.complexity, 0) for t in tasks], dtype=np.int64)
    needs, which = np.unique(need, return_inverse=True)
    gap = pool.ranks[None, :] - needs[:, None]
    table = np.where(gap >= 0, 1.0, np.where(gap == -1, FIT_ONE_BELOW, FIT_FURTHER_BELOW))
    complexity_fit = table[which.reshape(-1)]

    return {
        "skill_match": np.round(skill_match, _DECIMALS, out=skill_match),
        "workload": np.round(pool.workload, _DECIMALS)[None, :],
        "complexity_fit": complexity_fit,
        "learning_opportunity": np.round(learning, _DECIMALS, out=learning),
        "recent_performance": np.round(pool.performance, _DECIMALS)[None, :],
    }


def _score(factors: Mapping[str, Array], weights: Mapping[str, float]) -> Array:
    def w(name: str) -> float:
        return float(weights.get(name, 0.0))

    per_candidate = (w("workload") * (1.0 - np.minimum(factors["workload"], 1.0))
                     + w("recent_performance") * factors["recent_performance"])
    total = w("skill_match") * factors["skill_match"]
    total += w("complexity_fit") * factors["complexity_fit"]
    total += w("learning_opportunity") * factors["learning_opportunity"]
    total += per_candidate
    return np.round(total, _DECIMALS, out=total)


def _eligible(factors: Mapping[str, Array], filter: Filter | None) -> npt.NDArray[np.bool_]:
    shape = factors["skill_match"].shape
    if filter is None:
        return np.ones(shape, dtype=np.bool_)
    if isinstance(filter, Guard):
        return vector(filter, factors, shape)
    out = np.empty(shape, dtype=np.bool_)
    for i, j in np.ndindex(*shape):
        out[i, j] = bool(filter({k: float(v[i if v.shape[0] > 1 else 0, j]) for k, v in factors.items()}))
    return out


def _pick(factors: Mapping[str, Array], i: Any, j: Any) -> list[dict[str, float]]:
    """Factor dicts for the pairs (i[k], j[k])."""
    columns = {}
    for name in FACTORS:
        a = factors[name]
        columns[name] = a[i if a.shape[0] > 1 else 0, j].tolist()
    return [dict(zip(FACTORS, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def score_candidates(
    task: TaskNeeds,
    candidates: Sequence[Candidate],
    weights: Mapping[str, float],
    fit: Mapping[str, int],
    horizon_days: float,
    filter: Filter | None,
) -> list[Scored]:
    """Every candidate scored for one task: eligible ones first, then by
    score (highest first), ties by agent id."""
    if not candidates:
        return []
    pool = _pool(candidates, horizon_days, (*task.required, *task.nice))
    factors = _factors([task], pool, fit)
    scores = _score(factors, weights)[0].tolist()
    ok = _eligible(factors, filter)[0].tolist()
    cols = np.arange(len(pool.agents))
    rows = [
        Scored(agent=agent, score=scores[j], factors=f, eligible=ok[j], rejected_by=None if ok[j] else "filter")
        for j, (agent, f) in enumerate(zip(pool.agents, _pick(factors, np.zeros_like(cols), cols), strict=True))
    ]
    rows.sort(key=lambda r: (not r.eligible, -r.score, r.agent))
    return rows


def score_matrix(
    tasks: Sequence[TaskNeeds],
    candidates: Sequence[Candidate],
    weights: Mapping[str, float],
    fit: Mapping[str, int],
    horizon_days: float,
    filter: Filter | None,
) -> list[Scored | None]:
    """For each task, the best eligible candidate (the one ``score_candidates``
    ranks first), or ``None`` when the filter keeps nobody."""
    if not tasks:
        return []
    if not candidates:
        return [None] * len(tasks)
    pool = _pool(candidates, horizon_days, (s for t in tasks for s in (*t.required, *t.nice)))
    factors = _factors(tasks, pool, fit)
    scores = _score(factors, weights)
    ok = _eligible(factors, filter)
    scores[~ok] = -np.inf
    rows = np.arange(len(tasks))
    best = np.argmax(scores, axis=1)  # the first maximum: the smallest agent id
    found = ok[rows, best].tolist()
    best_scores = scores[rows, best].tolist()
    picked = _pick(factors, rows, best)
    return [
        Scored(agent=pool.agents[j], score=sc, factors=f, eligible=True, rejected_by=None) if hit else None
        for j, sc, f, hit in zip(best.tolist(), best_scores, picked, found, strict=True)
    ]


# -- benchmark ----------------------------------------------------------------

V2_WEIGHTS = {
    "skill_match": 0.40, "workload": 0.25, "complexity_fit": 0.20,
    "learning_opportunity": 0.10, "recent_performance": 0.05,
}
V2_FIT = {"simple": 0, "moderate": 1, "high": 2}
V2_FILTER = {"op": "and", "args": [
    {"op": ">=", "left": {"var": "skill_match"}, "right": {"const": 0.6}},
    {"op": "<=", "left": {"var": "workload"}, "right": {"const": 0.9}},
]}


def bench_assignment(n_tasks: int = 1000, n_candidates: int = 1000, seed: int = 0) -> float:
    """Seconds for ``score_matrix`` on random tasks and candidates (V2 weights
    and filter, 40 skills); prints the time."""
    rng = np.random.default_rng(seed)
    skills = [f"skill{i}" for i in range(40)]
    candidates = [
        Candidate(
            agent=f"agent-{i:04d}",
            skills={skills[k]: float(rng.choice(FACT_LEVEL_SCORES)) for k in rng.choice(40, 6, replace=False)},
            experience_rank=int(rng.integers(0, 4)),
            hours_per_day=8.0,
            committed_hours=float(rng.uniform(0, 30)),
            learning=frozenset(skills[k] for k in rng.choice(40, 2, replace=False)),
            quality=float(rng.uniform(0.5, 1.0)),
            on_time=None,
        )
        for i in range(n_candidates)
    ]
    tasks = [
        TaskNeeds(
            required=tuple(skills[k] for k in rng.choice(40, 2, replace=False)),
            nice=tuple(skills[k] for k in rng.choice(40, 1)),
            complexity=str(rng.choice(["simple", "moderate", "high"])),
            estimate_hours=4.0,
        )
        for _ in range(n_tasks)
    ]
    guard = compile_guard(V2_FILTER)
    start = time.perf_counter()
    score_matrix(tasks, candidates, V2_WEIGHTS, V2_FIT, 3.0, guard)
    seconds = time.perf_counter() - start
    print(f"assignment: {n_tasks} tasks x {n_candidates} candidates in {seconds:.4f} s")
    return seconds
