"""Agent prompts: the model in, one Markdown file per role out (``agents/{role}.md``).

Python works out, for each role, everything that concerns it (the states it
owns, what it is escalated, the transitions it may make, the gates it reviews,
its channels, protocols and Agent_Memory paths); the jinja2 template
``templates/agent.md.j2`` only lays that out. A relation matches a role by its
kind: a domain lead is ``@lead`` (and ``@downstream_lead``), a member role is
``@member``, ``@assignee`` and ``@peer``.

This is the only module that imports jinja2, and only ``build_files`` imports
it, so that ``orchdsl --help`` and the runtime never load jinja2.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import jinja2

from orchdsl.generate import common as c
from orchdsl.generate.memory import delegation_hops, standup_pairs, standup_path
from orchdsl.generate.schemas import standup_name
from orchdsl.model import Action, Budget, Organisation, Role, State

RELATION_TEXT = c.RELATION_TEXT


# A prompt lists a channel's members only up to this many, so that prompt size
# grows with the organisation, not with its square.
MAX_LISTED = 12


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment, built once per process."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("orchdsl", "templates"),
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def actor_text(actor: str | None, people: c.People) -> str:
    """``tech-lead`` -> "Tech Lead (`tech-lead`)"; ``@lead`` -> "`@lead` (the lead of …)"."""
    if actor is None:
        return "nobody"
    if actor in RELATION_TEXT:
        return f"`{actor}` ({RELATION_TEXT[actor]})"
    r = people.roles.get(actor)
    if r is not None and r.title:
        return f"{r.title} (`{actor}`)"
    return f"`{actor}`"


def as_text(actor: str, role: str) -> str:
    """How a role fills an actor: "you" or "you, as `@lead` (…)"."""
    if actor == role:
        return "you"
    return f"you, as `{actor}` ({RELATION_TEXT.get(actor, actor)})"


def _tiers(tiers: list[int]) -> str:
    if not tiers:
        return "none"
    if len(tiers) > 1 and tiers == list(range(tiers[0], tiers[-1] + 1)):
        return f"{tiers[0]}-{tiers[-1]}"
    return ", ".join(map(str, tiers))


def _members(declared: list[str], members: list[str]) -> str:
    """A channel's members: listed when few, else as declared (`*` is everyone)."""
    if len(members) <= MAX_LISTED:
        return ", ".join(f"`{m}`" for m in members)
    parts = ["everyone" if d == "*" else f"`{d}`" for d in declared]
    return ", ".join(parts) + f"; {len(members)} roles"


def _side(domain: str) -> str:
    return "any domain" if domain == "*" else f"`{domain}`"


def _measure(s: State) -> str:
    """What a state's thresholds measure, for a sentence."""
    kinds = {tb.budget.kind for tb in s.sla}
    kinds |= {th.budget.kind for th in (s.warn, s.escalate) if th is not None} - {"multiple"}
    if kinds == {"tokens"}:
        return "the tokens it consumes there reach"
    if kinds <= {"time"}:
        return "its time there reaches"
    return "its time or tokens there reach"


def _say(b: Budget) -> str:
    """A budget in a sentence: token amounts say so (`50K tokens`)."""
    text = c.budget_text(b)
    return f"{text} tokens" if b.kind == "tokens" else text


def _group(items: list[tuple[int, str]]) -> list[tuple[list[int], str]]:
    """Tiers with the same text together, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for tier, text in items:
        groups.setdefault(text, []).append(tier)
    return [(tiers, text) for text, tiers in groups.items()]


def _tier_word(tiers: list[int]) -> str:
    return f"tier {tiers[0]}" if len(tiers) == 1 else f"tiers {_tiers(tiers)}"


def _pct(x: float) -> str:
    v = round(x * 100, 4)
    return f"{int(v) if v == int(v) else v}%"


def _you(a: Action) -> str:
    return "you are notified" if a.kind == "notify" else "it is escalated to you for rebalancing"


@dataclass
class Paths:
    """Agent_Memory paths a role reads and writes, each with the reason."""

    reads: dict[str, str] = field(default_factory=dict)
    writes: dict[str, str] = field(default_factory=dict)

    def read(self, path: str, why: str) -> None:
        self.reads.setdefault(path, why)

    def write(self, path: str, why: str) -> None:
        self.writes.setdefault(path, why)


class _Prompts:
    def __init__(self, org: Organisation) -> None:
        self.org = org
        self.people = c.People(org)
        self.hops = delegation_hops(org, self.people)
        # Indexed by role, so that each prompt costs the same however large the organisation.
        self.hops_to: dict[str, list[dict[str, Any]]] = {}
        self.hops_from: dict[str, list[dict[str, Any]]] = {}
        for hop in self.hops:
            self.hops_from.setdefault(hop["from"], []).append(hop)
            for t in hop["to"]:
                self.hops_to.setdefault(t, []).append(hop)
        self.reporters: list[dict[str, list[str]]] = []
        self.reports_to: list[dict[str, list[str]]] = []
        for i in range(len(org.standups)):
            ins: dict[str, list[str]] = {}
            outs: dict[str, list[str]] = {}
            for pair in standup_pairs(org, self.people, i):
                ins.setdefault(pair["to"], []).append(pair["from"])
                outs.setdefault(pair["from"], []).append(pair["to"])
            self.reporters.append(ins)
            self.reports_to.append(outs)
        # Channels by member role (a channel such as `all` holds every role).
        self.channels_of: dict[str, list[Any]] = {}
        for ch in org.broadcast.channels:
            for member in dict.fromkeys(ch.members):
                self.channels_of.setdefault(member, []).append(ch)
        self.direct: dict[str, list[Role]] = {}
        for x in org.roles:
            if x.reports_to:
                self.direct.setdefault(x.reports_to, []).append(x)
        self.lc_tiers = list(org.lifecycle.tiers)
        self._tier_lines: dict[str, list[str]] = {}
        self._per_tier_text: dict[tuple[str, str], str] = {}

    # -- pieces ------------------------------------------------------------

    def tier_lines(self, s: State) -> list[str]:
        # The same for every role that owns the state: computed once.
        if s.name not in self._tier_lines:
            self._tier_lines[s.name] = self._compute_tier_lines(s)
        return list(self._tier_lines[s.name])

    def _compute_tier_lines(self, s: State) -> list[str]:
        per_tier: list[tuple[int, str]] = []
        for tier in c.sla_tiers(s, self.lc_tiers):
            target = s.target_for(tier)
            parts = [f"target {_say(target)}" if target else "no target"]
            for word, th in (("warning", s.warn), ("escalation", s.escalate)):
                if th is None:
                    continue
                resolved = c.resolve_threshold(th.budget, target)
                shown = _say(resolved) if resolved else th.budget.text
                parts.append(f"{word} at {shown}")
            per_tier.append((tier, ", ".join(parts)))
        return [f"{_tier_word(ts)}: {text}" for ts, text in _group(per_tier)]

    def transition_rows(self, role: str) -> list[dict[str, str]]:
        rows = []
        for s in self.org.lifecycle.states:
            for t in s.transitions:
                for a in t.actors:
                    if self.people.matches(role, a):
                        gates = ", ".join(f"`{g}` (tiers {_tiers(ts)})" for g, ts in t.gates.items())
                        rows.append({
                            "source": t.source, "target": t.target, "label": t.label or "",
                            "guard": t.guard_text or "always", "as": as_text(a, role),
                            "tiers": _tiers(t.tiers), "gates": gates or "none",
                            "after": _say(t.after) if t.after else "",
                        })
                        break
        return rows

    def owned_states(self, role: str) -> list[dict[str, Any]]:
        out = []
        for s in self.org.lifecycle.states:
            if not self.people.matches(role, s.owner):
                continue
            assert s.owner is not None
            out.append({
                "name": s.name,
                "description": s.description or "",
                "as": as_text(s.owner, role),
                "tiers": _tiers(c.sla_tiers(s, self.lc_tiers)),
                "sla": ", ".join((f"tier {_tiers(tb.tiers)}: " if tb.tiers else "") + _say(tb.budget)
                                 for tb in s.sla),
                "per_tier": self.tier_lines(s) if s.sla or s.warn or s.escalate else [],
                "warn_to": actor_text(s.warn.to, self.people) if s.warn and s.warn.to else "",
                "escalate_to": actor_text(s.escalate.to, self.people) if s.escalate else "",
                "heartbeat": _say(s.heartbeat) if s.heartbeat else "",
                "requires": list(s.requires),
                "next": [f"`{t.target}`" + (f" ({t.label})" if t.label else "") for t in s.transitions],
            })
        return out

    def escalations(self, role: str) -> list[str]:
        """What this role is warned of or escalated, as sentences."""
        p = self.people
        out = []
        for s in self.org.lifecycle.states:
            owner = actor_text(s.owner, p)
            if s.escalate and p.matches(role, s.escalate.to):
                assert s.escalate.to is not None
                out.append(f"A task in `{s.name}` (owned by {owner}) is escalated to "
                           f"{as_text(s.escalate.to, role)} when {_measure(s)} "
                           f"{self._written(s.escalate.budget)}" + self._per_tier(s, "escalate") + ".")
            if s.warn and s.warn.to and p.matches(role, s.warn.to):
                out.append(f"A task in `{s.name}` (owned by {owner}) sends a warning to "
                           f"{as_text(s.warn.to, role)} at {self._written(s.warn.budget)}"
                           + self._per_tier(s, "warn") + ".")
            for t in s.transitions:
                if t.after is not None and t.target != s.name:
                    target = self.org.lifecycle.state(t.target)
                    if target is not None and p.matches(role, target.owner) and target.owner:
                        out.append(f"A task stays in `{s.name}` for {_say(t.after)}: the "
                                   f"runtime moves it to `{t.target}`, which "
                                   f"{as_text(target.owner, role)} own.")
        d = self.org.delegation
        if d and d.overdue_escalate_to and p.matches(role, d.overdue_escalate_to):
            within = f" within {_say(d.acknowledge_within)}" if d.acknowledge_within else ""
            out.append(f"A delegation that is not acknowledged{within} is escalated to you.")
        cap = self.org.capacity
        if cap:
            for b in cap.bands:
                if b.action and p.matches(role, b.action.target):
                    whose = "your domain's" if b.action.target == "@lead" else "a domain's"
                    out.append(f"When {whose} utilisation reaches {_pct(b.at)} (`{b.name}`), "
                               f"{_you(b.action)}.")
            if cap.domain_action and cap.domain_limit is not None and p.matches(role, cap.domain_action.target):
                period = f" for {_say(cap.domain_period)}" if cap.domain_period else ""
                out.append(f"When a domain stays above {_pct(cap.domain_limit)} utilisation{period}, "
                           f"{_you(cap.domain_action)}.")
        a = self.org.assignment
        if a and a.fallback and p.matches(role, a.fallback):
            out.append("No IC passes the assignment filter for a task: the assignment is escalated to you.")
        return out

    @staticmethod
    def _written(b: Budget) -> str:
        return b.text if b.kind == "multiple" else _say(b)

    def _per_tier(self, s: State, which: str) -> str:
        key = (s.name, which)
        if key not in self._per_tier_text:
            self._per_tier_text[key] = self._compute_per_tier(s, which)
        return self._per_tier_text[key]

    def _compute_per_tier(self, s: State, which: str) -> str:
        th = s.escalate if which == "escalate" else s.warn
        if th is None or th.budget.kind != "multiple":
            return ""
        per_tier: list[tuple[int, str]] = []
        for tier in c.sla_tiers(s, self.lc_tiers):
            resolved = c.resolve_threshold(th.budget, s.target_for(tier))
            if resolved is not None:
                per_tier.append((tier, _say(resolved)))
        parts = [f"{_tier_word(ts)}: {text}" for ts, text in _group(per_tier)]
        return f" the target ({'; '.join(parts)})" if parts else " the target"

    def gates(self, role: str) -> list[dict[str, Any]]:
        out = []
        for g in self.org.gates:
            if not self.people.matches(role, g.reviewer):
                continue
            assert g.reviewer is not None
            guards = [f"`{a} -> {b}`" for a, b in g.transitions] + [f"stage `{s}`" for s in g.stages]
            thresholds = [f"`{crit}`: " + ", ".join(f"tier {t} at least {_pct(v)}" for t, v in per.items())
                          for crit, per in g.thresholds.items()]
            outcomes = []
            for o in g.outcomes:
                effect = {"pass": "the guarded step proceeds", "hold": "the guarded step waits for a new "
                          "decision"}.get(o.effect, f"the task goes back to `{o.target}`")
                outcomes.append(f"`{o.name}`: {effect}")
            score = ""
            if g.score_categories:
                bands = "; ".join(f"{b.low}-{b.high} gives `{b.outcome}`" for b in g.bands)
                score = (f"score each of {', '.join(f'`{x}`' for x in g.score_categories)} from "
                         f"{g.score_min} to {g.score_max}; the total selects the outcome: {bands}")
            out.append({"name": g.name, "description": g.description or "", "as": as_text(g.reviewer, role),
                        "guards": ", ".join(guards) or "nothing", "tiers": _tiers(g.tiers),
                        "criteria": ", ".join(f"`{x}`" for x in g.criteria), "thresholds": thresholds,
                        "outcomes": outcomes, "score": score})
        return out

    def flow_steps(self, role: str) -> list[str]:
        out = []
        for t in self.org.tiers:
            for i, step in enumerate(t.flow):
                if step.actor is not None and self.people.matches(role, step.actor):
                    stage = step.stage or "its step"
                    name = f" \"{t.name}\"" if t.name else ""
                    out.append(f"tier {t.number}{name}, step {i + 1} of {len(t.flow)}: "
                               f"`{stage}` ({as_text(step.actor, role)})")
        return out

    # -- one role ----------------------------------------------------------

    def context(self, r: Role) -> dict[str, Any]:
        p, org, role = self.people, self.org, r.id
        agents = p.agents_of(role)
        reports = self.direct.get(role, [])
        dom = p.domains.get(r.domain) if r.domain else None
        paths = Paths()
        paths.read(c.STATE_MACHINE, "the lifecycle: states, SLAs, transitions and gates")
        paths.read(c.PROTOCOLS, "how to delegate, broadcast, hand off, report and consult")
        for a in agents:
            paths.read(c.INBOX.format(recipient=a), "your inbox: delegations, acknowledgements and the "
                       "runtime's notices (assignments, SLA warnings and escalations)")

        # channels
        channels = [{"name": ch.name, "description": ch.description or "",
                     "members": _members(ch.declared, ch.members)}
                    for ch in self.channels_of.get(role, [])]
        for ch in channels:
            paths.read(f"_communication/broadcast/{ch['name']}/", f"announcements to `{ch['name']}`")
            paths.write(c.BROADCAST_FILE.replace("{channel}", ch["name"]),
                        f"announcements you post to `{ch['name']}`")

        # delegation
        d = org.delegation
        receives = self.hops_to.get(role, [])
        sends = self.hops_from.get(role, [])
        deleg: dict[str, Any] = {"receives": [], "sends": [], "within": "", "priorities": ""}
        if d:
            deleg["within"] = _say(d.acknowledge_within) if d.acknowledge_within else ""
            deleg["priorities"] = ", ".join(f"`{x}`" for x in d.priorities)
        for hop in receives:
            deleg["receives"].append(actor_text(hop["from"], p))
            paths.write(c.ACK_FILE.replace("{delegator}", hop["from"]),
                        f"your acknowledgement of a delegation from `{hop['from']}`")
        for hop in sends:
            for t in hop["to"]:
                deleg["sends"].append(actor_text(t, p))
                for a in p.agents_of(t):
                    paths.write(c.DELEGATION_FILE.replace("{recipient}", a),
                                f"delegations to `{a}`")
        deleg["receives"] = list(dict.fromkeys(deleg["receives"]))
        deleg["sends"] = list(dict.fromkeys(deleg["sends"]))

        # standups
        standups_out, standups_in = [], []
        for i, st in enumerate(org.standups):
            path = standup_path(org, i)
            to_me = self.reporters[i].get(role, [])
            from_me = self.reports_to[i].get(role, [])
            entry = {"name": st.name, "every": _say(st.every),
                     "sections": ", ".join(f"`{x}`" for x in st.sections),
                     "schema": f"schemas/{standup_name(st.name)}.schema.json"}
            # Files are named by agent: a role with several agents writes one report each.
            for to in from_me:
                file = path.replace("{from}", "{agent}" if len(agents) > 1 else role)
                file = file.replace("{to}", to)
                standups_out.append({**entry, "to": actor_text(to, p), "path": file})
                paths.write(file, f"your `{st.name}` report")
            if to_me:
                standups_in.append({**entry, "from": ", ".join(actor_text(x, p) for x in to_me)})
                for src in to_me:
                    for a in p.agents_of(src):
                        paths.read(path.replace("{from}", a).replace("{to}", role),
                                   f"`{st.name}` reports to you")

        # handoffs
        accepts, prepares = [], []
        for h in org.handoffs:
            item = {"from": _side(h.from_domain), "to": _side(h.to_domain),
                    "checklist": list(h.checklist),
                    "accept": f"`{h.on_accept[0]} -> {h.on_accept[1]}`" if h.on_accept else "",
                    "reject": f"`{h.on_reject[0]} -> {h.on_reject[1]}`" if h.on_reject else "",
                    "description": h.description or ""}
            if r.kind == "lead" and p.matches(role, h.accepted_by) and h.to_domain in ("*", r.domain) \
                    or h.accepted_by == role:
                accepts.append(item)
                paths.read(c.HANDOFF_FILE.replace("{to_domain}", r.domain or "{to_domain}"),
                           "handoffs into your domain, which you accept or reject")
                paths.write(c.HANDOFF_FILE.replace("{to_domain}", r.domain or "{to_domain}"),
                            "the `acceptance` section of a handoff into your domain")
            if r.kind == "lead" and h.from_domain in ("*", r.domain):
                prepares.append(item)
                paths.write(c.HANDOFF_FILE.replace("{from_domain}", r.domain or "{from_domain}"),
                            "handoffs out of your domain")

        # consultations
        consults = []
        for k in org.consultations:
            if p.matches(role, k.from_):
                consults.append(f"You consult {actor_text(k.to, p)} (`{k.name}`): "
                                + self._consult_terms(k.blocking, k.timeout, k.default)
                                + " Write the question to its inbox (`schemas/consultation.schema.json`).")
                for a in (x for r2 in p.resolve(k.to) for x in p.agents_of(r2)):
                    paths.write(c.CONSULTATION_FILE.replace("{recipient}", a),
                                f"questions to `{a}` (`{k.name}`)")
            if p.matches(role, k.to):
                consults.append(f"{actor_text(k.from_, p)} consults you (`{k.name}`): "
                                + self._consult_terms(k.blocking, k.timeout, k.default)
                                + " Answer in the asker's inbox before the timeout.")
                for a in (x for r2 in p.resolve(k.from_) for x in p.agents_of(r2)):
                    paths.write(c.CONSULTATION_FILE.replace("{recipient}", a),
                                f"answers to `{a}` (`{k.name}`)")

        # work: tasks, plans, reviews, capacity
        steps = self.flow_steps(role)
        stages = {s.stage for t in org.tiers for s in t.flow
                  if s.actor is not None and p.matches(role, s.actor)}
        owned = self.owned_states(role)
        gates = self.gates(role)
        transitions = self.transition_rows(role)
        if "strategic_planning" in stages:
            paths.write(c.STRATEGIC_PLAN, "the strategic plan of an instruction "
                        "(`schemas/strategic-plan.schema.json`)")
            paths.write(c.STRATEGIC_TASK, "strategic tasks (`schemas/strategic-task.schema.json`)")
        if "tactical_planning" in stages or r.kind == "lead":
            paths.read(c.STRATEGIC_TASK, "strategic tasks to break down")
            tt = c.TACTICAL_TASK.replace("{domain}", r.domain or "{domain}")
            paths.write(tt, "tactical tasks of your domain (`schemas/tactical-task.schema.json`)")
        if r.kind == "member" or "execution" in stages:
            tt = c.TACTICAL_TASK.replace("{domain}", r.domain or "{domain}")
            paths.read(tt, "the tactical tasks assigned to you")
            paths.write(c.OUTPUTS, "the results of your tasks")
        if transitions:
            paths.write(c.TASKS, "the `status` of the tasks you move, through the transitions you may make")
        if gates:
            paths.write(c.REVIEW_FILE, "your reviews (`schemas/review.schema.json`)")
            paths.read(c.DECISIONS, "gate decisions, as the runtime recorded them")
        if dom is not None:
            paths.read(c.capacity_file(dom.name), "your domain's capacity")
        if r.kind == "lead":
            paths.read(c.TAXONOMY, "skills and levels of your team, for assignment")
        cap = org.capacity
        capacity_targets = [a.target for a in ([b.action for b in cap.bands] + [cap.domain_action])
                            if a is not None and a.kind == "escalate"] if cap else []
        if r.reports_to is None or any(p.matches(role, t) for t in capacity_targets):
            paths.read(c.SYSTEM_WIDE, "capacity of every domain")
            for dd in org.domains:
                paths.read(c.capacity_file(dd.name), f"capacity of `{dd.name}`")

        # collaboration
        collab = []
        if r.reports_to:
            collab.append(f"You report to {actor_text(r.reports_to, p)}: take direction from it and "
                          "raise what you cannot resolve.")
        if reports:
            collab.append("You direct " + ", ".join(actor_text(x.id, p) for x in reports) + ".")
        if r.kind == "member" and dom is not None:
            peers = [m.role for m in dom.members]
            collab.append(f"Your peers in `{dom.name}` ({', '.join(f'`{x}`' for x in peers)}) review "
                          "your work and you review theirs.")
        if accepts or prepares:
            collab.append("Across domains, work moves by handoff: the upstream lead prepares it and the "
                          "downstream lead accepts or rejects it.")
        collab.append("Every file you write must validate against its schema in `schemas/`; the runtime "
                      "owns task state and refuses a transition you may not make.")

        return {
            "org": {"name": org.org.name, "title": org.org.title or org.org.name,
                    "version": org.org.version or ""},
            "role": {"id": role, "title": r.title or role, "description": r.description or "",
                     "layer": r.layer or "", "kind": r.kind},
            "front_matter": self.front_matter(r),
            "agents": agents,
            "as_agent": agents[0] if len(agents) == 1 else "{agent}",
            "reports_to": actor_text(r.reports_to, p) if r.reports_to else "",
            "direct_reports": [actor_text(x.id, p) + self._count(x.id) for x in reports],
            "domain": ({"name": dom.name, "description": dom.description or "",
                        "lead": actor_text(dom.lead, p),
                        "members": [actor_text(m.role, p) + self._count(m.role) for m in dom.members]}
                       if dom else None),
            "responsibilities": list(r.responsibilities),
            "steps": steps,
            "owned": owned,
            "escalations": self.escalations(role),
            "transitions": transitions,
            "gates": gates,
            "channels": channels,
            "delegation": deleg,
            "standups_out": standups_out,
            "standups_in": standups_in,
            "accepts": accepts,
            "prepares": prepares,
            "consults": consults,
            "reads": [{"path": k, "why": v} for k, v in paths.reads.items()],
            "writes": [{"path": k, "why": v} for k, v in paths.writes.items()],
            "collaboration": collab,
        }

    def _count(self, role: str) -> str:
        agents = self.people.agents_of(role)
        if len(agents) > 1:
            return f" ×{len(agents)}: " + ", ".join(f"`{a}`" for a in agents)
        return ""

    @staticmethod
    def _consult_terms(blocking: bool, timeout: Any, default: Any) -> str:
        kind = "blocking (the asker waits)" if blocking else "non-blocking (the asker carries on)"
        parts = [kind]
        if timeout is not None:
            parts.append(f"timeout {_say(timeout)}")
        if default is not None:
            parts.append(f"default answer on timeout: {default!s}")
        return ", ".join(parts) + "."

    def front_matter(self, r: Role) -> str:
        data: dict[str, Any] = {"name": r.id,
                                "description": r.description or r.title or r.id}
        if r.model:
            data["model"] = r.model
        if r.color:
            data["color"] = r.color
        if r.tools:
            data["tools"] = ", ".join(r.tools)
        return c.yaml_text(data)


def prompt_files(org: Organisation) -> dict[str, str]:
    """``agents/{role}.md`` for every role of the organisation."""
    template = environment().get_template("agent.md.j2")
    gen = _Prompts(org)
    out = {}
    for r in org.roles:
        text = template.render(**gen.context(r)).rstrip("\n") + "\n"
        out[f"agents/{r.id}.md"] = text
    return out
