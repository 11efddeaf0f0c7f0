"""Peers at the top (`org ... { top a, b }`: ORC203, ORC204, ORC208, ORC403) and who may submit,
create and close (`instructions`: names, relations, repeated clauses), on the organisation of
``test_checks_b``; and what lowering records of them."""

from __future__ import annotations

from test_checks_b import BASE, check, codes

from orchdsl.pipeline import check_text

PEERS = BASE.replace("org example", "org example { top cto, web-lead }").replace(
    "role web-lead { reports_to cto }", "role web-lead {}")


def test_declared_peers_at_the_top_are_clean() -> None:
    assert check(base=PEERS) == []
    model = check_text(PEERS, "t.orch").model
    assert model is not None and model.org.top == ["cto", "web-lead"]


def test_without_top_two_roots_are_still_an_error() -> None:
    diags = check(replace=("role web-lead { reports_to cto }", "role web-lead {}"))
    assert codes(diags) == ["ORC203"]


def test_a_root_not_listed_at_the_top() -> None:
    diags = check("role auditor {}\nconsultation audit { from cto to auditor nonblocking }\n", base=PEERS)
    assert codes(diags) == ["ORC203"]
    assert diags[0].message == "role `auditor` reports to nobody and is not declared at the top"
    assert "list it in `top`" in (diags[0].help or "")


def test_a_top_role_that_reports_to_someone() -> None:
    diags = check(base=PEERS.replace("top cto, web-lead", "top cto, web-lead, api-lead"))
    assert codes(diags) == ["ORC208"]
    assert diags[0].message == "`api-lead` is declared at the top but reports to `cto`"
    assert diags[0].span is not None and diags[0].span.line == 1


def test_an_unknown_top_role_has_a_suggestion() -> None:
    diags = check(base=PEERS.replace("top cto, web-lead", "top cto, web-led"))
    assert "ORC102" in codes(diags)
    unknown = next(d for d in diags if d.code == "ORC102")
    assert unknown.message == "unknown role `web-led`" and "web-lead" in (unknown.help or "")


def test_a_lead_reaches_any_peer_at_the_top() -> None:
    extra = "role ops-lead {}\nrole ops-dev { reports_to ops-lead }\n" \
            "domain ops { lead ops-lead member ops-dev x2 { experience mid skills { python: advanced } } }\n"
    assert codes(check(extra, base=PEERS)) == ["ORC203"]
    assert check(extra, base=PEERS.replace("top cto, web-lead", "top cto, web-lead, ops-lead")) == []


def test_standups_climb_to_any_peer() -> None:
    ok = "standup daily { from @member to @lead every 1d }\nstandup up { from api-lead to cto every 1w }\n"
    assert check(ok, base=PEERS) == []
    stops = "standup daily { from @member to @lead every 1d }\n"
    found = check(stops, base=PEERS)
    assert codes(found) == ["ORC403"]
    assert "`cto` or `web-lead`" in found[0].message


RULES = """
instructions {
  submit by cto
  create strategic by cto, web-lead
  create by @lead
  close by cto
}
"""


def test_instructions_lower_with_defaults_per_kind() -> None:
    model = check_text(BASE + RULES, "t.orch").model
    assert model is not None and model.instructions is not None
    ins = model.instructions
    assert ins.submit == ["cto"] and ins.close == ["cto"]
    assert ins.create == {"strategic": ["cto", "web-lead"], "tactical": ["@lead"]}
    assert check(RULES) == []


def test_instructions_refuse_unknown_roles_and_relations() -> None:
    diags = check("instructions { submit by ct, @assignee close by @peer create tactical by @member }\n")
    assert codes(diags) == ["ORC102", "ORC110", "ORC110"]
    assert "did you mean `cto`" in (diags[0].help or "")
    assert diags[1].message == "`@assignee` has no meaning as who may submit, create or close"


def test_instructions_clauses_given_twice() -> None:
    diags = check("instructions {\n  submit by cto\n  submit by api-lead\n  create tactical by @lead\n"
                  "  create tactical by cto\n  create by cto\n}\n")
    assert codes(diags) == ["ORC007", "ORC007"]
    assert "who creates tactical tasks is given more than once here" in [d.message for d in diags]


def test_instructions_block_declared_twice() -> None:
    assert codes(check("instructions { submit by cto }\ninstructions { close by cto }\n")) == ["ORC007"]


HANDOFF = """
handoff role api-dev -> api-lead {
  checklist { "written up" }
  on accept REVIEW -> DONE
  on reject REVIEW -> DOING
}
"""


def test_a_handoff_between_roles_is_clean_and_lowered() -> None:
    assert check(HANDOFF) == []
    model = check_text(BASE + HANDOFF, "t.orch").model
    assert model is not None
    h = model.handoffs[0]
    assert (h.from_role, h.to_role, h.from_domain, h.to_domain) == ("api-dev", "api-lead", "*", "*")


def test_a_handoff_between_roles_names_declared_roles() -> None:
    diags = check(HANDOFF.replace("api-lead {", "api-led {"))
    assert codes(diags) == ["ORC102"] and "api-lead" in (diags[0].help or "")


def test_a_handoff_between_roles_is_accepted_by_the_receiving_role() -> None:
    diags = check(HANDOFF.replace('checklist { "written up" }', 'checklist { "written up" } accepted_by cto'))
    assert codes(diags) == ["ORC406"]
    assert diags[0].message == "handoff `api-dev -> api-lead` is accepted by `cto`, not by `api-lead`, the role it goes to"


def test_a_handoff_from_a_role_to_itself() -> None:
    assert codes(check(HANDOFF.replace("-> api-lead {", "-> api-dev {"))) == ["ORC404"]


def test_a_handoff_between_roles_names_a_declared_transition() -> None:
    assert codes(check(HANDOFF.replace("REVIEW -> DONE", "TODO -> DONE"))) == ["ORC407"]


def test_a_handoff_between_roles_has_a_rejection_path() -> None:
    diags = check(HANDOFF.replace("  on reject REVIEW -> DOING\n", ""))
    assert codes(diags) == ["ORC413"]
    assert diags[0].message.startswith("handoff `api-dev -> api-lead` has no rejection path")
