"""The Agent_Memory projection: runtime state in, the files agents read out.

``project(model, state, now)`` maps the state (the fold of the event log) to
files keyed by their path under ``Agent_Memory/``:

- ``{instruction}/tasks/strategic/ST{n}.yaml`` and
  ``{instruction}/tasks/tactical/{domain}/TT{st}.{n}.yaml``: every task with
  its ``status`` (the lifecycle state), assignee and assignment rationale;
- ``_communication/inbox/{agent}/{type}_{YYYYMMDD_HHMMSS}_{seq}.yaml``: one
  notice per inbox message (assignments, SLA warnings and escalations, missed
  heartbeats, assignment escalations);
- ``{instruction}/escalations/E{seq}_{task}.yaml``: every escalation of a task;
  ``_communication/escalations/E{seq}.yaml``: overdue acknowledgements and
  domains over capacity;
- ``_communication/handoffs/{from}_to_{to}_{YYYYMMDD_HHMMSS}.yaml``: every
  handoff with its checklist and acceptance;
- ``{instruction}/decisions/{task}_{gate}_{seq}.yaml``: every gate decision;
- ``_system/capacity/{domain}/team.yaml`` and ``_system/capacity/system_wide.yaml``:
  the capacity ledger.

``write_projection`` writes the files that changed, each atomically (a
temporary file in the same folder, then ``os.replace``), and removes the files
it wrote before that the state no longer produces. The content is a function
of the state and the clock only, so it is deterministic. Every file matches a
JSON Schema: the compiler's (``strategic-task``, ``tactical-task``,
``handoff``, ``capacity-team``, ``capacity-system-wide``) or, for the three files the
compiler has no schema for yet, ``RUNTIME_SCHEMAS`` below (``notice``,
``escalation``, ``gate-decision``), which ``runtime_schemas(model)`` fills with
the model's names.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from .events import TYPES, Event
from .model import Model
from .state import OrgState, Task

MEMORY = "Agent_Memory"
MANIFEST = ".projection.json"
DAY = 86400.0
HEADER = "# Written by the orchdsl runtime from the event log; do not edit: it is rewritten after every command.\n"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y%m%d_%H%M%S")


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


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_TEXTS: dict[str, str] = {}
"""YAML text by the JSON of its data: most files are the same from one command to the next"""


def dump(data: Any) -> str:
    key = json.dumps(data, ensure_ascii=False)
    text = _TEXTS.get(key)
    if text is None:
        if len(_TEXTS) > 20_000:
            _TEXTS.clear()
        text = _TEXTS[key] = HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                                                default_flow_style=False, width=100)
    return text


# -- the files --------------------------------------------------------------------------


def task_path(t: Task) -> str:
    if t.kind == "strategic":
        return f"{t.instruction}/tasks/strategic/{t.id}.yaml"
    return f"{t.instruction}/tasks/tactical/{t.domain}/{t.id}.yaml"


def _lead_of(model: Model, domain: str) -> str:
    role = model.domain_lead_role.get(domain, "")
    agents = model.agents_by_role.get(role, ())
    return agents[0] if agents else role


def _strategic(model: Model, state: OrgState, t: Task) -> dict[str, Any]:
    st_deps = [d for d in t.dependencies if re.fullmatch(r"ST\d+", d)]
    blocks = sorted(o.id for o in state.tasks.values() if o.kind == "strategic" and t.id in o.dependencies)
    domains = [t.domain] + ([t.handoff_to] if t.handoff_to else [])
    return {
        "id": t.id,
        "type": "strategic",
        "tier": t.tier,
        "instruction_id": t.instruction,
        "description": t.title,
        "owner": t.assignee or _lead_of(model, t.domain),
        "status": t.state,
        "scope": {"domains": domains},
        "strategic_acceptance_criteria": [t.title],
        "dependencies": {"requires": st_deps, "blocks": blocks},
        "skill_requirements": list(dict.fromkeys(t.required_skills + t.nice_skills)),
        "complexity": t.complexity,
    }


def _tactical(model: Model, t: Task, assigned: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id,
        "type": "tactical",
        "parent_strategic_task": t.parent if t.parent and re.fullmatch(r"ST\d+", t.parent) else "ST0",
        "instruction_id": t.instruction,
        "tier": t.tier,
        "domain": t.domain,
        "description": t.title,
        "status": t.state,
        "assigned_to": t.assignee,
    }
    if assigned is not None and assigned.get("score") is not None:
        factors = {k: round(float(v), 4) for k, v in (assigned.get("factors") or {}).items()}
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
        "tactical_acceptance_criteria": [t.title],
        "dependencies": list(t.dependencies),
    })
    return out


def _handoff(model: Model, state: OrgState, h: Any, tickers: dict[tuple[str, str], str]) -> dict[str, Any]:
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
                               "verified_by": tickers.get((h.id, i))} for i in h.checklist],
        "acceptance": acceptance,
    }


def _capacity(model: Model, state: OrgState, now: float) -> dict[str, Any]:
    ledger = state.ledger
    cap = model.capacity or {}
    horizon = float(cap.get("horizon_days", model.horizon_days))
    window = max(1, math.ceil(horizon))
    bands = [{"name": b.name, "at_percent": _num(b.at * 100),
              "action": dict(b.action) if b.action else None} for b in ledger.bands]

    def limit(value: Any, period: Any, action: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        text = (action or {}).get("kind", "") + (f" {action['target']}" if (action or {}).get("target") else "")
        return {"above_percent": _num(float(value) * 100), "for": (period or {}).get("text"), "action": text}

    thresholds = {
        "bands": bands,
        "ic_limit": limit(cap.get("ic_limit"), cap.get("ic_period"), cap.get("ic_action")),
        "domain_limit": limit(cap.get("domain_limit"), cap.get("domain_period"), cap.get("domain_action")),
    }
    experience = {}
    for d in model.domains.values():
        for m in d.get("members", []):
            for aid in model.agents_by_role.get(m["role"], ()):
                experience[aid] = m.get("experience")
    files: dict[str, Any] = {}
    summary: list[dict[str, Any]] = []
    grand = used = 0.0
    for domain in model.domains:
        agents = [a for a in model.domain_members.get(domain, ()) if a in ledger.hours_per_day]
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
        total = sum(ledger.hours_per_day[a] for a in agents)
        util = ledger.domain_utilisation(domain)
        forecast = ledger.forecast(domain, window) if agents else []
        by_date = {datetime.fromtimestamp(now + i * DAY, UTC).strftime("%Y-%m-%d"): _num(v * 100)
                   for i, v in enumerate(forecast)}
        files[f"_system/capacity/{domain}/team.yaml"] = {
            "domain": domain,
            "lead": _lead_of(model, domain),
            "team": team,
            "capacity": {"total": _num(total), "utilized": _num(util * total), "utilization": _num(util * 100)},
            "thresholds": thresholds,
            "forecast": {"window_days": _num(horizon), "by_date": by_date},
        }
        summary.append({"domain": domain, "ics": len(agents), "total": _num(total), "utilized": _num(util * total),
                        "utilization": _num(util * 100), "file": f"_system/capacity/{domain}/team.yaml"})
        grand += total
        used += util * total
    files["_system/capacity/system_wide.yaml"] = {
        "hours_per_day": _num(model.hours_per_day),
        "horizon_days": _num(horizon),
        "domains": summary,
        "total": _num(grand),
        "utilized": _num(used),
        "utilization": _num(used / grand * 100 if grand else 0.0),
        "thresholds": {"bands": bands},
    }
    return files


def project(model: Model, state: OrgState, events: Sequence[Event], now: float) -> dict[str, tuple[str, Any]]:
    """Every projected file: path under Agent_Memory -> (schema name, data).

    ``events`` is the log the state was folded from: assignment rationales,
    senders and gate decisions are read from it (the fold keeps them only in part)."""
    files: dict[str, tuple[str, Any]] = {}
    assigned: dict[str, dict[str, Any]] = {}
    senders: dict[int, str] = {}
    decisions: list[dict[str, Any]] = []
    tickers: dict[tuple[str, str], str] = {}
    for e in events:
        if e.actor:
            senders[e.seq] = e.actor
        if e.type == "handoff_ticked" and e.actor:
            tickers[(e.data["handoff"], e.data["item"])] = e.actor
        if e.type == "task_assigned":
            assigned[e.data["task"]] = e.data
        elif e.type == "gate_decided":
            d = e.data
            decisions.append({
                "task_id": d["task"], "instruction_id": state.tasks[d["task"]].instruction, "gate": d["gate"],
                "outcome": d["outcome"], "effect": d["effect"], "reviewer": e.actor, "timestamp": _iso(e.at),
                "seq": e.seq, "state": d["state"], "visit": d["visit"], "scores": d.get("scores"),
                "total": d.get("total"), "measures": d.get("measures"),
            })
    for t in state.tasks.values():
        if t.kind == "strategic":
            files[task_path(t)] = ("strategic-task", _strategic(model, state, t))
        else:
            files[task_path(t)] = ("tactical-task", _tactical(model, t, assigned.get(t.id)))
    for agent, msgs in state.inboxes.items():
        for m in msgs:
            ins = state.tasks[m.task].instruction if m.task in state.tasks else None
            name = f"_communication/inbox/{agent}/{m.type}_{_stamp(m.at)}_{m.seq}.yaml"
            files[name] = ("notice", {
                "type": m.type, "from": senders.get(m.seq, "system"), "to": agent, "timestamp": _iso(m.at),
                "seq": m.seq, "instruction_id": ins, "task_id": m.task, "message": m.text,
            })
    for esc in [*state.escalations, *state.protocol_escalations]:
        et = state.tasks.get(esc.get("task") or "")
        data = {
            "id": f"E{esc['seq']}", "kind": esc.get("kind", "task"), "task_id": et.id if et else None,
            "instruction_id": et.instruction if et else None, "domain": esc.get("domain") or (et.domain if et else None),
            "timestamp": _iso(esc["at"]), "to": list(esc["to"]), "reason": esc["reason"],
            "task_status": et.state if et else None,
        }
        path = f"{et.instruction}/escalations/E{esc['seq']}_{et.id}.yaml" if et else \
            f"_communication/escalations/E{esc['seq']}.yaml"
        files[path] = ("escalation", data)
    for h in state.handoffs.values():
        files[f"_communication/handoffs/{h.from_domain}_to_{h.to_domain}_{_stamp(h.at)}.yaml"] = (
            "handoff", _handoff(model, state, h, tickers))
    for d in decisions:
        files[f"{d['instruction_id']}/decisions/{d['task_id']}_{d['gate']}_{d['seq']}.yaml"] = ("gate-decision", d)
    for path, data in _capacity(model, state, now).items():
        files[path] = ("capacity-system-wide" if path.endswith("system_wide.yaml") else "capacity-team", data)
    return files


# -- schemas of the runtime's own files ---------------------------------------------------------

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def runtime_schemas(model: Model) -> dict[str, dict[str, Any]]:
    """JSON Schemas of the files the compiler has no schema for (yet)."""
    agents = sorted(model.agents)
    states = sorted(model.states)
    ts = {"type": "string", "format": "date-time"}
    task_id = {"type": "string"}
    notice = {
        "type": "object",
        "properties": {
            "type": {"enum": list(TYPES)},
            "from": {"enum": [*agents, "system", "human"]},
            "to": {"enum": agents},
            "timestamp": ts,
            "seq": {"type": "integer", "minimum": 1},
            "instruction_id": {"type": ["string", "null"]},
            "task_id": {"type": ["string", "null"]},
            "message": {"type": "string"},
        },
        "required": ["type", "from", "to", "timestamp", "seq", "instruction_id", "task_id", "message"],
        "additionalProperties": False,
    }
    escalation = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": r"^E[0-9]+$"},
            "kind": {"enum": ["task", "acknowledgement", "domain_capacity"],
                     "description": "a task's SLA or assignment, an overdue acknowledgement, a domain over capacity"},
            "task_id": {"type": ["string", "null"]},
            "instruction_id": {"type": ["string", "null"]},
            "domain": {"anyOf": [{"enum": sorted(model.domains)}, {"type": "null"}]},
            "timestamp": ts,
            "to": {"type": "array", "items": {"enum": agents}},
            "reason": {"type": "string"},
            "task_status": {"anyOf": [{"enum": states}, {"type": "null"}]},
        },
        "required": ["id", "kind", "task_id", "instruction_id", "domain", "timestamp", "to", "reason",
                     "task_status"],
        "additionalProperties": False,
    }
    gates = model.gates
    decision = {
        "type": "object",
        "properties": {
            "task_id": task_id,
            "instruction_id": {"type": "string"},
            "gate": {"enum": sorted(gates)},
            "outcome": {"enum": sorted({o for g in gates.values() for o in g.outcomes})},
            "effect": {"enum": ["pass", "hold", "move"]},
            "reviewer": {"enum": agents},
            "timestamp": ts,
            "seq": {"type": "integer", "minimum": 1},
            "state": {"enum": states},
            "visit": {"type": "integer", "minimum": 1},
            "scores": {"type": ["object", "null"], "additionalProperties": {"type": "integer"}},
            "total": {"type": ["integer", "null"]},
            "measures": {"type": ["object", "null"], "additionalProperties": {"type": "number"}},
        },
        "required": ["task_id", "instruction_id", "gate", "outcome", "effect", "reviewer", "timestamp", "seq",
                     "state", "visit"],
        "additionalProperties": False,
    }
    out = {}
    for name, title, body in (("notice", "Inbox notice", notice), ("escalation", "Escalation", escalation),
                              ("gate-decision", "Gate decision", decision)):
        out[name] = {"$schema": DRAFT, "$id": f"https://orchdsl.dev/schemas/{model.name}/{name}.schema.json",
                     "title": f"{title} ({model.name})", **body}
    return out


# -- writing ------------------------------------------------------------------------------------


def _texts(model: Model, state: OrgState, events: Sequence[Event], now: float) -> dict[str, str]:
    return {f"{MEMORY}/{path}": dump(data) for path, (_, data) in project(model, state, events, now).items()}


def write_projection(run_dir: Path, model: Model, state: OrgState, events: Sequence[Event], now: float) -> list[str]:
    """Write the projection under ``run_dir/Agent_Memory`` (and the runtime's
    schemas under ``run_dir/schemas``); returns the paths that changed."""
    schema_dir = run_dir / "schemas"
    for name, schema in runtime_schemas(model).items():
        path = schema_dir / f"{name}.schema.json"
        text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            _atomic(path, text)
    texts = _texts(model, state, events, now)
    changed = []
    for rel, text in sorted(texts.items()):
        path = run_dir / rel
        try:
            same = path.read_text(encoding="utf-8") == text
        except FileNotFoundError:
            same = False
        if not same:
            _atomic(path, text)
            changed.append(rel)
    manifest = run_dir / MANIFEST
    try:
        before = set(json.loads(manifest.read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        before = set()
    for rel in sorted(before - set(texts)):
        (run_dir / rel).unlink(missing_ok=True)
        changed.append(rel)
    _atomic(manifest, json.dumps(sorted(texts), indent=0) + "\n")
    return changed


def stale_files(run_dir: Path, model: Model, state: OrgState, events: Sequence[Event], now: float) -> list[str]:
    """The projected files whose content on disk differs from what the state gives."""
    out = []
    for rel, text in sorted(_texts(model, state, events, now).items()):
        try:
            if (run_dir / rel).read_text(encoding="utf-8") != text:
                out.append(rel)
        except FileNotFoundError:
            out.append(rel)
    return out


def _atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
