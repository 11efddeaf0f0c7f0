"""The examples of `docs/language.md` on peers at the top (`org ... { top a, b }`) and on who
may submit, create and close (`instructions`): checked, compiled and run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from orchdsl_runtime import HUMAN, Engine, MemoryStore, VirtualClock, load_model
from orchdsl_runtime.roles import may_issue
from runtime_helpers import refused

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```orch[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# what the hierarchy example leaves out, so that it runs: a lifecycle and a tier
RUNNABLE = """
lifecycle task {
  state TODO { initial owner @lead -> DOING by @lead }
  state DOING { owner @assignee -> DONE by @assignee }
  state DONE { terminal }
}
tier 0 "Study" { flow @lead:delegation -> @assignee:execution }
"""


def section(title: str) -> list[str]:
    doc = (ROOT / "docs" / "language.md").read_text("utf-8")
    start = doc.index(f"\n## {title}\n")
    end = doc.find("\n## ", start + 1)
    return BLOCK.findall(doc[start:end])


def engine_for(text: str, tmp_path: Path) -> Engine:
    spec = tmp_path / "example.orch"
    spec.write_text(text, "utf-8")
    result = check_files([spec])
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    assert not result.diagnostics, [d.message for d in result.diagnostics]
    return Engine(load_model(json.loads(compiled_json(result.model))), MemoryStore(), VirtualClock(0.0))


def test_the_instructions_example_runs(tmp_path: Path) -> None:
    engine = engine_for(section("instructions")[-1], tmp_path)
    why = refused(engine, "RUN004", engine.submit_instruction, "writer-1", "a new column", 0)
    assert "permitted are `director`" in why.reason
    ins = engine.submit_instruction("director", "a new column", 0)
    st = engine.create_task("director", ins, "strategic", "words", "the column")
    refused(engine, "RUN004", engine.create_task, "writer-1", ins, "tactical", "words", "a draft", parent=st)
    tt = engine.create_task("editor", ins, "tactical", "words", "a draft", parent=st)
    engine.assign("editor", st, "writer-2")
    engine.move("writer-2", st, "DONE")
    engine.assign("editor", tt, "writer-1")
    engine.move("writer-1", tt, "DONE")
    refused(engine, "RUN004", engine.close_instruction, "editor", ins)
    engine.close_instruction("director", ins)
    issue = may_issue(engine.model)
    assert issue["submit"] == issue["instruction_close"] == {"director"}
    assert issue["task_create"] == {"director", "editor"}


def test_the_peers_example_runs(tmp_path: Path) -> None:
    lab = next(b for b in section("hierarchy") if "top alice-pi, bob-pi" in b)
    engine = engine_for(lab + RUNNABLE, tmp_path)
    assert engine.model.top_roles == ("alice-pi", "bob-pi")
    ins = engine.submit_instruction(HUMAN, "image the samples", 0)
    tid = engine.create_task("alice-pi", ins, "tactical", "imaging", "image them")
    engine.assign("alice-pi", tid, "imaging-postdoc")
    engine.move("imaging-postdoc", tid, "DONE")
    engine.close_instruction("bob-pi", ins)  # either peer closes
    assert may_issue(engine.model)["instruction_close"] == {"alice-pi", "bob-pi"}


WORKING = """
org platform-team
skills { levels { beginner = 1, advanced = 2, expert = 3 } category languages { python } }
experience { mid = 1, senior = 2 }
role platform-lead { title "Platform Lead" }
role platform-engineer { title "Platform Engineer" reports_to platform-lead }
""" + RUNNABLE


def test_the_working_lead_example_runs(tmp_path: Path) -> None:
    block = next(b for b in section("domain") if "member platform-lead" in b)
    engine = engine_for(WORKING + block, tmp_path)
    assert engine.model.domain_members["platform"] == ("platform-lead", "platform-engineer-1", "platform-engineer-2")
    ins = engine.submit_instruction(HUMAN, "rotate the keys", 0)
    tid = engine.create_task("platform-lead", ins, "tactical", "platform", "rotate", required_skills=["python"],
                             complexity="high", estimate_hours=1.0)
    assert "platform-lead" in engine.model.candidates  # a candidate for assignment like the engineers
    engine.assign("platform-lead", tid, "platform-lead")
    assert engine.state.tasks[tid].assignee == "platform-lead"
    engine.move("platform-lead", tid, "DONE")
    engine.close_instruction("platform-lead", ins)


def test_the_role_handoff_example_runs(tmp_path: Path) -> None:
    block = next(b for b in section("handoff") if "handoff role product-manager -> architect" in b)
    engine = engine_for(block, tmp_path)
    ins = engine.submit_instruction(HUMAN, "saved searches", 0)
    tid = engine.create_task("head-of-product", ins, "tactical", "product", "requirements")
    engine.assign("head-of-product", tid, "product-manager")
    refused(engine, "RUN004", engine.create_handoff, "architect", tid, summary="x", to_role="architect")
    hid = engine.create_handoff("product-manager", tid, summary="requirements v1", to_role="architect")
    engine.tick_handoff("product-manager", hid, ["requirements written", "open questions listed"])
    refused(engine, "RUN004", engine.accept_handoff, "head-of-product", hid)
    engine.accept_handoff("architect", hid)
    assert engine.state.tasks[tid].state == "DESIGN"
    assert engine.state.tasks[tid].assignee == "product-manager"
    engine.move("architect", tid, "DONE")
    engine.close_instruction("head-of-product", ins)
    issue = may_issue(engine.model)
    assert issue["handoff_create"] == {"product-manager"} and issue["handoff_accept"] == {"architect"}
