"""Stage 2, lowering: syntax trees in, an ``Organisation`` out.

Resolves every name (roles, domains, states, skills, levels, gates...),
reports duplicates, unknown references with "did you mean", missing and
repeated clauses, relations used out of context, and guard type errors. Values
are validated by the pydantic model; its errors become ORC901 at the span of
the offending clause (``_build`` is the one place where that happens).

What needs a whole graph (cycles, reachability, paths that skip gates) is left
to ``checks``; lowering only records what the spec says, plus what follows
directly from it: agents expanded from member counts, per-domain channels,
the tiers where each state, transition and gate applies.

Lowering keeps going after errors and still returns a model. Each entity in
which it reported an error is recorded in ``Organisation.broken`` (a role
whose ``reports_to`` is unknown, a state that lost a transition, a gate with
an unknown state...), so that the checks can stay silent about the
consequences instead of reporting them as further mistakes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchdsl import ast
from orchdsl import model as m
from orchdsl.diagnostics import Diagnostics, Label, Span, did_you_mean
from orchdsl.guards import GuardChecker, factor_environment, partial_eval, task_environment, to_text

T = TypeVar("T", bound=BaseModel)

# Which relations may stand where. Keys are contexts named in messages.
RELATION_CONTEXTS: dict[str, tuple[str, ...]] = {
    "owner": ("@assignee", "@peer", "@lead"),
    "transition": ("@assignee", "@peer", "@lead", "@downstream_lead", "@system"),
    "threshold": ("@assignee", "@lead"),
    "delegation": ("@lead", "@member"),
    "channel": ("@lead", "@member"),
    "standup": ("@lead", "@member"),
    "consultation": ("@lead", "@member"),
    "reviewer": ("@assignee", "@peer", "@lead"),
    "acceptor": ("@downstream_lead",),
    "flow": ("@assignee", "@lead", "@member"),
    "action": ("@lead",),
    "fallback": ("@lead",),
}

SINGLETONS = ("skills", "experience", "lifecycle", "delegation", "broadcast", "assignment", "capacity")


class Lowerer:
    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.items: dict[str, list[Any]] = {}
        self.broken: set[tuple[str, str]] = set()

    def _mark(self, kind: str, name: str, before: int) -> bool:
        """Record ``(kind, name)`` as broken when diagnostics were added since ``before``."""
        if len(self.diags) > before:
            self.broken.add((kind, name))
            return True
        return False

    # ------------------------------------------------------------------ helpers

    def _build(self, cls: type[T], where_: Span | None, spans: dict[str, Span | None] | None = None,
               **fields: Any) -> T | None:
        """Validate into the model; map pydantic errors to ORC901 here, once.

        ``spans`` maps a field to the span of the clause that gave it; an error
        on that field is reported there, any other at ``where_``.
        """
        try:
            return cls(**fields)
        except ValidationError as err:
            for e in err.errors():
                where = ".".join(str(p) for p in e["loc"])
                what = f"`{where}`: " if where else ""
                value = e.get("input")
                shown = f" (got `{value}`)" if isinstance(value, (int, float, str)) else ""
                first = str(e["loc"][0]) if e["loc"] else ""
                span = (spans or {}).get(first) or where_
                self.diags.add("ORC901", f"{what}{e['msg'].lower()}{shown}", span)
            return None

    def _one(self, block: ast.Block | ast.Transition, kind: str) -> Any:
        """The value of a clause that may appear at most once."""
        found = [c for c in block.clauses if c.kind == kind]
        if not found:
            return None
        first = found[0]
        for extra in found[1:]:
            self.diags.add("ORC007", f"`{kind}` is given more than once here", extra.span,
                           labels=[Label(first.span, "first given here")],
                           help=f"keep one `{kind}`")
        return first.value if isinstance(first, ast.Clause) else first

    def _one_clause(self, block: ast.Block, kind: str) -> ast.Clause | None:
        found = [c for c in block.clauses if c.kind == kind]
        self._one(block, kind)
        c = found[0] if found else None
        return c if isinstance(c, ast.Clause) else None

    def _define(self, table: dict[str, Any], what: str, name: ast.Name, value: Any) -> bool:
        if name.text in table:
            prev = table[name.text]
            prev_span = getattr(prev, "span", None)
            labels = [Label(prev_span, "first declared here")] if isinstance(prev_span, Span) else []
            self.diags.add("ORC101", f"{what} `{name.text}` is declared twice", name.span,
                           labels=labels, help=f"rename one of them or remove the second `{name.text}`")
            return False
        table[name.text] = value
        return True

    def _unknown(self, code: str, what: str, name: ast.Name, pool: Iterable[str],
                 help: str | None = None) -> None:
        self.diags.add(code, f"unknown {what} `{name.text}`", name.span,
                       help=did_you_mean(name.text, pool) or help)

    def _role(self, name: ast.Name | None) -> str | None:
        if name is None:
            return None
        if name.is_relation:
            self.diags.add("ORC110", f"a relation cannot stand here; `{name.text}` needs a role",
                           name.span, help="name a role")
            return None
        if name.text not in self.roles:
            self._unknown("ORC102", "role", name, self.roles)
            return None
        return name.text

    def _actor(self, name: ast.Name | None, context: str) -> str | None:
        if name is None:
            return None
        if name.is_relation:
            if name.text not in m.RELATIONS:
                self._unknown("ORC109", "relation", name, m.RELATIONS,
                              help="relations are " + ", ".join(m.RELATIONS))
                return None
            allowed = RELATION_CONTEXTS[context]
            if name.text not in allowed:
                self.diags.add(
                    "ORC110", f"`{name.text}` has no meaning as {_CONTEXT_NAMES[context]}", name.span,
                    help=f"use a role or one of {', '.join(allowed)}",
                )
                return None
            return name.text
        return self._role(name)

    def _state(self, name: ast.Name) -> str | None:
        if name.text not in self.state_names:
            self._unknown("ORC103", "state", name, self.state_names)
            return None
        return name.text

    def _budget(self, b: ast.Budget | None) -> m.Budget | None:
        if b is None:
            return None
        return self._build(m.Budget, b.span, kind=b.kind, value=b.value, text=b.text, span=b.span)

    def _names(self, value: Any) -> list[ast.Name]:
        return list(value or [])

    def _tiers(self, ranges: list[ast.TierRange]) -> list[int]:
        out: list[int] = []
        for r in ranges:
            if r.low > r.high:
                self.diags.add("ORC901", f"tier range `{r.low}-{r.high}` runs backwards", r.span,
                               help=f"write `{r.high}-{r.low}`")
                continue
            for t in range(r.low, r.high + 1):
                if self.declared_tiers and t not in self.declared_tiers:
                    self.diags.add("ORC318", f"tier {t} is not declared", r.span,
                                   help="declared tiers: " + ", ".join(map(str, sorted(self.declared_tiers))))
                    break
                if t not in out:
                    out.append(t)
        return sorted(out)

    # ------------------------------------------------------------------ main

    def run(self, files: list[ast.File]) -> m.Organisation | None:
        self.files = files
        for f in files:
            for item in f.items:
                self.items.setdefault(item.kind, []).append(item)
        for kind in SINGLETONS:
            blocks = self.items.get(kind, [])
            for extra in blocks[1:]:
                self.diags.add("ORC007", f"`{kind}` is declared more than once", extra.span,
                               labels=[Label(blocks[0].span, "first declared here")],
                               help=f"merge the two `{kind}` blocks")
        org = self._org()
        self.declared_tiers: set[int] = set()
        for t in self.items.get("tier", []):
            self.declared_tiers.add(int(t.extra["number"].value))
        skills = self._skills()
        experience = self._experience()
        self._declare_roles()
        domains = self._domains()
        roles = self._roles(domains)
        self.domain_names = [d.name for d in domains]
        self._declare_gates()
        lifecycle = self._lifecycle()
        delegation = self._delegation()
        broadcast = self._broadcast(domains)
        handoffs = self._handoffs()
        standups = self._standups()
        consultations = self._consultations()
        assignment = self._assignment()
        capacity = self._capacity()
        tiers = self._tier_list()
        gates = self._gates()
        metrics = self._metrics()
        if org is None:
            return None
        self._apply_tiers(lifecycle, tiers, gates)
        agents = _agents(domains, roles)
        out = self._build(
            m.Organisation, org.span,
            org=org, skills=skills, experience=experience, roles=roles, domains=domains,
            agents=agents, lifecycle=lifecycle, delegation=delegation, broadcast=broadcast,
            handoffs=handoffs, standups=standups, consultations=consultations,
            assignment=assignment, capacity=capacity, tiers=tiers, gates=gates, metrics=metrics,
            guard_variables={k: v.to_json() for k, v in task_environment(self.domain_names).items()},
        )
        if out is not None:
            out.set_broken(self.broken)
        return out

    # ------------------------------------------------------------------ org, skills

    def _org(self) -> m.OrgInfo | None:
        orgs = self.items.get("org", [])
        if not orgs:
            first = Span(self.files[0].path, 1, 1, 1, 1) if self.files else None
            self.diags.add("ORC005", "no `org` declaration", first,
                           help='start the top file with `org NAME version "1.0.0"`')
            return None
        for extra in orgs[1:]:
            self.diags.add("ORC006", "a second `org` declaration", extra.name.span,
                           labels=[Label(orgs[0].name.span, "the organisation is declared here")],
                           help="an included file must not declare `org`")
        b = orgs[0]
        version = b.extra.get("version")
        return self._build(
            m.OrgInfo, b.span, name=b.name.text,
            version=version.value if version else None,
            title=_text(self._one(b, "title")), description=_text(self._one(b, "description")),
            span=b.name.span,
        )

    def _skills(self) -> m.Skills:
        self.skill_names: dict[str, ast.Name] = {}
        self.level_names: dict[str, ast.Name] = {}
        blocks = self.items.get("skills", [])
        levels: list[m.Level] = []
        cats: list[m.SkillCategory] = []
        categories: dict[str, ast.Name] = {}
        for b in blocks[:1]:
            lv = self._one(b, "levels") or []
            for name, num in lv:
                if self._define(self.level_names, "skill level", name, name):
                    levels.append(m.Level(name=name.text, value=int(num.value), span=name.span))
            for c in b.of("category"):
                assert isinstance(c, ast.Clause)
                cname, skills = _any(c.value)
                self._define(categories, "skill category", cname, cname)
                kept = []
                spans: dict[str, Span] = {}
                for s in skills:
                    if self._define(self.skill_names, "skill", s, s):
                        kept.append(s.text)
                        spans[s.text] = s.span
                cats.append(m.SkillCategory(name=cname.text, skills=kept, span=cname.span,
                                            skill_spans=spans))
        return m.Skills(levels=levels, categories=cats)

    def _experience(self) -> list[m.Level]:
        self.experience_names: dict[str, ast.Name] = {}
        out: list[m.Level] = []
        for b in self.items.get("experience", [])[:1]:
            for name, num in b.clauses:
                if self._define(self.experience_names, "experience level", name, name):
                    out.append(m.Level(name=name.text, value=int(num.value), span=name.span))
        return out

    # ------------------------------------------------------------------ roles, domains

    def _declare_roles(self) -> None:
        self.roles: dict[str, ast.Block] = {}
        for b in self.items.get("role", []):
            self._define(self.roles, "role", b.name, b)

    def _domains(self) -> list[m.Domain]:
        self.domains_by_name: dict[str, ast.Block] = {}
        out: list[m.Domain] = []
        for b in self.items.get("domain", []):
            if not self._define(self.domains_by_name, "domain", b.name, b):
                continue
            before = len(self.diags)
            lead_name = self._one(b, "lead")
            if lead_name is None:
                self.diags.add("ORC008", f"domain `{b.name.text}` has no `lead`", b.name.span,
                               help="add `lead ROLE`")
            lead = self._role(lead_name) if lead_name else None
            members: list[m.Member] = []
            seen: dict[str, ast.Name] = {}
            for mb in b.of("member"):
                assert isinstance(mb, ast.Block)
                if not self._define(seen, f"member of `{b.name.text}`", _nm(mb), _nm(mb)):
                    continue
                member = self._member(mb)
                if member is not None:
                    members.append(member)
            needs = []
            need_spans: dict[str, Span] = {}
            for s in self._names(self._one(b, "needs")):
                if s.text not in self.skill_names:
                    self._unknown("ORC104", "skill", s, self.skill_names)
                else:
                    needs.append(s.text)
                    need_spans[s.text] = s.span
            d = self._build(
                m.Domain, b.span, name=b.name.text, description=_text(self._one(b, "description")),
                lead=lead or (lead_name.text if lead_name else ""), members=members, needs=needs,
                span=b.name.span, need_spans=need_spans,
            )
            self._mark("domain", b.name.text, before)
            if d is not None:
                out.append(d)
        return out

    def _member(self, mb: ast.Block) -> m.Member | None:
        role = self._role(_nm(mb))
        count: Any = mb.extra.get("count")
        exp = self._one(mb, "member_experience")
        if exp is not None and exp.text not in self.experience_names:
            self._unknown("ORC108", "experience level", exp, self.experience_names)
        hours = self._one(mb, "hours")
        held: dict[str, str] = {}
        for skill, level in self._one(mb, "skills") or []:
            ok = True
            if skill.text not in self.skill_names:
                self._unknown("ORC104", "skill", skill, self.skill_names)
                ok = False
            if level.text not in self.level_names:
                self._unknown("ORC105", "skill level", level, self.level_names)
                ok = False
            if ok:
                held[skill.text] = level.text
        learning = []
        for s in self._names(self._one(mb, "learning")):
            if s.text not in self.skill_names:
                self._unknown("ORC104", "skill", s, self.skill_names)
            else:
                learning.append(s.text)
        perf = {n.text: num.value for n, num in (self._one(mb, "performance") or [])}
        return self._build(
            m.Member, _nm(mb).span,
            {"count": count.span if count else None, "hours_per_day": hours.span if hours else None,
             "performance": _clause_span(mb, "performance")},
            role=role or _nm(mb).text,
            count=int(count.value) if count else 1,
            experience=exp.text if exp is not None and exp.text in self.experience_names else None,
            hours_per_day=hours.value if hours else None,
            skills=held, learning=learning, performance=perf, span=_nm(mb).span,
        )

    def _roles(self, domains: list[m.Domain]) -> list[m.Role]:
        where: dict[str, tuple[str, str]] = {}
        for d in domains:
            if d.lead in self.roles:
                where.setdefault(d.lead, (d.name, "lead"))
            for mem in d.members:
                if mem.role in self.roles and mem.role not in where:
                    where[mem.role] = (d.name, "member")
        out: list[m.Role] = []
        parents: dict[str, str | None] = {}
        for rid, b in self.roles.items():
            before = len(self.diags)
            rt = self._one(b, "reports_to")
            parent = self._role(rt) if rt is not None else None
            self._mark("role", rid, before)
            parents[rid] = parent
            dom, kind = where.get(rid, (None, "staff"))
            role = self._build(
                m.Role, b.span, id=rid, title=_text(self._one(b, "title")),
                layer=_name(self._one(b, "layer")), reports_to=parent,
                model=_name(self._one(b, "model")), color=_name(self._one(b, "color")),
                tools=[n.text for n in self._names(self._one(b, "tools"))],
                description=_text(self._one(b, "description")),
                responsibilities=[t.value for t in self._one(b, "responsibilities") or []],
                domain=dom, kind=kind, span=_nm(b).span,
            )
            if role is not None:
                out.append(role)
        depth = _depths(parents)
        for r in out:
            r.depth = depth.get(r.id, 0)
        return out

    # ------------------------------------------------------------------ lifecycle

    def _lifecycle(self) -> m.Lifecycle:
        blocks = self.items.get("lifecycle", [])
        self.state_names: dict[str, ast.Block] = {}
        if not blocks:
            return m.Lifecycle()
        b = blocks[0]
        for st in b.of("state"):
            assert isinstance(st, ast.Block)
            if not self._define(self.state_names, "state", _nm(st), st):
                # The second declaration's transitions are lost: the first
                # may look like a dead end that is not one.
                self.broken.add(("state", _nm(st).text))
        before = len(self.diags)
        tiers_clause = self._one(b, "tiers")
        tiers = self._tiers(tiers_clause) if tiers_clause else sorted(self.declared_tiers)
        self._mark("lifecycle", b.name.text if b.name else "task", before)
        env = task_environment(self.domain_names)
        states: list[m.State] = []
        for st in self.state_names.values():
            s = self._state_model(st, tiers, env)
            if s is not None:
                states.append(s)
        initial = [s.name for s in states if s.initial]
        return m.Lifecycle(
            name=b.name.text if b.name else "task", tiers=tiers,
            initial=initial[0] if len(initial) == 1 else None, states=states, span=b.span,
        )

    def _state_model(self, st: ast.Block, lc_tiers: list[int], env: dict[str, Any]) -> m.State | None:
        name = _nm(st).text
        before = len(self.diags)
        own_tiers = self._one(st, "tiers")
        tiers = self._tiers(own_tiers) if own_tiers else list(lc_tiers)
        self._mark("state", name, before)
        before = len(self.diags)
        sla: list[m.TierBudget] = []
        for rng, budget in self._one(st, "sla") or []:
            bud = self._budget(budget)
            if bud is None:
                continue
            if bud.kind == "multiple":
                self.diags.add("ORC901", "an SLA target cannot be a multiple of itself", budget.span,
                               help="write a duration, a token budget or `estimate`")
                continue
            sla.append(m.TierBudget(tiers=self._tiers([rng]) if rng else None, budget=bud))
        self._mark("sla", name, before)
        before = len(self.diags)
        warn = self._threshold(self._one(st, "warn"), default_to=None)
        esc = self._threshold(self._one(st, "escalate"), default_to=None)
        self._mark("threshold", name, before)
        transitions = []
        for tr in st.of("transition"):
            assert isinstance(tr, ast.Transition)
            before = len(self.diags)
            t = self._transition(name, tr, env)
            if self._mark("transition", f"{name}->{tr.target.text}", before):
                self.broken.add(("state", name))
            if t is not None:
                transitions.append(t)
        before = len(self.diags)
        owner = self._actor(self._one(st, "owner"), "owner")
        self._mark("owner", name, before)
        terminal = self._one(st, "terminal")
        before = len(self.diags)
        state = self._build(
            m.State, _nm(st).span, name=name, description=_text(self._one(st, "description")),
            initial=bool(self._one(st, "initial")), terminal=terminal,
            owner=owner, sla=sla, warn=warn, escalate=esc,
            heartbeat=self._budget(self._one(st, "heartbeat")), tiers=tiers,
            requires=[n.text for n in self._names(self._one(st, "requires"))],
            transitions=transitions, span=_nm(st).span,
        )
        self._mark("state", name, before)
        return state

    def _threshold(self, value: Any, default_to: str | None) -> m.Threshold | None:
        if value is None:
            return None
        budget, to = value
        bud = self._budget(budget)
        if bud is None:
            return None
        return m.Threshold(budget=bud, to=self._actor(to, "threshold") if to else default_to,
                           span=budget.span, to_span=to.span if to else None)

    def _transition(self, source: str, tr: ast.Transition, env: dict[str, Any]) -> m.Transition | None:
        target = self._state(tr.target)
        guard_expr = self._one(tr, "when")
        guard = None
        if guard_expr is not None:
            guard = GuardChecker(env, self.diags).check(guard_expr)
        actors = [a for a in (self._actor(n, "transition") for n in self._one(tr, "by") or []) if a]
        after = self._budget(self._one(tr, "after"))
        if after is not None and after.kind not in ("time", "tokens"):
            self.diags.add("ORC901", "an automatic transition fires after a duration or a token budget",
                           tr.span)
            after = None
        if target is None:
            return None
        return self._build(
            m.Transition, tr.span, source=source, target=target,
            label=tr.label.value if tr.label else None, guard=guard,
            guard_text=to_text(guard) if guard else None, actors=actors, after=after,
            span=tr.target.span, guard_span=guard_expr.span if guard_expr is not None else None,
        )

    # ------------------------------------------------------------------ protocols

    def _delegation(self) -> m.Delegation | None:
        blocks = self.items.get("delegation", [])
        if not blocks:
            return None
        b = blocks[0]
        before = len(self.diags)
        hops = list(self._one(b, "chain") or [])
        resolved = [(self._actor(a, "delegation"), a.span) for a in hops]
        d = self._build(
            m.Delegation, b.span, chain=[a for a, _ in resolved if a],
            chain_spans=[sp for a, sp in resolved if a],
            acknowledge_within=self._budget(self._one(b, "acknowledge")),
            overdue_escalate_to=self._actor(self._one(b, "overdue"), "threshold"),
            priorities=[n.text for n in self._names(self._one(b, "priorities"))], span=b.span,
        )
        self._mark("delegation", "", before)
        return d

    def _broadcast(self, domains: list[m.Domain]) -> m.Broadcast:
        blocks = self.items.get("broadcast", [])
        if not blocks:
            return m.Broadcast()
        b = blocks[0]
        names: dict[str, ast.Name] = {}
        channels: list[m.Channel] = []
        for ch in b.of("channel"):
            assert isinstance(ch, ast.Block)
            if not self._define(names, "channel", _nm(ch), _nm(ch)):
                continue
            before = len(self.diags)
            clause = self._one_clause(ch, "members")
            declared = [n for n in (_any(clause.value) if clause else [])]
            if not declared:
                self.diags.add("ORC408", f"channel `{_nm(ch).text}` has no members", _nm(ch).span,
                               help="add `members ROLE, ...` or `members *`")
                continue
            resolved = []
            for n in declared:
                if n.text == "*":
                    resolved.append("*")
                else:
                    a = self._actor(n, "channel")
                    if a:
                        resolved.append(a)
            self._mark("channel", _nm(ch).text, before)
            desc = _text(self._one(ch, "description"))
            template = "{domain}" in _nm(ch).text
            scopes: list[m.Domain | None] = list(domains) if template else [None]
            for dom in scopes:
                members = _expand_members(resolved, dom, domains, list(self.roles))
                channels.append(m.Channel(
                    name=_nm(ch).text.replace("{domain}", dom.name) if dom else _nm(ch).text,
                    description=desc, members=members, declared=[n.text for n in declared],
                    template=_nm(ch).text if template else None, domain=dom.name if dom else None,
                    span=_nm(ch).span,
                ))
        return m.Broadcast(
            kinds=[n.text for n in self._names(self._one(b, "kinds"))],
            priorities=[n.text for n in self._names(self._one(b, "priorities"))],
            channels=channels,
        )

    def _pair(self, value: Any) -> tuple[str, str] | None:
        if value is None:
            return None
        src, dst = value
        a, b = self._state(src), self._state(dst)
        return (a, b) if a and b else None

    def _handoffs(self) -> list[m.Handoff]:
        out = []
        for b in self.items.get("handoff", []):
            before = len(self.diags)
            ends = []
            for n in (b.extra["from"], b.extra["to"]):
                if n.text != "*" and n.text not in self.domains_by_name:
                    self._unknown("ORC106", "domain", n, self.domains_by_name)
                ends.append(n.text)
            checklist = [t.value for t in self._one(b, "checklist") or []]
            h = self._build(
                m.Handoff, b.span, from_domain=ends[0], to_domain=ends[1],
                description=_text(self._one(b, "description")), checklist=checklist,
                accepted_by=self._actor(self._one(b, "accepted_by"), "acceptor"),
                on_accept=self._pair(self._one(b, "on_accept")),
                on_reject=self._pair(self._one(b, "on_reject")), span=b.span,
                checklist_span=_clause_span(b, "checklist"),
                accepted_by_span=_clause_span(b, "accepted_by"),
                on_accept_span=_clause_span(b, "on_accept"),
                on_reject_span=_clause_span(b, "on_reject"),
            )
            self._mark("handoff", f"{ends[0]}->{ends[1]}", before)
            if h is not None:
                out.append(h)
        return out

    def _standups(self) -> list[m.Standup]:
        out: list[m.Standup] = []
        names: dict[str, ast.Name] = {}
        for b in self.items.get("standup", []):
            if not self._define(names, "standup", b.name, b.name):
                continue
            before = len(self.diags)
            frm = self._actor(self._one(b, "from_"), "standup")
            to = self._actor(self._one(b, "to"), "standup")
            every = self._budget(self._one(b, "every"))
            missing = [k for k, v in (("from", self._one(b, "from_")), ("to", self._one(b, "to")),
                                      ("every", self._one(b, "every"))) if v is None]
            if missing:
                self.diags.add("ORC008", f"standup `{b.name.text}` has no `{missing[0]}`", b.name.span)
            s = None
            if frm is not None and to is not None and every is not None and not missing:
                s = self._build(
                    m.Standup, b.span, name=b.name.text, description=_text(self._one(b, "description")),
                    **_fields({"from": frm}), to=to, every=every,
                    sections=[n.text for n in self._names(self._one(b, "sections"))], span=b.name.span,
                    to_span=_clause_span(b, "to"),
                )
            self._mark("standup", b.name.text, before)
            if s is not None:
                out.append(s)
        return out

    def _consultations(self) -> list[m.Consultation]:
        out: list[m.Consultation] = []
        names: dict[str, ast.Name] = {}
        for b in self.items.get("consultation", []):
            if not self._define(names, "consultation", b.name, b.name):
                continue
            before = len(self.diags)
            frm = self._actor(self._one(b, "from_"), "consultation")
            to = self._actor(self._one(b, "to"), "consultation")
            if self._one(b, "from_") is None or self._one(b, "to") is None:
                self.diags.add("ORC008", f"consultation `{b.name.text}` needs `from` and `to`", b.name.span)
                self.broken.add(("consultation", b.name.text))
                continue
            blocking = self._one(b, "blocking")
            default = self._one(b, "default")
            dv: str | int | None = None
            if isinstance(default, ast.Text):
                dv = default.value
            elif isinstance(default, ast.Num):
                dv = int(default.value)
            elif isinstance(default, ast.Name):
                dv = default.text
            if self._mark("consultation", b.name.text, before) and (frm is None or to is None):
                continue
            c = self._build(
                m.Consultation, b.span, name=b.name.text, description=_text(self._one(b, "description")),
                **_fields({"from": frm}), to=to, blocking=True if blocking is None else blocking,
                timeout=self._budget(self._one(b, "timeout")), default=dv, span=b.name.span,
            )
            if c is not None:
                out.append(c)
        return out

    # ------------------------------------------------------------------ assignment, capacity

    def _assignment(self) -> m.Assignment | None:
        blocks = self.items.get("assignment", [])
        if not blocks:
            return None
        b = blocks[0]
        before = len(self.diags)
        weights: dict[str, float] = {}
        weight_spans: dict[str, Span] = {}
        for c in b.of("weight"):
            assert isinstance(c, ast.Clause)
            name, num = _any(c.value)
            if name.text not in m.FACTORS:
                self._unknown("ORC503", "assignment factor", name, m.FACTORS,
                              help="factors are " + ", ".join(m.FACTORS))
                continue
            if name.text in weights:
                self.diags.add("ORC007", f"the weight of `{name.text}` is given twice", c.span,
                               labels=[Label(weight_spans[name.text], "first given here")])
                continue
            weights[name.text] = num.value
            weight_spans[name.text] = num.span
        self._mark("assignment", "weights", before)
        before = len(self.diags)
        filt = None
        filt_expr = self._one(b, "filter")
        if filt_expr is not None:
            filt = GuardChecker(factor_environment(m.FACTORS), self.diags, "filter").check(filt_expr)
        fit: dict[str, str] = {}
        fit_spans: dict[str, Span] = {}
        for cx, exp in self._one(b, "fit") or []:
            ok = True
            if cx.text not in m.COMPLEXITIES:
                self._unknown("ORC506", "complexity", cx, m.COMPLEXITIES,
                              help="complexities are simple, moderate, high")
                ok = False
            if exp.text not in self.experience_names:
                self._unknown("ORC108", "experience level", exp, self.experience_names)
                ok = False
            if ok:
                fit[cx.text] = exp.text
                fit_spans[cx.text] = exp.span
        a = self._build(
            m.Assignment, b.span, weights=weights, filter=filt,
            filter_text=to_text(filt) if filt else None, fit=fit,
            fallback=self._actor(self._one(b, "fallback"), "fallback"), span=b.span,
            weight_spans=weight_spans, fit_spans=fit_spans,
        )
        self._mark("assignment", "", before)
        return a

    def _action(self, clause: Any) -> m.Action | None:
        if clause is None:
            return None
        target = self._actor(clause.value, "action") if clause.value is not None else None
        return m.Action(kind=clause.kind, target=target)

    def _capacity(self) -> m.Capacity | None:
        blocks = self.items.get("capacity", [])
        if not blocks:
            return None
        b = blocks[0]
        before = len(self.diags)
        bands: list[m.CapacityBand] = []
        for c in b.of("band"):
            assert isinstance(c, ast.Clause)
            pct, name, action = _any(c.value)
            band = self._build(m.CapacityBand, pct.span, at=pct.value, name=name.text,
                               action=self._action(action), span=pct.span)
            if band is not None:
                bands.append(band)
        hours = self._one(b, "hours")
        horizon = self._one(b, "horizon")
        ic = self._one(b, "ic_limit")
        sus = self._one(b, "sustained")
        fields: dict[str, Any] = {"bands": bands, "span": b.span}
        if hours is not None:
            fields["hours_per_day"] = hours.value
        if horizon is not None:
            fields["horizon_days"] = horizon.value / 86400.0
        if ic is not None:
            fields["ic_limit"] = ic[0].value
            fields["ic_action"] = self._action(ic[1])
        if sus is not None:
            fields["domain_limit"] = sus[0].value
            fields["domain_period"] = self._budget(sus[1])
            fields["domain_action"] = self._action(sus[2])
        spans: dict[str, Span | None] = {
            "hours_per_day": hours.span if hours is not None else None,
            "horizon_days": horizon.span if horizon is not None else None,
        }
        cap = self._build(m.Capacity, b.span, spans, **fields)
        self._mark("capacity", "", before)
        return cap

    # ------------------------------------------------------------------ tiers, gates, metrics

    def _declare_gates(self) -> None:
        self.gate_blocks: dict[str, ast.Block] = {}
        for b in self.items.get("gate", []):
            self._define(self.gate_blocks, "gate", b.name, b)

    def _tier_list(self) -> list[m.Tier]:
        out: list[m.Tier] = []
        seen: dict[int, ast.Block] = {}
        for b in self.items.get("tier", []):
            num = int(b.extra["number"].value)
            if num in seen:
                self.diags.add("ORC101", f"tier {num} is declared twice", b.extra["number"].span,
                               labels=[Label(_any(seen[num].extra["number"]).span, "first declared here")])
                continue
            seen[num] = b
            before = len(self.diags)
            steps = []
            gates: list[str] = []
            stages: list[str] = []
            for st in self._one(b, "flow") or []:
                steps.append(self._step(st, gates, stages))
            planning = self._one(b, "planning")
            title = b.extra.get("title")
            fields: dict[str, Any] = {}
            if planning is not None:
                low, high, unit = planning
                fields.update(planning_min=int(low.value), planning_max=int(high.value),
                              planning_unit=unit.text if unit else None,
                              planning_span=_clause_span(b, "planning"))
            t = self._build(
                m.Tier, b.span, number=num, name=title.value if title else None,
                description=_text(self._one(b, "description")), flow=steps, gates=gates,
                stages=stages, span=b.extra["number"].span, **fields,
            )
            self._mark("tier", str(num), before)
            if t is not None:
                out.append(t)
        return sorted(out, key=lambda t: t.number)

    def _step(self, st: ast.Step, gates: list[str], stages: list[str]) -> m.Step:
        if st.gate is not None:
            if st.gate.text not in self.gate_blocks:
                self._unknown("ORC107", "gate", st.gate, self.gate_blocks)
            elif st.gate.text not in gates:
                gates.append(st.gate.text)
            return m.Step(gate=st.gate.text, span=st.span)
        actor = self._actor(st.actor, "flow")
        stage = None
        if st.stage is not None:
            if st.stage.text not in m.STAGES:
                self._unknown("ORC111", "stage", st.stage, m.STAGES,
                              help="stages are " + ", ".join(m.STAGES))
            else:
                stage = st.stage.text
                if stage not in stages:
                    stages.append(stage)
        return m.Step(actor=actor, stage=stage, span=st.span)

    def _gates(self) -> list[m.Gate]:
        out: list[m.Gate] = []
        for name, b in self.gate_blocks.items():
            before = len(self.diags)
            transitions: list[tuple[str, str]] = []
            transition_spans: list[Span | None] = []
            stages: list[str] = []
            for target in self._one(b, "guards") or []:
                if target.kind == "transition":
                    pair = self._pair(target.value)
                    if pair is not None:
                        transitions.append(pair)
                        transition_spans.append(target.span)
                else:
                    stage = target.value
                    if stage.text not in m.STAGES:
                        self._unknown("ORC111", "stage", stage, m.STAGES)
                    else:
                        stages.append(stage.text)
            outcomes: list[m.Outcome] = []
            onames: dict[str, ast.Name] = {}
            for c in b.of("outcome"):
                assert isinstance(c, ast.Clause)
                oname, effect = _any(c.value)
                if not self._define(onames, f"outcome of gate `{name}`", oname, oname):
                    continue
                target = self._state(effect.value) if effect.kind == "move" else None
                outcomes.append(m.Outcome(name=oname.text, effect=effect.kind, target=target,
                                          span=oname.span))
            thresholds: dict[str, dict[str, float]] = {}
            threshold_spans: dict[str, Span] = {}
            for c in b.of("threshold"):
                assert isinstance(c, ast.Clause)
                crit, values = _any(c.value)
                per = thresholds.setdefault(crit.text, {})
                for rng, num in values:
                    for t in self._tiers([rng]):
                        per[str(t)] = num.value
                        threshold_spans[f"{crit.text}/{t}"] = rng.span
            score = self._one(b, "score")
            bands = []
            for c in b.of("band"):
                assert isinstance(c, ast.Clause)
                low, high, oname = _any(c.value)
                if oname.text not in onames:
                    self._unknown("ORC113", f"outcome of gate `{name}`", oname, onames,
                                  help=f"declare it with `outcome {oname.text}: pass`")
                bands.append(m.ScoreBand(low=int(low.value), high=int(high.value), outcome=oname.text,
                                         span=c.span))
            reviewer = self._one(b, "reviewer")
            g = self._build(
                m.Gate, b.span, name=name, description=_text(self._one(b, "description")),
                reviewer=self._actor(reviewer, "reviewer"), transitions=transitions, stages=stages,
                criteria=[n.text for n in self._names(self._one(b, "criteria"))],
                thresholds=thresholds, outcomes=outcomes,
                score_categories=[n.text for n in score[0]] if score else [],
                score_min=int(score[1].value) if score else None,
                score_max=int(score[2].value) if score else None,
                bands=bands, span=_nm(b).span, reviewer_span=reviewer.span if reviewer else None,
                transition_spans=transition_spans, threshold_spans=threshold_spans,
            )
            self._mark("gate", name, before)
            if reviewer is None:
                self.diags.add("ORC702", f"gate `{name}` has no reviewer", _nm(b).span,
                               help="add `reviewer ROLE` or `reviewer @peer`")
            if g is not None:
                out.append(g)
        return out

    def _metrics(self) -> list[m.Metric]:
        out: list[m.Metric] = []
        names: dict[str, ast.Name] = {}
        for b in self.items.get("metric", []):
            if not self._define(names, "metric", b.name, b.name):
                continue
            before = len(self.diags)
            mname, arg = b.extra["measure"].value
            if mname.text not in m.MEASURES:
                self._unknown("ORC112", "measure", mname, m.MEASURES,
                              help="measures are " + ", ".join(m.MEASURES))
                continue
            argument = None
            if mname.text in m.MEASURES_WITH_STATE:
                if arg is None:
                    self.diags.add("ORC008", f"`{mname.text}` needs a state: `{mname.text}(STATE)`",
                                   mname.span)
                    continue
                argument = self._state(arg)
            elif arg is not None:
                self.diags.add("ORC901", f"`{mname.text}` takes no argument", arg.span)
            title = b.extra.get("title")
            mt = self._build(
                m.Metric, b.span, name=b.name.text, title=title.value if title else None,
                measure=mname.text, argument=argument, op=b.extra["op"].text,
                target=b.extra["target"].value, span=b.name.span, target_span=b.extra["target"].span,
            )
            self._mark("metric", b.name.text, before)
            if mt is not None:
                out.append(mt)
        return out

    # ------------------------------------------------------------------ derived facts

    def _apply_tiers(self, lc: m.Lifecycle, tiers: list[m.Tier], gates: list[m.Gate]) -> None:
        """Record where each transition can fire and which gates guard it."""
        for g in gates:
            g.tiers = sorted(t.number for t in tiers if g.name in t.gates)
        guarded: dict[tuple[str, str], dict[str, list[int]]] = {}
        for g in gates:
            for pair in g.transitions:
                guarded.setdefault(pair, {})[g.name] = list(g.tiers)
        applies = {s.name: set(s.tiers) for s in lc.states}
        for s in lc.states:
            for t in s.transitions:
                if t.target not in applies:
                    # the target was declared but could not be built
                    self.broken.add(("state", s.name))
                t.tiers = [
                    tier for tier in lc.tiers
                    if tier in applies.get(s.name, ()) and tier in applies.get(t.target, ())
                    and partial_eval(t.guard, {"tier": tier}) is not False
                ]
                t.gates = guarded.get((t.source, t.target), {})


_CONTEXT_NAMES = {
    "owner": "a state's owner",
    "transition": "a transition's actor",
    "threshold": "an escalation target",
    "delegation": "a delegation hop",
    "channel": "a channel member",
    "standup": "a standup's sender or receiver",
    "consultation": "a consultation party",
    "reviewer": "a gate's reviewer",
    "acceptor": "a handoff's acceptor",
    "flow": "a flow step",
    "action": "a capacity action's target",
    "fallback": "the assignment fallback",
}


def _any(v: object) -> Any:
    """A clause's payload, whose shape its kind determines (see ``ast.Clause``)."""
    return v


def _nm(block: ast.Block) -> ast.Name:
    """The name of a block that always has one (role, state, channel, member...)."""
    assert block.name is not None
    return block.name


def _fields(d: dict[str, Any]) -> dict[str, Any]:
    return d


def _clause_span(block: ast.Block, kind: str) -> Span | None:
    """The span of the first clause of a kind (without reporting repeats)."""
    for c in block.clauses:
        if c.kind == kind:
            return c.span
    return None


def _text(v: Any) -> str | None:
    return v.value if isinstance(v, ast.Text) else None


def _name(v: Any) -> str | None:
    return v.text if isinstance(v, ast.Name) else None


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


def _agents(domains: list[m.Domain], roles: list[m.Role]) -> list[m.Agent]:
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


def lower(files: list[ast.File], diags: Diagnostics) -> m.Organisation | None:
    """Resolve the files of one organisation into its model."""
    return Lowerer(diags).run(files)
