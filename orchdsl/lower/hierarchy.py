"""Stage 2, lowering: the organisation, its roles, domains and agents.

In: the ``org``, ``role`` and ``domain`` declarations (through ``Scope``).
Out: ``OrgInfo``, the ``Role`` list (each with its domain, kind and depth in
the hierarchy), the ``Domain`` list (lead, members with their skills and
experience, needed skills) and the ``Agent`` list expanded from member counts.

Role names are declared first (``declare_roles``) so that any later clause
can refer to any role; cycles and roots of ``reports_to`` are left to
``checks.hierarchy``. Depths are computed here even on a cycle, so that the
checks can still compare roles.
"""

from __future__ import annotations

from typing import Any

from orchdsl import ast
from orchdsl import model as m
from orchdsl.diagnostics import Label, Span
from orchdsl.lower.scope import Scope, clause_span, name_of, named, text


def org(sc: Scope) -> m.OrgInfo | None:
    orgs = sc.blocks("org")
    if not orgs:
        first = Span(sc.files[0].path, 1, 1, 1, 1) if sc.files else None
        sc.diags.add("ORC005", "no `org` declaration", first,
                     help='start the top file with `org NAME version "1.0.0"`')
        return None
    for extra in orgs[1:]:
        sc.diags.add("ORC006", "a second `org` declaration", extra.name.span,
                     labels=[Label(orgs[0].name.span, "the organisation is declared here")],
                     help="an included file must not declare `org`")
    b = orgs[0]
    version = b.extra.get("version")
    return sc.build(
        m.OrgInfo, b.span, name=b.name.text,
        version=version.value if version else None,
        title=text(sc.one(b, "title")), description=text(sc.one(b, "description")),
        span=b.name.span,
    )


def top(sc: Scope, info: m.OrgInfo) -> None:
    """``top a, b``: the roles declared at the top of the hierarchy (peers when several), each a
    declared role; where they must report to nobody is left to ``checks.hierarchy``."""
    orgs = sc.blocks("org")
    names = sc.names(sc.one(orgs[0], "top")) if orgs else []
    if not names:
        return
    seen: dict[str, ast.Name] = {}
    found: list[str] = []
    for n in names:
        rid = sc.role(n)
        if rid is not None and sc.define(seen, "top role", n, n):
            found.append(rid)
            info.top_spans[rid] = n.span
    info.top = found


def declare_roles(sc: Scope) -> None:
    for b in sc.blocks("role"):
        sc.define(sc.roles, "role", b.name, b)


def domains(sc: Scope) -> list[m.Domain]:
    out: list[m.Domain] = []
    for b in sc.blocks("domain"):
        if not sc.define(sc.domains_by_name, "domain", b.name, b):
            continue
        before = len(sc.diags)
        lead_name = sc.one(b, "lead")
        if lead_name is None:
            sc.diags.add("ORC008", f"domain `{b.name.text}` has no `lead`", b.name.span,
                         help="add `lead ROLE`")
        lead = sc.role(lead_name) if lead_name else None
        members: list[m.Member] = []
        seen: dict[str, ast.Name] = {}
        for mb in b.of("member"):
            assert isinstance(mb, ast.Block)
            if not sc.define(seen, f"member of `{b.name.text}`", named(mb), named(mb)):
                continue
            member = _member(sc, mb)
            if member is not None:
                members.append(member)
        needs = []
        need_spans: dict[str, Span] = {}
        for s in sc.names(sc.one(b, "needs")):
            if s.text not in sc.skill_names:
                sc.unknown("ORC104", "skill", s, sc.skill_names)
            else:
                needs.append(s.text)
                need_spans[s.text] = s.span
        d = sc.build(
            m.Domain, b.span, name=b.name.text, description=text(sc.one(b, "description")),
            lead=lead or (lead_name.text if lead_name else ""), members=members, needs=needs,
            span=b.name.span, need_spans=need_spans,
        )
        sc.mark("domain", b.name.text, before)
        if d is not None:
            out.append(d)
    return out


def _member(sc: Scope, mb: ast.Block) -> m.Member | None:
    role = sc.role(named(mb))
    count: Any = mb.extra.get("count")
    exp = sc.one(mb, "member_experience")
    if exp is not None and exp.text not in sc.experience_names:
        sc.unknown("ORC108", "experience level", exp, sc.experience_names)
    hours = sc.one(mb, "hours")
    held: dict[str, str] = {}
    for skill, level in sc.one(mb, "skills") or []:
        ok = True
        if skill.text not in sc.skill_names:
            sc.unknown("ORC104", "skill", skill, sc.skill_names)
            ok = False
        if level.text not in sc.level_names:
            sc.unknown("ORC105", "skill level", level, sc.level_names)
            ok = False
        if ok:
            held[skill.text] = level.text
    learning = []
    for s in sc.names(sc.one(mb, "learning")):
        if s.text not in sc.skill_names:
            sc.unknown("ORC104", "skill", s, sc.skill_names)
        else:
            learning.append(s.text)
    perf = {n.text: num.value for n, num in (sc.one(mb, "performance") or [])}
    return sc.build(
        m.Member, named(mb).span,
        {"count": count.span if count else None, "hours_per_day": hours.span if hours else None,
         "performance": clause_span(mb, "performance")},
        role=role or named(mb).text,
        count=int(count.value) if count else 1,
        experience=exp.text if exp is not None and exp.text in sc.experience_names else None,
        hours_per_day=hours.value if hours else None,
        skills=held, learning=learning, performance=perf, span=named(mb).span,
    )


def roles(sc: Scope, domains: list[m.Domain]) -> list[m.Role]:
    where: dict[str, tuple[str, str]] = {}
    for d in domains:
        if d.lead in sc.roles:
            where.setdefault(d.lead, (d.name, "lead"))
        for mem in d.members:
            if mem.role in sc.roles and mem.role not in where:
                where[mem.role] = (d.name, "member")
    out: list[m.Role] = []
    parents: dict[str, str | None] = {}
    for rid, b in sc.roles.items():
        before = len(sc.diags)
        rt = sc.one(b, "reports_to")
        parent = sc.role(rt) if rt is not None else None
        sc.mark("role", rid, before)
        parents[rid] = parent
        dom, kind = where.get(rid, (None, "staff"))
        layer = sc.one(b, "layer")
        if isinstance(layer, ast.Name) and layer.text not in m.LAYERS:
            sc.unknown("ORC117", "layer", layer, m.LAYERS, help="the layers are " + ", ".join(
                f"`{x}`" for x in m.LAYERS) + ", from the top down")
            layer = None
        role = sc.build(
            m.Role, b.span, id=rid, title=text(sc.one(b, "title")),
            layer=name_of(layer), reports_to=parent,
            model=name_of(sc.one(b, "model")), color=name_of(sc.one(b, "color")),
            tools=[n.text for n in sc.names(sc.one(b, "tools"))],
            description=text(sc.one(b, "description")),
            responsibilities=[t.value for t in sc.one(b, "responsibilities") or []],
            domain=dom, kind=kind, span=named(b).span,
        )
        if role is not None:
            out.append(role)
    depth = _depths(parents)
    for r in out:
        r.depth = depth.get(r.id, 0)
    return out


def _depths(parents: dict[str, str | None]) -> dict[str, int]:
    """Distance from the root for each role; roles on a cycle get the length walked."""
    depth: dict[str, int] = {}
    for start in parents:
        path: list[str] = []
        seen: set[str] = set()
        node: str | None = start
        while node is not None and node not in depth and node not in seen:
            seen.add(node)
            path.append(node)
            node = parents.get(node)
        base = depth.get(node, -1) if node is not None and node in depth else -1
        for i, n in enumerate(reversed(path)):
            depth[n] = base + 1 + i
    return depth


def agents(domains: list[m.Domain], roles: list[m.Role]) -> list[m.Agent]:
    """Instances of roles: one per role, or ``{role}-{n}`` for members with a count."""
    out: list[m.Agent] = []
    member_roles: set[str] = set()
    for d in domains:
        for mem in d.members:
            if mem.role in member_roles:
                continue
            member_roles.add(mem.role)
            if mem.count == 1:
                out.append(m.Agent(id=mem.role, role=mem.role, domain=d.name))
            else:
                out.extend(m.Agent(id=f"{mem.role}-{i}", role=mem.role, domain=d.name)
                           for i in range(1, mem.count + 1))
    for r in roles:
        if r.id not in member_roles:
            out.append(m.Agent(id=r.id, role=r.id, domain=r.domain))
    return out
