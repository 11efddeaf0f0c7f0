"""The run report: an engine (its event log and state) in, counts and success metrics out.

``build_report(engine)`` computes from the events: tasks per state; per state,
the visits that met or breached the state's SLA target; escalations (SLA,
assignment, protocol); automatic transitions; reassignments; consultations by
outcome; utilisation per domain (now and at its peak). The success metrics are the engine's
(``Engine.metrics()``, defined in docs/runtime.md), each against its target.
``render_report`` prints it as tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .contract.events import Event
from .engine import Engine
from .model import Model
from .records import Task, resolve
from .state import OrgState
from .text import table
from .timefmt import iso as _iso


class _Visit:
    __slots__ = ("task", "state", "start", "end", "tokens", "remaining")

    def __init__(self, task: str, state: str, start: float) -> None:
        self.task, self.state, self.start = task, state, start
        self.end: float | None = None
        self.tokens = 0.0
        self.remaining: tuple[float, float] | None = None
        """(time of the last heartbeat with a remaining estimate, remaining hours)"""


def _visits(events: Sequence[Event]) -> list[_Visit]:
    current: dict[str, _Visit] = {}
    out: list[_Visit] = []
    for e in events:
        d = e.data
        if e.type == "task_created":
            v = current[d["task"]] = _Visit(d["task"], d["state"], e.at)
            out.append(v)
        elif e.type == "task_moved":
            old = current[d["task"]]
            old.end = e.at
            v = current[d["task"]] = _Visit(d["task"], d["target"], e.at)
            out.append(v)
        elif e.type == "heartbeat":
            v = current[d["task"]]
            v.tokens += float(d.get("tokens") or 0)
            if d.get("remaining_hours") is not None:
                v.remaining = (e.at, float(d["remaining_hours"]))
    return out


def _sla_verdict(model: Model, v: _Visit, task: Task, now: float) -> str | None:
    st = model.states[v.state]
    if st.terminal is not None:
        return None
    target = st.target_for(task.tier)
    if target is None:
        return None
    amounts = resolve(target, st, task)
    if not amounts:
        return None
    spent = {"time": (v.end if v.end is not None else now) - v.start, "tokens": v.tokens}
    if any(spent[dim] > amount for dim, amount in amounts):
        return "breached"
    return "met" if v.end is not None else "open"


def build_report(engine: Engine) -> dict[str, Any]:
    engine.refresh()
    model, state, now = engine.model, engine.state, engine.clock.now()
    events = engine.events()
    tasks = state.tasks

    by_state: dict[str, int] = {}
    for t in tasks.values():
        by_state[t.state] = by_state.get(t.state, 0) + 1

    sla: dict[str, dict[str, int]] = {}
    for v in _visits(events):
        verdict = _sla_verdict(model, v, tasks[v.task], now)
        if verdict is not None:
            row = sla.setdefault(v.state, {"met": 0, "breached": 0, "open": 0})
            row[verdict] += 1
    order = list(model.states)
    sla = {s: sla[s] for s in order if s in sla}

    kinds = dict.fromkeys(("sla_escalation", "assignment_escalated", "delegation_overdue",
                           "domain_capacity_escalated"), 0)
    automatic = []
    reassignments = 0
    for e in events:
        if e.type in kinds:
            kinds[e.type] += 1
        if e.type == "task_reassigned":
            reassignments += 1
        if e.type == "task_moved" and e.data.get("automatic"):
            automatic.append({"seq": e.seq, "at": _iso(e.at), "task": e.data["task"], "source": e.data["source"],
                              "target": e.data["target"]})

    # utilisation: now, and the peak over the run (the fold replayed event by event)
    fold = OrgState(model)
    doms = [d for d in model.domains if fold.ledger.agents_in(d)]
    peak = dict.fromkeys(doms, 0.0)
    for e in events:
        fold.apply(e)
        if e.type in ("task_assigned", "task_reassigned", "task_moved", "heartbeat"):
            for d in doms:
                peak[d] = max(peak[d], fold.ledger.domain_utilisation(d))
    ledger = state.ledger
    utilisation = {}
    for d in doms:
        u = ledger.domain_utilisation(d)
        band = ledger.band(u)
        pband = ledger.band(peak[d])
        utilisation[d] = {"now": u, "band": band.name if band else None, "peak": peak[d],
                          "peak_band": pband.name if pband else None}

    metrics = []
    for name, m in engine.metrics().items():
        status = "no data" if m["met"] is None else "met" if m["met"] else "missed"
        metrics.append({"name": name, **m, "status": status})
    escalations = [{"seq": x.get("seq"), "at": _iso(x["at"]), "task": x.get("task"), "to": list(x.get("to") or ()),
                    "reason": x["reason"]} for x in [*state.escalations, *state.protocol_escalations]]
    escalations.sort(key=lambda x: x["seq"] or 0)
    return {
        "org": model.name,
        "now": _iso(now),
        "events": len(events),
        "tasks": len(tasks),
        "tasks_by_state": {s: by_state[s] for s in order if s in by_state},
        "sla": sla,
        "escalations": {"total": len(escalations), "sla": kinds["sla_escalation"],
                        "assignment": kinds["assignment_escalated"], "delegation": kinds["delegation_overdue"],
                        "capacity": kinds["domain_capacity_escalated"],
                        "rounds": sum(1 for e in events if e.type == "rounds_exhausted" and e.data["then"] is None),
                        "list": escalations},
        "reassignments": reassignments,
        "automatic_moves": automatic,
        "consultations": {status: sum(c.status == status for c in state.consultations.values())
                          for status in ("answered", "timed_out", "open")},
        "utilisation": utilisation,
        "metrics": metrics,
    }


# -- rendering -------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return table(headers, rows, "  ")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def render_report(rep: Mapping[str, Any]) -> str:
    out = [f"Report: {rep['org']} at {rep['now']}: {rep['tasks']} task(s), {rep['events']} events", ""]
    out.append("Tasks per state")
    out.append(_table(("STATE", "TASKS"), list(rep["tasks_by_state"].items())) if rep["tasks_by_state"]
               else "  none")
    out += ["", "SLA per state (state visits against the target of the task's tier)"]
    rows: list[tuple[object, ...]] = [(s, v["met"], v["breached"], v["open"]) for s, v in rep["sla"].items()]
    out.append(_table(("STATE", "MET", "BREACHED", "OPEN"), rows) if rows else "  no visits with a target")
    esc = rep["escalations"]
    out += ["", f"Escalations: {esc['total']} ({esc['sla']} SLA, {esc['assignment']} assignment, "
                f"{esc['delegation']} delegation, {esc['capacity']} capacity"
                + (f", {esc['rounds']} rounds" if esc.get("rounds") else "") + ")"]
    if esc["list"]:
        out.append(_table(("SEQ", "AT", "TASK", "TO", "REASON"),
                          [(e["seq"], e["at"], e["task"], ", ".join(e["to"]), e["reason"]) for e in esc["list"]]))
    auto = rep["automatic_moves"]
    moves = ", ".join(f"{m['task']} {m['source']} -> {m['target']}" for m in auto)
    out.append(f"Automatic transitions: {len(auto)}" + (f" ({moves})" if auto else ""))
    out.append(f"Reassignments: {rep['reassignments']}")
    con = rep["consultations"]
    if any(con.values()):
        out.append(f"Consultations: {sum(con.values())} ({con['answered']} answered, {con['timed_out']} "
                   f"timed out with the default, {con['open']} open)")
    out += ["", "Utilisation per domain"]
    rows = [(d, _pct(u["now"]), u["band"] or "-", _pct(u["peak"]), u["peak_band"] or "-")
            for d, u in rep["utilisation"].items()]
    out.append(_table(("DOMAIN", "NOW", "BAND", "PEAK", "PEAK BAND"), rows))
    out += ["", "Success metrics"]
    rows = []
    for m in rep["metrics"]:
        measure = m["measure"] + (f"({m['argument']})" if m["argument"] else "")
        value = "-" if m["value"] is None else f"{_pct(m['value'])} of {m['samples']}"
        rows.append((m["name"], measure, value, f"{m['op']} {_pct(m['target'])}", m["status"].upper()))
    out.append(_table(("METRIC", "MEASURE", "VALUE", "TARGET", "RESULT"), rows) if rows else "  none declared")
    return "\n".join(out) + "\n"


def _n(x: float) -> str:
    return str(int(x)) if float(x) == int(x) else f"{x:g}"
