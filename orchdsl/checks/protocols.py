"""Checks of the protocols (ORC4xx): delegation, standups, handoffs, channels, consultations.

Relations in protocols stand for roles per domain: `@lead` is each domain's
lead, `@member` each member role of that domain. A protocol edge between two
actors is expanded into the pairs of roles it connects (pairs of relations
stay within one domain) and each pair is checked against the hierarchy.
"""

from __future__ import annotations

from collections.abc import Iterator

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs, closure
from orchdsl.checks.hierarchy import (
    ancestor_sets,
    broken_roles,
    declared_top,
    detached,
    known_roots,
    label,
    top_roles,
)
from orchdsl.diagnostics import Diagnostics, Label, Span

RELATIONS = ("@lead", "@member")
SHOWN = 3  # role pairs named in a message before "and N more"


def pairs(org: m.Organisation, g: Graphs, a: str, b: str) -> Iterator[tuple[str, str]]:
    """The (role, role) pairs that an edge from actor ``a`` to actor ``b`` connects."""
    doms = org.domains

    def resolve(actor: str, d: m.Domain | None) -> list[str]:
        scope = [d] if d is not None else doms
        if actor == "@lead":
            return [x.lead for x in scope if x.lead in g.roles]
        if actor == "@member":
            return [mem.role for x in scope for mem in x.members if mem.role in g.roles]
        return [actor] if actor in g.roles else []

    if a in RELATIONS and b in RELATIONS:
        for d in doms:
            for x in resolve(a, d):
                for y in resolve(b, d):
                    yield x, y
    else:
        for x in resolve(a, None):
            for y in resolve(b, None):
                yield x, y


def _by_construction(a: str, b: str, down: bool) -> bool:
    """`@lead -> @member` (down) and `@member -> @lead` (up) hold when every
    member reports to its lead, which ORC205 checks; not checked again here."""
    return (a, b) == (("@lead", "@member") if down else ("@member", "@lead"))


def _pairs_text(bad: list[tuple[str, str]], total: int, word: str) -> str:
    shown = ", ".join(f"`{x}` to itself" if x == y else f"`{y}` {word} `{x}`" for x, y in bad[:SHOWN])
    return shown + (f" and {total - SHOWN} more" if total > SHOWN else "")


def head_span(span: Span | None, keyword: str) -> Span | None:
    """The keyword a block starts with (``handoff``, ``assignment``...): the
    smallest span that names a whole block."""
    if span is None:
        return None
    return Span(span.file, span.line, span.column, span.line, span.column + len(keyword))


def _hop_span(dl: m.Delegation, index: int) -> Span | None:
    """The span of one hop of the delegation chain, else the block's keyword."""
    if index < len(dl.chain_spans) and dl.chain_spans[index] is not None:
        return dl.chain_spans[index]
    return head_span(dl.span, "delegation")


# ---------------------------------------------------------------- delegation


def check_delegation(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC401: each hop of the chain goes from a role to a direct report."""
    dl = org.delegation
    if dl is None or g.broken("delegation", ""):
        return
    loose = detached(g)
    for i, (a, b) in enumerate(zip(dl.chain, dl.chain[1:], strict=False)):
        if _by_construction(a, b, down=True):
            continue
        bad: list[tuple[str, str]] = []
        total = 0
        for x, y in pairs(org, g, a, b):
            if g.roles[y].reports_to != x and x not in loose and y not in loose:
                total += 1
                if len(bad) < SHOWN:
                    bad.append((x, y))
        if not total:
            continue
        if a == b:
            msg = f"delegation hop `{a} -> {b}` delegates to itself"
        elif a not in RELATIONS and b not in RELATIONS:
            msg = f"delegation hop `{a} -> {b}`: `{b}` does not report to `{a}`"
            parent = g.roles[b].reports_to
            if parent:
                msg += f" but to `{parent}`"
        else:
            msg = f"delegation hop `{a} -> {b}` does not go to direct reports: " + \
                _pairs_text(bad, total, "does not report to")
        diags.add("ORC401", msg, _hop_span(dl, i + 1),
                  notes=["each hop of a delegation chain goes from a role to one of its direct reports"],
                  help="insert the missing levels between them, or delegate to a direct report")


# ---------------------------------------------------------------- standups


def check_standups(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC402: a standup goes from a role to one above it."""
    above = ancestor_sets(g)
    loose = detached(g)
    for s in org.standups:
        if g.broken("standup", s.name) or _by_construction(s.from_, s.to, down=False):
            continue
        bad: list[tuple[str, str]] = []
        total = 0
        for x, y in pairs(org, g, s.from_, s.to):
            if y not in above[x] and x not in loose and y not in loose:
                total += 1
                if len(bad) < SHOWN:
                    bad.append((x, y))
        if not total:
            continue
        if s.from_ == s.to:
            msg = f"standup `{s.name}` goes from `{s.from_}` to itself"
        elif s.from_ not in RELATIONS and s.to not in RELATIONS:
            msg = f"standup `{s.name}` goes from `{s.from_}` to `{s.to}`, which is not above it"
        else:
            msg = f"standup `{s.name}` does not go up the hierarchy: " + \
                _pairs_text(bad, total, "is not above")
        diags.add("ORC402", msg, s.to_span or s.span,
                  notes=["a standup reports to a role above the one that sends it"],
                  help="send it to a role above `from`, such as the role it reports to")


def standup_edges(org: m.Organisation, g: Graphs) -> dict[str, dict[str, m.Standup]] | None:
    """role -> role it sends a standup to -> the standup (the first that does);
    None when some standup does not climb (ORC402 reports it)."""
    above = ancestor_sets(g)
    out: dict[str, dict[str, m.Standup]] = {}
    for s in org.standups:
        if g.broken("standup", s.name):
            continue
        for x, y in pairs(org, g, s.from_, s.to):
            if y not in above[x] and not _by_construction(s.from_, s.to, down=False):
                return None
            out.setdefault(x, {}).setdefault(y, s)
    return out


def check_standup_chain(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC403: following standups up from the ICs (or the lowest sender) reaches the top."""
    tops = top_roles(g)
    if not org.standups or not tops or declared_top(g) is None and len(known_roots(g)) != 1 or broken_roles(g):
        return
    top = " or ".join(f"`{t}`" for t in tops)
    edges = standup_edges(org, g)
    if not edges:
        return
    # ICs of a domain whose lead is unknown have nobody to report to: not theirs to fix
    ics = [mem.role for d in org.domains if d.lead in g.roles
           for mem in d.members if mem.role in g.roles]
    if any(r in edges for r in ics):
        starts = ics
    else:
        deepest = max(g.roles[r].depth for r in edges)
        starts = [r for r in edges if g.roles[r].depth == deepest]
    # the roles from which some chain of standups reaches the top
    back: dict[str, list[str]] = {}
    for x, tos in edges.items():
        for y in tos:
            back.setdefault(y, []).append(x)
    reaches = closure(lambda n: back.get(n, ()), tops)
    # from the starts that do not reach it, where the chains stop
    stuck = closure(lambda n: edges.get(n, {}), [r for r in starts if r not in reaches])
    stops = [r for r in g.roles if r in stuck and not edges.get(r)]
    into: dict[str, m.Standup] = {}
    for tos in edges.values():
        for y, s in tos.items():
            into.setdefault(y, s)
    by_standup: dict[str, list[str]] = {}
    silent: list[str] = []
    for stop in stops:
        if stop in into:
            by_standup.setdefault(into[stop].name, []).append(stop)
        else:
            silent.append(stop)
    for s in org.standups:
        ends = by_standup.get(s.name)
        if not ends:
            continue
        where = _names(ends)
        parents = sorted({g.roles[e].reports_to or tops[0] for e in ends})
        diags.add("ORC403", f"the standups stop at {where} and do not reach {top}",
                  s.to_span or s.span,
                  notes=[f"standup `{s.name}` reports to {where}, and no standup goes on from "
                         + ("it" if len(ends) == 1 else "them")],
                  help=f"add a standup from `{s.to}` to " + _names(parents))
    for stop in silent:
        parent = g.roles[stop].reports_to or tops[0]
        diags.add("ORC403", f"`{stop}` sends no standup, so its status never reaches {top}",
                  g.roles[stop].span,
                  help=f"add a standup from `{stop}` (or from `@member`) to `{parent}`")


def _names(roles: list[str]) -> str:
    quoted = [f"`{r}`" for r in roles]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


# ---------------------------------------------------------------- handoffs


def check_handoffs(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC404 same domain, ORC405 no checklist, ORC406 wrong acceptor,
    ORC407 undeclared transition, ORC409 duplicate pair."""
    first: dict[str, m.Handoff] = {}
    transitions = {(s.name, t.target) for s in org.lifecycle.states for t in s.transitions}
    for h in org.handoffs:
        pair = h.ends
        where = f"`{pair.replace('->', ' -> ')}`"
        if pair in first:
            prev = first[pair]
            diags.add("ORC409", f"a second handoff {where}", head_span(h.span, "handoff"),
                      labels=label(head_span(prev.span, "handoff"), "the first is here"),
                      help="merge the two handoffs into one")
            continue
        first[pair] = h
        if h.from_domain == h.to_domain and h.from_domain != "*" or h.from_role and h.from_role == h.to_role:
            what = f"role `{h.from_role}`" if h.from_role else f"domain `{h.from_domain}`"
            diags.add("ORC404", f"handoff from {what} to itself", head_span(h.span, "handoff"),
                      notes=["a handoff moves work between two domains; within one domain the lead assigns it"],
                      help="remove it, or name the domain the work goes to")
        if not h.checklist:
            diags.add("ORC405", f"handoff {where} has no checklist", h.checklist_span or head_span(h.span, "handoff"),
                      help='add `checklist { "..." }` with what the sending domain must complete')
        _check_acceptor(org, g, h, where, diags)
        for kind, tr in (("accept", h.on_accept), ("reject", h.on_reject)):
            if tr is None or tr in transitions or g.broken("handoff", h.ends):
                continue
            src, dst = tr
            if g.broken("state", src) or g.broken("transition", f"{src}->{dst}"):
                continue  # lowering dropped a transition of `src`: it may be the one meant
            state = org.lifecycle.state(src)
            targets = [t.target for t in state.transitions] if state else []
            diags.add("ORC407", f"`on {kind} {src} -> {dst}`: the lifecycle has no transition `{src} -> {dst}`",
                      (h.on_accept_span if kind == "accept" else h.on_reject_span) or head_span(h.span, "handoff"),
                      notes=[f"from `{src}` the lifecycle goes to " + ", ".join(f"`{t}`" for t in targets)]
                      if targets else [f"`{src}` has no outgoing transition"],
                      help=f"declare `-> {dst}` in state `{src}`, or name a declared transition")


def _check_acceptor(org: m.Organisation, g: Graphs, h: m.Handoff, where: str, diags: Diagnostics) -> None:
    acc = h.accepted_by
    if h.to_role is not None:
        if acc is not None and acc != h.to_role:
            diags.add("ORC406", f"handoff {where} is accepted by `{acc}`, not by `{h.to_role}`, the role it goes to",
                      h.accepted_by_span or head_span(h.span, "handoff"),
                      notes=["a handoff between roles is accepted by the role that receives the work"],
                      help=f"write `accepted_by {h.to_role}` or leave `accepted_by` out")
        return
    if acc is None or acc == "@downstream_lead":
        return
    if h.to_domain == "*":
        diags.add("ORC406", f"handoff {where} is accepted by `{acc}`, not by each receiving domain's lead",
                  h.accepted_by_span or head_span(h.span, "handoff"),
                  notes=["with `*` as the receiving side, only `@downstream_lead` names the right role"],
                  help="write `accepted_by @downstream_lead`")
        return
    dom = org.domain(h.to_domain)
    if dom is None or not dom.lead or acc == dom.lead:
        return
    diags.add("ORC406", f"handoff {where} is accepted by `{acc}`, not by `{dom.lead}`, "
              f"the lead of `{dom.name}`", h.accepted_by_span or head_span(h.span, "handoff"),
              labels=[Label(dom.span, f"`{dom.name}` is led by `{dom.lead}`")] if dom.span else [],
              help=f"write `accepted_by @downstream_lead` or `accepted_by {dom.lead}`")


# ---------------------------------------------------------------- channels, consultations


def check_channels(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC408: a channel whose members resolve to nobody (an absent `members` is
    reported by lowering)."""
    for ch in org.broadcast.channels:
        if ch.members or not ch.declared or g.broken("channel", ch.template or ch.name):
            continue
        if ch.domain is not None:
            continue  # a template instance for a domain without members: ORC601 says so
        diags.add("ORC408", f"channel `{ch.name}` has no members: "
                  + ", ".join(f"`{d}`" for d in ch.declared) + " stand for nobody here",
                  ch.span, notes=["the organisation declares no domain, so `@lead` and `@member` are empty"],
                  help="name the roles that receive it")


def check_consultations(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC410: a blocking consultation needs a timeout."""
    for c in org.consultations:
        if c.blocking and c.timeout is None:
            diags.add("ORC410", f"blocking consultation `{c.name}` has no timeout", c.span,
                      notes=[f"`{c.from_}` waits for the answer; without a timeout it may wait forever"],
                      help="add `timeout 30m` (and a `default` answer), or make it `nonblocking`")


CHECKS: list[Check] = [
    check_delegation,
    check_standups,
    check_standup_chain,
    check_handoffs,
    check_channels,
    check_consultations,
]
