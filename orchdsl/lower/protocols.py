"""Stage 2, lowering: the protocols between agents.

In: the ``delegation``, ``broadcast``, ``handoff``, ``standup``,
``consultation`` and ``instructions`` declarations (through ``Scope``), and
the lowered domains. Out: ``Delegation`` (the chain of hops, acknowledgement
deadline), the ``Broadcast`` channels with their members expanded to role ids
(a channel named with ``{domain}`` becomes one channel per domain), the
``Handoff``, ``Standup`` and ``Consultation`` lists, and ``Instructions`` (who
may submit, create and close).

Whether delegation and standups follow the hierarchy, and whether a handoff
drives a real transition, is left to ``checks.protocols``.
"""

from __future__ import annotations

from typing import Any

from orchdsl import ast
from orchdsl import model as m
from orchdsl.diagnostics import Label, Span
from orchdsl.lower.scope import Scope, clause_span, named, payload, text


def task_priorities(sc: Scope) -> list[str]:
    """The priorities tasks and delegations take: the delegation's declared list, else the default one."""
    blocks = sc.blocks("delegation")
    declared = [n.text for n in sc.names(sc.one(blocks[0], "priorities"))] if blocks else []
    return declared or list(m.DEFAULT_PRIORITIES)


def delegation(sc: Scope) -> m.Delegation | None:
    blocks = sc.blocks("delegation")
    if not blocks:
        return None
    b = blocks[0]
    before = len(sc.diags)
    hops = list(sc.one(b, "chain") or [])
    resolved = [(sc.actor(a, "delegation"), a.span) for a in hops]
    d = sc.build(
        m.Delegation, b.span, chain=[a for a, _ in resolved if a],
        chain_spans=[sp for a, sp in resolved if a],
        acknowledge_within=sc.budget(sc.one(b, "acknowledge")),
        overdue_escalate_to=sc.actor(sc.one(b, "overdue"), "threshold"),
        priorities=[n.text for n in sc.names(sc.one(b, "priorities"))], span=b.span,
    )
    sc.mark("delegation", "", before)
    return d


def broadcast(sc: Scope, domains: list[m.Domain]) -> m.Broadcast:
    blocks = sc.blocks("broadcast")
    if not blocks:
        return m.Broadcast()
    b = blocks[0]
    names: dict[str, ast.Name] = {}
    channels: list[m.Channel] = []
    for ch in b.of("channel"):
        assert isinstance(ch, ast.Block)
        if not sc.define(names, "channel", named(ch), named(ch)):
            continue
        before = len(sc.diags)
        clause = sc.one_clause(ch, "members")
        declared = [n for n in (payload(clause.value) if clause else [])]
        if not declared:
            sc.diags.add("ORC408", f"channel `{named(ch).text}` has no members", named(ch).span,
                         help="add `members ROLE, ...` or `members *`")
            continue
        resolved = []
        for n in declared:
            if n.text == "*":
                resolved.append("*")
            else:
                a = sc.actor(n, "channel")
                if a:
                    resolved.append(a)
        sc.mark("channel", named(ch).text, before)
        desc = text(sc.one(ch, "description"))
        template = "{domain}" in named(ch).text
        scopes: list[m.Domain | None] = list(domains) if template else [None]
        for dom in scopes:
            members = _expand_members(resolved, dom, domains, list(sc.roles))
            channels.append(m.Channel(
                name=named(ch).text.replace("{domain}", dom.name) if dom else named(ch).text,
                description=desc, members=members, declared=[n.text for n in declared],
                template=named(ch).text if template else None, domain=dom.name if dom else None,
                span=named(ch).span,
            ))
    return m.Broadcast(
        kinds=[n.text for n in sc.names(sc.one(b, "kinds"))],
        priorities=[n.text for n in sc.names(sc.one(b, "priorities"))],
        channels=channels,
    )


def _expand_members(declared: list[str], dom: m.Domain | None, domains: list[m.Domain],
                    all_roles: list[str]) -> list[str]:
    """Role ids a channel reaches: relations resolved per domain, or across all."""
    scope = [dom] if dom is not None else domains
    out: dict[str, None] = {}  # ordered and de-duplicated
    for d in declared:
        if d == "*":
            found = list(all_roles)
        elif d == "@lead":
            found = [x.lead for x in scope]
        elif d == "@member":
            found = [mem.role for x in scope for mem in x.members]
        else:
            found = [d]
        out.update((r, None) for r in found if r)
    return list(out)


def handoffs(sc: Scope) -> list[m.Handoff]:
    out = []
    for b in sc.blocks("handoff"):
        before = len(sc.diags)
        ends = []
        roles: list[str | None] = [None, None]
        if b.extra.get("roles"):
            roles = [sc.role(b.extra["from"]), sc.role(b.extra["to"])]
            ends = [x or "?" for x in roles]  # the name the handoff is known by in `broken`
        else:
            for n in (b.extra["from"], b.extra["to"]):
                if n.text != "*" and n.text not in sc.domains_by_name:
                    sc.unknown("ORC106", "domain", n, sc.domains_by_name)
                ends.append(n.text)
        checklist = [t.value for t in sc.one(b, "checklist") or []]
        h = sc.build(
            m.Handoff, b.span, from_domain="*" if b.extra.get("roles") else ends[0],
            to_domain="*" if b.extra.get("roles") else ends[1], from_role=roles[0], to_role=roles[1],
            description=text(sc.one(b, "description")), checklist=checklist,
            accepted_by=sc.actor(sc.one(b, "accepted_by"), "acceptor"),
            on_accept=sc.pair(sc.one(b, "on_accept")),
            on_reject=sc.pair(sc.one(b, "on_reject")), span=b.span,
            checklist_span=clause_span(b, "checklist"),
            accepted_by_span=clause_span(b, "accepted_by"),
            on_accept_span=clause_span(b, "on_accept"),
            on_reject_span=clause_span(b, "on_reject"),
        )
        sc.mark("handoff", f"{ends[0]}->{ends[1]}", before)  # ``Handoff.ends``
        if h is not None:
            out.append(h)
    return out


def _fields(d: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments that are Python keywords (``from``)."""
    return d


def standups(sc: Scope) -> list[m.Standup]:
    out: list[m.Standup] = []
    names: dict[str, ast.Name] = {}
    for b in sc.blocks("standup"):
        if not sc.define(names, "standup", b.name, b.name):
            continue
        before = len(sc.diags)
        frm = sc.actor(sc.one(b, "from_"), "standup")
        to = sc.actor(sc.one(b, "to"), "standup")
        every = sc.budget(sc.one(b, "every"))
        missing = [k for k, v in (("from", sc.one(b, "from_")), ("to", sc.one(b, "to")),
                                  ("every", sc.one(b, "every"))) if v is None]
        if missing:
            sc.diags.add("ORC008", f"standup `{b.name.text}` has no `{missing[0]}`", b.name.span)
        s = None
        if frm is not None and to is not None and every is not None and not missing:
            s = sc.build(
                m.Standup, b.span, name=b.name.text, description=text(sc.one(b, "description")),
                **_fields({"from": frm}), to=to, every=every,
                sections=[n.text for n in sc.names(sc.one(b, "sections"))], span=b.name.span,
                to_span=clause_span(b, "to"),
            )
        sc.mark("standup", b.name.text, before)
        if s is not None:
            out.append(s)
    return out


def consultations(sc: Scope) -> list[m.Consultation]:
    out: list[m.Consultation] = []
    names: dict[str, ast.Name] = {}
    for b in sc.blocks("consultation"):
        if not sc.define(names, "consultation", b.name, b.name):
            continue
        before = len(sc.diags)
        frm = sc.actor(sc.one(b, "from_"), "consultation")
        to = sc.actor(sc.one(b, "to"), "consultation")
        if sc.one(b, "from_") is None or sc.one(b, "to") is None:
            sc.diags.add("ORC008", f"consultation `{b.name.text}` needs `from` and `to`", b.name.span)
            sc.broken.add(("consultation", b.name.text))
            continue
        blocking = sc.one(b, "blocking")
        default = sc.one(b, "default")
        dv: str | int | None = None
        if isinstance(default, ast.Text):
            dv = default.value
        elif isinstance(default, ast.Num):
            dv = int(default.value)
        elif isinstance(default, ast.Name):
            dv = default.text
        if sc.mark("consultation", b.name.text, before) and (frm is None or to is None):
            continue
        c = sc.build(
            m.Consultation, b.span, name=b.name.text, description=text(sc.one(b, "description")),
            **_fields({"from": frm}), to=to, blocking=True if blocking is None else blocking,
            timeout=sc.budget(sc.one(b, "timeout")), default=dv, span=b.name.span,
        )
        if c is not None:
            out.append(c)
    return out


def instructions(sc: Scope) -> m.Instructions | None:
    """``instructions { submit by ...  create [KIND] by ...  close by ... }``: who may submit
    instructions, create tasks (of a kind, or of both) and close instructions."""
    blocks = sc.blocks("instructions")
    if not blocks:
        return None
    b = blocks[0]
    before = len(sc.diags)

    def actors(names: list[ast.Name]) -> list[str]:
        return [a for n in names if (a := sc.actor(n, "instructions")) is not None]

    spans: dict[str, Span] = {}
    submit = sc.one_clause(b, "submit_by")
    close = sc.one_clause(b, "close_by")
    for field, found in (("submit", submit), ("close", close)):
        if found is not None:
            spans[field] = found.span
    given: dict[str | None, ast.Clause] = {}  # kind (None: both kinds) -> its clause
    for c in b.of("create_by"):
        assert isinstance(c, ast.Clause)
        kind = payload(c.value)[0]
        key: str | None = kind.text if kind is not None else None
        first = given.get(key)
        if first is not None:
            which = f"{key} tasks" if key else "tasks"
            sc.diags.add("ORC007", f"who creates {which} is given more than once here", c.span,
                         labels=[Label(first.span, "first given here")], help="keep one of these `create` clauses")
            continue
        given[key] = c
    create: dict[str, list[str]] = {}
    for of_kind in sorted(given, key=lambda k: k is None):  # a clause for one kind wins over one for both
        clause = given[of_kind]
        who = actors(payload(clause.value)[1])
        for k in [of_kind] if of_kind is not None else [k for k in m.KINDS if k not in create]:
            create[k] = who
            spans["create." + k] = clause.span
    out = sc.build(
        m.Instructions, b.span,
        submit=actors(payload(submit.value)) if submit else [],
        close=actors(payload(close.value)) if close else [],
        create={k: v for k, v in sorted(create.items()) if v}, span=b.span, clause_spans=spans,
    )
    sc.mark("instructions", "", before)
    return out
