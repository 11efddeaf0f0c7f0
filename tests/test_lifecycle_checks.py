"""The lifecycle checks (ORC3xx) and the tier, gate and metric checks (ORC7xx)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchdsl.checks import Graphs
from orchdsl.checks.lifecycle import above
from orchdsl.diagnostics import Diagnostic
from orchdsl.pipeline import Result, check_files, check_text

ROOT = Path(__file__).resolve().parent.parent

PEOPLE = """\
org example
skills {
  levels { beginner = 1, intermediate = 2, advanced = 3 }
  category languages { python, typescript }
}
experience { mid = 2, senior = 3 }
role cto { title "CTO" }
role vp { title "VP Engineering" reports_to cto }
role api-lead { title "API Lead" reports_to vp }
role api-dev { title "API Developer" reports_to api-lead }
role web-lead { title "Web Lead" reports_to vp }
role web-dev { title "Web Developer" reports_to web-lead }
role planner { title "Planner" reports_to vp }
domain api {
  lead api-lead
  member api-dev x2 { experience mid skills { python: advanced } }
}
domain web {
  lead web-lead
  member web-dev x2 { experience senior skills { typescript: advanced } }
}
tier 0 "Trivial" { flow cto:answer }
tier 1 "Small" { flow planner:routing -> @assignee:execution -> gate review }
tier 2 "Large" { flow @lead:tactical_planning -> @assignee:execution -> gate review }
"""

REVIEW_GATE = """
gate review {
  reviewer @peer
  guards REVIEW -> DONE
  outcome approved: pass
  outcome changes_requested: -> DOING
}
"""

GOOD_STATES = """\
  state TODO { initial owner @lead sla 1d warn 2d escalate 3d to vp -> DOING by @lead -> CANCELLED by @lead }
  state DOING { owner @assignee sla estimate warn 1.5x escalate 2x to @lead -> REVIEW by @assignee }
  state REVIEW { owner @peer sla 4h warn 8h escalate 1d to @lead -> DONE by @peer -> DOING by @peer }
  state DONE { terminal success }
  state CANCELLED { terminal failure }
"""


def spec(states: str = GOOD_STATES, extra: str = REVIEW_GATE, tiers: str = "1-2") -> str:
    return PEOPLE + f"lifecycle task {{\n  tiers {tiers}\n{states}}}\n" + extra


def check(text: str) -> Result:
    return check_text(text, "t.orch")


def found(r: Result, code: str) -> list[Diagnostic]:
    return [d for d in r.diagnostics if d.code == code]


def at(text: str, d: Diagnostic) -> str:
    """The source line a diagnostic points at."""
    assert d.span is not None
    return text.splitlines()[d.span.line - 1]


def test_the_baseline_is_clean() -> None:
    r = check(spec())
    assert r.diagnostics == [], [f"{d.code} {d.message}" for d in r.diagnostics]


# ---------------------------------------------------------------- the repository's specs


CLEAN = sorted((ROOT / "specs").glob("*.orch")) + [ROOT / "examples" / "token_budget.orch"]


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_specs_have_no_errors(path: Path) -> None:
    r = check_files([path])
    errors = [f"{d.span}: {d.code} {d.message}" for d in r.diagnostics if d.is_error]
    assert errors == []


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.orch")) + sorted((ROOT / "examples").glob("*.orch")),
                         ids=lambda p: p.name)
def test_no_lifecycle_warnings_on_specs(path: Path) -> None:
    """None but V2's one: its `security` domain has one member, and peer review needs two."""
    r = check_files([path])
    mine = [(d.code, d.span.line if d.span else None) for d in r.diagnostics
            if not d.is_error and re.match(r"ORC[37]", d.code)]
    if path.name != "orchestration_v2.orch":
        assert mine == []
        return
    text = path.read_text(encoding="utf-8").splitlines()
    assert mine == [("ORC328", next(i for i, line in enumerate(text, 1) if "state UNDER_REVIEW" in line))]
    [d] = r.diagnostics
    assert "`security`" in d.message and "`UNDER_REVIEW`" in d.message


# ---------------------------------------------------------------- shape


def test_orc320_no_lifecycle() -> None:
    r = check(PEOPLE)
    [d] = found(r, "ORC320")
    assert d.message == "organisation `example` declares no lifecycle"


def test_orc301_no_initial() -> None:
    text = spec(GOOD_STATES.replace("state TODO { initial", "state TODO {"))
    r = check(text)
    [d] = found(r, "ORC301")
    assert at(text, d).startswith("lifecycle task")
    assert not found(r, "ORC304") and not found(r, "ORC305")


def test_orc302_several_initial() -> None:
    text = spec(GOOD_STATES.replace("state DOING {", "state DOING { initial"))
    r = check(text)
    [d] = found(r, "ORC302")
    assert d.message == "`DOING` is a second initial state"
    assert [lb.message for lb in d.labels] == ["`TODO` is initial"]


def test_orc303_transition_from_terminal() -> None:
    text = spec(GOOD_STATES.replace("state DONE { terminal success }",
                                    "state DONE { terminal success -> TODO by @lead }"))
    r = check(text)
    [d] = found(r, "ORC303")
    assert d.message == "terminal state `DONE` has a transition to `TODO`"
    assert "-> TODO by @lead" in at(text, d)


def test_orc312_duplicate_transition_labels_the_first() -> None:
    text = spec(GOOD_STATES.replace("-> REVIEW by @assignee", "-> REVIEW by @assignee -> REVIEW when tier >= 2 by @lead"))
    r = check(text)
    [d] = found(r, "ORC312")
    assert d.message == "the transition `DOING -> REVIEW` is declared twice"
    assert d.labels[0].message == "first declared here"
    assert d.span is not None and d.labels[0].span.column < d.span.column


def test_orc313_no_terminal_and_no_dead_end_cascade() -> None:
    states = """\
  state TODO { initial owner @lead -> DOING by @lead }
  state DOING { owner @assignee -> TODO by @assignee }
"""
    r = check(spec(states, extra="gate review { reviewer @peer guards stage execution outcome ok: pass }\n"))
    assert [d.code for d in r.diagnostics if d.is_error] == ["ORC313"]


# ---------------------------------------------------------------- reachability


def test_orc304_unreachable_lists_tiers() -> None:
    states = GOOD_STATES.replace("-> CANCELLED by @lead }", "-> CANCELLED by @lead -> PARKED when tier >= 2 by @lead }") + \
        "  state PARKED { owner @lead -> TODO by @lead }\n"
    r = check(spec(states))
    [d] = found(r, "ORC304")
    assert d.message == "state `PARKED` cannot be reached at tier 1"
    limited = states.replace("state PARKED { owner", "state PARKED { tiers 2 owner")
    assert not found(check(spec(limited)), "ORC304")


def test_orc304_whole_lifecycle() -> None:
    r = check(spec(GOOD_STATES + "  state LIMBO { owner @lead -> DONE by @lead }\n"))
    [d] = found(r, "ORC304")
    assert d.message == "state `LIMBO` cannot be reached at tiers 1, 2"


def test_orc305_dead_end_with_note() -> None:
    states = GOOD_STATES.replace("-> REVIEW by @assignee }", "-> REVIEW by @assignee -> WAIT by @assignee }") + \
        "  state WAIT { owner @lead -> WAIT2 by @lead }\n  state WAIT2 { owner @lead -> WAIT by @lead }\n"
    r = check(spec(states))
    ds = found(r, "ORC305")
    assert [d.message for d in ds] == ["a task in `WAIT` can never finish at tiers 1, 2",
                                       "a task in `WAIT2` can never finish at tiers 1, 2"]
    assert ds[0].notes[0].startswith("from `WAIT` a task can only reach `WAIT2`")


def test_orc305_per_tier_guard() -> None:
    states = GOOD_STATES.replace("-> DONE by @peer", "-> DONE when tier == 1 by @peer")
    r = check(spec(states))
    msgs = sorted(d.message for d in found(r, "ORC305"))
    assert msgs == ["a task in `DOING` can never finish at tier 2", "a task in `REVIEW` can never finish at tier 2"]


def test_no_dead_end_for_a_state_whose_transition_was_dropped() -> None:
    states = GOOD_STATES.replace("-> REVIEW by @assignee }", "-> REVIEW by @assignee -> WAIT by @assignee }") + \
        "  state WAIT { owner @lead -> FINSHED by @lead }\n"
    r = check(spec(states))
    assert [d.code for d in r.diagnostics if d.is_error] == ["ORC103"]


def test_guard_error_does_not_cut_reachability() -> None:
    states = GOOD_STATES.replace("-> CANCELLED by @lead }", "-> CANCELLED when tier == strategic by @lead }")
    r = check(spec(states))
    assert [d.code for d in r.diagnostics if d.is_error] == ["ORC310"]


# ---------------------------------------------------------------- owners and escalation


def test_orc306_missing_owner_but_not_when_unresolved() -> None:
    r = check(spec(GOOD_STATES.replace("state DOING { owner @assignee", "state DOING {")))
    [d] = found(r, "ORC306")
    assert d.message == "state `DOING` has no owner"
    r = check(spec(GOOD_STATES.replace("state DOING { owner @assignee", "state DOING { owner @asignee")))
    assert [d.code for d in r.diagnostics if d.is_error] == ["ORC109"]


def test_orc317_terminal_with_sla() -> None:
    r = check(spec(GOOD_STATES.replace("state DONE { terminal success }", "state DONE { terminal success owner @lead sla 1h }")))
    [d] = found(r, "ORC317")
    assert not d.is_error
    assert d.message == "terminal state `DONE` declares `owner`, `sla`"


@pytest.mark.parametrize(("x", "y", "want"), [
    ("vp", "api-lead", True), ("api-lead", "vp", False), ("api-lead", "api-lead", False),
    ("vp", "@lead", True), ("api-lead", "@lead", False), ("cto", "@lead", True),
    ("@lead", "@assignee", True), ("@lead", "@peer", True), ("@lead", "@lead", False),
    ("@assignee", "@lead", False), ("@lead", "api-dev", True), ("@lead", "planner", False),
    ("api-lead", "@assignee", False), ("vp", "@assignee", True), ("@assignee", "@peer", False),
])
def test_above(x: str, y: str, want: bool) -> None:
    r = check(spec())
    assert r.model is not None
    assert above(Graphs(r.model), x, y) is want


def test_orc308_escalation_not_above() -> None:
    text = spec(GOOD_STATES.replace("escalate 3d to vp", "escalate 3d to api-lead"))
    r = check(text)
    [d] = found(r, "ORC308")
    assert d.message == "`api-lead` is not above `@lead`, the owner of `TODO`"
    assert "escalate 3d to api-lead" in at(text, d)
    assert "`web-lead`" in d.notes[0]


def test_orc308_role_owner() -> None:
    states = GOOD_STATES.replace("state TODO { initial owner @lead", "state TODO { initial owner planner")
    assert not found(check(spec(states)), "ORC308")
    r = check(spec(states.replace("escalate 3d to vp", "escalate 3d to @lead")))
    [d] = found(r, "ORC308")
    assert d.message == "`@lead` is not above `planner`, the owner of `TODO`"


def test_orc308_silent_when_the_hierarchy_is_broken() -> None:
    text = spec().replace('role api-lead { title "API Lead" reports_to vp }',
                          'role api-lead { title "API Lead" reports_to vpp }')
    r = check(text)
    assert not found(r, "ORC308")
    assert found(r, "ORC102")


# ---------------------------------------------------------------- thresholds


def test_orc307_escalation_below_warning() -> None:
    text = spec(GOOD_STATES.replace("sla 4h warn 8h escalate 1d", "sla 4h warn 8h escalate 6h"))
    r = check(text)
    [d] = found(r, "ORC307")
    assert d.message == "the escalation at `6h` is not above the warning at `8h` in `REVIEW`"
    assert [lb.message for lb in d.labels] == ["the warning"]


def test_orc307_equal_warning_and_escalation() -> None:
    r = check(spec(GOOD_STATES.replace("sla 4h warn 8h escalate 1d", "sla 4h warn 8h escalate 8h")))
    assert len(found(r, "ORC307")) == 1


def test_orc307_warning_before_target_per_tier() -> None:
    states = GOOD_STATES.replace("sla 1d warn 2d", "sla tier 1: 2h, tier 2: 1d warn 8h")
    r = check(spec(states))
    [d] = found(r, "ORC307")
    assert d.message == "the warning at `8h` comes before the SLA target at `1d` in `TODO` at tier 2"


def test_orc307_multiples_of_estimate() -> None:
    r = check(spec(GOOD_STATES.replace("warn 1.5x escalate 2x", "warn 1.5x escalate 1.2x")))
    [d] = found(r, "ORC307")
    assert "escalation" in d.message and "warning" in d.message
    # an absolute time cannot be compared with a share of the estimate
    assert not found(check(spec(GOOD_STATES.replace("warn 1.5x escalate 2x", "warn 8h escalate 2x"))), "ORC307")
    assert not found(check(spec(GOOD_STATES.replace("warn 1.5x escalate 2x",
                                                    "warn 150% of estimate escalate 2x"))), "ORC307")
    assert found(check(spec(GOOD_STATES.replace("warn 1.5x escalate 2x",
                                                "warn 250% of estimate escalate 2x"))), "ORC307")


def test_orc314_sla_tier_gap() -> None:
    r = check(spec(GOOD_STATES.replace("sla 1d warn 2d", "sla tier 1: 1d warn 2d")))
    [d] = found(r, "ORC314")
    assert d.message == "the SLA of `TODO` does not cover tier 2"
    limited = GOOD_STATES.replace("sla 4h warn 8h escalate 1d", "tiers 1 sla tier 1: 4h warn 8h escalate 1d")
    limited = limited.replace("-> DONE by @peer", "-> DONE when tier == 1 by @peer")
    assert not found(check(spec(limited)), "ORC314")


def test_orc315_threshold_after_automatic_transition() -> None:
    states = GOOD_STATES.replace("-> REVIEW by @assignee }", "-> REVIEW by @assignee -> BLOCKED by @assignee }") + \
        "  state BLOCKED { owner @assignee sla 2h warn 3h escalate 5h to @lead -> DOING by @assignee after 4h }\n"
    r = check(spec(states))
    [d] = found(r, "ORC315")
    assert not d.is_error
    assert d.message == "the escalation at `5h` in `BLOCKED` is never reached"
    # due together with the automatic transition, the escalation fires first
    assert not found(check(spec(states.replace("escalate 5h", "escalate 4h"))), "ORC315")
    guarded = states.replace("-> DOING by @assignee after 4h", "-> DOING when task.priority == low by @assignee after 4h")
    assert not found(check(spec(guarded)), "ORC315")
    tokens = states.replace("after 4h", "after 40K")
    assert not found(check(spec(tokens)), "ORC315")


def test_orc316_budget_kind_mismatch() -> None:
    text = spec(GOOD_STATES.replace("sla 4h warn 8h escalate 1d", "sla 4h warn 50K escalate 1d"))
    r = check(text)
    [d] = found(r, "ORC316")
    assert d.message == "the warning `50K` of `REVIEW` is a token budget, but its SLA target `4h` is a time budget"
    assert "warn 50K" in at(text, d)
    assert not found(r, "ORC307")


def test_orc319_multiple_without_target() -> None:
    r = check(spec(GOOD_STATES.replace("sla 1d warn 2d escalate 3d", "warn 2x escalate 3d")))
    [d] = found(r, "ORC319")
    assert d.message == "the warning `2x` is a multiple, but `TODO` has no SLA target"


# ---------------------------------------------------------------- gates on paths


def test_orc309_bypass_reported_at_the_bypassing_transition() -> None:
    text = spec(GOOD_STATES.replace("-> REVIEW by @assignee }", "-> REVIEW by @assignee -> DONE by @assignee }"))
    r = check(text)
    [d] = found(r, "ORC309")
    assert d.message == "at tiers 1, 2 a task can reach `DONE` without passing gate `review`"
    assert d.notes == ["for example: TODO -> DOING -> DONE"]
    line = at(text, d)
    assert d.span is not None and line[d.span.column - 1:].startswith("DONE by @assignee")


def test_orc309_only_where_the_gate_applies() -> None:
    states = GOOD_STATES.replace("-> REVIEW by @assignee }", "-> REVIEW by @assignee -> DONE when tier == 0 by @assignee }")
    assert not found(check(spec(states)), "ORC309")
    extra = REVIEW_GATE
    text = spec(GOOD_STATES.replace("-> REVIEW by @assignee }", "-> REVIEW by @assignee -> DONE when tier == 2 by @assignee }"),
                extra)
    [d] = found(check(text), "ORC309")
    assert d.message.startswith("at tier 2 ")
    ungated = text.replace('tier 2 "Large" { flow @lead:tactical_planning -> @assignee:execution -> gate review }',
                           'tier 2 "Large" { flow @lead:tactical_planning -> @assignee:execution }')
    assert not found(check(ungated), "ORC309")


def test_orc309_bypass_through_an_intermediate_state() -> None:
    states = GOOD_STATES.replace("-> REVIEW by @assignee }", "-> REVIEW by @assignee -> QUICK by @assignee }") + \
        "  state QUICK { owner @lead -> DONE by @lead }\n"
    [d] = found(check(spec(states)), "ORC309")
    assert d.notes == ["for example: TODO -> DOING -> QUICK -> DONE"]
    assert "QUICK" in d.help if d.help else False


# ---------------------------------------------------------------- tiers, gates, metrics


def test_orc701_lists_missing_tiers() -> None:
    text = spec().replace('tier 2 "Large"', 'tier 4 "Large"').replace("tiers 1-2", "tiers 1")
    r = check(text)
    [d] = found(r, "ORC701")
    assert d.message == "tier numbers are not contiguous from 0: tiers 2, 3 are missing"
    assert at(text, d).startswith("tier 4")


def test_orc702_gate_without_reviewer() -> None:
    r = check(spec(extra=REVIEW_GATE.replace("  reviewer @peer\n", "")))
    [d] = found(r, "ORC702")
    assert d.message == "gate `review` has no reviewer"
    r = check(spec(extra=REVIEW_GATE.replace("reviewer @peer", "reviewer nobody")))
    assert not found(r, "ORC702") and found(r, "ORC102")


def test_orc703_gate_guards_missing_transition() -> None:
    text = spec(extra=REVIEW_GATE.replace("guards REVIEW -> DONE", "guards REVIEW -> DONE, TODO -> REVIEW"))
    r = check(text)
    [d] = found(r, "ORC703")
    assert d.message == "gate `review` guards `TODO -> REVIEW`, which is not a transition"
    assert d.notes == ["`TODO` has transitions to `CANCELLED`, `DOING`"]


def test_orc704_outcome_target() -> None:
    r = check(spec(extra=REVIEW_GATE.replace("-> DOING\n", "-> TODO\n")))
    [d] = found(r, "ORC704")
    assert "`TODO`" in d.message
    assert not found(check(spec(extra=REVIEW_GATE.replace("-> DOING\n", "-> REVIEW\n"))), "ORC704")


def test_orc705_no_pass() -> None:
    r = check(spec(extra=REVIEW_GATE.replace("outcome approved: pass", "outcome approved: hold")))
    [d] = found(r, "ORC705")
    assert d.message == "gate `review` has no passing outcome"


RISK = """
gate risk {
  reviewer cto
  guards stage tactical_planning
  score a, b, c from 1 to 5
  BANDS
  outcome low: pass
  outcome high: hold
}
"""


@pytest.mark.parametrize(("bands", "messages"), [
    ("band 3-8 -> low band 9-15 -> high", []),
    ("band 3-8 -> low band 8-15 -> high", ["band `8-15` overlaps band `3-8`"]),
    ("band 3-7 -> low band 9-15 -> high", ["totals 8 fall in no band"]),
    ("band 4-8 -> low band 9-14 -> high", ["totals 3 fall in no band", "totals 15 fall in no band"]),
    ("band 3-8 -> low band 9-20 -> high", ["band `9-20` falls outside the totals 3 to 15"]),
])
def test_orc706_score_bands(bands: str, messages: list[str]) -> None:
    r = check(spec(extra=REVIEW_GATE + RISK.replace("BANDS", bands)))
    assert sorted(d.message for d in found(r, "ORC706")) == sorted(messages)


def test_orc707_threshold_where_gate_does_not_apply() -> None:
    gate = REVIEW_GATE.replace("outcome approved", "criteria coverage\n  threshold coverage tier 0: 50%, tier 1: 80%\n"
                                                   "  outcome approved")
    text = spec(extra=gate)
    r = check(text)
    [d] = found(r, "ORC707")
    assert not d.is_error
    assert d.message == "threshold `coverage` of gate `review` is set for tier 0, where the gate does not apply"


def test_orc708_planning_range() -> None:
    r = check(spec().replace('tier 2 "Large" {', 'tier 2 "Large" { planning 8-3 tasks'))
    [d] = found(r, "ORC708")
    assert d.message == "the planning range of tier 2 runs from 8 down to 3"


def test_orc709_reviewer_is_actor() -> None:
    r = check(spec(extra=REVIEW_GATE.replace("reviewer @peer", "reviewer @assignee")))
    [d] = found(r, "ORC709")
    assert d.message == "the assignee reviews its own work at gate `review`"
    states = GOOD_STATES.replace("-> DONE by @peer", "-> DONE by planner")
    r = check(spec(states, REVIEW_GATE.replace("reviewer @peer", "reviewer planner")))
    [d] = found(r, "ORC709")
    assert d.message == "`planner` reviews its own moves at gate `review`"
    shared = GOOD_STATES.replace("-> DONE by @peer", "-> DONE by planner, @peer")
    assert not found(check(spec(shared, REVIEW_GATE.replace("reviewer @peer", "reviewer planner"))), "ORC709")


@pytest.mark.parametrize(("metric", "bad"), [
    ("defect_rate < 5%", False), ("within_estimate > 80%", False),
    ("within_estimate > 100%", True), ("defect_rate < 0%", True), ("defect_rate <= 100%", True),
    ("sla_met(REVIEW) >= 0%", True), ("within_estimate > 90", True),
])
def test_orc710_metric_targets(metric: str, bad: bool) -> None:
    r = check(spec(extra=REVIEW_GATE + f"metric m: {metric}\n"))
    assert bool(found(r, "ORC710")) is bad


def test_orc710_percent_forgotten() -> None:
    r = check(spec(extra=REVIEW_GATE + "metric m: within_estimate > 90\n"))
    [d] = found(r, "ORC710")
    assert d.help == "write the target as a percent: `> 90%`"


def test_orc301_initial_state_missing_at_a_tier() -> None:
    states = GOOD_STATES.replace("state TODO { initial", "state TODO { tiers 2 initial")
    r = check(spec(states))
    [d] = found(r, "ORC301")
    assert d.message == "the lifecycle has no initial state at tier 1"
    assert not found(r, "ORC304") and not found(r, "ORC305")


# ---------------------------------------------------------------- state classes and progress statuses


def test_state_classes_lower_into_the_model_and_the_compiled_model() -> None:
    text = spec(GOOD_STATES + "  work DOING\n  blocked REVIEW, DOING\n  done DONE, CANCELLED\n")
    r = check(text)
    assert r.diagnostics == [], [f"{d.code} {d.message}" for d in r.diagnostics]
    assert r.model is not None
    assert r.model.lifecycle.classes == {"work": ["DOING"], "blocked": ["REVIEW", "DOING"],
                                         "done": ["DONE", "CANCELLED"]}
    from orchdsl.emit import to_contract
    classes = to_contract(r.model).lifecycle.state_classes()
    # ready is derived: TODO (owned by @lead) leads to DOING, which is work
    assert classes == {"work": {"DOING"}, "blocked": {"REVIEW", "DOING"}, "escalated": frozenset(),
                       "ready": frozenset(), "done": {"DONE", "CANCELLED"}}


def test_a_state_class_names_declared_states_with_did_you_mean() -> None:
    text = spec(GOOD_STATES + "  blocked REVEIW\n")
    [d] = found(check(text), "ORC103")
    assert d.message == "unknown state `REVEIW`" and d.help == "did you mean `REVIEW`?"
    assert at(text, d) == "  blocked REVEIW"


def test_a_state_class_is_given_once() -> None:
    text = spec(GOOD_STATES + "  work DOING\n  work REVIEW\n")
    [d] = found(check(text), "ORC007")
    assert d.message == "`work` is given more than once here" and at(text, d) == "  work REVIEW"


@pytest.mark.parametrize(("clause", "message"), [
    ("done DOING", "`DOING` is not terminal, so a task there is not done"),
    ("work DONE", "`DONE` is terminal; no open task is in it, so it cannot count as `work`"),
    ("blocked CANCELLED", "`CANCELLED` is terminal; no open task is in it, so it cannot count as `blocked`"),
])
def test_orc322_a_state_that_cannot_mean_its_class(clause: str, message: str) -> None:
    text = spec(GOOD_STATES + f"  {clause}\n")
    [d] = found(check(text), "ORC323")
    assert d.message == message and at(text, d) == f"  {clause}"
    assert d.span is not None and text.splitlines()[d.span.line - 1][d.span.column - 1:].startswith(clause.split()[1])


def test_orc322_ready_and_work_at_once() -> None:
    text = spec(GOOD_STATES + "  work DOING\n  ready DOING\n")
    [d] = found(check(text), "ORC323")
    assert d.message == "`DOING` is both `ready` (waiting to be started) and `work` (being worked on)"
    assert at(text, d) == "  ready DOING" and [lb.message for lb in d.labels] == ["counted as `work` here"]


STANDUP = "standup weekly {{ from @lead to cto every 1w sections {sections} statuses {statuses} }}\n"


def statuses_spec(statuses: str, sections: str = "instruction_progress", states: str = GOOD_STATES) -> str:
    return spec(states) + STANDUP.format(sections=sections, statuses=statuses)


def test_statuses_lower_into_the_standup() -> None:
    r = check(statuses_spec("on_track: green, blocked: red", "critical_path_status"))
    assert [d.code for d in r.diagnostics if d.is_error] == []
    assert r.model is not None and r.model.standups[0].statuses == {"on_track": "green", "blocked": "red"}


@pytest.mark.parametrize(("statuses", "message", "help_"), [
    ("on_trak: green", "unknown progress status `on_trak`", "did you mean `on_track`?"),
    ("blocked: red, blocked: black", "progress status `blocked` is named twice", "name each progress status once"),
    ("at_risk: red, blocked: red", "`red` names two progress statuses", "give each progress status its own word"),
])
def test_orc411_bad_progress_statuses(statuses: str, message: str, help_: str) -> None:
    [d] = found(check(statuses_spec(statuses)), "ORC411")
    assert (d.message, d.help) == (message, help_)


def test_orc412_a_status_no_section_reports() -> None:
    [d] = found(check(statuses_spec("on_track: green", "capacity_overview")), "ORC412")
    assert d.message == ("standup `weekly` can never report `green` (on_track): "
                         "none of its sections reports a progress status")
    # only instruction_progress reports at risk
    [d] = found(check(statuses_spec("at_risk: amber", "critical_path_status")), "ORC412")
    assert d.message == "standup `weekly` can never report `amber` (at_risk): its sections never report it"


def test_orc412_blocked_needs_blocked_states_unless_the_critical_path_reports_it() -> None:
    # the baseline lifecycle has no automatic transition, so no blocked state
    [d] = found(check(statuses_spec("blocked: red")), "ORC412")
    assert d.message.endswith("no state of the lifecycle is `blocked`")
    assert found(check(statuses_spec("blocked: red", "instruction_progress, critical_path_status")), "ORC412") == []
    declared = GOOD_STATES + "  blocked REVIEW\n"
    assert found(check(statuses_spec("blocked: red", states=declared)), "ORC412") == []
