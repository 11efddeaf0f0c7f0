"""Diagrams of an organisation: a checked model in, Mermaid, DOT or SVG out.

Four views, each first built as a small neutral diagram (nodes, edges,
clusters) and then written as Mermaid or Graphviz DOT text:

- ``hierarchy``: the org chart, from each manager down to its reports, with
  each domain's lead and members grouped;
- ``lifecycle``: the task lifecycle (of one tier with ``tier``): each state
  with its owner, SLA, warning, escalation target or policy, notices and heartbeat, each
  transition with its label, guard, actors, timer and the gates that guard it;
- ``protocols``: delegation, standups, consultations, handoffs between
  domains and broadcast channels with their members;
- ``flows``: the flow of stages and gates of each tier (of one tier).

The text is deterministic: declarations in the order of the spec, ids made
from names. SVG is drawn by Graphviz's ``dot`` when it is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from orchdsl import model as m

VIEWS = ("hierarchy", "lifecycle", "protocols", "flows")
FORMATS = ("mermaid", "dot", "svg")


class GraphError(Exception):
    """A view that cannot be drawn as asked (exit 2): ``kind`` is ``usage`` or ``io``."""

    def __init__(self, message: str, kind: str = "usage") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Node:
    id: str
    lines: list[str]
    shape: str = "box"  # box, round, stadium, hexagon, diamond, circle
    cls: str | None = None


@dataclass
class Edge:
    src: str
    dst: str
    lines: list[str] = field(default_factory=list)
    style: str = "solid"  # solid, dotted, thick


@dataclass
class Cluster:
    id: str
    label: str
    nodes: list[str] = field(default_factory=list)


@dataclass
class Diagram:
    name: str
    direction: str = "TB"
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    # class -> (Mermaid style, DOT attributes)
    classes: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    _ids: dict[tuple[str, str], str] = field(default_factory=dict)

    def id(self, kind: str, name: str) -> str:
        """A stable id for a named thing, safe in Mermaid and DOT, unique per (kind, name)."""
        key = (kind, name)
        if key not in self._ids:
            base = f"{kind}_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
            ident, n = base, 1
            taken = set(self._ids.values())
            while ident in taken:
                n += 1
                ident = f"{base}_{n}"
            self._ids[key] = ident
        return self._ids[key]

    def node(self, kind: str, name: str, lines: list[str], shape: str = "box", cls: str | None = None) -> str:
        ident = self.id(kind, name)
        if ident not in self.nodes:
            self.nodes[ident] = Node(ident, lines, shape, cls)
        return ident


# ---------------------------------------------------------------------- views


def _tiers_text(tiers: list[int]) -> str:
    """``[1, 2, 3, 5]`` as ``1-3, 5``."""
    runs: list[list[int]] = []
    for t in sorted(tiers):
        if runs and t == runs[-1][-1] + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def hierarchy(org: m.Organisation) -> Diagram:
    d = Diagram("hierarchy", "TB")
    counts: dict[str, int] = {}
    for dom in org.domains:
        for mem in dom.members:
            counts[mem.role] = counts.get(mem.role, 0) + mem.count
    for r in org.roles:
        lines = [r.title or r.id] + ([r.id] if r.title else [])
        if counts.get(r.id, 1) > 1:
            lines[-1] += f" ×{counts[r.id]}"
        d.node("role", r.id, lines, "round" if r.kind == "member" else "box", r.kind)
    for dom in org.domains:
        ids = [d.id("role", rid) for rid in [dom.lead, *(mem.role for mem in dom.members)]
               if d.id("role", rid) in d.nodes]
        d.clusters.append(Cluster(d.id("domain", dom.name), f"domain {dom.name}", list(dict.fromkeys(ids))))
    known = {r.id for r in org.roles}
    for r in org.roles:
        if r.reports_to in known:
            d.edges.append(Edge(d.id("role", r.reports_to), d.id("role", r.id)))
    d.classes["lead"] = ("stroke-width:2px", {"penwidth": "2"})
    return d


def _sla_text(state: m.State, tier: int | None) -> str | None:
    if not state.sla:
        return None
    if tier is not None:
        for tb in state.sla:
            if tb.tiers is None or tier in tb.tiers:
                return f"SLA {tb.budget.text}"
        return None
    parts = [tb.budget.text if tb.tiers is None else f"tier {_tiers_text(tb.tiers)}: {tb.budget.text}"
             for tb in state.sla]
    return "SLA " + ", ".join(parts)


def _state_lines(state: m.State, tier: int | None, lc: m.Lifecycle) -> list[str]:
    lines = [state.name]
    if state.terminal:
        lines.append(f"terminal, {state.terminal}")
    if state.owner:
        lines.append(f"owner {state.owner}")
    sla = _sla_text(state, tier)
    if sla:
        lines.append(sla)
    if state.warn:
        lines.append(f"warn {state.warn.budget.text}" + (f" to {state.warn.to}" if state.warn.to else ""))
    if state.escalate:
        lines.append(f"escalate {state.escalate.budget.text}"
                     + (f" to {state.escalate.to}" if state.escalate.to else ""))
    if state.escalation:
        p = state.escalation
        levels = ", ".join(lv.after.text for lv in p.levels)
        lines.append(f"escalation {p.name + ' ' if p.name else ''}({levels}"
                     + (f", repeat {p.repeat})" if p.repeat else ")"))
    if state.notify:
        lines.append("notify " + ", ".join(dict.fromkeys(a for n in state.notify for a in n.to)))
    if state.heartbeat:
        lines.append(f"heartbeat {state.heartbeat.text}")
    if tier is None and lc.tiers and state.tiers and state.tiers != lc.tiers:
        lines.append(f"tiers {_tiers_text(state.tiers)}")
    return lines


def _check_tier(org: m.Organisation, tier: int | None) -> None:
    if tier is None:
        return
    declared = sorted({t.number for t in org.tiers} | set(org.lifecycle.tiers))
    if tier not in declared:
        listed = ", ".join(map(str, declared)) or "none"
        raise GraphError(f"tier {tier} is not declared; declared tiers: {listed}")


def lifecycle(org: m.Organisation, tier: int | None = None) -> Diagram:
    _check_tier(org, tier)
    lc = org.lifecycle
    d = Diagram("lifecycle" if tier is None else f"lifecycle-tier-{tier}", "TB")
    tiered = bool(lc.tiers)
    if tier is not None and tiered and tier not in lc.tiers:
        raise GraphError(f"tier {tier} has no lifecycle; the lifecycle applies to tiers {_tiers_text(lc.tiers)}")

    def applies(tiers: list[int]) -> bool:
        return tier is None or not tiered or tier in tiers

    shown = [s for s in lc.states if applies(s.tiers)]
    names = {s.name for s in shown}
    for s in shown:
        cls = "initial" if s.initial else (s.terminal or None)
        shape = "stadium" if s.initial or s.terminal else "box"
        d.node("state", s.name, _state_lines(s, tier, lc), shape, cls)
    for s in shown:
        for t in s.transitions:
            if t.target not in names or (tier is not None and tiered and tier not in t.tiers):
                continue
            lines: list[str] = []
            if t.label:
                lines.append(t.label)
            if t.guard_text:
                lines.append(f"when {t.guard_text}")
            if t.actors:
                lines.append("by " + ", ".join(t.actors))
            if t.after:
                lines.append(f"after {t.after.text}")
            gates = [g for g, ts in t.gates.items() if tier is None or tier in ts]
            if gates:
                lines.append("gate " + ", ".join(gates))
            if tier is None and tiered and t.tiers != lc.tiers:
                lines.append(f"tiers {_tiers_text(t.tiers)}" if t.tiers else "no tier")
            d.edges.append(Edge(d.id("state", s.name), d.id("state", t.target), lines,
                                "thick" if gates else ("dotted" if t.after else "solid")))
    d.classes["initial"] = ("stroke-width:3px", {"penwidth": "3"})
    d.classes["success"] = ("fill:#e3f6e3,stroke:#2e7d32", {"style": "filled", "fillcolor": "#e3f6e3"})
    d.classes["failure"] = ("fill:#fbe3e3,stroke:#c62828", {"style": "filled", "fillcolor": "#fbe3e3"})
    return d


_RELATION_NAMES = {
    "@lead": "each domain's lead", "@member": "each domain's members", "@assignee": "the assignee",
    "@peer": "a peer", "@downstream_lead": "the downstream lead", "@system": "the system",
}


def _actor(d: Diagram, org: m.Organisation, actor: str) -> str:
    if actor.startswith("@"):
        return d.node("relation", actor, [actor, _RELATION_NAMES.get(actor, "")], "round", "relation")
    if actor == "*":
        return d.node("relation", "*", ["*", "everyone"], "round", "relation")
    role = next((r for r in org.roles if r.id == actor), None)
    lines = [role.title, actor] if role and role.title else [actor]
    return d.node("role", actor, lines)


def protocols(org: m.Organisation) -> Diagram:
    d = Diagram("protocols", "LR")
    dl = org.delegation
    if dl is not None and len(dl.chain) > 1:
        ack = f", acknowledge within {dl.acknowledge_within.text}" if dl.acknowledge_within else ""
        for a, b in zip(dl.chain, dl.chain[1:], strict=False):
            d.edges.append(Edge(_actor(d, org, a), _actor(d, org, b), [f"delegates{ack}"], "thick"))
    for su in org.standups:
        d.edges.append(Edge(_actor(d, org, su.from_), _actor(d, org, su.to),
                            [f"standup {su.name}", f"every {su.every.text}"], "dotted"))
    for c in org.consultations:
        how = "blocking" if c.blocking else "nonblocking"
        if c.timeout:
            how += f", timeout {c.timeout.text}"
        d.edges.append(Edge(_actor(d, org, c.from_), _actor(d, org, c.to), [f"consults ({c.name})", how]))
    for h in org.handoffs:
        if h.from_role is not None and h.to_role is not None:
            src, dst = _actor(d, org, h.from_role), _actor(d, org, h.to_role)
        else:
            src = (d.node("domain", h.from_domain, [f"domain {h.from_domain}"], "hexagon") if h.from_domain != "*"
                   else d.node("domain", "*from", ["any domain"], "hexagon"))
            dst = (d.node("domain", h.to_domain, [f"domain {h.to_domain}"], "hexagon") if h.to_domain != "*"
                   else d.node("domain", "*to", ["any other domain"], "hexagon"))
        lines = ["handoff"]
        if h.accepted_by:
            lines.append(f"accepted by {h.accepted_by}")
        if h.on_accept:
            lines.append(f"accept: {h.on_accept[0]} -> {h.on_accept[1]}")
        if h.on_reject:
            lines.append(f"reject: {h.on_reject[0]} -> {h.on_reject[1]}")
        d.edges.append(Edge(src, dst, lines, "thick"))
    seen: set[str] = set()
    for ch in org.broadcast.channels:
        name = ch.template or ch.name
        if name in seen:
            continue
        seen.add(name)
        cid = d.node("channel", name, [f"channel {name}"], "stadium", "channel")
        for member in ch.declared:
            d.edges.append(Edge(cid, _actor(d, org, member), [], "dotted"))
    d.classes["relation"] = ("fill:#f4f4f4,stroke-dasharray:4 2", {"style": "dashed"})
    d.classes["channel"] = ("fill:#fff6d5", {"style": "filled", "fillcolor": "#fff6d5"})
    return d


def flows(org: m.Organisation, tier: int | None = None) -> Diagram:
    _check_tier(org, tier)
    d = Diagram("flows" if tier is None else f"flow-tier-{tier}", "LR")
    for t in org.tiers:
        if tier is not None and t.number != tier:
            continue
        ids: list[str] = []
        for i, st in enumerate(t.flow, start=1):
            key = f"{t.number}_{i}"
            if st.gate:
                ids.append(d.node("step", key, [f"gate {st.gate}"], "hexagon", "gate"))
            else:
                lines = [st.actor or "?"] + ([st.stage] if st.stage else [])
                ids.append(d.node("step", key, lines))
        for a, b in zip(ids, ids[1:], strict=False):
            d.edges.append(Edge(a, b))
        if tier is None:
            title = f"tier {t.number}" + (f" {t.name}" if t.name else "")
            d.clusters.append(Cluster(d.id("tier", str(t.number)), title, ids))
    d.classes["gate"] = ("fill:#e8eaf6,stroke:#3949ab", {"style": "filled", "fillcolor": "#e8eaf6"})
    return d


def build(org: m.Organisation, view: str, tier: int | None = None) -> Diagram:
    if view == "hierarchy" or view == "protocols":
        if tier is not None:
            raise GraphError(f"`--tier` applies to the lifecycle and flows views, not to `{view}`")
        return hierarchy(org) if view == "hierarchy" else protocols(org)
    if view == "lifecycle":
        return lifecycle(org, tier)
    if view == "flows":
        return flows(org, tier)
    raise GraphError(f"unknown view `{view}`; views are {', '.join(VIEWS)}")


# ---------------------------------------------------------------------- Mermaid and DOT


def _nodes(d: Diagram, line: Callable[[Node, str], str], open_: Callable[[Cluster], str],
           close: str) -> list[str]:
    """Node lines: first the nodes in no cluster, then each cluster with its nodes."""
    clustered = {n for c in d.clusters for n in c.nodes}
    out = [line(n, "    ") for n in d.nodes.values() if n.id not in clustered]
    for c in d.clusters:
        out += [f"    {open_(c)}", *(line(d.nodes[i], "        ") for i in c.nodes), f"    {close}"]
    return out


_MERMAID_SHAPES = {"box": ('["', '"]'), "round": ('("', '")'), "stadium": ('(["', '"])'),
                   "hexagon": ('{{"', '"}}'), "diamond": ('{"', '"}'), "circle": ('(("', '"))')}
_MERMAID_ARROWS = {"solid": "-->", "dotted": "-.->", "thick": "==>"}


def _mermaid_text(lines: list[str]) -> str:
    # Entity codes keep quotes, angle brackets and `#` from being read as Mermaid or HTML.
    def esc(s: str) -> str:
        return s.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")

    return "<br/>".join(esc(x) for x in lines if x)


def to_mermaid(d: Diagram) -> str:
    out = [f"flowchart {d.direction}"]

    def node_line(n: Node, pad: str) -> str:
        left, right = _MERMAID_SHAPES[n.shape]
        return f"{pad}{n.id}{left}{_mermaid_text(n.lines)}{right}"

    out += _nodes(d, node_line, lambda c: f'subgraph {c.id}["{_mermaid_text([c.label])}"]', "end")
    for e in d.edges:
        arrow = _MERMAID_ARROWS[e.style]
        label = f'|"{_mermaid_text(e.lines)}"|' if e.lines else ""
        out.append(f"    {e.src} {arrow}{label} {e.dst}")
    for cls, (style, _) in d.classes.items():
        members = [n.id for n in d.nodes.values() if n.cls == cls]
        if members:
            out.append(f"    classDef {cls} {style}")
            out.append(f"    class {','.join(members)} {cls}")
    return "\n".join(out) + "\n"


# DOT


_DOT_SHAPES = {"box": {"shape": "box"}, "round": {"shape": "box", "style": "rounded"},
               "stadium": {"shape": "box", "style": "rounded"}, "hexagon": {"shape": "hexagon"},
               "diamond": {"shape": "diamond"}, "circle": {"shape": "circle"}}
_DOT_EDGES = {"solid": {}, "dotted": {"style": "dashed"}, "thick": {"penwidth": "2"}}


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_attrs(attrs: dict[str, str]) -> str:
    return "".join(f", {k}={_dot_str(v)}" for k, v in attrs.items())


def _dot_label(lines: list[str]) -> str:
    return '"' + "\\n".join(x.replace("\\", "\\\\").replace('"', '\\"') for x in lines if x) + '"'


def to_dot(d: Diagram) -> str:
    out = [f"digraph {_dot_str(d.name)} {{",
           f'    graph [rankdir={d.direction}, fontname="Helvetica", fontsize=11];',
           '    node [fontname="Helvetica", fontsize=10];',
           '    edge [fontname="Helvetica", fontsize=9];']

    def node_line(n: Node, pad: str) -> str:
        attrs = dict(_DOT_SHAPES[n.shape])
        for key, value in (d.classes[n.cls][1] if n.cls in d.classes else {}).items():
            attrs[key] = f"{attrs[key]},{value}" if key == "style" and key in attrs else value
        return f"{pad}{n.id} [label={_dot_label(n.lines)}{_dot_attrs(attrs)}];"

    out += _nodes(d, node_line, lambda c: f"subgraph cluster_{c.id} {{ label={_dot_str(c.label)};", "}")
    for e in d.edges:
        attr_text = (f"label={_dot_label(e.lines)}" if e.lines else "") + _dot_attrs(_DOT_EDGES[e.style])
        out.append(f"    {e.src} -> {e.dst}" + (f" [{attr_text.lstrip(', ')}]" if attr_text else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"


def to_svg(dot_text: str) -> bytes:
    exe = shutil.which("dot")
    if exe is None:
        raise GraphError("`--format svg` needs Graphviz's `dot` program, which is not installed "
                         "(or not on PATH); install Graphviz (`apt-get install graphviz`, "
                         "`brew install graphviz`), or write `--format dot` and draw it elsewhere", "io")
    try:
        proc = subprocess.run([exe, "-Tsvg"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GraphError(f"Graphviz's `dot` failed: {err}", "io") from err
    if proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphError(f"Graphviz's `dot` failed: {why[-1] if why else f'exit {proc.returncode}'}", "io")
    return proc.stdout


def draw(org: m.Organisation, view: str, fmt: str, tier: int | None = None) -> bytes:
    """One view of ``org`` in one format, as the bytes to write."""
    d = build(org, view, tier)
    if fmt == "mermaid":
        return to_mermaid(d).encode("utf-8")
    if fmt == "dot":
        return to_dot(d).encode("utf-8")
    if fmt == "svg":
        return to_svg(to_dot(d))
    raise GraphError(f"unknown format `{fmt}`; formats are {', '.join(FORMATS)}")


# ---------------------------------------------------------------------- compiled docs


def markdown_views(org: m.Organisation) -> dict[str, str]:
    """The Mermaid views as Markdown pages, keyed by path, for ``docs/`` of a compiled tree."""
    name = org.org.title or org.org.name

    def page(title: str, intro: str, sections: list[tuple[str | None, Diagram]]) -> str:
        out = [f"# {name}: {title}", "", intro, ""]
        for heading, diagram in sections:
            if heading:
                out += [f"## {heading}", ""]
            out += ["```mermaid", to_mermaid(diagram).rstrip("\n"), "```", ""]
        return "\n".join(out)

    regen = "Generated by `orchdsl compile`; `orchdsl graph` draws it as Mermaid, DOT or SVG."
    lc_tiers = org.lifecycle.tiers
    lifecycle_sections: list[tuple[str | None, Diagram]] = [(None, lifecycle(org))]
    lifecycle_sections += [(f"tier {t}", lifecycle(org, t)) for t in lc_tiers]
    flow_sections: list[tuple[str | None, Diagram]] = [
        (f"tier {t.number}" + (f" {t.name}" if t.name else ""), flows(org, t.number)) for t in org.tiers]
    return {
        "docs/hierarchy.md": page("hierarchy", f"Who reports to whom, by domain. {regen}",
                                  [(None, hierarchy(org))]),
        "docs/lifecycle.md": page("task lifecycle",
                                  f"Every state and transition, then the lifecycle of each tier. {regen}",
                                  lifecycle_sections),
        "docs/protocols.md": page("protocols", f"Delegation, standups, consultations, handoffs and "
                                  f"broadcast channels. {regen}", [(None, protocols(org))]),
        "docs/flows.md": page("flows", f"The stages and gates of each tier. {regen}", flow_sections),
    }
