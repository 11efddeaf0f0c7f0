"""Assignment scoring: hand-computed factors, the facts' examples, the V2 hard
filter, ties, batch against single-task scoring, and a pure-Python reference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orchdsl_runtime.assignment import (
    V2_FILTER,
    Candidate,
    Scored,
    TaskNeeds,
    bench_assignment,
    candidate_from_member,
    experience_rank,
    fit_ranks,
    level_score,
    score_candidates,
    score_matrix,
)
from orchdsl_runtime.contract import model as contract
from orchdsl_runtime.contract.codec import from_data
from orchdsl_runtime.contract.guards import compile_guard

WEIGHTS = {"skill_match": 0.40, "workload": 0.25, "complexity_fit": 0.20,
           "learning_opportunity": 0.10, "recent_performance": 0.05}
EXPERIENCE = from_data(tuple[contract.Level, ...], [{"name": "junior", "value": 1}, {"name": "mid", "value": 2},
                                                  {"name": "senior", "value": 3}, {"name": "staff", "value": 4}])
LEVELS = from_data(tuple[contract.Level, ...], [{"name": "beginner", "value": 1}, {"name": "intermediate", "value": 2},
                                              {"name": "advanced", "value": 3}, {"name": "expert", "value": 4}])
FIT = fit_ranks({"simple": "junior", "moderate": "mid", "high": "senior"}, EXPERIENCE)
V2 = compile_guard(V2_FILTER)


def cand(agent: str, skills: Mapping[str, float] | None = None, *, rank: int = 2, hours: float = 8.0,
         committed: float = 0.0, learning: tuple[str, ...] = (), quality: float | None = None,
         on_time: float | None = None) -> Candidate:
    return Candidate(agent=agent, skills=dict(skills or {}), experience_rank=rank, hours_per_day=hours,
                     committed_hours=committed, learning=frozenset(learning), quality=quality, on_time=on_time)


def task(required: tuple[str, ...] = (), nice: tuple[str, ...] = (), complexity: str = "moderate") -> TaskNeeds:
    return TaskNeeds(required=required, nice=nice, complexity=complexity, estimate_hours=4.0)


def one(t: TaskNeeds, c: Candidate, horizon: float = 3.0) -> Scored:
    [s] = score_candidates(t, [c], WEIGHTS, FIT, horizon, None)
    return s


# -- scales -----------------------------------------------------------------------


def test_level_scores_of_the_four_level_scale() -> None:
    values = [1, 2, 3, 4]
    assert [level_score(v, values) for v in values] == [0.5, 0.75, 0.9, 1.0]
    assert level_score(3, [4, 3, 2, 1]) == 0.9


def test_level_scores_of_other_scales_are_linear_by_rank() -> None:
    assert [level_score(v, [10, 20, 30]) for v in (10, 20, 30)] == [0.5, 0.75, 1.0]
    assert [level_score(v, [1, 5]) for v in (1, 5)] == [0.5, 1.0]
    assert level_score(1, [1, 2, 3, 4, 5]) == 0.5
    assert level_score(2, [1, 2, 3, 4, 5]) == 0.625
    assert level_score(7, [7]) == 1.0
    with pytest.raises(KeyError):
        level_score(9, [1, 2])


def test_experience_rank() -> None:
    assert [experience_rank(e.name, EXPERIENCE) for e in EXPERIENCE] == [0, 1, 2, 3]
    assert experience_rank("mid", {"staff": 9, "junior": 1, "mid": 4}) == 1
    assert FIT == {"simple": 0, "moderate": 1, "high": 2}
    with pytest.raises(KeyError):
        experience_rank("principal", EXPERIENCE)


def test_candidate_from_member() -> None:
    member = from_data(contract.Member, {"role": "backend-developer", "experience": "mid", "hours_per_day": 6.0,
                                         "skills": {"python": "expert", "sql": "beginner"}, "learning": ["go"],
                                         "performance": {"quality": 0.9}})
    c = candidate_from_member("backend-developer-1", member, LEVELS, EXPERIENCE, committed_hours=3.0)
    assert c == Candidate("backend-developer-1", {"python": 1.0, "sql": 0.5}, 1, 6.0, 3.0,
                          frozenset({"go"}), 0.9, None)
    bare = candidate_from_member("x", contract.Member(role="x"), LEVELS, EXPERIENCE, default_hours_per_day=7.0, on_time=0.4)
    assert (bare.experience_rank, bare.hours_per_day, bare.quality, bare.on_time) == (0, 7.0, None, 0.4)


def test_a_level_numbered_0_holds_nothing() -> None:
    """`none = 0` is not on the scale: a skill at that level is not held, and the other
    levels score by their rank among the positive ones."""
    levels = from_data(tuple[contract.Level, ...], [{"name": "none", "value": 0}, *[
        {"name": lv.name, "value": lv.value} for lv in LEVELS]])
    member = from_data(contract.Member, {"role": "x", "skills": {"python": "none", "sql": "beginner"}})
    c = candidate_from_member("x", member, levels, EXPERIENCE)
    assert c.skills == {"sql": 0.5}
    [s] = score_candidates(task(("python",)), [c], WEIGHTS, FIT, 3.0, None)
    assert s.factors["skill_match"] == 0.0
    assert level_score(1, [0, 1, 2, 3, 4]) == 0.5


# -- factors by hand ------------------------------------------------------------------


def test_hand_computed_factors_and_score() -> None:
    t = task(("python",), ("django", "react"), "high")
    c = cand("a", {"python": 1.0, "django": 0.75}, rank=2, committed=12, learning=("react",),
             quality=0.8, on_time=0.6)
    s = one(t, c, horizon=2.0)
    assert s.factors == pytest.approx({
        "skill_match": 0.8 * 1.0 + 0.2 * 0.5,   # 0.9
        "workload": 12 / (8 * 2),               # 0.75
        "complexity_fit": 1.0,
        "learning_opportunity": 1 / 3,          # react, one of three wanted skills
        "recent_performance": 0.7,
    })
    expected = 0.4 * 0.9 + 0.25 * (1 - 0.75) + 0.2 * 1.0 + 0.1 / 3 + 0.05 * 0.7
    assert s.score == pytest.approx(expected)
    assert (s.eligible, s.rejected_by) == (True, None)


def test_missing_required_skill_zeroes_skill_match() -> None:
    t = task(("python", "go"), ("django",))
    assert one(t, cand("a", {"python": 1.0, "django": 1.0})).factors["skill_match"] == 0.0
    assert one(t, cand("a", {"python": 1.0, "go": 0.5})).factors["skill_match"] == pytest.approx(0.8 * 0.75)


def test_empty_skill_lists_count_as_met() -> None:
    assert one(task(), cand("a")).factors["skill_match"] == 1.0
    assert one(task(("go",)), cand("a", {"go": 0.75})).factors["skill_match"] == pytest.approx(0.8 * 0.75 + 0.2)
    assert one(task((), ("go",)), cand("a")).factors["skill_match"] == pytest.approx(0.8)


def test_learning_counts_goals_and_lowest_level_skills_once() -> None:
    t = task(("python",), ("go", "python"))  # two distinct wanted skills
    c = cand("a", {"python": 0.5}, learning=("python", "go", "rust"))
    assert one(t, c).factors["learning_opportunity"] == 1.0
    assert one(t, cand("b", {"python": 0.5})).factors["learning_opportunity"] == 0.5
    assert one(t, cand("c", {"python": 0.75})).factors["learning_opportunity"] == 0.0
    assert one(task(), cand("d", learning=("go",))).factors["learning_opportunity"] == 0.0


def test_performance_means_what_is_known() -> None:
    assert one(task(), cand("a", quality=0.9, on_time=0.7)).factors["recent_performance"] == pytest.approx(0.8)
    assert one(task(), cand("a", on_time=0.3)).factors["recent_performance"] == 0.3
    assert one(task(), cand("a")).factors["recent_performance"] == 0.5


def test_facts_complexity_fit_examples() -> None:
    high = task(complexity="high")
    assert one(high, cand("mid", rank=1)).factors["complexity_fit"] == 0.6
    assert one(high, cand("senior", rank=2)).factors["complexity_fit"] == 1.0
    assert one(high, cand("staff", rank=3)).factors["complexity_fit"] == 1.0
    assert one(high, cand("junior", rank=0)).factors["complexity_fit"] == 0.2
    assert one(task(complexity="simple"), cand("junior", rank=0)).factors["complexity_fit"] == 1.0
    assert one(task(complexity="unheard-of"), cand("junior", rank=0)).factors["complexity_fit"] == 1.0


def test_facts_workload_example_and_oversubscription() -> None:
    assert one(task(), cand("a", committed=12), horizon=2.0).factors["workload"] == 0.75
    over = one(task(), cand("a", committed=30), horizon=3.0)
    assert over.factors["workload"] == 1.25
    # workload enters the score as 1 - min(workload, 1): no negative contribution
    assert over.score == pytest.approx(0.4 * 1.0 + 0.25 * 0.0 + 0.2 * 1.0 + 0.0 + 0.05 * 0.5)


# -- filter, order, ties -------------------------------------------------------------


def test_v2_hard_filter() -> None:
    t = task(("python",), (), "moderate")
    cands = [
        cand("low-skill", {"python": 0.5}),               # 0.8 * 0.5 + 0.2 = 0.6: kept (>= 0.6)
        cand("too-low", {"python": 0.5}, rank=1),
        cand("busy", {"python": 1.0}, hours=10, committed=27.5),   # 27.5 / 30 > 0.9
        cand("just-busy", {"python": 1.0}, hours=10, committed=27),  # 27 / 30 = 0.9: kept
        cand("none", {}),
    ]
    t_nice = task(("python",), ("go",), "moderate")  # without go: 0.8 * 0.5 = 0.4 < 0.6
    by_agent = {s.agent: s for s in score_candidates(t, cands, WEIGHTS, FIT, 3.0, V2)}
    assert by_agent["low-skill"].factors["skill_match"] == 0.6
    assert by_agent["low-skill"].eligible
    assert by_agent["just-busy"].factors["workload"] == 0.9 and by_agent["just-busy"].eligible
    assert not by_agent["busy"].eligible and by_agent["busy"].rejected_by == "filter"
    assert not by_agent["none"].eligible
    nice = {s.agent: s for s in score_candidates(t_nice, cands, WEIGHTS, FIT, 3.0, V2)}
    assert nice["low-skill"].factors["skill_match"] == 0.4 and not nice["low-skill"].eligible


def test_ranked_eligible_first_then_by_score() -> None:
    t = task(("python",), (), "moderate")
    cands = [cand("z-best", {"python": 1.0}), cand("m-ok", {"python": 0.75}),
             cand("a-busy", {"python": 1.0}, committed=100), cand("b-unskilled", {})]
    ranked = score_candidates(t, cands, WEIGHTS, FIT, 3.0, V2)
    assert [s.agent for s in ranked] == ["z-best", "m-ok", "a-busy", "b-unskilled"]
    assert [s.eligible for s in ranked] == [True, True, False, False]
    assert ranked[2].score > ranked[3].score


def test_ties_go_to_the_agent_id() -> None:
    t = task(("python",), ("go",), "high")
    same = {"python": 0.9, "go": 0.75}
    cands = [cand(name, same, learning=("rust",), quality=0.7) for name in ("dev-2", "dev-10", "dev-1")]
    ranked = score_candidates(t, cands, WEIGHTS, FIT, 3.0, V2)
    assert [s.agent for s in ranked] == ["dev-1", "dev-10", "dev-2"]
    assert len({s.score for s in ranked}) == 1
    [best] = score_matrix([t], list(reversed(cands)), WEIGHTS, FIT, 3.0, V2)
    assert best is not None and best.agent == "dev-1"


def test_nobody_qualifies() -> None:
    t = task(("cobol",))
    assert score_matrix([t, task()], [cand("a", {"python": 1.0})], WEIGHTS, FIT, 3.0, V2)[0] is None
    assert all(not s.eligible for s in score_candidates(t, [cand("a")], WEIGHTS, FIT, 3.0, V2))
    assert score_candidates(t, [], WEIGHTS, FIT, 3.0, V2) == []
    assert score_matrix([t], [], WEIGHTS, FIT, 3.0, V2) == [None]
    assert score_matrix([], [cand("a")], WEIGHTS, FIT, 3.0, V2) == []


def test_a_plain_callable_filter_agrees_with_the_compiled_one() -> None:
    t = task(("python",), ("go",))
    cands = [cand("a", {"python": 0.5}), cand("b", {"python": 1.0, "go": 0.5}, committed=23),
             cand("c", {"python": 0.9}, committed=10)]

    def plain(f: Mapping[str, float]) -> bool:
        return f["skill_match"] >= 0.6 and f["workload"] <= 0.9

    assert score_candidates(t, cands, WEIGHTS, FIT, 3.0, plain) == score_candidates(t, cands, WEIGHTS, FIT, 3.0, V2)
    assert score_matrix([t, task()], cands, WEIGHTS, FIT, 3.0, plain) == \
        score_matrix([t, task()], cands, WEIGHTS, FIT, 3.0, V2)


# -- reference model and batch -----------------------------------------------------------


def reference_factors(t: TaskNeeds, c: Candidate, horizon: float) -> dict[str, float]:
    """The documented formulas, one pair at a time, in plain Python."""
    if any(s not in c.skills for s in t.required):
        skill = 0.0
    else:
        mean = sum(c.skills[s] for s in t.required) / len(t.required) if t.required else 1.0
        nice = sum(s in c.skills for s in t.nice) / len(t.nice) if t.nice else 1.0
        skill = 0.8 * mean + 0.2 * nice
    wanted = set(t.required) | set(t.nice)
    learnable = {s for s in wanted if s in c.learning or c.skills.get(s) == 0.5}
    gap = c.experience_rank - FIT.get(t.complexity, 0)
    known = [v for v in (c.quality, c.on_time) if v is not None]
    return {
        "skill_match": skill,
        "workload": c.committed_hours / (c.hours_per_day * horizon),
        "complexity_fit": 1.0 if gap >= 0 else 0.6 if gap == -1 else 0.2,
        "learning_opportunity": len(learnable) / len(wanted) if wanted else 0.0,
        "recent_performance": sum(known) / len(known) if known else 0.5,
    }


def reference_score(f: Mapping[str, float]) -> float:
    return sum(WEIGHTS[k] * ((1 - min(v, 1.0)) if k == "workload" else v) for k, v in f.items())


SKILLS = ("python", "go", "sql", "react", "docker")
skill_sets = st.lists(st.sampled_from(SKILLS), max_size=3, unique=True).map(tuple)
tasks = st.builds(task, skill_sets, skill_sets, st.sampled_from(("simple", "moderate", "high", "other")))
unit = st.one_of(st.none(), st.sampled_from((0.0, 0.3, 0.5, 0.85, 1.0)))
candidates = st.builds(
    lambda i, skills, rank, hours, committed, learning, q, o: cand(
        f"agent-{i}", skills, rank=rank, hours=hours, committed=committed, learning=learning, quality=q, on_time=o),
    st.integers(0, 30),
    st.dictionaries(st.sampled_from(SKILLS), st.sampled_from((0.5, 0.75, 0.9, 1.0)), max_size=4),
    st.integers(0, 3),
    st.sampled_from((4.0, 6.0, 8.0)),
    st.sampled_from((0.0, 3.0, 12.0, 21.6, 40.0)),
    skill_sets,
    unit,
    unit,
)
pools = st.lists(candidates, min_size=1, max_size=8, unique_by=lambda c: c.agent)


@settings(max_examples=100, deadline=None)
@given(tasks, pools)
def test_single_task_scoring_matches_the_reference(t: TaskNeeds, pool: list[Candidate]) -> None:
    ranked = score_candidates(t, pool, WEIGHTS, FIT, 3.0, V2)
    assert sorted(s.agent for s in ranked) == sorted(c.agent for c in pool)
    by_agent = {c.agent: c for c in pool}
    for s in ranked:
        ref = reference_factors(t, by_agent[s.agent], 3.0)
        assert s.factors == pytest.approx(ref, abs=1e-9)
        assert s.score == pytest.approx(reference_score(ref), abs=1e-9)
        assert s.eligible == (ref["skill_match"] >= 0.6 - 1e-9 and ref["workload"] <= 0.9 + 1e-9)
    keys = [(not s.eligible, -s.score, s.agent) for s in ranked]
    assert keys == sorted(keys)


@settings(max_examples=100, deadline=None)
@given(st.lists(tasks, min_size=1, max_size=6), pools)
def test_batch_equals_single_task_results(ts: list[TaskNeeds], pool: list[Candidate]) -> None:
    batch = score_matrix(ts, pool, WEIGHTS, FIT, 3.0, V2)
    assert len(batch) == len(ts)
    for t, best in zip(ts, batch, strict=True):
        first = score_candidates(t, pool, WEIGHTS, FIT, 3.0, V2)[0]
        if not first.eligible:
            assert best is None
        else:
            assert best is not None
            assert best.agent == first.agent
            assert best.score == pytest.approx(first.score, abs=1e-12)
            assert best.factors == pytest.approx(first.factors, abs=1e-12)


def test_a_thousand_by_a_thousand_runs() -> None:
    seconds = bench_assignment(1000, 1000)
    assert seconds > 0


def test_batch_of_many_matches_single_on_a_sample() -> None:
    import random

    rng = random.Random(7)
    pool = [cand(f"a{i:03d}", {s: rng.choice((0.5, 0.75, 0.9, 1.0)) for s in rng.sample(SKILLS, 3)},
                 rank=rng.randrange(4), committed=rng.choice((0.0, 6.0, 12.0, 20.0)),
                 learning=tuple(rng.sample(SKILLS, 1)), quality=rng.choice((None, 0.6, 0.9)))
            for i in range(200)]
    ts = [task(tuple(rng.sample(SKILLS, 2)), tuple(rng.sample(SKILLS, 1)), rng.choice(("simple", "high")))
          for _ in range(50)]
    batch = score_matrix(ts, pool, WEIGHTS, FIT, 3.0, V2)
    for t, best in zip(ts, batch, strict=True):
        first = score_candidates(t, pool, WEIGHTS, FIT, 3.0, V2)[0]
        got: Any = best.agent if best else None
        assert got == (first.agent if first.eligible else None)


# -- the V2 organisation ---------------------------------------------------------


@pytest.fixture(scope="module")
def v2() -> contract.CompiledModel:
    from pathlib import Path

    from orchdsl.emit import to_contract
    from orchdsl.pipeline import check_files

    result = check_files([Path(__file__).resolve().parents[2] / "specs" / "orchestration_v2.orch"])
    assert result.model is not None
    return to_contract(result.model)


def v2_backend(model: contract.CompiledModel, committed: Mapping[str, float]) -> list[Candidate]:
    [backend] = [d for d in model.domains if d.name == "backend"]
    roles = {m.role: m for m in backend.members}
    return [
        candidate_from_member(a.id, roles[a.role], model.skills.levels, model.experience,
                              committed_hours=committed.get(a.id, 0.0))
        for a in model.agents if a.domain == "backend" and a.role in roles
    ]


def test_v2_model_settings_are_the_ones_used_here(v2: contract.CompiledModel) -> None:
    assert v2.assignment is not None
    assert v2.assignment.weights == WEIGHTS
    assert v2.assignment.filter == V2_FILTER
    assert fit_ranks(v2.assignment.fit, v2.experience) == FIT


def test_v2_backend_assignment(v2: contract.CompiledModel) -> None:
    t = TaskNeeds(("python", "postgresql"), ("django",), "high", 4.0)
    assert v2.assignment is not None and v2.capacity is not None
    filt = compile_guard(v2.assignment.filter)
    horizon = v2.capacity.horizon_days

    ranked = score_candidates(t, v2_backend(v2, {}), WEIGHTS, FIT, horizon, filt)
    by_agent = {s.agent: s for s in ranked}
    assert [s.agent for s in ranked] == ["senior-developer", "backend-developer-1", "backend-developer-2"]
    # senior: python expert, postgresql advanced, no django
    assert by_agent["senior-developer"].factors == pytest.approx({
        "skill_match": 0.8 * (1.0 + 0.9) / 2, "workload": 0.0, "complexity_fit": 1.0,
        "learning_opportunity": 0.0, "recent_performance": (0.95 + 0.9) / 2})
    assert by_agent["senior-developer"].score == pytest.approx(0.80025)
    # mid developers: python advanced, postgresql intermediate, django; one rank short
    assert by_agent["backend-developer-1"].factors["skill_match"] == pytest.approx(0.8 * 0.825 + 0.2)
    assert by_agent["backend-developer-1"].factors["complexity_fit"] == 0.6
    assert by_agent["backend-developer-1"].score == pytest.approx(0.75275)

    busy = score_candidates(t, v2_backend(v2, {"senior-developer": 20.0}), WEIGHTS, FIT, horizon, filt)
    assert busy[0].agent == "backend-developer-1"  # ties with -2, the id decides
    assert busy[0].score == busy[1].score
    assert by_agent["senior-developer"].score > [s for s in busy if s.agent == "senior-developer"][0].score

    full = score_candidates(t, v2_backend(v2, {"senior-developer": 22.0}), WEIGHTS, FIT, horizon, filt)
    assert [(s.agent, s.eligible) for s in full][-1] == ("senior-developer", False)
