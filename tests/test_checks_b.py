"""Checks of the hierarchy (ORC204-207), protocols (ORC4xx), assignment,
capacity and skills (ORC5xx, ORC6xx) and what is declared but unused (ORC8xx).

Each test checks a small organisation held in a string: ``BASE`` below, with
a few lines added or replaced, and looks at the codes (and lines) reported.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchdsl.diagnostics import Diagnostic
from orchdsl.pipeline import check_files, check_text

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
org example
skills {
  levels { beginner = 1, intermediate = 2, advanced = 3, expert = 4 }
  category languages { python, typescript }
}
experience { junior = 1, mid = 2, senior = 3 }
role cto { title "CTO" }
role api-lead { reports_to cto }
role api-dev { reports_to api-lead }
role web-lead { reports_to cto }
role web-dev { reports_to web-lead }
domain api {
  lead api-lead
  member api-dev x2 { experience mid skills { python: advanced } }
}
domain web {
  lead web-lead
  member web-dev x2 { experience senior skills { typescript: advanced } learning python }
}
lifecycle {
  state TODO { initial owner @lead -> DOING by @lead }
  state DOING { owner @assignee -> REVIEW by @assignee }
  state REVIEW { owner @peer -> DONE by @peer -> DOING by @peer }
  state DONE { terminal success }
}
assignment { weight skill_match 0.6 weight workload 0.4 fit simple: junior, high: senior }
"""


def check(extra: str = "", base: str = BASE, replace: tuple[str, str] | None = None) -> list[Diagnostic]:
    text = base
    if replace is not None:
        assert replace[0] in text, replace[0]
        text = text.replace(*replace)
    return check_text(text + extra, "t.orch").diagnostics


def codes(diags: list[Diagnostic]) -> list[str]:
    return [d.code for d in diags]


def only(diags: list[Diagnostic], code: str) -> list[Diagnostic]:
    return [d for d in diags if d.code == code]


def line_of(extra: str, needle: str) -> int:
    """The line of ``BASE + extra`` on which ``needle`` first occurs."""
    for i, line in enumerate((BASE + extra).splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_base_is_clean() -> None:
    assert check() == []


# ---------------------------------------------------------------- hierarchy


OPS = """
role ops-lead { reports_to cto }
role ops-dev { reports_to ops-lead }
domain ops { lead ops-lead member ops-dev x2 { experience mid skills { python: advanced } } }
"""


def test_ops_domain_is_clean() -> None:
    assert check(OPS) == []


def test_lead_reporting_to_an_ic() -> None:
    extra = OPS.replace("role ops-lead { reports_to cto }", "role ops-lead { reports_to api-dev }")
    diags = check(extra)
    assert codes(diags) == ["ORC204"]
    d = diags[0]
    assert d.span is not None and d.span.line == line_of(extra, "role ops-lead")
    assert "`api-dev`" in d.message and "domain `api`" in d.message


def test_lead_reporting_through_an_ic() -> None:
    extra = ("role ops-boss { reports_to api-dev }\n" + OPS).replace(
        "role ops-lead { reports_to cto }", "role ops-lead { reports_to ops-boss }")
    diags = check(extra)
    assert codes(diags) == ["ORC204"]
    assert "reports through `api-dev`" in diags[0].message


def test_ancestor_sets_with_a_cycle() -> None:
    from orchdsl.checks.graphs import Graphs
    from orchdsl.checks.hierarchy import ancestor_sets

    text = ("org t\nrole top { }\nrole a { reports_to b }\nrole b { reports_to a }\n"
            "role c { reports_to a }\nrole d { reports_to top }\nrole e { reports_to d }\n")
    org = check_text(text, "t.orch").model
    assert org is not None
    above = ancestor_sets(Graphs(org))
    assert above["top"] == frozenset()
    assert above["e"] == {"d", "top"}
    assert above["a"] == {"b"} and above["b"] == {"a"}
    assert above["c"] == {"a", "b"}


def test_lead_under_a_second_root() -> None:
    extra = OPS.replace("role ops-lead { reports_to cto }",
                        "role ops-head { }\nrole ops-lead { reports_to ops-head }")
    diags = check(extra)
    assert sorted(codes(diags)) == ["ORC203", "ORC204"]
    assert "ops-head" in only(diags, "ORC203")[0].message
    assert "does not reach `cto`" in only(diags, "ORC204")[0].message


def test_lead_without_reports_to_is_one_error() -> None:
    extra = OPS.replace("role ops-lead { reports_to cto }", "role ops-lead { }")
    diags = check(extra)
    assert codes(diags) == ["ORC203"]
    assert any("leads domain `ops`" in n for n in diags[0].notes)


def test_lead_on_a_cycle_is_one_error() -> None:
    extra = OPS.replace("role ops-lead { reports_to cto }",
                        "role ops-lead { reports_to ops-boss }\nrole ops-boss { reports_to ops-lead }")
    assert codes(check(extra)) == ["ORC201"]


def test_lead_with_unknown_reports_to_is_one_error() -> None:
    extra = OPS.replace("role ops-lead { reports_to cto }", "role ops-lead { reports_to cot }")
    assert codes(check(extra)) == ["ORC102"]


def test_member_not_under_its_lead() -> None:
    extra = OPS.replace("role ops-dev { reports_to ops-lead }", "role ops-dev { reports_to cto }")
    diags = check(extra)
    assert codes(diags) == ["ORC205"]
    assert diags[0].span is not None and diags[0].span.line == line_of(extra, "domain ops")
    assert diags[0].help == "set `reports_to ops-lead` on role `ops-dev`"


def test_member_reporting_to_nobody_is_one_error() -> None:
    extra = OPS.replace("role ops-dev { reports_to ops-lead }", "role ops-dev { }")
    assert codes(check(extra)) == ["ORC205"]


def test_member_with_unknown_reports_to_is_one_error() -> None:
    extra = OPS.replace("role ops-dev { reports_to ops-lead }", "role ops-dev { reports_to ops-laed }")
    assert codes(check(extra)) == ["ORC102"]


@pytest.mark.parametrize("first", [True, False])
def test_member_of_two_domains_reported_where_it_does_not_report(first: bool) -> None:
    ops = "role ops-lead { reports_to cto }\ndomain ops { lead ops-lead member api-dev x2 }\n"
    text = (BASE.replace("org example\n", "org example\n" + ops) if first else BASE + ops)
    diags = check_text(text, "t.orch").diagnostics
    assert codes(diags) == ["ORC206"]
    assert diags[0].span is not None
    assert "domain ops" in text.splitlines()[diags[0].span.line - 1]


def test_lead_listed_as_member_of_its_own_domain_works_in_it() -> None:
    extra = OPS.replace("member ops-dev", "member ops-lead { experience senior skills { python: expert } } member ops-dev")
    assert check(extra) == []
    diags = check(OPS.replace("member ops-dev", "member ops-lead x2 member ops-dev"))
    assert codes(diags) == ["ORC207"]
    assert diags[0].message == "`ops-lead` leads `ops` and works in it as one agent, not 2"


def test_lead_listed_as_member_of_another_domain() -> None:
    extra = OPS.replace("member ops-dev", "member api-lead member ops-dev")
    diags = check(extra)
    assert codes(diags) == ["ORC207"]
    assert "domain `ops`" in diags[0].message


# ---------------------------------------------------------------- delegation


@pytest.mark.parametrize("chain", [
    "cto -> @lead -> @member",
    "cto -> api-lead -> api-dev",
    "cto -> web-lead",
])
def test_delegation_down_the_hierarchy(chain: str) -> None:
    assert check(f"delegation {{ chain {chain} }}\n") == []


@pytest.mark.parametrize("chain, culprit", [
    ("cto -> api-dev", "`api-dev` does not report to `cto` but to `api-lead`"),
    ("api-lead -> @member", "`web-dev` does not report to `api-lead`"),
    ("@lead -> api-dev", "`api-dev` does not report to `web-lead`"),
    ("cto -> @lead -> @member -> @member", "to itself"),
    ("api-dev -> api-lead", "`api-lead` does not report to `api-dev`"),
    ("cto -> cto", "delegates to itself"),
])
def test_delegation_off_the_hierarchy(chain: str, culprit: str) -> None:
    diags = check(f"delegation {{ chain {chain} }}\n")
    assert codes(diags) == ["ORC401"]
    assert culprit in diags[0].message


def test_delegation_one_error_per_hop() -> None:
    diags = check("delegation { chain cto -> api-dev -> web-dev }\n")
    assert codes(diags) == ["ORC401", "ORC401"]


def test_delegation_to_leads_when_one_does_not_report() -> None:
    extra = OPS.replace("role ops-lead { reports_to cto }", "role ops-lead { reports_to api-lead }")
    diags = check(extra + "delegation { chain cto -> @lead -> @member }\n")
    assert codes(diags) == ["ORC401"]
    assert "`ops-lead` does not report to `cto`" in diags[0].message


# ---------------------------------------------------------------- standups


UP = """
standup ic { from @member to @lead every 1d }
standup leads { from @lead to cto every 1d }
"""


def test_standups_up_to_the_top() -> None:
    assert check(UP) == []


@pytest.mark.parametrize("line, culprit", [
    ("standup s { from api-lead to api-dev every 1d }", "`api-dev`, which is not above it"),
    ("standup s { from api-lead to web-lead every 1d }", "`web-lead`, which is not above it"),
    ("standup s { from api-lead to api-lead every 1d }", "to itself"),
    ("standup s { from @lead to api-lead every 1d }", "`api-lead` to itself"),
    ("standup s { from @lead to @member every 1d }", "is not above"),
    ("standup s { from @member to api-lead every 1d }", "`api-lead` is not above `web-dev`"),
])
def test_standup_not_climbing(line: str, culprit: str) -> None:
    diags = check(UP + line + "\n")
    assert codes(diags) == ["ORC402"]
    assert culprit in diags[0].message
    assert diags[0].span is not None and diags[0].span.line == line_of(UP + line, line)


def test_standups_stop_at_the_leads() -> None:
    diags = check("standup ic { from @member to @lead every 1d }\n")
    assert codes(diags) == ["ORC403"]
    assert "stop at `api-lead` and `web-lead`" in diags[0].message
    assert diags[0].help == "add a standup from `@lead` to `cto`"


def test_standups_from_a_lead_that_does_not_send_on() -> None:
    extra = ("standup ic { from @member to @lead every 1d }\n"
             "standup api { from api-lead to cto every 1d }\n")
    diags = check(extra)
    assert codes(diags) == ["ORC403"]
    assert "stop at `web-lead`" in diags[0].message


def test_standups_an_ic_that_sends_none() -> None:
    extra = ("standup a { from api-dev to api-lead every 1d }\n"
             "standup l { from @lead to cto every 1d }\n")
    diags = check(extra)
    assert codes(diags) == ["ORC403"]
    assert "`web-dev` sends no standup" in diags[0].message


def test_standups_without_ics_start_at_the_lowest_sender() -> None:
    assert check("standup l { from @lead to cto every 1d }\n") == []
    diags = check("standup l { from api-lead to web-lead every 1d }\n")
    assert codes(diags) == ["ORC402"]  # not ORC403 as well


def test_a_detached_lead_is_reported_once() -> None:
    """A lead without `reports_to` is ORC203; the delegation and standups
    that no longer reach it say nothing more."""
    extra = "delegation { chain cto -> @lead -> @member }\n" + UP
    diags = check(extra, replace=("role web-lead { reports_to cto }", "role web-lead { }"))
    assert codes(diags) == ["ORC203"]


def test_ics_of_a_domain_without_lead_are_not_also_silent() -> None:
    diags = check(UP, replace=("  lead web-lead\n", ""))
    assert codes(diags) == ["ORC008"]


# ---------------------------------------------------------------- handoffs


HANDOFF_OK = """
handoff api -> web {
  checklist { "documented" }
  accepted_by @downstream_lead
  on accept REVIEW -> DONE
  on reject REVIEW -> DOING
}
handoff * -> * { checklist { "documented" } accepted_by @downstream_lead }
handoff web -> api { checklist { "documented" } accepted_by api-lead }
"""


def test_handoffs_clean() -> None:
    assert check(HANDOFF_OK) == []


@pytest.mark.parametrize("line, code", [
    ('handoff api -> api { checklist { "x" } }', "ORC404"),
    ("handoff api -> web { accepted_by @downstream_lead }", "ORC405"),
    ('handoff api -> web { checklist { } }', "ORC405"),
    ('handoff api -> web { checklist { "x" } accepted_by api-lead }', "ORC406"),
    ('handoff * -> * { checklist { "x" } accepted_by web-lead }', "ORC406"),
    ('handoff api -> * { checklist { "x" } accepted_by web-lead }', "ORC406"),
    ('handoff api -> web { checklist { "x" } on accept TODO -> DONE on reject TODO -> DOING }', "ORC407"),
    ('handoff api -> web { checklist { "x" } on accept REVIEW -> DONE }', "ORC413"),
    ('handoff api -> web { checklist { "x" } on reject DONE -> TODO }', "ORC407"),
])
def test_handoff_errors(line: str, code: str) -> None:
    diags = check(line + "\n")
    assert codes(diags) == [code]
    assert diags[0].span is not None and diags[0].span.line == line_of(line, line)


def test_a_task_no_one_can_assign() -> None:
    """Before assignment a task has no assignee: a move into a state `@assignee` owns, made by
    `@assignee` alone, is one nobody can make (the runtime refuses `assign` to everyone)."""
    diags = check(replace=("-> DOING by @lead }", "-> DOING by @assignee }"))
    assert codes(diags) == ["ORC327"]
    assert diags[0].span is not None and diags[0].span.line == line_of("", "state TODO")
    # once assigned, `@assignee` exists: DOING -> REVIEW by @assignee is fine, and so is
    # a state reached before assignment whose move into DOING someone else makes
    assert check(replace=("-> DOING by @lead }", "-> WAIT by @lead }\n  state WAIT { owner @lead -> DOING by @lead, @assignee }")) == []


SOLO = OPS.replace("member ops-dev x2", "member ops-dev")
PEER_GATE = """
tier 0 "Question" {{ flow cto:answer }}
tier 1 "Task" {{ flow @lead:tactical_planning -> @assignee:execution -> gate review }}
gate review {{ reviewer @peer {applies}guards REVIEW -> DONE outcome approved: pass }}
"""
LEAD_REVIEW = ("state REVIEW { owner @peer -> DONE by @peer -> DOING by @peer }", "state REVIEW { owner @lead -> DONE by @lead }")


def test_a_state_only_a_missing_peer_can_leave() -> None:
    """In a domain of one member, an assigned task's `@peer` is nobody: a state left only by
    `@peer` holds its tasks for good (a warning, at the state, the domain as a label)."""
    diags = check(SOLO)
    assert codes(diags) == ["ORC328"] and not diags[0].is_error
    d = diags[0]
    assert d.message == ("tasks of `ops` can never leave `REVIEW`: every way out needs `@peer`, "
                         "and `ops` has one member")
    assert d.span is not None and d.span.line == line_of(SOLO, "state REVIEW")
    assert [(lb.span.line, lb.message) for lb in d.labels] == [
        (line_of(SOLO, "domain ops"), "`ops` has no second member to be the peer")]


def test_a_peer_is_there_with_two_members_another_actor_or_the_clock() -> None:
    assert check(OPS) == []
    # a working lead is the second member
    assert check(SOLO.replace("member ops-dev", "member ops-lead { experience senior skills { python: expert } } "
                                                 "member ops-dev")) == []
    # one way out someone else may take is enough
    assert check(SOLO, replace=("-> DONE by @peer", "-> DONE by @peer, @lead")) == []
    # an automatic transition needs nobody
    assert check(SOLO, replace=("-> DOING by @peer }", "-> DOING by @peer after 1d }")) == []


def test_a_gate_only_a_missing_peer_decides() -> None:
    base = BASE.replace(*LEAD_REVIEW)
    diags = check(SOLO + PEER_GATE.format(applies=""), base=base)
    assert codes(diags) == ["ORC328"]
    assert diags[0].notes == ["`@peer` is a member of the task's domain other than its assignee; "
                              "`review` is decided by `@peer`"]
    # a gate that applies to another domain's tasks only is no obstacle to ops's
    assert check(SOLO + PEER_GATE.format(applies="applies to domain api "), base=base) == []
    assert codes(check(SOLO + PEER_GATE.format(applies="applies to domain ops "), base=base)) == ["ORC328"]


def test_a_gate_at_some_tiers_holds_tasks_at_those_only() -> None:
    base = BASE.replace(*LEAD_REVIEW)
    extra = SOLO + PEER_GATE.format(applies="") + 'tier 2 "Big" { flow @assignee:execution }\n'
    [d] = check(extra, base=base)
    assert d.code == "ORC328" and d.message.startswith("tasks of `ops` at tier 1 can never leave `REVIEW`")


def test_v2_security_has_no_peer() -> None:
    """The facts give V2's security domain one specialist, and peer review needs a second."""
    path = ROOT / "specs" / "orchestration_v2.orch"
    [d] = check_files([path]).diagnostics
    assert d.code == "ORC328" and d.message.startswith("tasks of `security` can never leave `UNDER_REVIEW`")
    text = path.read_text(encoding="utf-8").splitlines()
    assert d.span is not None and text[d.span.line - 1].strip() == "state UNDER_REVIEW {"
    [label] = d.labels
    assert text[label.span.line - 1] == "domain security {"


def test_duplicate_handoff() -> None:
    extra = HANDOFF_OK + 'handoff api -> web { checklist { "again" } }\n'
    diags = check(extra)
    assert codes(diags) == ["ORC409"]
    assert diags[0].labels and diags[0].labels[0].span.line == line_of(extra, "handoff api -> web")


def test_handoff_with_unknown_state_is_one_error() -> None:
    assert codes(check('handoff api -> web { checklist { "x" } on accept REVIEW -> DONNE }\n')) == ["ORC103"]


def test_handoff_on_a_transition_lowering_dropped_is_one_error() -> None:
    extra = 'handoff api -> web { checklist { "x" } on accept REVIEW -> DONE on reject REVIEW -> DOING }\n'
    diags = check(extra, replace=("-> DONE by @peer", "-> DNOE by @peer"))
    assert codes(diags) == ["ORC103"]


# ---------------------------------------------------------------- channels, consultations


def test_channel_without_members_clause() -> None:
    assert codes(check('broadcast { channel ops { description "x" } }\n')) == ["ORC408"]


def test_channel_whose_relations_stand_for_nobody() -> None:
    text = ("org solo\nrole boss { }\nrole aide { reports_to boss }\n"
            "lifecycle { state A { initial owner boss -> B by boss } state B { terminal success } }\n"
            "broadcast { channel leads { members @lead } channel all { members * } }\n")
    diags = check_text(text, "t.orch").diagnostics
    assert "ORC408" in codes(diags)
    assert len(only(diags, "ORC408")) == 1


def test_channels_clean() -> None:
    extra = 'broadcast { channel all { members * } channel "{domain}-team" { members @lead, @member } }\n'
    assert check(extra) == []


def test_per_domain_channel_in_an_empty_domain_is_reported_once() -> None:
    extra = ("role ops-lead { reports_to cto }\ndomain ops { lead ops-lead }\n"
             'broadcast { channel "{domain}-team" { members @member } }\n')
    assert codes(check(extra)) == ["ORC601"]


@pytest.mark.parametrize("body, ok", [
    ("blocking", False),
    ("", False),
    ("blocking timeout 5m", True),
    ("nonblocking", True),
])
def test_consultation_timeout(body: str, ok: bool) -> None:
    diags = check(f"consultation ask {{ from api-dev to api-lead {body} }}\n")
    assert codes(diags) == ([] if ok else ["ORC410"])


# ---------------------------------------------------------------- assignment, capacity


ASSIGNMENT = "assignment { weight skill_match 0.6 weight workload 0.4 fit simple: junior, high: senior }"


def weights(body: str) -> list[Diagnostic]:
    """BASE with its assignment block replaced (`fit` keeps every experience level used)."""
    fit = "" if re.search(r"(^|\s)fit\s", body) else " fit simple: junior"
    return check(replace=(ASSIGNMENT, f"assignment {{ {body}{fit} }}"))


def test_weight_out_of_range_is_not_also_a_bad_sum() -> None:
    diags = weights("weight skill_match 40 weight workload 0.6")
    assert codes(diags) == ["ORC501"]
    assert "40" in diags[0].message and "`0.4`" in (diags[0].help or "")


def test_weights_not_summing_to_one() -> None:
    diags = weights("weight skill_match 0.5 weight workload 0.25 weight complexity_fit 0.2")
    assert codes(diags) == ["ORC502"]
    assert "sum to 0.95" in diags[0].message
    assert "raise" in (diags[0].help or "") and "0.05" in (diags[0].help or "")


@pytest.mark.parametrize("body", [
    "weight skill_match 0.1 weight workload 0.2 weight complexity_fit 0.7",
    "weight skill_match 0.40 weight workload 0.25 weight complexity_fit 0.20 "
    "weight learning_opportunity 0.10 weight recent_performance 0.05",
    "weight skill_match 1",
    "fit simple: junior",
])
def test_weights_that_sum_to_one(body: str) -> None:
    assert weights(body) == []


def test_weights_over_one() -> None:
    diags = weights("weight skill_match 0.7 weight workload 0.4")
    assert codes(diags) == ["ORC502"]
    assert "lower" in (diags[0].help or "")


def test_unknown_factor_does_not_spoil_the_sum() -> None:
    assert codes(weights("weight skill_match 0.6 weight seniority 0.4")) == ["ORC503"]


@pytest.mark.parametrize("fit, bad", [
    ("simple: junior, moderate: mid, high: senior", []),
    ("simple: mid, moderate: mid, high: mid", []),
    ("simple: junior, moderate: senior, high: mid", ["high"]),
    ("simple: senior, moderate: mid, high: junior", ["moderate", "high"]),
    ("high: junior, simple: senior", ["high"]),
])
def test_fit_monotonic(fit: str, bad: list[str]) -> None:
    diags = only(weights(f"weight skill_match 1 fit {fit}"), "ORC505")
    assert all(d.severity.value == "warning" for d in diags)
    assert sorted(d.message.split("`")[1] for d in diags) == sorted(bad)


def test_declared_complexities_replace_the_default_ones() -> None:
    body = "weight skill_match 1 complexities quick, involved fit quick: junior, involved: senior"
    assert weights(body) == []
    r = check_text(BASE.replace(
        "assignment { weight skill_match 0.6 weight workload 0.4 fit simple: junior, high: senior }",
        f"assignment {{ {body} }}"), "t.orch")
    assert r.model is not None and r.model.assignment is not None
    assert r.model.assignment.complexities == ["quick", "involved"]
    assert r.model.guard_variables["task.complexity"]["values"] == ["quick", "involved"]


def test_a_fit_names_a_declared_complexity_with_did_you_mean() -> None:
    [d] = only(weights("weight skill_match 1 complexities quick, involved fit quik: junior, involved: senior"), "ORC506")
    assert (d.message, d.help) == ("unknown complexity `quik`", "did you mean `quick`?")
    [d] = only(weights("weight skill_match 1 complexities quick, involved fit high: senior"), "ORC506")
    assert d.message == "unknown complexity `high`" and d.help == "complexities are quick, involved"


def test_a_complexity_is_declared_once() -> None:
    [d] = only(weights("weight skill_match 1 complexities quick, involved, quick"), "ORC101")
    assert d.message == "complexity `quick` is declared twice"


def test_fit_reads_harder_as_later_in_the_declared_list() -> None:
    body = "weight skill_match 1 complexities involved, quick fit quick: junior, involved: senior"
    [d] = only(weights(body), "ORC505")
    assert d.message.startswith("`quick` work is fitted to `junior`")


def test_a_guard_compares_task_complexity_with_the_declared_ones() -> None:
    text = BASE.replace("fit simple: junior, high: senior }", "complexities quick, involved }")
    diags = check(base=text, replace=("-> DOING by @lead }", "-> DOING when task.complexity == simple by @lead }"))
    [d] = only(diags, "ORC310")
    assert d.message == "`simple` is not one of quick, involved"


@pytest.mark.parametrize("bands, bad", [
    ("at 0% ok at 75% caution at 90% critical", []),
    ("at 0% ok at 90% warning at 80% critical", ["critical"]),
    ("at 0% ok at 80% warning at 80% critical", ["critical"]),
    ("at 0% ok at 85% warning at 80% critical at 95% full", ["critical"]),
    ("at 50% ok at 10% low at 20% lower", ["low", "lower"]),
])
def test_capacity_bands(bands: str, bad: list[str]) -> None:
    extra = f"capacity {{\n{bands.replace(' at ', chr(10) + 'at ')}\n}}\n"
    diags = check(extra)
    assert codes(diags) == ["ORC504"] * len(bad)
    for d, name in zip(diags, bad, strict=True):
        assert d.message.startswith(f"band `{name}`")
        assert d.span is not None and d.span.line == line_of(extra, f"% {name}")


def test_capacity_limits_are_not_compared_with_bands() -> None:
    assert check("capacity { at 0% ok at 90% high ic above 50% refuse_new_work "
                 "domain above 95% for 2d escalate cto }\n") == []


# ---------------------------------------------------------------- skills and domains


def test_domain_without_members() -> None:
    diags = check("role ops-lead { reports_to cto }\ndomain ops { lead ops-lead }\n")
    assert codes(diags) == ["ORC601"]


def test_needed_skill_nobody_holds() -> None:
    diags = check(replace=("domain web {\n  lead web-lead", "domain web {\n  lead web-lead\n  needs python"))
    assert codes(diags) == ["ORC602"]
    assert "`python`" in diags[0].message
    assert any("learning" in n for n in diags[0].notes)


def test_needed_skill_a_member_holds() -> None:
    assert check(replace=("domain api {\n  lead api-lead", "domain api {\n  lead api-lead\n  needs python")) == []


def test_a_skill_at_a_level_numbered_0_is_not_held() -> None:
    """`none = 0` on the scale: a member rated `none` does not hold the skill."""
    text = BASE.replace("levels { beginner = 1", "levels { none = 0, beginner = 1").replace(
        "skills { python: advanced }", "skills { python: none }").replace(
        "domain api {\n  lead api-lead", "domain api {\n  lead api-lead\n  needs python")
    diags = check(base=text)
    assert codes(diags) == ["ORC602"]


@pytest.mark.parametrize("old, new, bad", [
    ("beginner = 1, intermediate = 2", "beginner = 2, intermediate = 1", ["intermediate"]),
    ("advanced = 3, expert = 4", "advanced = 3, expert = 3", ["expert"]),
    ("junior = 1, mid = 2, senior = 3", "junior = 3, mid = 2, senior = 1", ["mid", "senior"]),
    ("junior = 1, mid = 2, senior = 3", "junior = 1, mid = 5, senior = 3", ["senior"]),
])
def test_levels_not_increasing(old: str, new: str, bad: list[str]) -> None:
    diags = only(check(replace=(old, new)), "ORC603")
    assert [d.message.split("`")[1] for d in diags] == bad


def test_empty_category() -> None:
    diags = check(replace=("category languages { python, typescript }",
                           "category languages { python, typescript }\n  category tools { }"))
    assert codes(diags) == ["ORC604"]
    assert diags[0].severity.value == "warning"


# ---------------------------------------------------------------- unused


def test_unused_role() -> None:
    diags = check("role intern { reports_to api-lead }\n")
    assert codes(diags) == ["ORC801"]
    assert diags[0].severity.value == "warning"


@pytest.mark.parametrize("use", [
    "consultation ask { from api-dev to intern nonblocking }",
    "capacity { at 0% ok at 90% high notify intern }",
    "role helper { reports_to intern }\nconsultation ask { from helper to cto nonblocking }",
    "broadcast { channel c { members intern } }",
    "standup s { from intern to api-lead every 1d }",
    "delegation { chain api-lead -> intern }",
    "gate g { reviewer intern guards REVIEW -> DONE outcome ok: pass }\n"
    'tier 0 "Only" { flow @assignee:execution -> gate g }',
    'tier 0 "Only" { flow intern:answer }',
])
def test_used_roles(use: str) -> None:
    diags = check("role intern { reports_to api-lead }\n" + use + "\n")
    assert "ORC801" not in codes(diags), [d.message for d in diags]


@pytest.mark.parametrize("old, new", [
    ("fit simple: junior, high: senior", "fit simple: junior, high: senior fallback escalate to intern"),
    ("owner @lead -> DOING", "owner intern -> DOING"),
    ("-> DOING by @lead", "-> DOING by @lead, intern"),
])
def test_roles_used_by_assignment_and_lifecycle(old: str, new: str) -> None:
    assert check("role intern { reports_to api-lead }\n", replace=(old, new)) == []


def test_nothing_is_unused_while_references_are_unresolved() -> None:
    """A misspelt reference leaves its role unreferenced: no warning for that."""
    extra = "role intern { reports_to api-lead }\nconsultation ask { from api-dev to intrn nonblocking }\n"
    assert codes(check(extra)) == ["ORC102"]


def test_unused_gate_reported_beside_an_unrelated_error() -> None:
    extra = ("gate review { reviewer @peer guards REVIEW -> DONE outcome ok: pass }\n"
             "standup s { from api-lead to ctoo every 1d }\n")
    assert sorted(codes(check(extra))) == ["ORC102", "ORC803"]


def test_second_root_is_not_also_unused() -> None:
    assert codes(check("role auditor { }\n")) == ["ORC203"]


def test_unused_skill() -> None:
    diags = check(replace=("python, typescript }", "python, typescript, rust }"))
    assert codes(diags) == ["ORC802"]
    assert "`rust`" in diags[0].message


def test_skill_only_needed_or_learned_is_used() -> None:
    text = BASE.replace("python, typescript }", "python, typescript, rust, go }").replace(
        "learning python", "learning python, rust").replace(
        "domain api {\n  lead api-lead", "domain api {\n  lead api-lead\n  needs go")
    diags = check_text(text, "t.orch").diagnostics
    assert codes(diags) == ["ORC602"]  # go is needed (so not unused) but nobody holds it


def test_unused_gate() -> None:
    extra = "gate review { reviewer @peer guards REVIEW -> DONE outcome ok: pass }\n"
    assert codes(check(extra)) == ["ORC803"]
    listed = extra + 'tier 0 "Only" { flow @assignee:execution -> gate review }\n'
    assert "ORC803" not in codes(check(listed))


def test_unused_experience() -> None:
    diags = check(replace=("fit simple: junior, high: senior", "fit high: senior"))
    assert codes(diags) == ["ORC804"]
    assert "`junior`" in diags[0].message


def test_shared_colour() -> None:
    text = BASE.replace('role api-lead {', 'role api-lead { color Teal').replace(
        'role web-lead {', 'role web-lead { color teal').replace('role cto { title "CTO" }',
                                                                'role cto { title "CTO" color red }')
    diags = check_text(text, "t.orch").diagnostics
    assert codes(diags) == ["ORC805"]
    d = diags[0]
    assert "`api-lead` and `web-lead`" in d.message
    assert d.span is not None and d.span.line == text.splitlines().index("role web-lead { color teal reports_to cto }") + 1
    assert d.labels and d.labels[0].span.line == text.splitlines().index(
        "role api-lead { color Teal reports_to cto }") + 1


# ---------------------------------------------------------------- the repository's specs


GOOD = sorted((ROOT / "specs").glob("*.orch")) + sorted((ROOT / "examples").glob("*.orch"))
MINE = ("ORC2", "ORC4", "ORC5", "ORC6", "ORC8")


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_specs_have_no_errors_from_these_checks(path: Path) -> None:
    diags = check_files([path]).diagnostics
    assert [d for d in diags if d.is_error and d.code.startswith(MINE)] == []
    # the warnings that do fire name things that really are unused
    assert {d.code for d in diags if d.code.startswith(MINE)} <= {"ORC802", "ORC804"}



# ---------------------------------------------------------------- layers

LAYERED = BASE.replace('role cto { title "CTO" }', 'role cto { title "CTO" layer strategic }').replace(
    "role api-lead { reports_to cto }", "role api-lead { layer domain reports_to cto }").replace(
    "role api-dev { reports_to api-lead }", "role api-dev { layer ic reports_to api-lead }")


def test_layers_that_agree_with_the_hierarchy() -> None:
    assert check(base=LAYERED) == []


def test_an_unknown_layer_gets_did_you_mean() -> None:
    [d] = check(base=LAYERED.replace("layer domain", "layer domian"))
    assert (d.code, d.help) == ("ORC117", "did you mean `domain`?")
    assert d.span is not None and d.span.line == line_of("", "role api-lead")


@pytest.mark.parametrize("old, new, role", [
    ("layer strategic", "layer ic", "cto"),  # a CTO in `ic`, a domain lead under it
    ("layer ic reports_to api-lead", "layer coordination reports_to api-lead", "api-dev"),  # a member IC above ic
    ("layer domain", "layer ic", "api-lead"),  # a lead in `ic` (and above its member: one report)
])
def test_a_layer_against_the_hierarchy(old: str, new: str, role: str) -> None:
    """`layer` was free text: a CTO declared `layer ic` checked clean."""
    diags = check(base=LAYERED.replace(old, new))
    assert codes(diags) == ["ORC209"], [d.message for d in diags]
    assert diags[0].span is not None and diags[0].span.line == line_of("", f"role {role} ")


@pytest.mark.parametrize("flow, bad", [
    ("@assignee:delegation -> @assignee:execution", True),
    ("api-dev:tactical_planning -> @assignee:execution", True),
    ("@lead:delegation -> @assignee:execution", False),
    ("api-dev:answer", False),
])
def test_an_ic_does_not_hand_out_work_in_a_flow(flow: str, bad: bool) -> None:
    extra = f'tier 0 "Only" {{ flow {flow} }}\n'
    diags = check(extra, base=LAYERED)
    assert codes(diags) == (["ORC711"] if bad else []), [d.message for d in diags]
    if bad:
        assert diags[0].span is not None and diags[0].span.line == line_of(extra, "tier 0") + LAYERED.count("\n") - \
            BASE.count("\n")
