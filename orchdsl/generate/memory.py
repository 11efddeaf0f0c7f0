"""The Agent_Memory tree: the model in, YAML texts and empty folders out.

- ``_system/config/task_state_machine.yaml``: states and transitions;
- ``_system/config/communication_protocols.yaml``: delegation, channels,
  handoffs, standups, consultations and the fields of every message;
- ``_system/capacity/{domain}/team.yaml`` and ``system_wide.yaml``: capacity,
  empty (nothing allocated yet) until the runtime rewrites them;
- ``_system/skills/skill_taxonomy.yaml``: skills, levels and skill matrices;
- ``_communication/``: inbox, broadcast, handoff and report folders, each
  with a ``.gitkeep`` so that an empty folder exists.

Keys are written in the order of the V2 facts, never sorted alphabetically,
and nothing depends on the clock.
"""

from __future__ import annotations

from typing import Any

from orchdsl.generate import common as c
from orchdsl.generate import schemas as sch
from orchdsl.model import Action, Budget, Organisation, State, Transition

ROOT = "Agent_Memory/"
KEEP = ".gitkeep"


def _budget(b: Budget | None) -> dict[str, object] | None:
    return c.budget_data(b) if b is not None else None


# --------------------------------------------------------------------- state machine


def _sla(state: State, tiers: list[int], people: c.People, domain: str | None = None) -> dict[str, Any]:
    """The SLA as written, then resolved per tier (target, warning, escalation)."""
    written = ", ".join(
        (f"tier {_tier_range(tb.tiers)}: " if tb.tiers else "") + tb.budget.text for tb in state.sla
    )
    out: dict[str, Any] = {
        "target": written or None,
        "warn": state.warn.budget.text if state.warn else None,
        "warn_to": (state.warn.to or state.owner) if state.warn else None,
        "escalate": state.escalate.budget.text if state.escalate else None,
        "escalate_to": state.escalate.to if state.escalate else None,
    }
    # Tiers whose resolved thresholds are equal share one row.
    by_tier: list[dict[str, Any]] = []
    for tier in tiers:
        target = state.target_for(tier)
        warn = c.resolve_threshold(state.warn.budget, target) if state.warn else None
        esc = c.resolve_threshold(state.escalate.budget, target) if state.escalate else None
        row = {"target": _budget(target), "warn": _budget(warn), "escalate": _budget(esc)}
        same = next((r for r in by_tier if all(r[k] == row[k] for k in row)), None)
        if same is not None:
            same["tiers"].append(tier)
        else:
            by_tier.append({"tiers": [tier], **row})
    out["by_tier"] = by_tier
    return out


def _tier_range(tiers: list[int]) -> str:
    if len(tiers) > 1 and tiers == list(range(tiers[0], tiers[-1] + 1)):
        return f"{tiers[0]}-{tiers[-1]}"
    return ", ".join(map(str, tiers))


def _transition(t: Transition, people: c.People) -> dict[str, Any]:
    return {
        "from": t.source,
        "to": t.target,
        "label": t.label,
        "guard": t.guard_text,
        "actors": list(t.actors),
        "automatic": ({"after": c.budget_data(t.after), "actor": "@system"} if t.after else None),
        "tiers": list(t.tiers),
        "gates": [{"gate": g, "tiers": list(ts)} for g, ts in t.gates.items()],
    }


def state_machine(org: Organisation, people: c.People) -> dict[str, Any]:
    lc = org.lifecycle
    states: dict[str, Any] = {}
    for s in lc.states:
        tiers = c.sla_tiers(s, lc.tiers)
        states[s.name] = {
            "description": s.description,
            "initial": s.initial,
            "terminal": s.terminal,
            "owner": s.owner,
            "tiers": tiers,
            "sla": _sla(s, tiers, people) if (s.sla or s.warn or s.escalate) else None,
            "heartbeat": _budget(s.heartbeat),
            "requires": list(s.requires),
            "next_states": list(dict.fromkeys(t.target for t in s.transitions)),
        }
        if s.escalation is not None:  # only where declared, so that other specs' files stay as they were
            states[s.name]["escalation"] = {
                "policy": s.escalation.name, "repeat": s.escalation.repeat,
                "levels": [{"after": _budget(lv.after), "to": list(lv.to)} for lv in s.escalation.levels],
            }
        if s.notify:
            states[s.name]["notify"] = [{"to": list(n.to), "text": n.text} for n in s.notify]
    gates: list[dict[str, Any]] = []
    for g in org.gates:
        gates.append({
            "name": g.name,
            "description": g.description,
            "reviewer": g.reviewer,
            "guards": [{"from": a, "to": b} for a, b in g.transitions],
            "stages": list(g.stages),
            "tiers": list(g.tiers),
            "criteria": list(g.criteria),
            "thresholds": [{"criterion": crit, "tier": int(tier), "minimum_percent": _pct(v)}
                           for crit, per in g.thresholds.items() for tier, v in per.items()],
            "outcomes": [{"name": o.name, "effect": o.effect, "target": o.target} for o in g.outcomes],
            "score": ({"categories": list(g.score_categories), "min": g.score_min, "max": g.score_max,
                       "bands": [{"low": b.low, "high": b.high, "outcome": b.outcome} for b in g.bands]}
                      if g.score_categories else None),
        })
        if g.notify:
            gates[-1]["notify"] = [{"to": list(n.to), "on": list(n.outcomes), "text": n.text} for n in g.notify]
    used: list[str | None] = []
    for s in lc.states:
        used += [s.owner, s.warn.to if s.warn else None, s.escalate.to if s.escalate else None]
        used += [a for t in s.transitions for a in t.actors]
        used += ["@system" for t in s.transitions if t.after is not None]
    used += [g.reviewer for g in org.gates]
    relations = {r: {"meaning": c.RELATION_TEXT[r], "roles": people.resolve(r)}
                 for r in c.RELATION_TEXT if r in used}
    return {
        "lifecycle": lc.name,
        "tiers": list(lc.tiers),
        "initial_state": lc.initial,
        "terminal_states": [s.name for s in lc.states if s.terminal],
        "relations": relations,
        "states": states,
        "transitions": [_transition(t, people) for s in lc.states for t in s.transitions],
        "gates": gates,
    }


def _pct(v: float) -> float | int:
    x = round(v * 100, 6)
    return int(x) if x == int(x) else x


# --------------------------------------------------------------------- protocols


def delegation_hops(org: Organisation, people: c.People) -> list[dict[str, Any]]:
    """Each hop of the chain with its relations resolved: ``{from, to: [roles], domain}``."""
    d = org.delegation
    if d is None:
        return []
    hops: list[dict[str, Any]] = []
    for a, b in zip(d.chain, d.chain[1:], strict=False):
        if a in ("@lead",) and b in ("@member", "@assignee", "@peer"):
            for each in org.domains:
                hops.append({"from": each.lead, "to": people.resolve("@member", each.name),
                             "domain": each.name})
            continue
        for src in people.resolve(a):
            dom = people.domain_of(src) if a.startswith("@") else None
            targets = people.resolve(b, dom)
            if b == "@lead" and not a.startswith("@"):
                targets = [t for t in targets if t != src]
            hops.append({"from": src, "to": targets, "domain": dom})
    return hops


def standup_pairs(org: Organisation, people: c.People, index: int) -> list[dict[str, str]]:
    """Who reports to whom for one standup, relations resolved per domain."""
    st = org.standups[index]
    pairs: list[dict[str, str]] = []
    for src in people.resolve(st.from_):
        dom = people.domain_of(src) if st.from_.startswith("@") else None
        for dst in people.resolve(st.to, dom if st.to.startswith("@") else None):
            pairs.append({"from": src, "to": dst})
    return pairs


def standup_path(org: Organisation, index: int) -> str:
    st = org.standups[index]
    weekly = st.every.kind == "time" and st.every.value >= c.WEEK
    return c.WEEKLY_FILE if weekly else c.DAILY_FILE


def _action(a: Action | None) -> dict[str, Any] | None:
    return {"kind": a.kind, "target": a.target} if a else None


def protocols(org: Organisation, people: c.People, s: dict[str, sch.Schema]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    d = org.delegation
    out["delegation"] = {
        "path": c.DELEGATION_FILE,
        "chain": list(d.chain) if d else [],
        "hops": delegation_hops(org, people),
        "priorities": list(d.priorities) if d else [],
        "acknowledgement": {
            "required": True,
            "within": _budget(d.acknowledge_within) if d else None,
            "overdue_escalate_to": d.overdue_escalate_to if d else None,
            "path": c.ACK_FILE,
            "fields": sch.field_list(s["acknowledgement"]),
        },
        "fields": sch.field_list(s["delegation"]),
    }
    b = org.broadcast
    out["broadcast"] = {
        "path": c.BROADCAST_FILE,
        "kinds": list(b.kinds),
        "priorities": list(b.priorities),
        "channels": [{
            "name": ch.name,
            "description": ch.description,
            "declared": list(ch.declared),
            "domain": ch.domain,
            "members": list(ch.members),
            "agents": [a for r in ch.members for a in people.agents_of(r)],
        } for ch in b.channels],
        "fields": sch.field_list(s["broadcast"]),
    }
    out["handoffs"] = {
        "path": c.HANDOFF_FILE,
        "rules": [{
            "from_domain": h.from_domain,
            "to_domain": h.to_domain,
            "description": h.description,
            "checklist": list(h.checklist),
            "accepted_by": h.accepted_by,
            "on_accept": {"from": h.on_accept[0], "to": h.on_accept[1]} if h.on_accept else None,
            "on_reject": {"from": h.on_reject[0], "to": h.on_reject[1]} if h.on_reject else None,
            **({"from_role": h.from_role, "to_role": h.to_role} if h.to_role is not None else {}),
        } for h in org.handoffs],
        "fields": sch.field_list(s["handoff"]),
    }
    out["standups"] = [{
        "name": st.name,
        "description": st.description,
        "from": st.from_,
        "to": st.to,
        "every": c.budget_data(st.every),
        "path": standup_path(org, i),
        "pairs": standup_pairs(org, people, i),
        "sections": list(st.sections),
        "fields": sch.field_list(s[sch.standup_name(st.name)]),
    } for i, st in enumerate(org.standups)]
    out["consultations"] = [{
        "name": k.name,
        "description": k.description,
        "from": k.from_,
        "to": k.to,
        "blocking": k.blocking,
        "timeout": _budget(k.timeout),
        "default": k.default,
        "path": c.CONSULTATION_FILE,
        "fields": sch.field_list(s["consultation"]),
    } for k in org.consultations]
    return out


# --------------------------------------------------------------------- capacity and skills


def _num(x: float) -> float | int:
    return int(x) if x == int(x) else x


def _thresholds(org: Organisation) -> dict[str, Any]:
    cap = org.capacity
    if cap is None:
        return {"bands": [], "ic_limit": None, "domain_limit": None}
    return {
        "bands": [{"name": b.name, "at_percent": _pct(b.at), "action": _action(b.action)}
                  for b in cap.bands],
        "ic_limit": ({"above_percent": _pct(cap.ic_limit), "for": None,
                      "action": _action_text(cap.ic_action)} if cap.ic_limit is not None else None),
        "domain_limit": ({"above_percent": _pct(cap.domain_limit),
                          "for": c.budget_text(cap.domain_period) if cap.domain_period else None,
                          "action": _action_text(cap.domain_action)}
                         if cap.domain_limit is not None else None),
    }


def _action_text(a: Action | None) -> str:
    if a is None:
        return "none"
    return a.kind if a.target is None else f"{a.kind} {a.target}"


def team_file(org: Organisation, people: c.People, domain: str) -> dict[str, Any]:
    d = people.domains[domain]
    members = {m.role: m for m in d.members}
    team: list[dict[str, Any]] = []
    total = 0.0
    for agent in people.member_agents(domain):
        role = people.role_of[agent]
        hours = people.hours[role]
        total += hours
        team.append({
            "agent": agent,
            "role": role,
            "experience": members[role].experience,
            "availability": {"hours_per_day": _num(hours)},
            "current_allocation": [],
            "total_committed": 0,
            "capacity_used": 0,
        })
    horizon = org.capacity.horizon_days if org.capacity else 3.0
    thresholds = _thresholds(org)
    return {
        "domain": domain,
        "lead": d.lead,
        "team": team,
        "capacity": {"total": _num(total), "utilized": 0, "utilization": 0},
        "thresholds": thresholds,
        "forecast": {"window_days": _num(horizon), "by_date": {}},
    }


def system_wide(org: Organisation, people: c.People) -> dict[str, Any]:
    rows = []
    grand = 0.0
    for d in org.domains:
        agents = people.member_agents(d.name)
        total = sum(people.hours[people.role_of[a]] for a in agents)
        grand += total
        rows.append({"domain": d.name, "ics": len(agents), "total": _num(total),
                     "utilized": 0, "utilization": 0, "file": c.capacity_file(d.name)})
    cap = org.capacity
    return {
        "hours_per_day": _num(cap.hours_per_day if cap else 8.0),
        "horizon_days": _num(cap.horizon_days if cap else 3.0),
        "domains": rows,
        "total": _num(grand),
        "utilized": 0,
        "utilization": 0,
        "thresholds": {"bands": _thresholds(org)["bands"]},
    }


def taxonomy(org: Organisation, people: c.People) -> dict[str, Any]:
    return {
        "categories": {cat.name: list(cat.skills) for cat in org.skills.categories},
        "levels": {lv.name: lv.value for lv in org.skills.levels},
        "experience": {lv.name: lv.value for lv in org.experience},
        "skill_matrix": {d.name: {
            "lead": d.lead,
            "needs": list(d.needs),
            "members": [{
                "role": m.role,
                "count": m.count,
                "agents": people.agents_of(m.role),
                "experience": m.experience,
                "hours_per_day": _num(m.hours_per_day) if m.hours_per_day is not None else None,
                "skills": dict(m.skills),
                "learning": list(m.learning),
            } for m in d.members],
        } for d in org.domains},
    }


# --------------------------------------------------------------------- the tree


def folders(org: Organisation, people: c.People) -> list[str]:
    """The communication folders, relative to Agent_Memory, each ending in ``/``."""
    out = [f"_communication/inbox/{a.id}/" for a in people.agents]
    out += [f"_communication/broadcast/{ch.name}/" for ch in org.broadcast.channels]
    out += ["_communication/handoffs/", "_communication/reports/daily/",
            "_communication/reports/weekly/"]
    return out


def memory_files(org: Organisation, schemas: dict[str, sch.Schema]) -> dict[str, str]:
    people = c.People(org)
    files: dict[str, str] = {
        ROOT + c.STATE_MACHINE: c.dump_yaml(state_machine(org, people), org, "Task state machine"),
        ROOT + c.PROTOCOLS: c.dump_yaml(protocols(org, people, schemas), org, "Communication protocols"),
    }
    for d in org.domains:
        files[ROOT + c.capacity_file(d.name)] = c.dump_yaml(
            team_file(org, people, d.name), org, f"Capacity of the {d.name} domain")
    files[ROOT + c.SYSTEM_WIDE] = c.dump_yaml(system_wide(org, people), org, "System-wide capacity")
    files[ROOT + c.TAXONOMY] = c.dump_yaml(taxonomy(org, people), org, "Skill taxonomy")
    for folder in folders(org, people):
        files[ROOT + folder + KEEP] = ""
    return files
