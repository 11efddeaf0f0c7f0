"""What assignment knows of agents and tasks, without numpy: candidate profiles, task needs,
scored results, and the level and experience scales.

In: the compiled model's members, skill levels and experience scale. Out:
``Candidate`` profiles (skills as level scores, experience rank, hours,
committed hours, learning goals, performance), ``TaskNeeds`` and ``Scored``,
the records ``assignment`` scores with numpy. The model builds its candidates
from here when it loads, so loading a model does not import numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .contract.model import Level, Member

FACTORS = ("skill_match", "workload", "complexity_fit", "learning_opportunity", "recent_performance")
FACT_LEVEL_SCORES = (0.5, 0.75, 0.9, 1.0)
LOWEST_LEVEL_SCORE = 0.5


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
