"""Lowering: names resolved into the model, and what it reports on the way."""

from __future__ import annotations

from orchdsl.diagnostics import Diagnostic
from orchdsl.emit import compiled_json
from orchdsl.pipeline import Result, check_text

PEOPLE = """\
org example
skills {
  levels { beginner = 1, intermediate = 2, advanced = 3 }
  category languages { python, typescript }
}
experience { junior = 1, mid = 2, senior = 3 }
role cto { title "CTO" }
role api-lead { title "API Lead" reports_to cto }
role api-dev { title "API Developer" reports_to api-lead }
role web-lead { title "Web Lead" reports_to cto }
role web-dev { title "Web Developer" reports_to web-lead }
domain api {
  lead api-lead
  member api-dev x3 { experience mid skills { python: advanced } }
}
domain web {
  lead web-lead
  member web-dev { experience senior skills { typescript: advanced } }
}
"""

FLOW = """\
lifecycle task {
  tiers 1-2
  state TODO { initial owner @lead -> DONE by @assignee }
  state DONE { terminal success }
}
tier 0 "Trivial" { flow cto:answer }
tier 1 "Small" { flow @assignee:execution }
tier 2 "Large" { flow @lead:tactical_planning -> @assignee:execution }
"""


def check(*parts: str) -> Result:
    return check_text("".join(parts), "t.orch")


def find(result: Result, code: str) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.code == code]


def line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in text")


# ---------------------------------------------------------------- relations and clauses


def test_relation_out_of_context() -> None:
    text = PEOPLE + FLOW.replace("state TODO { initial owner @lead", "state TODO { initial owner @downstream_lead")
    r = check(text)
    [d] = find(r, "ORC110")
    assert "`@downstream_lead`" in d.message and "owner" in d.message
    assert d.span is not None and d.span.line == line_of(text, "@downstream_lead")
    assert d.help is not None and "@assignee" in d.help


def test_unknown_relation() -> None:
    r = check(PEOPLE, FLOW.replace("owner @lead", "owner @leed"))
    [d] = find(r, "ORC109")
    assert d.help == "did you mean `@lead`?"


def test_duplicate_clause_points_at_the_first() -> None:
    text = PEOPLE.replace('role cto { title "CTO" }', 'role cto { title "CTO" title "Chief" }') + FLOW
    r = check(text)
    [d] = find(r, "ORC007")
    assert d.message == "`title` is given more than once here"
    assert [lb.message for lb in d.labels] == ["first given here"]
    assert d.span is not None and d.labels[0].span.column < d.span.column


def test_duplicate_state_is_reported_once_and_the_first_kept() -> None:
    text = PEOPLE + FLOW.replace("state DONE { terminal success }",
                                 "state DONE { terminal success }\n  state DONE { terminal failure }")
    r = check(text)
    assert [d.code for d in r.diagnostics if d.is_error] == ["ORC101"]
    assert r.model is not None
    assert r.model.lifecycle.state("DONE") is not None
    assert r.model.lifecycle.state("DONE").terminal == "success"  # type: ignore[union-attr]


# ---------------------------------------------------------------- values


def test_value_error_lands_on_the_clause() -> None:
    text = PEOPLE + FLOW + "capacity {\n  hours_per_day 30\n  at 0% healthy\n}\n"
    r = check(text)
    [d] = find(r, "ORC901")
    assert d.message.startswith("`hours_per_day`:")
    assert "24" in d.message and "30" in d.message
    assert d.span is not None and d.span.line == line_of(text, "hours_per_day 30")


def test_member_count_error_lands_on_the_count() -> None:
    text = PEOPLE.replace("member web-dev {", "member web-dev x20000 {") + FLOW
    r = check(text)
    [d] = find(r, "ORC901")
    assert d.message.startswith("`count`:") and "10000" in d.message
    assert d.span is not None and d.span.line == line_of(text, "web-dev x20000")
    assert "20000" in text.splitlines()[d.span.line - 1][d.span.column - 1:d.span.end_column - 1]


def test_backwards_tier_range() -> None:
    r = check(PEOPLE, FLOW.replace("tiers 1-2", "tiers 2-1"))
    [d] = find(r, "ORC901")
    assert "runs backwards" in d.message and d.help == "write `1-2`"


def test_missing_org_has_a_place() -> None:
    r = check(PEOPLE.replace("org example\n", "") + FLOW)
    [d] = find(r, "ORC005")
    assert d.span is not None and (d.span.line, d.span.column) == (1, 1)
    assert r.model is None


def test_parse_error_stops_everything() -> None:
    r = check(PEOPLE, FLOW, "role x { reports_to }\nrole y { reports_to nobody }\n")
    assert r.model is None
    assert [d.code for d in r.diagnostics] == ["ORC001"]


# ---------------------------------------------------------------- derived facts


def test_agents_from_counts_have_stable_ids() -> None:
    r = check(PEOPLE, FLOW)
    assert r.model is not None
    agents = [(a.id, a.role, a.domain) for a in r.model.agents]
    assert agents == [
        ("api-dev-1", "api-dev", "api"), ("api-dev-2", "api-dev", "api"), ("api-dev-3", "api-dev", "api"),
        ("web-dev", "web-dev", "web"),
        ("cto", "cto", None), ("api-lead", "api-lead", "api"), ("web-lead", "web-lead", "web"),
    ]
    again = check(PEOPLE, FLOW)
    assert again.model is not None and compiled_json(again.model) == compiled_json(r.model)


def test_channels_expand_per_domain() -> None:
    text = PEOPLE + FLOW + 'broadcast {\n  channel "{domain}-team" { members @lead, @member }\n' \
        "  channel leads { members cto, @lead }\n}\n"
    r = check(text)
    assert r.model is not None
    chans = {c.name: (c.members, c.domain, c.template) for c in r.model.broadcast.channels}
    assert chans == {
        "api-team": (["api-lead", "api-dev"], "api", "{domain}-team"),
        "web-team": (["web-lead", "web-dev"], "web", "{domain}-team"),
        "leads": (["cto", "api-lead", "web-lead"], None, None),
    }


def test_transition_tiers_from_partial_evaluation() -> None:
    flow = FLOW.replace(
        "state TODO { initial owner @lead -> DONE by @assignee }",
        "state TODO { initial owner @lead -> DONE when tier >= 2 and task.cross_domain by @lead "
        "-> PLAN when tier == 1 by @lead -> DONE when task.priority == critical by @lead }\n"
        "  state PLAN { tiers 2 owner @lead -> DONE by @lead }",
    )
    r = check(PEOPLE, flow)
    assert r.model is not None
    todo = r.model.lifecycle.state("TODO")
    assert todo is not None
    by_target = [(t.target, t.tiers) for t in todo.transitions]
    # the guard decides tier 1 vs 2; PLAN applies at tier 2 only, so `tier == 1` leaves it nowhere
    assert by_target == [("DONE", [2]), ("PLAN", []), ("DONE", [1, 2])]


def test_gate_tiers_and_guarded_transitions() -> None:
    text = PEOPLE + FLOW.replace('tier 2 "Large" { flow @lead:tactical_planning -> @assignee:execution }',
                                 'tier 2 "Large" { flow @assignee:execution -> gate review }') + \
        "gate review { reviewer @peer guards TODO -> DONE outcome ok: pass }\n"
    r = check(text)
    assert r.model is not None
    gate = r.model.gate("review")
    assert gate is not None and gate.tiers == [2] and gate.transitions == [("TODO", "DONE")]
    todo = r.model.lifecycle.state("TODO")
    assert todo is not None and todo.transitions[0].gates == {"review": [2]}


# ---------------------------------------------------------------- guards


def test_guard_type_error() -> None:
    r = check(PEOPLE, FLOW.replace("-> DONE by @assignee", "-> DONE when tier == strategic by @assignee"))
    [d] = find(r, "ORC310")
    assert d.message == "cannot compare int with the word `strategic`"
    assert d.help == "`strategic` is a value of `task.kind`"


def test_guard_compares_time_with_tokens() -> None:
    r = check(PEOPLE, FLOW.replace("-> DONE by @assignee", "-> DONE when time_in_state > 50K by @assignee"))
    [d] = find(r, "ORC310")
    assert d.message == "cannot compare duration with tokens"
    assert d.help is not None and "tokens_in_state" in d.help


def test_guard_unknown_variable_with_did_you_mean() -> None:
    r = check(PEOPLE, FLOW.replace("-> DONE by @assignee", "-> DONE when assignee.has_capcity by @assignee"))
    [d] = find(r, "ORC311")
    assert d.message == "unknown variable `assignee.has_capcity` in guard"
    assert d.help == "did you mean `assignee.has_capacity`?"


def test_guard_enum_member_did_you_mean() -> None:
    r = check(PEOPLE, FLOW.replace("-> DONE by @assignee", "-> DONE when task.kind == stratgic by @assignee"))
    [d] = find(r, "ORC310")
    assert d.help == "did you mean `strategic`?"


def test_compiled_guard_tree() -> None:
    r = check(PEOPLE, FLOW.replace("-> DONE by @assignee",
                                   "-> DONE when tier >= 1 and not task.cross_domain by @assignee"))
    assert r.ok and r.model is not None
    t = r.model.lifecycle.states[0].transitions[0]
    assert t.guard == {"op": "and", "args": [
        {"op": ">=", "left": {"var": "tier"}, "right": {"const": 1}},
        {"op": "not", "arg": {"var": "task.cross_domain"}},
    ]}


# ---------------------------------------------------------------- what lowering could not resolve


def test_broken_entities_are_recorded() -> None:
    text = PEOPLE.replace('role web-lead { title "Web Lead" reports_to cto }',
                          'role web-lead { title "Web Lead" reports_to ctoo }') + FLOW.replace(
        "state TODO { initial owner @lead -> DONE by @assignee }",
        "state TODO { initial owner @lead -> DONE by @assignee -> DOEN by @assignee }",
    ) + "gate review { reviewer @peer guards TODO -> DNOE outcome ok: pass }\n"
    r = check(text)
    assert r.model is not None
    assert {("role", "web-lead"), ("state", "TODO"), ("transition", "TODO->DOEN"),
            ("gate", "review")} <= r.model.broken
    assert ("role", "api-lead") not in r.model.broken
    assert "broken" not in compiled_json(r.model)


def test_checks_run_after_lowering_errors() -> None:
    text = PEOPLE.replace("role cto { title \"CTO\" }", "role cto { title \"CTO\" reports_to cfo }") + \
        FLOW.replace("state TODO { initial owner @lead", "state TODO { initial")
    r = check(text)
    codes = [d.code for d in r.diagnostics if d.is_error]
    assert "ORC102" in codes and "ORC306" in codes


def test_priority_guards_take_the_declared_priorities() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "specs" / "orchestration_v2.orch").read_text()
    text = text.replace("  priorities critical, high, normal, low\n", "  priorities urgent, later\n")
    assert "task.priority" not in text
    guarded = text.replace("-> IN_PLANNING when tier >= 3 and task.kind == strategic by planner",
                           "-> IN_PLANNING when tier >= 3 and task.priority == urgent by planner", 1)
    assert guarded != text
    ok = check_text(guarded, "v2.orch")
    assert ok.ok, [d.message for d in ok.diagnostics if d.is_error]
    assert ok.model is not None and ok.model.guard_variables["task.priority"]["values"] == ["urgent", "later"]
    bad = check_text(guarded.replace("task.priority == urgent", "task.priority == normal"), "v2.orch")
    assert [d.code for d in bad.diagnostics if d.is_error] == ["ORC310"]
