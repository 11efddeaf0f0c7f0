"""Agent prompts and the Claude Code layout: one prompt per agent that states its id, lists exactly
the commands the runtime accepts from it (with usage lines the runtime's parser reads, or its MCP
tools), gives it the tools to issue them, and asks it to write no file."""

from __future__ import annotations

import functools
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchdsl_runtime.cli import parser as run_parser
from orchdsl_runtime.contract.commands import BY_NAME
from orchdsl_runtime.model import Model
from orchdsl_runtime.roles import commands_for

from orchdsl.cli import main
from orchdsl.compile import compile_to_dir
from orchdsl.emit import compiled_json
from orchdsl.generate import build_files, runtime_model
from orchdsl.model import Organisation
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parent.parent
V2 = ROOT / "specs" / "orchestration_v2.orch"
GOOD_SPECS = sorted((ROOT / "specs").glob("*.orch")) + sorted((ROOT / "examples").glob("*.orch"))
ROW = re.compile(r"^\| `(\w+)` \| `(.*?)` \|", re.M)


@functools.cache
def model(path: Path) -> Organisation:
    result = check_files([path])
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    return result.model


@functools.cache
def runtime(path: Path) -> Model:
    found = runtime_model(compiled_json(model(path)))
    assert found is not None
    return found


@functools.cache
def files(path: Path, layout: str = "default") -> dict[str, str]:
    return build_files(model(path), layout)


def split(text: str) -> tuple[dict[str, Any], str]:
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    data = yaml.safe_load(head)
    assert isinstance(data, dict)
    return data, body


def section(body: str, title: str) -> str:
    return body.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def is_prompt(rel: str) -> bool:
    return rel.startswith(("agents/", ".claude/agents/")) and rel.endswith(".md")


def tools(fm: dict[str, Any]) -> list[str]:
    return [t.strip() for t in str(fm.get("tools", "")).split(",") if t.strip()]


# -- one prompt per agent, both layouts ----------------------------------------------------------


@pytest.mark.parametrize("spec", GOOD_SPECS, ids=lambda p: p.name)
def test_each_agent_has_a_prompt_listing_what_the_runtime_accepts_from_it(spec: Path) -> None:
    org, rm = model(spec), runtime(spec)
    cli, claude = files(spec), files(spec, "claude")
    agents = sorted(rm.agents)
    assert sorted(k[len("agents/"):-3] for k in cli if k.startswith("agents/")) == agents
    assert sorted(k[len(".claude/agents/"):-3] for k in claude if k.startswith(".claude/")) == agents
    roles = {r.id: r for r in org.roles}
    for agent in agents:
        role = roles[rm.agents[agent].role]
        allowed = [c.name for c in commands_for(rm, agent)]
        fm, body = split(cli[f"agents/{agent}.md"])
        assert list(fm)[:2] == ["name", "description"] and fm["name"] == agent
        assert f"You are `{agent}`" in body and "{agent}" not in body and "{{" not in body
        rows = ROW.findall(body)
        assert [name for name, _ in rows] == allowed
        for name, usage in rows:
            assert usage.startswith("orchdsl run ")
            if BY_NAME[name].acts:
                assert usage.endswith(f" --as {agent}"), usage
        # a shell to run them with, unless the role leaves its tools open
        assert "Bash" in tools(fm) or not role.tools
        assert set(role.tools) <= set(tools(fm))
        # the Claude Code subagent: the same prompt acting through its own MCP server's tools
        fm, body = split(claude[f".claude/agents/{agent}.md"])
        assert fm["name"] == agent and f"You are `{agent}`" in body
        assert [t for t in tools(fm) if t.startswith("mcp__")] == [f"mcp__orchdsl-{agent}__{n}" for n in allowed]
        assert set(tools(fm)) - {f"mcp__orchdsl-{agent}__{n}" for n in allowed} <= {*role.tools, "Read"}
        assert [name for name, _ in ROW.findall(body)] == allowed
        assert "orchdsl run " not in body.replace(f"orchdsl run mcp --as {agent}", "")
        assert (f"{fm.get('model')}", f"{fm.get('color')}") == (f"{role.model}", f"{role.color}")
    servers = json.loads(claude[".mcp.json"])["mcpServers"]
    assert servers == {f"orchdsl-{a}": {"command": "orchdsl", "args": ["run", "mcp", "--as", a, "--dir", ".orchdsl-run"]}
                       for a in agents}


def _argv(usage: str, optional: bool) -> list[str]:
    """A usage line with every placeholder filled, with its optional parts or without them."""
    text = usage.replace("\\|", "|")
    if optional:
        text = re.sub(r"\[([^\]]*)\](\.\.\.)?", r"\1", text)
    else:
        text = re.sub(r"\[[^\]]*\](\.\.\.)?", "", text)
    words = []
    for w in text.split()[2:]:
        w = w.removesuffix("...")
        if "=" in w:
            w = "a=1"
        elif "|" in w:
            w = w.split("|")[0]
        elif w.isupper() or w in ("6h", "ST"):
            w = "x"
        words.append(w)
    return words


@pytest.mark.parametrize("spec", GOOD_SPECS, ids=lambda p: p.name)
def test_usage_lines_are_read_by_the_runtimes_parser(spec: Path) -> None:
    seen = set()
    for rel, text in files(spec).items():
        if not rel.startswith("agents/"):
            continue
        for name, usage in ROW.findall(text):
            if name in seen:
                continue
            seen.add(name)
            for optional in (False, True):
                args = run_parser().parse_args(_argv(usage, optional))
                assert args.command.name == name, (usage, optional)
                for p in BY_NAME[name].params:
                    assert optional or not p.required or getattr(args, p.name) not in (None, []), (usage, p.name)
    assert {"status", "inbox", "show"} <= seen


WRITTEN = ("acknowledgement_", "delegation_{", "consultation_{", "announcement_", "reviews/", "outputs/",
           "strategic_plan.yaml", "schemas/", "{agent}_to_", ".schema.json")
"""pieces of the paths of files the runtime never reads (or writes itself)"""


@pytest.mark.parametrize("spec", GOOD_SPECS, ids=lambda p: p.name)
def test_no_prompt_asks_for_a_file_the_runtime_ignores(spec: Path) -> None:
    # what the spec's author wrote (descriptions, responsibilities) is theirs, not the generator's
    authored = {text for r in model(spec).roles for text in (r.description or "", *r.responsibilities) if text}
    for rel, text in {**files(spec), **files(spec, "claude")}.items():
        if not is_prompt(rel):
            continue
        _, body = split(text)
        for piece in WRITTEN:
            assert piece not in body, (rel, piece)
        for line in body.splitlines():
            if re.search(r"\bwrites?\b", line, re.I) and not any(a in line for a in authored):
                assert "runtime" in line, (rel, line)  # only what the runtime writes, or that you write nothing
        reads = section(body, "Files you read")
        for path in re.findall(r"^- `([^`]+)`", reads, re.M):
            assert path.startswith(("_system/", "_communication/", "{instruction_id}/")), (rel, path)


# -- V2 ---------------------------------------------------------------------------------------


def test_the_v2_roles_that_had_no_shell_get_one() -> None:
    cli = files(V2)
    lacked = [r.id for r in model(V2).roles if r.tools and "Bash" not in r.tools]
    assert len(lacked) == 10
    for role in lacked:
        for agent in runtime(V2).agents_by_role[role]:
            fm, body = split(cli[f"agents/{agent}.md"])
            assert "orchdsl run " in body and "Bash" in tools(fm), agent


def test_backend_lead_prompt() -> None:
    _, body = split(files(V2)["agents/backend-lead.md"])
    life = section(body, "Task lifecycle")
    owned = life.split("States you own", 1)[1].split("Transitions you may make", 1)[0]
    for state in ("IN_PLANNING", "ESCALATED", "DOMAIN_REVIEW", "READY_FOR_HANDOFF"):
        assert f"- `{state}` (as `@lead`)" in owned
    for state in ("PENDING", "IN_PROGRESS", "UNDER_REVIEW", "ASSIGNED"):
        assert f"- `{state}`" not in owned
    assert "`DOMAIN_REVIEW` (as `@lead`): SLA 8h; warn at 16h; escalate at 2d to Tech Lead (`tech-lead`)" in owned
    assert "from `READY_FOR_HANDOFF` (as `@downstream_lead`): to `COMPLETED` \"handoff accepted\"" in life
    escalated = life.split("Escalated or warned to you", 1)[1]
    for state in ("ASSIGNED", "IN_PROGRESS", "UNDER_REVIEW", "BLOCKED"):
        assert f"`{state}`" in escalated
    assert "`DOMAIN_REVIEW`" not in escalated  # that escalates to the tech lead
    gates = section(body, "Gates you decide")
    assert "### `domain_review`" in gates and "`gate TASK domain_review OUTCOME` (as `@lead`)" in gates
    assert "peer_review" not in gates
    protocols = section(body, "Protocols")
    assert "Hand a task of your domain over to `frontend` when it is in `READY_FOR_HANDOFF`" in protocols
    assert "accept with `handoff_accept HANDOFF`" in protocols and "`handoff_reject HANDOFF --reason TEXT`" in protocols
    assert "Delegations reach you from Tech Lead (`tech-lead`): acknowledge each within 2h with `ack" in protocols
    reads = section(body, "Files you read")
    for path in ("_communication/inbox/backend-lead/", "_system/capacity/backend/team.yaml",
                 "_communication/broadcast/backend-team/",
                 "_communication/reports/daily/{from}_to_backend-lead_{YYYYMMDD}.yaml"):
        assert f"`{path}`" in reads


def test_ic_tech_lead_and_manager_prompts() -> None:
    cli = files(V2)
    _, ic = split(cli["agents/qa-engineer-1.md"])
    assert "`heartbeat` every 4h" in ic and "### `peer_review`" in ic
    assert "never on a task assigned to you" in ic
    assert "Other agents of your role: `qa-engineer-2`" in ic
    assert "`_communication/inbox/qa-engineer-1/`" in ic and "qa-engineer-2/" not in section(ic, "Files you read")
    assert "The runtime writes your `ic-daily` report to QA Lead (`qa-lead`)" in ic
    assert "--as qa-engineer-1`" in ic and "--as qa-engineer-2" not in ic
    _, tl = split(cli["agents/tech-lead.md"])
    escalated = tl.split("Escalated or warned to you", 1)[1]
    for state in ("IN_PLANNING", "ESCALATED", "DOMAIN_REVIEW", "READY_FOR_HANDOFF"):
        assert f"`{state}`" in escalated
    assert "a delegation not acknowledged within 2h" in escalated
    assert "a task no member qualifies for" in escalated
    assert "`_system/capacity/system_wide.yaml`" in tl
    _, em = split(cli["agents/engineering-manager.md"])
    assert "nobody; you are the top of the hierarchy" in em
    gates = section(em, "Gates you decide")
    assert "`instruction_gate INSTRUCTION risk_assessment OUTCOME`" in gates and "### `go_no_go`" in gates
    assert "`--score CATEGORY=N`" in gates
    _, router = split(cli["agents/router.md"])
    assert "Consult Architect (`architect`) with `consult tier-check --question TEXT`" in router
    assert "| `answer` |" not in router
    _, architect = split(cli["agents/architect.md"])
    assert "consults you (`plan-architecture`)" in architect and "| `answer` |" in architect


def test_v2_prompts_stay_small() -> None:
    sizes = [len(t.encode()) for rel, t in {**files(V2), **files(V2, "claude")}.items() if is_prompt(rel)]
    assert len(sizes) == 2 * 26
    assert max(sizes) < 12_500


# -- the Claude Code layout on disk ------------------------------------------------------------------


def test_claude_layout_keeps_what_it_did_not_make(tmp_path: Path) -> None:
    out = tmp_path / "project"
    (out / ".claude" / "agents").mkdir(parents=True)
    (out / ".claude" / "agents" / "mine.md").write_text("---\nname: mine\n---\nmy own agent\n")
    (out / ".claude" / "agents" / "gone.md").write_text("---\nname: gone\n---\nThis prompt is generated by "
                                                        "orchdsl from the organisation's spec.\n")
    (out / ".mcp.json").write_text(json.dumps({"mcpServers": {"db": {"command": "db-mcp", "args": []},
                                                              "orchdsl-old": {"command": "orchdsl",
                                                                              "args": ["run", "mcp"]}},
                                               "other": True}))
    org = model(V2)
    compile_to_dir(org, out, layout="claude", run_dir="runs/v2")
    assert (out / ".claude" / "agents" / "mine.md").exists()
    assert not (out / ".claude" / "agents" / "gone.md").exists()
    data = json.loads((out / ".mcp.json").read_text())
    assert data["other"] is True and data["mcpServers"]["db"] == {"command": "db-mcp", "args": []}
    assert "orchdsl-old" not in data["mcpServers"]
    assert data["mcpServers"]["orchdsl-qa-engineer-2"]["args"] == ["run", "mcp", "--as", "qa-engineer-2",
                                                                   "--dir", "runs/v2"]
    assert len(data["mcpServers"]) == 1 + 26
    assert compile_to_dir(org, out, check=True, layout="claude", run_dir="runs/v2").ok
    again = compile_to_dir(org, out, layout="claude", run_dir="runs/v2")
    assert again.written == 0 and again.removed == 0
    # the default layout leaves the Claude Code files alone
    assert compile_to_dir(org, out).removed == 0 and (out / ".mcp.json").exists()


def test_compile_layout_and_run_dir_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["compile", str(V2), "-o", str(out), "--layout", "claude", "--run-dir", "runs/v2"]) == 0
    total = len(files(V2, "claude"))
    assert f"wrote {total} of {total} files" in capsys.readouterr().out
    text = (out / "agents" / "planner.md").read_text()
    assert "`--dir runs/v2`" in text
    args = json.loads((out / ".mcp.json").read_text())["mcpServers"]["orchdsl-planner"]["args"]
    assert args == ["run", "mcp", "--as", "planner", "--dir", "runs/v2"]
    assert shlex.join(["orchdsl", *args]) == "orchdsl run mcp --as planner --dir runs/v2"
    (out / ".mcp.json").write_text("{not json")
    assert main(["compile", str(V2), "-o", str(out), "--layout", "claude"]) == 2
    assert "`.mcp.json` is not JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["compile", str(V2), "-o", str(out), "--layout", "cursor"])
    assert exc.value.code == 2


@pytest.mark.parametrize("spec", GOOD_SPECS, ids=lambda p: p.name)
def test_roles_the_lifecycle_never_names_share_their_kinds_lines(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Computing the lifecycle part once per kind for the roles it never names changes nothing."""
    import orchdsl.generate.prompts as prompts

    shared = build_files(model(spec), "claude")
    init = prompts._Prompts.__init__

    def every_role_named(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.named = set(self.people.roles)

    monkeypatch.setattr(prompts._Prompts, "__init__", every_role_named)
    assert build_files(model(spec), "claude") == shared


def test_the_support_desk_prompts_speak_its_own_terms() -> None:
    """Declared complexities in the usage of `task create`, the states of the declared state
    classes and the words of the progress statuses in the standup lines."""
    desk = ROOT / "examples" / "support_desk.orch"
    lead, agent = files(desk)["agents/desk-lead.md"], files(desk)["agents/support-agent-1.md"]
    assert "[--complexity quick\\|involved]" in lead
    assert ("It counts blocked work in `WAITING_ON_CUSTOMER`; work not started in `TRIAGED`; done work in "
            "`RESOLVED`.") in agent
    assert "Progress is reported as `green` (on track), `amber` (at risk), `red` (blocked)." in lead
    v2 = files(V2)["agents/backend-lead.md"]
    assert "[--complexity simple\\|moderate\\|high]" in v2 and "It counts" not in v2 and "Progress is" not in v2
