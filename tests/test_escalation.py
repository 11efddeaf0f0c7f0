"""Escalation policies and notifications, on the compiler's side: the grammar and the
formatter, lowering and its coded diagnostics (with "did you mean"), the checks, the compiled
model (left unchanged for specs without them) and the agents' prompts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchdsl.diagnostics import Diagnostics
from orchdsl.emit import compiled_json
from orchdsl.fmt import format_text
from orchdsl.generate import build_files
from orchdsl.pipeline import Result, check_files, check_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "incident_response.orch"

SPEC = (ROOT / "tests" / "rota.orch").read_text(encoding="utf-8")
"""the rotation the runtime's tests run too (tests/runtime/test_engine_escalation.py)"""


def spec(*changes: tuple[str, str]) -> str:
    """The rotation with each (old, new) text replaced; ``old`` must occur."""
    text = SPEC
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


def check(text: str) -> Result:
    return check_text(text, "rota.orch")


def codes(r: Result) -> list[tuple[str, str, str]]:
    """(code, message, help) of every diagnostic."""
    return [(d.code, d.message, d.help or "") for d in r.diagnostics]


def test_a_policy_and_notices_check_clean_and_compile() -> None:
    r = check(spec())
    assert codes(r) == []
    assert r.model is not None
    data = json.loads(compiled_json(r.model))
    states = {s["name"]: s for s in data["lifecycle"]["states"]}
    policy = states["OPEN"]["escalation"]
    assert policy["name"] == "page" and policy["repeat"] == 2
    assert [(lv["after"]["value"], lv["to"]) for lv in policy["levels"]] == [
        (300.0, ["secondary"]), (900.0, ["lead", "primary"]), (1800.0, ["boss"])]
    assert states["FIXING"]["notify"] == [{"to": ["@lead", "@owner", "lead"], "outcomes": [], "text": "taken"}]
    assert states["FIXING"]["escalation"]["name"] is None
    assert "escalation" not in states["DONE"]
    assert states["DONE"]["notify"] == [{"to": ["boss"], "outcomes": [], "text": None}]
    assert states["OPEN"]["notify"] == [{"to": ["primary"], "outcomes": [], "text": "paged"}]
    assert data["gates"][0]["notify"] == [
        {"to": ["@assignee", "@owner"], "outcomes": ["again"], "text": "sent back"},
        {"to": ["boss"], "outcomes": [], "text": None}]
    assert [p["name"] for p in data["escalations"]] == ["page"]


def test_specs_without_them_compile_as_before() -> None:
    """The new fields are left out of the compiled model when a spec has none of them."""
    r = check_files([ROOT / "specs" / "orchestration_v2.orch"])
    assert r.model is not None
    data = json.loads(compiled_json(r.model))
    assert "escalations" not in data
    assert all("notify" not in s and "escalation" not in s for s in data["lifecycle"]["states"])
    assert all("notify" not in g for g in data["gates"])


def test_an_inline_policy() -> None:
    r = check(spec(("escalation { after 1h to @peer }", "escalation { after 1h to @lead after 2h to boss, @peer }")))
    assert codes(r) == []
    assert r.model is not None
    fixing = r.model.lifecycle.state("FIXING")
    assert fixing is not None and fixing.escalation is not None
    assert fixing.escalation.name is None
    assert [lv.to for lv in fixing.escalation.levels] == [["@lead"], ["boss", "@peer"]]


OPEN_POLICY = ("    escalation page\n", "    escalation pag\n")
FIXING_NOTICE = 'notify @lead, @owner, lead "taken"'


@pytest.mark.parametrize(("text", "code", "message", "help"), [
    (spec(OPEN_POLICY), "ORC115", "unknown escalation policy `pag`", "did you mean `page`?"),
    (spec(("after 15m to lead", "after 15m to lede")), "ORC102", "unknown role `lede`", "did you mean `lead`?"),
    (spec(("after 5m to secondary", "after 5m to @system")), "ORC110",
     "`@system` has no meaning as an escalation level's target", ""),
    (spec(("repeat 2", "repeat 11")), "ORC901", "`repeat 11` is more than 10", ""),
    (spec(("after 15m", "after 5m")), "ORC322",
     "a level of escalation policy `page` fires after `5m`, the same time as the level before it", ""),
    (spec(("after 30m", "after 10m")), "ORC322", "fires after `10m`, before the level", ""),
    (spec(("escalation page\n", "escalation page escalate 1h to boss\n")), "ORC007",
     "state `OPEN` has both `escalate` and `escalation`", ""),
    (spec(("    escalation page\n", "")), "ORC806", "escalation policy `page` is declared but no state uses it", ""),
    (spec(("  after 5m to secondary\n  after 15m to lead, primary\n  after 30m to boss\n", ""),
          ("    escalation page\n", "")),
     "ORC008", "escalation policy `page` has no level", ""),
    (spec((FIXING_NOTICE, "notify @asignee")), "ORC109", "unknown relation `@asignee`", "did you mean `@assignee`?"),
    (spec((FIXING_NOTICE, "notify @system")), "ORC110", "`@system` has no meaning as a notice's recipient", ""),
    (spec((FIXING_NOTICE, "notify primry")), "ORC102", "unknown role `primry`", "did you mean `primary`?"),
    (spec((FIXING_NOTICE, "notify @lead on ok")), "ORC110", "`on` names gate outcomes", ""),
    (spec(("on again", "on agan")), "ORC113", "unknown outcome `agan`", "did you mean `again`?"),
    (spec(("terminal success notify boss", 'terminal success notify @owner "x"')),
     "ORC110", "`@owner` names nobody here: state `DONE` has no owner", ""),
    (spec(("terminal success notify boss", "terminal success escalation page")),
     "ORC317", "terminal state `DONE` declares `escalation`", ""),
    (spec(("-> FIXING by @lead, primary, secondary", "-> FIXING by @lead, primary, secondary -> DONE after 20m")),
     "ORC315", "the escalation policy's level 3 at `30m` in `OPEN` is never reached", ""),
])
def test_misuse_is_a_located_coded_diagnostic(text: str, code: str, message: str, help: str) -> None:
    r = check(text)
    found = [d for d in r.diagnostics if d.code == code]
    assert found, codes(r)
    d = found[0]
    assert message in d.message, d.message
    assert help in (d.help or "")
    assert d.span is not None and d.span.line > 0


def test_the_level_out_of_order_is_the_one_reported() -> None:
    text = spec(("after 30m", "after 10m"))
    r = check(text)
    (d,) = [d for d in r.diagnostics if d.code == "ORC322"]
    assert d.span is not None
    assert text.splitlines()[d.span.line - 1].strip() == "after 10m to boss"


@pytest.mark.parametrize("text", [
    spec((FIXING_NOTICE, 'notify @lead, @owner on "taken"')),
    spec(("after 5m to secondary", "after 5m")),
    spec(("after 5m to secondary", "after 1K to secondary")),
])
def test_syntax_errors(text: str) -> None:
    assert "ORC001" in [c for c, _, _ in codes(check(text))]


def test_formatting_round_trips() -> None:
    text = spec((FIXING_NOTICE, 'notify @lead,@owner   "taken"'),
                ("escalation { after 1h to @peer }", "escalation {\n after 1h to @lead\n  repeat 1 }"),
                ('notify @assignee, @owner on again "sent back"', "notify @assignee  on again,ok"))
    diags = Diagnostics()
    once = format_text(text, "rota.orch", diags)
    assert once is not None and not list(diags)
    assert format_text(once, "rota.orch", diags) == once
    assert "notify @lead, @owner \"taken\"" in once and "notify @assignee on again, ok" in once
    assert "    escalation {\n      after 1h to @lead\n      repeat 1\n    }" in once
    assert json.loads(compiled_json(check(once).model)) == json.loads(compiled_json(check(text).model))  # type: ignore[arg-type]


def test_prompts_tell_each_agent_its_pages_and_notices() -> None:
    r = check_files([EXAMPLE])
    assert r.ok and r.model is not None
    prompts = {name.removeprefix("agents/").removesuffix(".md"): text
               for name, text in build_files(r.model).items() if name.startswith("agents/")}
    secondary = prompts["secondary-oncall"]
    assert "paged at level 1 of `page_oncall` after 5m while a task stays there" in secondary
    assert "the chain runs again 2 more times, 30m later each time" in secondary
    assert "gate `postmortem_review` decides `rework` (as `@assignee`): \"the commander sent the postmortem back\"" \
        in secondary
    assert "a task enters `TRIGGERED`: \"you are paged: take the incident\"" in prompts["primary-oncall"]
    commander = prompts["incident-commander"]
    assert "escalation policy `page_oncall`: after 5m to Secondary On-call (`secondary-oncall`)" in commander
    assert re.search(r"a task enters `MITIGATING` \(as `@lead`\): \"an engineer took the incident\"", commander)
    assert "a task enters `RESOLVED`: \"incident resolved\"" in prompts["head-of-reliability"]


def test_the_docs_examples_check_clean() -> None:
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    for heading in ("## escalation policies", "## notify"):
        text = doc_example(doc, heading)
        assert codes(check(text)) == [], heading


def doc_example(doc: str, heading: str) -> str:
    """The first ```orch block of a section of docs/language.md."""
    start = doc.index(heading + "\n")
    found = re.search(r"```orch\n(.*?)```", doc[start:], re.S)
    assert found is not None
    return found.group(1)


def test_the_language_server_knows_policies_and_notices() -> None:
    from orchdsl.lsp.complete import complete
    from orchdsl.lsp.index import Index
    from orchdsl.parser import parse_text

    text = spec()
    diags = Diagnostics()
    tree = parse_text(text, "rota.orch", diags)
    assert tree is not None
    index = Index([tree])
    assert [o.span.line for o in index.declarations("escalation", "page")] == [text.splitlines().index(
        "escalation page {") + 1]
    uses = [o for o in index.references("escalation", "page", include_declarations=False)]
    assert len(uses) == 1 and text.splitlines()[uses[0].span.line - 1].strip() == "escalation page"
    # recipients and level targets are references to their roles; `on` names the gate's outcomes
    boss = index.references("role", "boss", include_declarations=False)
    assert len(boss) == 4  # reports_to, the policy's third level, the gate's notice and DONE's
    assert len(index.references("outcome", "review/again", include_declarations=False)) == 1
    assert len(index.references("role", "lead", include_declarations=False)) >= 4

    def labels(before: str) -> set[str]:
        at = text.index(before) + len(before)
        return {i.label for i in complete(text[:at] + " " + text[at:], at + 1, index)}

    assert "page" in labels("    escalation")
    assert {"again", "ok"} <= labels("notify @assignee, @owner on")


def test_the_state_machine_file_lists_policies_and_notices() -> None:
    import yaml

    r = check_files([EXAMPLE])
    assert r.model is not None
    sm = yaml.safe_load(build_files(r.model)["Agent_Memory/_system/config/task_state_machine.yaml"])
    triggered = sm["states"]["TRIGGERED"]
    assert triggered["escalation"]["policy"] == "page_oncall" and triggered["escalation"]["repeat"] == 2
    assert [lv["to"] for lv in triggered["escalation"]["levels"]] == [
        ["secondary-oncall"], ["incident-commander"], ["head-of-reliability"]]
    assert triggered["notify"] == [{"to": ["primary-oncall"], "text": "you are paged: take the incident"}]
    assert "escalation" not in sm["states"]["POSTMORTEM"] and "notify" not in sm["states"]["POSTMORTEM"]
    (gate,) = sm["gates"]
    assert gate["notify"] == [{"to": ["@assignee"], "on": ["rework"], "text": "the commander sent the postmortem back"}]


def test_the_lifecycle_diagram_shows_policies_and_notices() -> None:
    from orchdsl.graph import lifecycle, to_mermaid

    r = check_files([EXAMPLE])
    assert r.model is not None
    text = to_mermaid(lifecycle(r.model))
    assert "escalation page_oncall (5m, 15m, 30m, repeat 2)<br/>notify primary-oncall" in text
    assert "RESOLVED<br/>terminal, success<br/>notify head-of-reliability" in text
