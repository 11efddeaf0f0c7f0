"""The Agent_Memory projection: runtime state in, the files agents read out.

``project(model, state, events, now)`` maps the state (the fold of the event
log) to files keyed by their path under ``Agent_Memory/``, each with the name
of the compiler's schema it matches:

- ``{instruction}/tasks/strategic/ST{n}.yaml`` and
  ``{instruction}/tasks/tactical/{domain}/TT{st}.{n}.yaml``: every task with
  its ``status`` (the lifecycle state), assignee, assignment rationale,
  description and acceptance criteria;
- ``_communication/inbox/{agent}/{type}_{YYYYMMDD_HHMMSS}_{seq}.yaml``: one
  notice per inbox message of the ``NOTICE_TYPES``;
- ``_communication/inbox/{recipient}/delegation_{YYYYMMDD_HHMMSS}.yaml`` and
  ``_communication/inbox/{sender}/acknowledgement_{YYYYMMDD_HHMMSS}.yaml``:
  every delegation (with where its acknowledgement stands) and acknowledgement;
- ``_communication/inbox/{agent}/consultation_{YYYYMMDD_HHMMSS}.yaml``: each
  consultation's question to every agent asked, and its answer (or, once the
  timeout passed, the declared default) to the asker;
- ``_communication/broadcast/{channel}/announcement_{YYYYMMDD_HHMMSS}.yaml``;
- ``_communication/reports/daily/{from}_to_{to}_{YYYYMMDD}.yaml`` and
  ``_communication/reports/weekly/{from}_to_{to}_week_{NN}.yaml``: standup reports;
- ``{instruction}/escalations/E{seq}_{task}.yaml``: every escalation of a task;
  ``_communication/escalations/E{seq}.yaml``: overdue acknowledgements and
  domains over capacity;
- ``_communication/handoffs/{from}_to_{to}_{YYYYMMDD_HHMMSS}.yaml``: every
  handoff with its checklist and acceptance;
- ``{instruction}/decisions/{task}_{gate}_{seq}.yaml``: every gate decision;
- ``_system/capacity/{domain}/team.yaml`` and ``_system/capacity/system_wide.yaml``:
  the capacity ledger.

The content is a function of the state and the clock only, so it is
deterministic; ``texts`` gives each file's YAML. ``projector`` writes them into
the run directory. Every file matches a JSON Schema the compiler generated
(``orchdsl run init`` copies them into the run directory); the runtime writes
no schema of its own.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar

from .contract import layout
from .contract.codec import to_data
from .contract.events import Event
from .contract.model import Action, Budget, ProgressStatuses
from .model import Model
from .records import Consultation, Delegation, Handoff, Message, Task
from .standups import WEEK
from .state import OrgState
from .timefmt import iso as _iso

K = TypeVar("K")
MEMORY = layout.MEMORY
DAY = 86400.0
NOTICE_TYPES, OWN_FILES = layout.NOTICE_TYPES, layout.OWN_FILES
HEADER = "# Written by the orchdsl runtime from the event log; do not edit: it is rewritten after every command.\n"


def _num(x: float) -> float | int:
    r = round(float(x), 2)
    return int(r) if r == int(r) else r


def _plain(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _effort(t: Task) -> str:
    if t.estimate_hours is not None:
        return f"{_plain(t.estimate_hours)}h"
    if t.estimate_tokens is not None:
        return f"{_plain(t.estimate_tokens / 1e3)}K"
    return "0h"


_TEXTS: dict[str, str] = {}
"""YAML text by the JSON of its data: most files are the same from one command to the next"""


def dump(data: Any) -> str:
    key = json.dumps(data, ensure_ascii=False)
    text = _TEXTS.get(key)
    if text is None:
        if len(_TEXTS) > 20_000:
            _TEXTS.clear()
        text = _TEXTS[key] = HEADER + layout.yaml_text(data)
    return text


# -- the files --------------------------------------------------------------------------


def task_path(t: Task) -> str:
    if t.kind == "strategic":
        return layout.path(layout.STRATEGIC_TASK, instruction_id=t.instruction, task_id=t.id)
    return layout.path(layout.TACTICAL_TASK, instruction_id=t.instruction, domain=t.domain, task_id=t.id)


def _lead_of(model: Model, domain: str) -> str:
    role = model.domain_lead_role.get(domain, "")
    agents = model.agents_by_role.get(role, ())
    return agents[0] if agents else role


def _description(t: Task) -> str:
    """The task's title, then its description when it has one."""
    return f"{t.title}: {t.description}" if t.description else t.title


def _criteria(t: Task) -> list[str]:
    """The task's acceptance criteria; without any, its title stands for the one criterion."""
    return list(t.acceptance_criteria) or [t.title]


def _note(n: dict[str, Any]) -> dict[str, Any]:
    out = {"by": n["by"], "timestamp": _iso(n["at"]), "state": n["state"]}
    for key in ("to", "gate", "outcome"):
        if key in n:
            out[key] = n[key]
    out["text"] = n["text"]
    return out


def _work(state: OrgState, t: Task) -> dict[str, Any]:
    """A task's labels, outputs and notes, and what the tasks it depends on left for it (each only when there)."""
    out: dict[str, Any] = {}
    if t.labels:
        out["labels"] = list(t.labels)
    if t.outputs:
        out["outputs"] = list(t.outputs)
    if t.notes:
        out["notes"] = [_note(n) for n in t.notes]
    inputs = []
    for dep in dict.fromkeys([*t.dependencies, *([t.parent] if t.parent else [])]):
        d = state.tasks.get(dep)
        if d is not None and (d.outputs or d.notes):
            inputs.append({"task": d.id, "status": d.state, "outputs": list(d.outputs),
                           "notes": [_note(n) for n in d.notes]})
    if inputs:
        out["inputs"] = inputs
    return out


def _strategic(model: Model, state: OrgState, t: Task) -> dict[str, Any]:
    st_deps = [d for d in t.dependencies if re.fullmatch(r"ST\d+", d)]
    blocks = sorted(set(state.strategic_dependents.get(t.id, ())))
    domains = [t.domain] + ([t.handoff_to] if t.handoff_to else [])
    return {
        "id": t.id,
        "type": "strategic",
        "tier": t.tier,
        "instruction_id": t.instruction,
        "description": _description(t),
        "owner": t.assignee or _lead_of(model, t.domain),
        "status": t.state,
        "scope": {"domains": domains},
        "strategic_acceptance_criteria": _criteria(t),
        "dependencies": {"requires": st_deps, "blocks": blocks},
        "skill_requirements": list(dict.fromkeys(t.required_skills + t.nice_skills)),
        "complexity": t.complexity,
        **_work(state, t),
    }


def _tactical(model: Model, state: OrgState, t: Task, assigned: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id,
        "type": "tactical",
        "parent_strategic_task": t.parent if t.parent and re.fullmatch(r"ST\d+", t.parent) else None,
        "instruction_id": t.instruction,
        "tier": t.tier,
        "domain": t.domain,
        "description": _description(t),
        "status": t.state,
        "assigned_to": t.assignee,
    }
    if assigned is not None and assigned.get("score") is not None:
        factors = {k: round(float(v), 4) for k, v in sorted((assigned.get("factors") or {}).items())}
        summary = f"{assigned['mode']} assignment, score {assigned['score']:.3f}"
        out["assignment_rationale"] = {"score": round(float(assigned["score"]), 4), "factors": factors,
                                       "summary": summary}
    elif assigned is not None:
        out["assignment_rationale"] = f"{assigned['mode']} assignment to {assigned['agent']}"
    out.update({
        "estimated_effort": _effort(t),
        "skill_requirements": {"required": list(t.required_skills), "nice_to_have": list(t.nice_skills)},
        "complexity": t.complexity,
        "priority": t.priority,
        "tactical_acceptance_criteria": _criteria(t),
        "dependencies": list(t.dependencies),
        **_work(state, t),
    })
    return out


def _handoff(model: Model, state: OrgState, h: Handoff) -> dict[str, Any]:
    """A handoff in the form of facts §2 (``_communication/handoffs/``)."""
    t = state.tasks[h.task]
    accepted = h.status == "accepted"
    acceptance: dict[str, Any] = {
        "downstream_lead": _lead_of(model, h.to_domain),
        "acknowledged": accepted,
        "acknowledged_at": _iso(h.decided_at) if accepted and h.decided_at is not None else None,
        "ready_to_integrate": accepted,
        "questions_or_concerns": [h.reason] if h.status == "rejected" and h.reason else [],
    }
    if h.on_reject:
        acceptance["rejected"] = h.status == "rejected"
        acceptance["rejection_reason"] = h.reason or ""
    return {
        "type": "handoff",
        "from_domain": h.from_domain,
        "from_task": h.task,
        "to_domain": h.to_domain,
        "to_task": None,
        "timestamp": _iso(h.at),
        "instruction_id": t.instruction,
        "handoff_summary": h.summary,
        "handoff_checklist": [{"item": i, "status": "complete" if i in h.ticked else "incomplete",
                               "verified_by": h.ticked_by.get(i)} for i in h.checklist],
        "acceptance": acceptance,
    }


def _consultation(c: Consultation, kind: str, sender: str, to: str, at: float) -> dict[str, Any]:
    """A consultation message (the compiler's ``consultation`` schema): the question, or the
    answer with ``default_used`` when the timeout gave the declared default (or nothing)."""
    data: dict[str, Any] = {
        "type": "consultation", "consultation": c.name, "kind": kind, "from": sender, "to": to,
        "timestamp": _iso(at), "question": c.question,
    }
    if c.instruction is not None:
        data["instruction_id"] = c.instruction
    if kind == "answer":
        if c.answer is not None:
            data["answer"] = c.answer
        data["default_used"] = c.status == "timed_out"
    return data


def _unique(files: Collection[str], path: str) -> str:
    """``path``, or ``path`` with ``_2``, ``_3``, ... before ``.yaml`` when two files of
    the same second would share a name."""
    if path not in files:
        return path
    stem = path.removesuffix(".yaml")
    n = 2
    while f"{stem}_{n}.yaml" in files:
        n += 1
    return f"{stem}_{n}.yaml"


def _named(items: Iterable[tuple[tuple[int, int], str, K]]) -> dict[K, str]:
    """Paths for files that may share a name, given as (order, path, key): in the order of
    the events that made them, the first keeps the plain name and the next get ``_2``,
    ``_3``... A file's name never changes as later ones come."""
    taken: set[str] = set()
    out: dict[K, str] = {}
    for _, path, key in sorted(items, key=itemgetter(0)):
        out[key] = name = _unique(taken, path)
        taken.add(name)
    return out


def _delegation(state: OrgState, dl: Delegation) -> dict[str, Any]:
    """A delegation in the form of facts §2, with what the engine knows of it."""
    t = state.tasks.get(dl.task or "")
    body: dict[str, Any] = {}
    if t is not None:
        body["task_id"] = t.id
    body["scope"] = dl.subject
    if t is not None and t.acceptance_criteria:
        body["success_criteria"] = list(t.acceptance_criteria)
    if t is not None:
        body["estimated_effort"] = _effort(t)
    out: dict[str, Any] = {
        "type": "delegation",
        "from": dl.sender,
        "to": dl.to,
        "timestamp": _iso(dl.at),
        "instruction_id": dl.instruction or (t.instruction if t is not None else None),
        "priority": dl.priority,
        "message": dl.message or dl.subject,
        "delegation": body,
        "acknowledgement_required": dl.due is not None,
    }
    if dl.due is not None:
        out["response_deadline"] = _iso(dl.due)
    out["acknowledgement"] = {
        "status": dl.status,
        "acknowledged_at": _iso(dl.acknowledged_at) if dl.acknowledged_at is not None else None,
        "notes": dl.notes,
        "overdue": dl.escalated,
    }
    out["id"] = dl.id
    return out


def _lines(items: Any) -> list[str]:
    """Task briefs of a standup section as sentences."""
    return [f"{i['task']}: {i['title']} ({i['status']})" for i in items or ()]


def _section(name: str, value: Any, blocked: frozenset[str], words: ProgressStatuses) -> Any:
    """A standup section as the engine reported it, in the shape of the compiler's schema (facts §2);
    progress statuses in the standup's words."""
    if name == "my_tasks":
        return [{"task_id": i["task"], "status": i["status"], "notes": i["title"]} for i in value or ()]
    if name == "blockers":
        return [{"task_id": i["task"], "description": f"{i['title']} is {i['status']}"} for i in value or ()]
    if name in ("help_needed", "accomplishments", "next_up", "risks", "next_steps"):
        return _lines(value)
    if name == "team_summary":
        counts = dict(sorted((value or {}).items()))
        return {"total": sum(counts.values()), **counts}
    if name == "strategic_progress":
        return [{"st_id": i["task"], "status": words.blocked if i["status"] in blocked else words.on_track}
                for i in value or ()]
    if name == "team_capacity":
        members = (value or {}).get("members") or {}
        return [{"ic": a, "utilization": _num(u * 100)} for a, u in sorted(members.items())]
    if name == "handoffs":
        return [{"task_id": h["task"], "from_domain": h["from"], "to_domain": h["to"], "status": h["status"]}
                for h in value or ()]
    if name == "instruction_progress":
        return [{"instruction_id": i["instruction"],
                 "progress": _num(100 * i["completed"] / i["tasks"]) if i["tasks"] else 0,
                 "status": words.blocked if i.get("blocked") else words.at_risk if i.get("at_risk") else words.on_track,
                 "notes": f"tier {i['tier']}: {i['completed']} of {i['tasks']} task(s) completed; stages "
                          + (", ".join(i["stages"]) or "none")}
                for i in value or ()]
    if name == "capacity_overview":
        return {d: _num(v["utilisation"] * 100) for d, v in sorted((value or {}).items())}
    if name == "critical_path_status":
        waiting = list(value or ())
        notes = "; ".join(f"{w['task']} ({w['status']}) waits on {', '.join(w['waiting_on'])}" for w in waiting)
        return {"status": words.blocked if waiting else words.on_track, "tasks": [w["task"] for w in waiting],
                "notes": notes or "nothing waits on unfinished work"}
    if name == "escalations_this_week":
        return [{"task_id": x["task"], "reason": x["reason"]} for x in value or () if x.get("task")]
    return value


def _standup(report: dict[str, Any], weekly: bool, order: list[str], blocked: frozenset[str],
             words: ProgressStatuses) -> list[tuple[str, dict[str, Any]]]:
    """One file per recipient of a standup report, its sections in the spec's order;
    a later report of the same day (or week) replaces the earlier one."""
    at = float(report["at"])
    day = datetime.fromtimestamp(at, UTC)
    given = report.get("report") or {}
    names = [k for k in order if k in given] + sorted(k for k in given if k not in order)
    sections = {k: _section(k, given[k], blocked, words) for k in names}
    out = []
    for to in report["to"]:
        data: dict[str, Any] = {"type": "standup", "standup": report["standup"], "from": report["from"], "to": to}
        if weekly:
            week = day.isocalendar().week
            data["week"] = week
            path = layout.path(layout.WEEKLY_FILE, **{"from": report["from"], "to": to, "NN": week})
        else:
            data["date"] = day.strftime("%Y-%m-%d")
            path = layout.path(layout.DAILY_FILE, **{"from": report["from"], "to": to, "YYYYMMDD": at})
        data.update(sections)
        out.append((path, data))
    return out


def _capacity(model: Model, state: OrgState, now: float, domains: Collection[str] | None = None) -> dict[str, Any]:
    """The capacity files: each domain's team file (those of ``domains``, default all) and
    the system-wide one."""
    ledger = state.ledger
    cap = model.capacity
    horizon = cap.horizon_days if cap else model.horizon_days
    window = max(1, math.ceil(horizon))
    bands = [{"name": b.name, "at_percent": _num(b.at * 100),
              "action": to_data(b.action) if b.action else None} for b in ledger.bands]

    def limit(value: float | None, period: Budget | None, action: Action | None) -> dict[str, Any] | None:
        if value is None:
            return None
        text = (action.kind if action else "") + (f" {action.target}" if action and action.target else "")
        return {"above_percent": _num(float(value) * 100), "for": period.text if period else None, "action": text}

    thresholds = {
        "bands": bands,
        "ic_limit": limit(cap.ic_limit, None, cap.ic_action) if cap else None,
        "domain_limit": limit(cap.domain_limit, cap.domain_period, cap.domain_action) if cap else None,
    }
    experience = {}
    for d in model.domains.values():
        for m in d.members:
            for aid in model.agents_by_role.get(m.role, ()):
                experience[aid] = m.experience
    files: dict[str, Any] = {}
    summary: list[dict[str, Any]] = []
    grand = used = 0.0
    for domain in model.domains:
        agents = [a for a in model.domain_members.get(domain, ()) if a in ledger.hours_per_day]
        total = sum(ledger.hours_per_day[a] for a in agents)
        util = ledger.domain_utilisation(domain)
        summary.append({"domain": domain, "ics": len(agents), "total": _num(total), "utilized": _num(util * total),
                        "utilization": _num(util * 100), "file": layout.path(layout.CAPACITY_TEAM, domain=domain)})
        grand += total
        used += util * total
        if domains is not None and domain not in domains:
            continue
        team = []
        for a in agents:
            allocs = ledger.allocations(a)
            team.append({
                "agent": a,
                "role": model.agents[a].role,
                "experience": experience.get(a),
                "availability": {"hours_per_day": _num(ledger.hours_per_day[a])},
                "current_allocation": [{"task": al.task, "estimated_remaining": _num(al.remaining)} for al in allocs],
                "total_committed": _num(ledger.committed(a)),
                "capacity_used": _num(ledger.utilisation(a) * 100),
            })
        forecast = ledger.forecast(domain, window) if agents else []
        by_date = {datetime.fromtimestamp(now + i * DAY, UTC).strftime("%Y-%m-%d"): _num(v * 100)
                   for i, v in enumerate(forecast)}
        files[layout.path(layout.CAPACITY_TEAM, domain=domain)] = {
            "domain": domain,
            "lead": _lead_of(model, domain),
            "team": team,
            "capacity": {"total": _num(total), "utilized": _num(util * total), "utilization": _num(util * 100)},
            "thresholds": thresholds,
            "forecast": {"window_days": _num(horizon), "by_date": by_date},
        }
    files[layout.SYSTEM_WIDE] = {
        "hours_per_day": _num(model.hours_per_day),
        "horizon_days": _num(horizon),
        "domains": summary,
        "total": _num(grand),
        "utilized": _num(used),
        "utilization": _num(used / grand * 100 if grand else 0.0),
        "thresholds": {"bands": bands},
    }
    return files


# -- the files of each record -------------------------------------------------------------

File = tuple[str, str, Any]
"""(path under Agent_Memory, schema name, data)"""


def task_file(model: Model, state: OrgState, t: Task) -> File:
    if t.kind == "strategic":
        return task_path(t), "strategic-task", _strategic(model, state, t)
    return task_path(t), "tactical-task", _tactical(model, state, t, t.rationale())


def notice_file(state: OrgState, agent: str, m: Message, sender: str | None) -> File | None:
    """The notice of an inbox message (None for a message with a file of its own)."""
    if m.type in OWN_FILES:
        return None
    mt = state.tasks.get(m.task) if m.task is not None else None
    return layout.path(layout.NOTICE_FILE, recipient=agent, type=m.type, YYYYMMDD_HHMMSS=m.at, seq=m.seq), "notice", {
        "type": m.type, "from": sender or "system", "to": agent, "timestamp": _iso(m.at), "seq": m.seq,
        "instruction_id": mt.instruction if mt is not None else None, "task_id": m.task, "message": m.text,
    }


def escalation_file(state: OrgState, esc: dict[str, Any]) -> File:
    """An escalation of a task (with the task's state now) or of a protocol."""
    et = state.tasks.get(esc.get("task") or "")
    data = {
        "id": f"E{esc['seq']}", "kind": esc.get("kind", "task"), "task_id": et.id if et else None,
        "instruction_id": et.instruction if et else None, "delegation_id": esc.get("delegation"),
        "domain": esc.get("domain") or (et.domain if et else None),
        "timestamp": _iso(esc["at"]), "to": list(esc["to"]), "reason": esc["reason"],
        "task_status": et.state if et else None,
    }
    path = (layout.path(layout.TASK_ESCALATION_FILE, instruction_id=et.instruction, seq=esc["seq"], task_id=et.id)
            if et else layout.path(layout.PROTOCOL_ESCALATION_FILE, seq=esc["seq"]))
    return path, "escalation", data


def delegation_names(state: OrgState) -> dict[str, str]:
    """delegation id -> the path of its file"""
    return _named(((dl.seq, 0), layout.path(layout.DELEGATION_FILE, recipient=dl.to, YYYYMMDD_HHMMSS=dl.at), dl.id)
                  for dl in state.delegations.values())


def delegation_files(state: OrgState, which: Collection[str] | None = None) -> list[File]:
    """The files of the delegations ``which`` (default all) and of their acknowledgements."""
    names = delegation_names(state)
    acks = _named(((dl.acknowledged_seq, 0), layout.path(layout.ACK_FILE, delegator=dl.sender,
                                                          YYYYMMDD_HHMMSS=dl.acknowledged_at), dl.id)
                  for dl in state.delegations.values()
                  if dl.acknowledged_at is not None and dl.acknowledged_seq is not None)
    out: list[File] = []
    for did in names if which is None else which:
        dl = state.delegations[did]
        out.append((names[did], "delegation", _delegation(state, dl)))
        if did in acks and dl.acknowledged_at is not None:
            out.append((acks[did], "acknowledgement", {
                "type": "acknowledgement", "from": dl.to, "to": dl.sender, "timestamp": _iso(dl.acknowledged_at),
                "delegation_ref": names[did].rsplit("/", 1)[1], "accepted": dl.status == "accepted",
                "notes": dl.notes,
            }))
    return out


def consultation_files(model: Model, state: OrgState, which: Collection[str] | None = None) -> list[File]:
    """The question (to each agent asked) and answer files of the consultations ``which`` (default all)."""
    items: list[tuple[tuple[int, int], str, tuple[str, int]]] = []
    for c in state.consultations.values():
        for i, agent in enumerate(c.to):
            items.append(((c.seq, i), layout.path(layout.CONSULTATION_FILE, recipient=agent, YYYYMMDD_HHMMSS=c.at),
                          (c.id, i)))
        if c.answered_at is not None and c.answered_seq is not None:
            items.append(((c.answered_seq, 0), layout.path(layout.CONSULTATION_FILE, recipient=c.asker,
                                                            YYYYMMDD_HHMMSS=c.answered_at), (c.id, -1)))
    names = _named(items)
    out: list[File] = []
    for cid in state.consultations if which is None else which:
        c = state.consultations[cid]
        for i, agent in enumerate(c.to):
            out.append((names[(cid, i)], "consultation", _consultation(c, "question", c.asker, agent, c.at)))
        if (cid, -1) in names and c.answered_at is not None:
            spec_c = model.consultations.get(c.name)
            declared = spec_c.to if spec_c else ""
            by = c.answered_by or (declared if declared in model.agents or declared in model.agents_by_role
                                   else c.to[0])
            out.append((names[(cid, -1)], "consultation", _consultation(c, "answer", by, c.asker, c.answered_at)))
    return out


def broadcast_files(state: OrgState, which: Collection[int] | None = None) -> list[File]:
    """The announcement files of the broadcasts (those recorded by the events ``which``, default all)."""
    names = _named(((b["seq"], 0), layout.path(layout.BROADCAST_FILE, channel=b["channel"], YYYYMMDD_HHMMSS=b["at"]),
                    b["seq"]) for b in state.broadcasts)
    return [(names[b["seq"]], "broadcast", {
        "type": "broadcast", "from": b["from"], "to": b["channel"], "timestamp": _iso(b["at"]),
        "announcement_type": b["kind"], "priority": b["priority"], "subject": b["subject"],
        "message": b["message"] or b["subject"],
    }) for b in state.broadcasts if which is None or b["seq"] in which]


def standup_files(model: Model, report: dict[str, Any]) -> list[File]:
    """One file per recipient of a standup report; a later report of the day (or week) takes its place."""
    name = str(report["standup"])
    spec = model.standups.get(name)
    weekly = spec is not None and spec.every.kind == "time" and spec.every.value >= WEEK
    words = model.progress.get(name) or ProgressStatuses()
    return [(path, f"standup-{name}", data)
            for path, data in _standup(report, weekly, list(spec.sections) if spec else [], model.blocked_states,
                                       words)]


def handoff_files(model: Model, state: OrgState, which: Collection[str] | None = None) -> list[File]:
    """The files of the handoffs ``which`` (default all); of two handoffs with one path, the later one's."""
    owner = {layout.path(layout.HANDOFF_FILE, from_domain=h.from_domain, to_domain=h.to_domain,
                         YYYYMMDD_HHMMSS=h.at): h.id for h in state.handoffs.values()}
    wanted = owner.values() if which is None else [hid for hid in owner.values() if hid in which]
    paths = {hid: path for path, hid in owner.items()}
    return [(paths[hid], "handoff", _handoff(model, state, state.handoffs[hid])) for hid in wanted]


def _sorted(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """A mapping of an event's data in the order the log keeps it (sorted keys)."""
    return dict(sorted(data.items())) if data else data


def decision_file(state: OrgState, e: Event) -> File:
    """The record of a gate decision."""
    d = e.data
    data = {
        "task_id": d["task"], "instruction_id": state.tasks[d["task"]].instruction, "gate": d["gate"],
        "outcome": d["outcome"], "effect": d["effect"], "reviewer": e.actor, "timestamp": _iso(e.at),
        "seq": e.seq, "state": d["state"], "visit": d["visit"], "scores": _sorted(d.get("scores")),
        "total": d.get("total"), "measures": _sorted(d.get("measures")),
        **({"note": d["note"]} if "note" in d else {}),
    }
    path = layout.path(layout.DECISION_FILE, instruction_id=data["instruction_id"], task_id=d["task"],
                       gate=d["gate"], seq=e.seq)
    return path, "gate-decision", data


def capacity_files(model: Model, state: OrgState, now: float, domains: Collection[str] | None = None) -> list[File]:
    """The team files of ``domains`` (default all) and the system-wide capacity file."""
    return [(path, "capacity-system-wide" if path == layout.SYSTEM_WIDE else "capacity-team", data)
            for path, data in _capacity(model, state, now, domains).items()]


def project(model: Model, state: OrgState, events: Sequence[Event], now: float) -> dict[str, tuple[str, Any]]:
    """Every projected file: path under Agent_Memory -> (schema name, data).

    ``events`` is the log the state was folded from: the senders of notices and the
    gate decisions are read from it (the fold does not keep them)."""
    files: dict[str, tuple[str, Any]] = {}

    def add(items: Iterable[File | None]) -> None:
        for item in items:
            if item is not None:
                files[item[0]] = (item[1], item[2])

    senders = {e.seq: e.actor for e in events if e.actor}
    add(task_file(model, state, t) for t in state.tasks.values())
    add(notice_file(state, agent, m, senders.get(m.seq)) for agent, msgs in state.inboxes.items() for m in msgs)
    add(escalation_file(state, esc) for esc in [*state.escalations, *state.protocol_escalations])
    add(delegation_files(state))
    add(consultation_files(model, state))
    add(broadcast_files(state))
    for report in state.standups:
        add(standup_files(model, report))
    add(handoff_files(model, state))
    add(decision_file(state, e) for e in events if e.type == "gate_decided")
    add(capacity_files(model, state, now))
    return files


# -- the texts ------------------------------------------------------------------------------


def texts(model: Model, state: OrgState, events: Sequence[Event], now: float) -> dict[str, str]:
    """Every projected file's text, by its path from the run directory (``Agent_Memory/...``)."""
    return {f"{MEMORY}/{path}": dump(data) for path, (_, data) in project(model, state, events, now).items()}
