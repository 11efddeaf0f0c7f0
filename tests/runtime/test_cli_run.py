"""`orchdsl run`: the runtime's command line on a run directory (in-process).

An agent drives a tier-2 task from PENDING to COMPLETED through the CLI and is
refused, with a code, a reason and exit 1, at every step it may not take; a
refusal appends nothing. JSON outputs parse; `log --verify` catches a changed
projection and a changed log; usage errors exit 2.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchdsl_runtime.cli import main
from orchdsl_runtime.rundir import Run

ROOT = Path(__file__).resolve().parents[2]
V2 = ROOT / "specs" / "orchestration_v2.orch"




class Cli:
    def __init__(self, directory: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.dir = directory
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*args, "--dir", str(self.dir)])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, err
        return out

    def events(self) -> int:
        return len(self.json("log")["events"])

    def refused(self, code: str, *args: str) -> str:
        before = self.events()
        rc, out, err = self(*args)
        assert rc == 1, (rc, out, err)
        assert err.startswith(f"refused: {code} "), err
        assert self.events() == before, "a refused command appended events"
        return err


@pytest.fixture
def cli(compiled_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    c = Cli(tmp_path / "run", capsys)
    code, out, err = c("init", str(compiled_dir / "model.json"), "--virtual-clock", "2025-01-06T09:00:00Z")
    assert code == 0, err
    return c


def test_lifecycle_through_the_cli_with_every_refusal(cli: Cli) -> None:
    dev, peer, lead = "backend-developer-1", "backend-developer-2", "backend-lead"
    cli.refused("RUN001", "submit", "--as", "nobody", "--tier", "2", "add", "a", "thing")
    data = cli.json("submit", "--as", "human", "--tier", "2", "Add", "rate", "limiting")
    assert data["instruction"] == "I1"
    data = cli.json("task", "create", "--as", "planner", "--instruction", "I1", "--domain", "backend",
                    "--title", "Rate limiter", "--skills", "python", "--nice", "redis", "--estimate", "6h")
    task = data["task"]
    assert task == "TT0.1"
    cli.refused("RUN002", "move", "TT9.9", "ASSIGNED", "--as", lead)

    # PENDING: only the lead assigns; explicit assignees must be domain members
    cli.refused("RUN004", "assign", task, "--as", dev)
    cli.refused("RUN010", "assign", task, "--to", "frontend-developer-1", "--as", lead)
    cli.refused("RUN003", "move", task, "IN_PROGRESS", "--as", lead)
    out = cli.ok("assign", task, "--to", dev, "--as", lead)
    assert f"assigned {task} to {dev} (explicit)" in out
    assert "CANDIDATE" in out and "skill_match" in out

    # ASSIGNED: only the assignee starts; the lead may not
    err = cli.refused("RUN004", "move", task, "IN_PROGRESS", "--as", lead)
    assert f"@assignee (`{dev}`)" in err
    cli.refused("RUN004", "heartbeat", task, "--as", peer)
    cli.ok("move", task, "IN_PROGRESS", "--as", dev)
    cli.ok("clock", "advance", "3h")
    cli.ok("heartbeat", task, "--as", dev, "--tokens", "20K", "--note", "token bucket", "--remaining", "2h")
    cli.ok("heartbeat", task, "--as", dev, "--tokens", "500")
    assert cli.json("show", task)["tokens_total"] == 20_500

    # IN_PROGRESS: no skipping the reviews at tier 2; review needs the quality check attested
    cli.refused("RUN003", "move", task, "COMPLETED", "--as", dev)
    cli.refused("RUN006", "move", task, "UNDER_REVIEW", "--as", dev)
    cli.refused("RUN004", "move", task, "UNDER_REVIEW", "--as", peer, "--attest", "basic_quality_check")
    cli.ok("clock", "advance", "2h")
    cli.ok("move", task, "UNDER_REVIEW", "--as", dev, "--attest", "basic_quality_check")

    # UNDER_REVIEW: the assignee is never its own peer; the gate must pass first
    err = cli.refused("RUN004", "gate", task, "peer_review", "approved", "--as", dev)
    assert "@peer" in err
    cli.refused("RUN007", "move", task, "DOMAIN_REVIEW", "--as", peer)
    cli.refused("RUN012", "gate", task, "peer_review", "maybe", "--as", peer)
    cli.refused("RUN011", "gate", task, "domain_review", "approved", "--as", lead)
    cli.ok("gate", task, "peer_review", "approved", "--as", peer)
    cli.ok("move", task, "DOMAIN_REVIEW", "--as", peer)

    # DOMAIN_REVIEW: gates of tier 2 (domain review, validation with 80 % coverage)
    cli.refused("RUN004", "gate", task, "domain_review", "approved", "--as", dev)
    cli.ok("gate", task, "domain_review", "approved", "--as", lead)
    cli.refused("RUN012", "gate", task, "validation", "PASS", "--as", "validator", "--measure", "test_coverage=70%")
    cli.refused("RUN007", "move", task, "COMPLETED", "--as", lead, "--attest", "all_acceptance_criteria_met")
    cli.ok("gate", task, "validation", "PASS", "--as", "validator", "--measure", "test_coverage=0.85",
           "--measure", "tests_pass=1")
    cli.refused("RUN005", "move", task, "READY_FOR_HANDOFF", "--as", lead, "--attest", "documentation_complete",
                "--attest", "staging_deployed", "--attest", "handoff_checklist_prepared",
                "--attest", "downstream_domain_notified")
    cli.refused("RUN006", "move", task, "COMPLETED", "--as", lead)
    cli.refused("RUN004", "move", task, "COMPLETED", "--as", dev, "--attest", "all_acceptance_criteria_met")
    cli.ok("move", task, "COMPLETED", "--as", lead, "--attest", "all_acceptance_criteria_met")

    # COMPLETED: nothing more
    cli.refused("RUN003", "move", task, "IN_PROGRESS", "--as", lead)
    cli.refused("RUN013", "heartbeat", task, "--as", dev)
    shown = cli.json("show", task)
    assert shown["state"] == "COMPLETED" and shown["assignee"] == dev
    assert [h[3] for h in shown["history"]] == ["ASSIGNED", "IN_PROGRESS", "UNDER_REVIEW", "DOMAIN_REVIEW",
                                                 "COMPLETED"]
    # status is the open work: a finished task is counted, not listed
    other = cli.json("task", "create", "--as", "planner", "--instruction", "I1", "--domain", "backend",
                     "--title", "next", "--skills", "python")["task"]
    status = cli.json("status")
    assert [t["id"] for t in status["tasks"]] == [other]
    assert status["tasks_by_state"] == {"COMPLETED": 1, "PENDING": 1}
    assert "COMPLETED 1, PENDING 1 (tasks in a terminal state are not listed" in cli.ok("status")
    code, out, err = cli("log", "--verify")
    assert code == 0, out + err


def test_refusal_in_json_is_on_stdout_and_stderr(cli: Cli) -> None:
    code, out, err = cli("submit", "--as", "human", "--tier", "9", "x", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["refused"]["code"] == "RUN013" and "tier 9" in data["refused"]["reason"]
    assert err.startswith("refused: RUN013 bad-argument: ")


def _task(cli: Cli, tier: str = "2") -> str:
    cli.ok("submit", "--as", "human", "--tier", tier, "work")
    data = cli.json("task", "create", "--as", "planner", "--instruction", "I1", "--domain", "backend",
                    "--title", "work", "--skills", "python", "--estimate", "4h")
    return str(data["task"])


def test_json_outputs_parse_and_clock_persists(cli: Cli) -> None:
    task = _task(cli)
    cli.ok("assign", task, "--as", "backend-lead")
    status = cli.json("status")
    assert status["tasks_by_state"] == {"ASSIGNED": 1} and [t["id"] for t in status["tasks"]] == [task]
    row = status["tasks"][0]
    assert row["sla"]["target"] == 4 * 3600 and row["sla"]["dimension"] == "time"
    assert set(status["utilisation"]["domains"]) >= {"backend", "frontend"}
    fired = cli.json("clock", "advance", "9h")
    assert [e["type"] for e in fired["events"]] == ["sla_warning"]
    assert cli.json("clock", "show")["now_iso"] == "2025-01-06T18:00:00Z"
    assignee = status["tasks"][0]["assignee"]
    inbox = cli.json("inbox", assignee)
    assert [m["type"] for m in inbox["messages"]] == ["task_assigned", "sla_warning"]
    log = cli.json("log")
    assert [e["seq"] for e in log["events"]] == list(range(1, len(log["events"]) + 1))
    assert cli.json("clock", "process")["events"] == []
    rep = cli.json("report")
    assert rep["tasks_by_state"] == {"ASSIGNED": 1}
    assert {m["name"] for m in rep["metrics"]} >= {"planning_quality", "review_speed"}
    text = cli.ok("status")
    assert "ASSIGNED" in text and "late" in text and "UTILISATION" in text


def test_clock_to_and_records(cli: Cli) -> None:
    task = _task(cli)
    cli.ok("clock", "to", "2025-01-06T12:00:00Z")
    code, _, err = cli("clock", "to", "2025-01-06T10:00:00Z")
    assert code == 2 and "in the past" in err
    cli.ok("record", "clarification", task, "--as", "backend-developer-1", "--note", "which limits?")
    cli.refused("RUN002", "record", "defect", "TT7.7", "--as", "backend-lead")
    cli.refused("RUN004", "record", "defect", task, "--as", "frontend-developer-1")
    cli.ok("record", "defect", task, "--as", "backend-lead", "--note", "off by one")
    types = [e["type"] for e in cli.json("log")["events"]]
    assert types[-2:] == ["clarification_recorded", "defect_recorded"]
    assert "which limits?" in cli.json("inbox", "backend-lead")["messages"][-1]["text"]
    rep = cli.json("report")
    planning = next(m for m in rep["metrics"] if m["measure"] == "clarification_free")
    assert planning["status"] == "no data"  # counted on finished tactical tasks


def test_log_verify_catches_a_changed_projection_and_log(cli: Cli) -> None:
    task = _task(cli)
    cli.ok("assign", task, "--as", "backend-lead")
    assert cli("log", "--verify")[0] == 0
    path = cli.dir / "Agent_Memory" / "I1" / "tasks" / "tactical" / "backend" / f"{task}.yaml"
    path.write_text(path.read_text().replace("status: ASSIGNED", "status: COMPLETED"))
    code, out, _ = cli("log", "--verify")
    assert code == 1 and "projected file" in out and f"{task}.yaml" in out
    cli.ok("status")  # reading does not repair
    cli.ok("clock", "process")  # nor does a command whose events do not touch the file
    assert cli("log", "--verify")[0] == 1
    cli.ok("move", task, "IN_PROGRESS", "--as", cli.json("show", task)["assignee"])  # this one does
    assert cli("log", "--verify")[0] == 0
    path.write_text("tampered\n")
    run = Run.open(cli.dir)
    try:
        assert run.project(full=True).changed == [str(path.relative_to(cli.dir))]  # a full one repairs the rest
    finally:
        run.close()
    assert cli("log", "--verify")[0] == 0
    db = sqlite3.connect(cli.dir / "events.sqlite")
    db.execute("UPDATE events SET data = replace(data, '\"title\":\"work\"', '\"title\":\"other\"') WHERE seq = 2")
    db.commit()
    code, out, _ = cli("log", "--verify")
    assert code == 1 and f"{task}.yaml" in out
    db.execute("UPDATE events SET seq = 99 WHERE seq = 2")
    db.commit()
    db.close()
    code, out, err = cli("log", "--verify")
    assert code == 2 and "RUN028 store-damaged" in err and "cannot be replayed" in err
    assert "event 3 applied after 1" in err


def test_usage_errors_exit_2(cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--dir", str(tmp_path / "nowhere")]) == 2
    assert "no run directory" in capsys.readouterr().err
    code, _, err = cli("move", "TT0.1", "IN_PROGRESS")
    assert code == 2 and "--as AGENT" in err
    code, _, err = cli("clock", "advance", "4 hours")
    assert code == 2 and "bad duration" in err
    code, _, err = cli("frobnicate")
    assert code == 2
    code, _, err = cli("init", str(cli.dir / "model.json"))
    assert code == 2 and "--force" in err
    assert main([]) == 2


def test_wall_clock_run_refuses_advance(compiled_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = Cli(tmp_path / "wall", capsys)
    assert c("init", str(compiled_dir / "model.json"))[0] == 0
    code, _, err = c("clock", "advance", "1h")
    assert code == 2 and "wall clock" in err
    assert c.json("clock", "show")["clock"] == "wall"


def test_orchdsl_run_compiles_a_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchdsl.cli import main as orchdsl_main

    d = tmp_path / "r"
    assert orchdsl_main(["run", "init", str(V2), "--dir", str(d), "--virtual-clock"]) == 0
    assert (d / "schemas" / "tactical-task.schema.json").is_file()
    assert (d / "Agent_Memory" / "_system" / "config" / "task_state_machine.yaml").is_file()
    capsys.readouterr()
    bad = ROOT / "examples" / "bad" / "twelve_mistakes.orch"
    assert orchdsl_main(["run", "init", str(bad), "--dir", str(tmp_path / "bad")]) == 1
    assert "not run:" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert orchdsl_main(["run", str(V2)]) == 2
    assert "--scenario" in capsys.readouterr().err


def test_protocol_commands(cli: Cli) -> None:
    cli.ok("submit", "--as", "human", "--tier", "2", "saved", "searches")
    task = cli.json("task", "create", "--as", "planner", "--instruction", "I1", "--domain", "backend",
                    "--title", "API", "--skills", "python", "--estimate", "4h", "--handoff-to", "frontend")["task"]
    cli.ok("assign", task, "--to", "backend-developer-1", "--as", "backend-lead")
    cli.refused("RUN004", "reassign", task, "--to", "backend-developer-2", "--as", "backend-developer-1")
    data = cli.json("reassign", task, "--to", "backend-developer-2", "--as", "backend-lead")
    assert [e["type"] for e in data["events"]] == ["task_reassigned"]
    dev = "backend-developer-2"
    cli.ok("move", task, "IN_PROGRESS", "--as", dev)
    cli.ok("move", task, "UNDER_REVIEW", "--as", dev, "--attest", "basic_quality_check")
    cli.ok("gate", task, "peer_review", "approved", "--as", "senior-developer")
    cli.ok("move", task, "DOMAIN_REVIEW", "--as", "senior-developer")
    cli.ok("gate", task, "domain_review", "approved", "--as", "backend-lead")
    cli.ok("gate", task, "validation", "PASS", "--as", "validator", "--measure", "test_coverage=0.9")
    cli.ok("move", task, "READY_FOR_HANDOFF", "--as", "backend-lead", "--attest", "documentation_complete",
           "--attest", "staging_deployed", "--attest", "handoff_checklist_prepared",
           "--attest", "downstream_domain_notified")
    cli.refused("RUN004", "handoff", "create", task, "--summary", "API", "--as", dev)
    hid = cli.json("handoff", "create", task, "--summary", "API on staging", "--as", "backend-lead")["handoff"]
    cli.refused("RUN022", "handoff", "accept", hid, "--as", "frontend-lead")
    cli.ok("handoff", "tick", hid, "API documentation complete", "Request collection provided", "--as", dev)
    cli.refused("RUN013", "handoff", "tick", hid, "Nothing of the sort", "--as", dev)
    code, _, err = cli("handoff", "reject", hid, "--as", "frontend-lead")
    assert code == 2 and "--reason" in err
    cli.ok("handoff", "reject", hid, "--reason", "no error catalogue", "--as", "frontend-lead")
    assert cli.json("show", task)["state"] == "IN_PROGRESS"

    cli.refused("RUN020", "delegate", "--to", "backend-developer-1", "--subject", "x", "--as", "engineering-manager")
    did = cli.json("delegate", "--to", "tech-lead", "--subject", "own it", "--instruction", "I1",
                   "--as", "engineering-manager")["delegation"]
    cli.refused("RUN004", "ack", did, "--as", "backend-lead")
    cli.ok("ack", did, "--as", "tech-lead", "--notes", "on it")
    cli.refused("RUN004", "consult", "plan-architecture", "--question", "two services?", "--as", "router")
    cid = cli.json("consult", "plan-architecture", "--question", "two services?", "--instruction", "I1",
                   "--as", "planner")["consultation"]
    cli.refused("RUN026", "task", "create", "--as", "planner", "--instruction", "I1", "--domain", "backend",
                "--title", "held")
    assert [c["id"] for c in cli.json("status")["consultations"]] == [cid]
    assert "open consultation C1 (plan-architecture)" in cli.ok("status")
    cli.refused("RUN004", "answer", cid, "--answer", "one", "--as", "planner")
    cli.ok("answer", cid, "--answer", "one service", "--as", "architect")
    cli.refused("RUN021", "answer", cid, "--answer", "two", "--as", "architect")
    assert cli.json("status")["consultations"] == []
    cli.refused("RUN002", "broadcast", "nowhere", "--kind", "milestone", "--subject", "x", "--as", "tech-lead")
    cli.ok("broadcast", "all", "--kind", "milestone", "--subject", "API on staging", "--as", "tech-lead")
    cli.ok("standup", "generate")
    assert any(m["type"] == "standup_reported" for m in cli.json("inbox", "backend-lead")["messages"])
    cli.refused("RUN023", "instruction", "close", "I1", "--as", "tech-lead")
    assert cli.json("instruction", "show", "I1")["tier"] == 2
    assert cli("log", "--verify")[0] == 0


def test_task_description_and_acceptance_criteria(cli: Cli) -> None:
    cli.ok("submit", "--as", "human", "--tier", "2", "Add", "rate", "limiting")
    base = ("task", "create", "--as", "backend-lead", "--instruction", "I1", "--domain", "backend",
            "--title", "Rate limiter")
    err = cli.refused("RUN013", *base, "--criterion", "429 with Retry-After", "--criterion", " ")
    assert "acceptance criterion" in err
    task = cli.json(*base, "--description", "A token bucket per API key",
                    "--criterion", "429 with Retry-After", "--criterion", "limits configurable per plan")["task"]
    shown = cli.json("show", task)
    assert shown["description"] == "A token bucket per API key"
    assert shown["acceptance_criteria"] == ["429 with Retry-After", "limits configurable per plan"]
    assert "done when: limits configurable per plan" in cli.ok("show", task)
    data = yaml.safe_load((cli.dir / "Agent_Memory/I1/tasks/tactical/backend/TT0.1.yaml").read_text())
    assert data["description"] == "Rate limiter: A token bucket per API key"
    assert data["tactical_acceptance_criteria"] == ["429 with Retry-After", "limits configurable per plan"]
    assert data["parent_strategic_task"] is None
    cli.ok("log", "--verify")  # the replayed log gives the same task


def test_the_options_of_run_may_come_before_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchdsl.cli import main as orchdsl_main

    d = tmp_path / "run"
    assert orchdsl_main(["run", "--dir", str(d), "init", str(V2), "--virtual-clock"]) == 0  # the usage line's form
    assert orchdsl_main(["run", "--dir", str(d), "--json", "status"]) == 0
    assert '"clock": "virtual"' in capsys.readouterr().out
