"""`orchdsl graph`: what each view shows, the tier option, SVG through Graphviz
(and a clear message without it), and the Mermaid pages `orchdsl compile` writes.
The text of every view is pinned by the goldens in ``test_golden.py``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from orchdsl.cli import main
from orchdsl.graph import build, markdown_views, to_dot, to_mermaid
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parent.parent
V2 = "specs/orchestration_v2.orch"


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def v2():  # type: ignore[no-untyped-def]
    result = check_files([ROOT / V2])
    assert result.model is not None
    return result.model


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_hierarchy_has_every_role_and_reporting_line(v2) -> None:  # type: ignore[no-untyped-def]
    d = build(v2, "hierarchy")
    assert len(d.nodes) == len(v2.roles)
    edges = {(e.src, e.dst) for e in d.edges}
    for r in v2.roles:
        if r.reports_to:
            assert (d.id("role", r.reports_to), d.id("role", r.id)) in edges
    assert [c.label for c in d.clusters] == [f"domain {dom.name}" for dom in v2.domains]
    backend = next(c for c in d.clusters if c.label == "domain backend")
    assert backend.nodes == [d.id("role", "backend-lead"), d.id("role", "backend-developer"),
                             d.id("role", "senior-developer")]
    assert d.nodes[d.id("role", "backend-developer")].lines == ["Backend Developer", "backend-developer ×2"]


def test_lifecycle_of_a_tier_has_only_what_applies(v2) -> None:  # type: ignore[no-untyped-def]
    whole = build(v2, "lifecycle")
    tier1 = build(v2, "lifecycle", 1)
    tier4 = build(v2, "lifecycle", 4)
    assert len(whole.nodes) == len(v2.lifecycle.states)
    assert "state_IN_PLANNING" not in tier1.nodes and "state_READY_FOR_HANDOFF" not in tier1.nodes
    assert "state_IN_PLANNING" in tier4.nodes
    pending = tier1.nodes["state_PENDING"].lines
    assert pending == ["PENDING", "owner planner", "SLA 2h", "warn 2x", "escalate 4x to engineering-manager"]
    assert tier4.nodes["state_PENDING"].lines[2] == "SLA 8h"
    # The gates that guard a transition, in the tier where they apply.
    done = [e for e in tier1.edges if (e.src, e.dst) == ("state_IN_PROGRESS", "state_COMPLETED")]
    assert done and "gate validation" in done[0].lines and done[0].style == "thick"
    assert not [e for e in tier4.edges if (e.src, e.dst) == ("state_IN_PROGRESS", "state_COMPLETED")]
    timer = next(e for e in whole.edges if (e.src, e.dst) == ("state_BLOCKED", "state_ESCALATED"))
    assert "after 4h" in timer.lines and timer.style == "dotted"


def test_protocols_show_every_route(v2) -> None:  # type: ignore[no-untyped-def]
    d = build(v2, "protocols")
    labels = [" / ".join(e.lines) for e in d.edges]
    assert sum(lb.startswith("delegates") for lb in labels) == len(v2.delegation.chain) - 1
    for su in v2.standups:
        assert any(f"standup {su.name}" in lb for lb in labels)
    for c in v2.consultations:
        assert any(f"consults ({c.name})" in lb for lb in labels)
    assert sum(lb.startswith("handoff") for lb in labels) == len(v2.handoffs)
    channels = {n.lines[0] for n in d.nodes.values() if n.cls == "channel"}
    assert channels == {"channel all", "channel domain-leads", "channel tech-leads", "channel {domain}-team"}


def test_flows_follow_each_tier(v2) -> None:  # type: ignore[no-untyped-def]
    d = build(v2, "flows")
    assert [c.label for c in d.clusters] == [f"tier {t.number} {t.name}" for t in v2.tiers]
    tier4 = build(v2, "flows", 4)
    assert len(tier4.nodes) == len(v2.tiers[4].flow) and len(tier4.edges) == len(v2.tiers[4].flow) - 1
    gates = [n.lines[0] for n in tier4.nodes.values() if n.cls == "gate"]
    assert gates == [f"gate {s.gate}" for s in v2.tiers[4].flow if s.gate]


@pytest.mark.parametrize("argv, message", [
    (["--view", "lifecycle", "--tier", "9"], "tier 9 is not declared; declared tiers: 0, 1, 2, 3, 4"),
    (["--view", "lifecycle", "--tier", "0"], "tier 0 has no lifecycle; the lifecycle applies to tiers 1-4"),
    (["--view", "hierarchy", "--tier", "1"], "`--tier` applies to the lifecycle and flows views"),
    (["--view", "flows", "--tier", "7"], "tier 7 is not declared"),
])
def test_tier_mistakes_are_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "graph", V2, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_a_spec_with_errors_is_not_drawn(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "graph", "examples/bad/twelve_mistakes.orch")
    assert code == 1 and out == ""
    assert "error[ORC102]" in err and "not drawn:" in err


def test_graph_writes_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "org.dot"
    code, out, err = run(capsys, "graph", V2, "--format", "dot", "-o", str(target))
    assert (code, out) == (0, "") and f"wrote {target}" in err
    assert target.read_text(encoding="utf-8").startswith('digraph "hierarchy" {')
    assert run(capsys, "graph", V2, "-q", "--format", "dot", "-o", str(target)) == (0, "", "")


def test_svg_without_graphviz_says_what_is_missing(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = run(capsys, "graph", V2, "--format", "svg")
    assert code == 2 and out == ""
    assert "needs Graphviz's `dot` program, which is not installed" in err
    assert "--format dot" in err


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's `dot` is not installed (`make test` installs it where apt-get can)")
@pytest.mark.parametrize("view", ["hierarchy", "lifecycle", "protocols", "flows"])
def test_svg_through_graphviz(capsys: pytest.CaptureFixture[str], view: str) -> None:
    code = main(["graph", V2, "--view", view, "--format", "svg"])
    out = capsys.readouterr().out
    assert code == 0
    assert "<svg" in out and out.rstrip().endswith("</svg>")
    if view == "hierarchy":
        assert "Engineering Manager" in out and "domain backend" in out


def test_compile_writes_the_mermaid_views(v2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert main(["compile", V2, "-o", str(tmp_path)]) == 0
    pages = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "docs").iterdir()}
    assert sorted(pages) == ["flows.md", "hierarchy.md", "lifecycle.md", "protocols.md"]
    blocks = {name: re.findall(r"^```mermaid\n(.*?)^```$", text, re.M | re.S) for name, text in pages.items()}
    assert blocks["hierarchy.md"] == [to_mermaid(build(v2, "hierarchy"))]
    assert blocks["protocols.md"] == [to_mermaid(build(v2, "protocols"))]
    assert blocks["lifecycle.md"] == [to_mermaid(build(v2, "lifecycle"))] + [
        to_mermaid(build(v2, "lifecycle", t)) for t in v2.lifecycle.tiers]
    assert blocks["flows.md"] == [to_mermaid(build(v2, "flows", t.number)) for t in v2.tiers]
    assert pages == {k.removeprefix("docs/"): v for k, v in markdown_views(v2).items()}


def test_ids_are_safe_and_unique(v2) -> None:  # type: ignore[no-untyped-def]
    for view in ("hierarchy", "lifecycle", "protocols", "flows"):
        d = build(v2, view)
        assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in d.nodes)
        text = to_dot(d)
        assert text.count("{") == text.count("}")


def test_labels_are_escaped() -> None:
    from orchdsl.graph import Diagram, Edge

    d = Diagram("t")
    a = d.node("state", "A", ['say "hi" <b> #1'])
    b = d.node("state", "end", ["end"])
    d.edges.append(Edge(a, b, ['when x < 3 and y > "z"']))
    mermaid = to_mermaid(d)
    assert 'say #quot;hi#quot; #lt;b#gt; #35;1' in mermaid
    assert "state_end" in mermaid  # a keyword of Mermaid is never an id on its own
    assert 'label="say \\"hi\\" <b> #1"' in to_dot(d)
