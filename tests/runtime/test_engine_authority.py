"""Who may submit instructions, create tasks and close instructions: the defaults, the spec's
``instructions`` block, and a top role that also leads a domain; each enforced by the engine and
listed by ``roles`` (which decides the prompts' commands and the MCP tools)."""

from __future__ import annotations

import json
from pathlib import Path

from orchdsl_runtime import HUMAN, Engine, MemoryStore, Model, VirtualClock, load_model
from orchdsl_runtime.roles import commands_for, may_issue
from runtime_helpers import refused

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_files

SHOP = """\
org tiny-shop {TOP}

role founder { title "Founder" }
role dev { title "Developer" reports_to founder }
role ops-lead { title "Ops Lead" reports_to founder }
role ops { title "Operator" reports_to ops-lead }

skills {
  levels { beginner = 1, advanced = 2 }
  category languages { python }
}

domain eng {
  lead founder
  member dev x2 { skills { python: advanced } }
}

domain run {
  lead ops-lead
  member ops { skills { python: beginner } }
}

lifecycle task {
  state TODO {
    initial
    owner @lead
    -> DOING by @lead
  }
  state DOING {
    owner @assignee
    -> DONE by @assignee
  }
  state DONE { terminal success }
}

tier 0 "Task" {
  flow founder:delegation -> @assignee:execution -> founder:close
}

RULES
"""

RULES = """\
instructions {
  submit by founder, ops-lead
  create strategic by founder
  create by @lead
  close by ops-lead
}
"""


def model_of(tmp_path: Path, rules: str = "", top: str = "") -> Model:
    spec = tmp_path / "shop.orch"
    spec.write_text(SHOP.replace("RULES", rules).replace("{TOP}", top), "utf-8")
    result = check_files([spec])
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    return load_model(json.loads(compiled_json(result.model)))


def engine_of(model: Model) -> Engine:
    return Engine(model, MemoryStore(), VirtualClock(0.0))


def test_the_top_role_closes_an_instruction_though_it_leads_a_domain(tmp_path: Path) -> None:
    # the flow says `founder:close`; `founder` leads `eng`, so it is no staff role
    model = model_of(tmp_path)
    engine = engine_of(model)
    ins = engine.submit_instruction(HUMAN, "ship the thing", 0)
    tid = engine.create_task("founder", ins, "tactical", "eng", "the thing")
    engine.assign("founder", tid, "dev-1")
    engine.move("dev-1", tid, "DONE")
    why = refused(engine, "RUN004", engine.close_instruction, "dev-1", ins)
    assert "permitted are `founder`" in why.reason
    refused(engine, "RUN004", engine.close_instruction, "ops-lead", ins)
    engine.close_instruction("founder", ins)
    assert engine.instruction(ins)["closed_by"] == "founder"
    assert may_issue(model)["instruction_close"] == {"founder"}
    assert "instruction_close" in [c.name for c in commands_for(model, "founder")]
    assert "instruction_close" not in [c.name for c in commands_for(model, "dev-1")]


def test_without_rules_any_agent_submits_and_creates(tmp_path: Path) -> None:
    model = model_of(tmp_path)
    engine = engine_of(model)
    ins = engine.submit_instruction("ops", "tidy the logs", 0)
    engine.create_task("ops", ins, "tactical", "eng", "tidy")
    everyone = {"founder", "dev", "ops-lead", "ops"}
    assert may_issue(model)["submit"] == everyone
    assert may_issue(model)["task_create"] == everyone


def test_declared_rules_are_enforced_and_listed(tmp_path: Path) -> None:
    model = model_of(tmp_path, RULES)
    engine = engine_of(model)
    why = refused(engine, "RUN004", engine.submit_instruction, "dev-1", "do it", 0)
    assert why.reason == "`dev-1` may not submit instructions: permitted are `founder`, `ops-lead`"
    ins = engine.submit_instruction("ops-lead", "do it", 0)
    engine.submit_instruction(HUMAN, "a person may always submit", 0)
    why = refused(engine, "RUN004", engine.create_task, "ops-lead", ins, "tactical", "eng", "t")
    assert why.reason == ("`ops-lead` may not create tactical tasks in `eng`: permitted are "
                          "@lead (`founder`, the lead of `eng`)")
    refused(engine, "RUN004", engine.create_task, "dev-1", ins, "tactical", "eng", "t")
    refused(engine, "RUN004", engine.create_task, "ops-lead", ins, "strategic", "run", "t")
    engine.create_task("ops-lead", ins, "tactical", "run", "t")
    engine.create_task("founder", ins, "strategic", "run", "t")
    refused(engine, "RUN004", engine.close_instruction, "founder", ins)
    refused(engine, "RUN023", engine.close_instruction, "ops-lead", ins)
    issue = may_issue(model)
    assert issue["submit"] == {"founder", "ops-lead"}
    assert issue["task_create"] == {"founder", "ops-lead"}
    assert issue["instruction_close"] == {"ops-lead"}
    assert [c.name for c in commands_for(model, "dev-1") if c.name in ("submit", "task_create")] == []


def test_peers_at_the_top_close_instructions(tmp_path: Path) -> None:
    spec = SHOP.replace("role ops-lead { title \"Ops Lead\" reports_to founder }",
                        "role ops-lead { title \"Ops Lead\" }")
    spec = spec.replace("role ops { title \"Operator\" reports_to ops-lead }",
                        "role ops { title \"Operator\" reports_to ops-lead }")
    path = tmp_path / "peers.orch"
    path.write_text(spec.replace("RULES", "").replace("{TOP}", "{ top founder, ops-lead }"), "utf-8")
    result = check_files([path])
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    model = load_model(json.loads(compiled_json(result.model)))
    assert model.top_roles == ("founder", "ops-lead")
    engine = engine_of(model)
    ins = engine.submit_instruction(HUMAN, "nothing to do", 0)
    engine.close_instruction("ops-lead", ins)
    assert may_issue(model)["instruction_close"] == {"founder", "ops-lead"}


def test_a_lead_that_works_in_its_domain_is_one_of_its_members(tmp_path: Path) -> None:
    # `founder` leads `eng` and is listed as a member of it: assigned, a peer, counted in capacity
    spec = SHOP.replace("RULES", "").replace("{TOP}", "").replace(
        "  member dev x2 { skills { python: advanced } }",
        "  member founder { skills { python: advanced } hours_per_day 4 }\n"
        "  member dev x2 { skills { python: advanced } }")
    path = tmp_path / "working.orch"
    path.write_text(spec, "utf-8")
    result = check_files([path])
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    model = load_model(json.loads(compiled_json(result.model)))
    assert model.domain_members["eng"] == ("founder", "dev-1", "dev-2")
    assert model.agents["founder"].kind == "lead" and model.agents["founder"].works
    assert "founder" in model.candidates
    engine = engine_of(model)
    ins = engine.submit_instruction(HUMAN, "ship", 0)
    tid = engine.create_task("founder", ins, "tactical", "eng", "the thing", estimate_hours=2.0)
    engine.assign("founder", tid, "founder")
    assert engine.state.tasks[tid].assignee == "founder"
    refused(engine, "RUN004", engine.move, "dev-1", tid, "DONE")
    engine.move("founder", tid, "DONE")
    other = engine.create_task("founder", ins, "tactical", "run", "not theirs")
    refused(engine, "RUN010", engine.assign, "ops-lead", other, "founder")
    assert "founder" in may_issue(model)["heartbeat"]
    assert may_issue(model)["heartbeat"] >= {"founder", "dev", "ops"}
