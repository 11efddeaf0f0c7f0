"""Bounded review rounds, gates that apply by domain or label, and the outputs and notes of moves
and gate decisions: the examples of docs/language.md compiled and run on the engine, and the
content pipeline example played through its scenarios with every projected file validated."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchdsl_runtime import HUMAN, Engine, MemoryStore, VirtualClock, load_model
from orchdsl_runtime.scenario import play_file
from runtime_helpers import refused
from test_projection import validate_all

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_text

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")


def doc_example(org: str) -> str:
    """The ```orch block of docs/language.md that declares ``org ORG``."""
    blocks = re.findall(r"```orch\n(.*?)```", DOC, re.S)
    return next(b for b in blocks if b.startswith(f"org {org}\n"))


def engine_of(text: str) -> Engine:
    result = check_text(text)
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    assert not result.diagnostics, [d.message for d in result.diagnostics]  # the doc examples check clean
    return Engine(load_model(json.loads(compiled_json(result.model))), MemoryStore(), VirtualClock(0.0))


def piece(e: Engine, writer: str = "writer-1") -> str:
    ins = e.submit_instruction(HUMAN, "write it", 1)
    tid = e.create_task("editor", ins, "tactical", "docs", "a piece", required_skills=["prose"], estimate_hours=2.0)
    e.assign("editor", tid, writer)
    e.move(writer, tid, "REVIEW")
    return tid


# -- rounds -------------------------------------------------------------------------------------


def test_rounds_then_take_the_declared_path() -> None:
    e = engine_of(doc_example("review-loop"))
    tid = piece(e)
    for n in (1, 2):
        e.move("writer-2", tid, "DRAFT", note=f"round {n}")
        assert e.state.tasks[tid].state == "DRAFT"
        e.move("writer-1", tid, "REVIEW")
    assert e.state.tasks[tid].rounds("REVIEW", "DRAFT") == 2
    events = e.move("writer-2", tid, "DRAFT", note="still not right")
    assert [ev.type for ev in events] == ["rounds_exhausted", "task_moved"]
    assert events[0].data == {"task": tid, "source": "REVIEW", "target": "DRAFT", "rounds": 2, "then": "DROPPED",
                              "to_actor": None, "to": ["writer-1"]}
    assert events[1].data["target"] == "DROPPED" and events[1].data["instead_of"] == "DRAFT"
    t = e.state.tasks[tid]
    assert t.state == "DROPPED" and t.notes[-1]["text"] == "still not right" and t.notes[-1]["to"] == "DROPPED"
    assert "instead" in e.inbox("writer-1")[-1].text
    assert not e.state.escalations  # a declared path is no escalation


def test_rounds_then_escalate_keep_the_task_and_tell_the_target() -> None:
    text = doc_example("review-loop").replace("rounds 2 then -> DROPPED", "rounds 1 then escalate to @lead")
    e = engine_of(text)
    tid = piece(e)
    e.move("writer-2", tid, "DRAFT")
    e.move("writer-1", tid, "REVIEW")
    events = e.move("writer-2", tid, "DRAFT")
    assert [ev.type for ev in events] == ["rounds_exhausted"]
    assert events[0].data["to"] == ["editor"] and events[0].data["then"] is None
    assert e.state.tasks[tid].state == "REVIEW"
    assert len(e.state.escalations) == 1 and "its limit" in e.inbox("editor")[-1].text
    e.move("editor", tid, "DROPPED")  # the lead decides with the other transitions
    assert e.state.tasks[tid].state == "DROPPED"


def test_gate_outcomes_count_as_rounds() -> None:
    e = engine_of(doc_example("shop").replace('-> DOING "changes requested" by @lead',
                                              '-> DOING "changes requested" by @lead rounds 1 then -> DONE'))
    ins = e.submit_instruction(HUMAN, "fix it", 1)
    tid = e.create_task("lead", ins, "tactical", "eng", "a fix", labels=["code"], required_skills=["python"])
    e.assign("lead", tid, "dev-1")
    e.move("dev-1", tid, "REVIEW")
    e.decide_gate("dev-2", tid, "code_review", "changes_requested", note="rename it")
    assert e.state.tasks[tid].state == "DOING"
    e.move("dev-1", tid, "REVIEW")
    events = e.decide_gate("dev-2", tid, "code_review", "changes_requested")
    assert [ev.type for ev in events] == ["gate_decided", "rounds_exhausted", "task_moved"]
    assert e.state.tasks[tid].state == "DONE" and events[-1].data["gate"] == "code_review"


# -- gates that apply by domain and label ------------------------------------------------------


def test_a_gate_applies_to_the_labels_it_names() -> None:
    e = engine_of(doc_example("shop"))
    ins = e.submit_instruction(HUMAN, "ship it", 1)
    code = e.create_task("lead", ins, "tactical", "eng", "code", labels=["code"], required_skills=["python"])
    docs = e.create_task("lead", ins, "tactical", "eng", "docs", labels=["docs"], required_skills=["python"])
    bare = e.create_task("lead", ins, "tactical", "eng", "bare", required_skills=["python"])
    for tid in (code, docs, bare):
        e.assign("lead", tid, "dev-1")
        e.move("dev-1", tid, "REVIEW")
    r = refused(e, "RUN007", e.move, "lead", code, "DONE")
    assert "code_review" in r.reason
    r = refused(e, "RUN011", e.decide_gate, "dev-2", docs, "code_review", "approved")
    assert "labelled `code`" in r.reason and "labelled `docs`" in r.reason
    e.move("lead", docs, "DONE")
    e.move("lead", bare, "DONE")
    e.decide_gate("dev-2", code, "code_review", "approved")
    e.move("lead", code, "DONE")
    assert {e.state.tasks[t].state for t in (code, docs, bare)} == {"DONE"}


def test_unknown_labels_are_refused() -> None:
    e = engine_of(doc_example("shop"))
    ins = e.submit_instruction(HUMAN, "ship it", 1)
    r = refused(e, "RUN013", e.create_task, "lead", ins, "tactical", "eng", "x", labels=["cod"])
    assert "`cod`" in r.reason and "`code`" in r.reason


# -- outputs and notes --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/etc/passwd", "../up.md", "a/../b.md", "a\\b.md", "a//b.md", "drafts/a b.md", "x/\x07.md", "CON/a.md", "",
])
def test_unsafe_outputs_are_refused(path: str) -> None:
    e = engine_of(doc_example("review-loop"))
    ins = e.submit_instruction(HUMAN, "write it", 1)
    tid = e.create_task("editor", ins, "tactical", "docs", "a piece", required_skills=["prose"])
    e.assign("editor", tid, "writer-1")
    refused(e, "RUN013", e.move, "writer-1", tid, "REVIEW", outputs=[path])


def test_outputs_and_notes_are_kept_once_in_order() -> None:
    e = engine_of(doc_example("review-loop"))
    ins = e.submit_instruction(HUMAN, "write it", 1)
    tid = e.create_task("editor", ins, "tactical", "docs", "a piece", required_skills=["prose"])
    e.assign("editor", tid, "writer-1")
    e.move("writer-1", tid, "REVIEW", outputs=["out/a.md", "out/b.md", "out/a.md"], note="first")
    e.move("writer-2", tid, "DRAFT", note="again")
    e.move("writer-1", tid, "REVIEW", outputs=["out/b.md", "out/c.md"])
    t = e.state.tasks[tid]
    assert t.outputs == ("out/a.md", "out/b.md", "out/c.md")
    assert [(n["by"], n["state"], n["to"], n["text"]) for n in t.notes] == [
        ("writer-1", "DRAFT", "REVIEW", "first"), ("writer-2", "REVIEW", "DRAFT", "again")]
    dumped = e.task(tid)
    assert dumped["outputs"] == list(t.outputs) and len(dumped["notes"]) == 2
    refused(e, "RUN013", e.move, "writer-2", tid, "DONE", note="")  # an empty note says nothing


# -- the content pipeline example -------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orchdsl.compile import compile_to_dir
    from orchdsl.pipeline import check_files

    result = check_files([ROOT / "examples" / "content_pipeline.orch"])
    assert result.model is not None and result.ok and not result.diagnostics
    out = tmp_path_factory.mktemp("content_pipeline")
    compile_to_dir(result.model, out)
    return out


def play(pipeline_dir: Path, tmp_path: Path, name: str) -> tuple[Path, dict[str, Any]]:
    scenario = ROOT / "examples" / "scenarios" / "content_pipeline" / f"{name}.yaml"
    text = io.StringIO()
    run, failures, rep = play_file(pipeline_dir / "model.json", scenario, tmp_path / "run", text)
    try:
        run.project()
    finally:
        run.close()
    assert failures == [], text.getvalue()
    assert rep["scenario"]["log_verified"]
    return run.dir, rep


def test_news_story_scenario(pipeline_dir: Path, tmp_path: Path) -> None:
    run_dir, rep = play(pipeline_dir, tmp_path, "news_story")
    assert rep["tasks_by_state"] == {"PUBLISHED": 1}
    assert rep["escalations"]["rounds"] == 1
    counts = validate_all(run_dir)
    assert counts["tactical-task"] == 1 and counts["gate-decision"] >= 6
    task = yaml.safe_load((run_dir / "Agent_Memory/I1/tasks/tactical/news/TT0.1.yaml").read_text())
    assert task["labels"] == ["news"] and task["status"] == "PUBLISHED"
    assert task["outputs"] == ["drafts/tram-vote.md", "images/tram-map.png"]
    texts = [n["text"] for n in task["notes"]]
    assert "lead with the vote count" in texts and "the vote was 31 to 24, not 30 to 25" in texts
    checked = next(n for n in task["notes"] if n["text"] == "all claims sourced")
    assert checked["gate"] == "fact_check" and checked["outcome"] == "checked" and checked["by"] == "fact-checker"
    decisions = [yaml.safe_load(p.read_text()) for p in (run_dir / "Agent_Memory/I1/decisions").glob("*.yaml")]
    assert any(d.get("note") == "lead with the vote count" for d in decisions)


def test_spiked_feature_scenario_passes_outputs_on(pipeline_dir: Path, tmp_path: Path) -> None:
    run_dir, rep = play(pipeline_dir, tmp_path, "spiked_feature")
    assert rep["tasks_by_state"] == {"PUBLISHED": 1, "SPIKED": 1}
    validate_all(run_dir)
    opinion = yaml.safe_load((run_dir / "Agent_Memory/I2/tasks/tactical/features/TT0.2.yaml").read_text())
    (feature,) = opinion["inputs"]
    assert feature["task"] == "TT0.1" and feature["status"] == "SPIKED"
    assert feature["outputs"] == ["features/night-buses.md"]
    assert [n["text"] for n in feature["notes"]][-1] == "still not working"


def test_the_moves_view_counts_the_rounds() -> None:
    from orchdsl_runtime.work import moves

    e = engine_of(doc_example("review-loop"))
    tid = piece(e)
    e.move("writer-2", tid, "DRAFT")
    e.move("writer-1", tid, "REVIEW")
    back = next(m for m in moves(e, tid, "writer-2") if m["target"] == "DRAFT")
    assert back["rounds"] == {"limit": 2, "taken": 1, "then": "DROPPED", "escalate": None} and back["allowed"]
    assert "rounds" not in next(m for m in moves(e, tid, "writer-2") if m["target"] == "DONE")


def test_the_command_line_takes_labels_notes_and_outputs(pipeline_dir: Path, tmp_path: Path) -> None:
    from runtime_helpers import cli, ok

    run = tmp_path / "run"
    ok(run, "init", str(pipeline_dir / "model.json"), "--virtual-clock", "2025-03-03T08:00:00Z")
    ok(run, "submit", "--as", "human", "--tier", "1", "the tram vote")
    ok(run, "task", "create", "--as", "news-editor", "--instruction", "I1", "--domain", "news", "--title", "Tram",
       "--label", "news", "--estimate", "2h")
    ok(run, "assign", "TT0.1", "--as", "news-editor", "--to", "reporter-1")
    out = ok(run, "move", "TT0.1", "EDITING", "--as", "reporter-1", "--note", "filed", "--output", "drafts/t.md",
             "--output", "img/map.png")
    assert "outputs drafts/t.md, img/map.png: filed" in out
    ok(run, "gate", "TT0.1", "copy_edit", "changes_requested", "--as", "news-editor", "--note", "shorter")
    code, _, err = cli(run, "move", "TT0.1", "EDITING", "--as", "reporter-1", "--output", "/etc/passwd")
    assert code == 1 and "RUN013" in err and "absolute" in err
    shown = ok(run, "show", "TT0.1")
    assert "labels news; outputs drafts/t.md, img/map.png" in shown
    assert "note by reporter-1 (DRAFTING -> EDITING): filed" in shown
    assert "note by news-editor (gate copy_edit: changes_requested): shorter" in shown
    ok(run, "move", "TT0.1", "EDITING", "--as", "reporter-1")
    moves = ok(run, "moves", "TT0.1", "--as", "news-editor")
    assert "1 of 2 rounds taken, then SPIKED" in moves
    assert json.loads(ok(run, "--json", "show", "TT0.1"))["outputs"] == ["drafts/t.md", "img/map.png"]


def test_who_may_decide_a_gate_follows_the_domains_it_applies_to() -> None:
    from orchdsl_runtime.roles import may_issue

    ops = ('role ops-lead { title "Ops Lead" reports_to lead }\n'
           'role ops-dev { title "Ops" reports_to ops-lead }\n'
           'domain ops {\n  lead ops-lead\n  member ops-dev x2 { experience mid skills { python: expert } }\n}\n')
    text = doc_example("shop") + ops
    assert "ops-dev" not in may_issue(engine_of(text).model)["gate"]  # the review applies to `eng` only
    assert "dev" in may_issue(engine_of(text).model)["gate"]
    everywhere = text.replace("  applies to domain eng\n", "")
    assert "ops-dev" in may_issue(engine_of(everywhere).model)["gate"]


def test_the_prompts_tell_the_agents(pipeline_dir: Path) -> None:
    editor = (pipeline_dir / "agents" / "news-editor.md").read_text(encoding="utf-8")
    assert "(at most 2 times per task, then the task goes to `SPIKED` instead)" in editor
    assert "`fact_check` (tier 1, labelled `news`)" in editor
    assert "`--note TEXT` and `--output PATH` (a file the work made) reach the tasks that depend on it" in editor
    publisher = (pipeline_dir / "agents" / "publisher.md").read_text(encoding="utf-8")
    assert "at most 1 time per task, then it is escalated to managing-editor" in publisher
    chief = (pipeline_dir / "agents" / "managing-editor.md").read_text(encoding="utf-8")
    assert "Only for tasks of domain `features`, labelled `opinion`; other tasks skip it" in chief
