"""Views: what a run looks like to people and to agents, computed from the state.

Each view of the command table (``status``, ``inbox``, ``show``,
``instruction_show``, ``log``, ``report``, ``clock_show``) is a function of an
open ``Run`` and its arguments that returns an ``Out``: data for ``--json``
and tool results, and text for people. ``describe`` tells one event as a line
of the story; ``command_out`` says what an engine command did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .contract.budgets import count_text, effort_text, span_text
from .contract.commands import Command
from .contract.events import Event
from .errors import Refused
from .invoke import Result
from .model import Model
from .records import Task, resolve
from .report import build_report, render_report
from .rundir import Run, verify
from .text import number, pct, table
from .timefmt import iso
from .work import moves as possible_moves
from .work import waiting

EXIT_OK, EXIT_FAILED = 0, 1


@dataclass
class Out:
    """What a view or a command prints: data for ``--json`` and tools, text for people."""

    data: Any
    text: str
    code: int = EXIT_OK


def sla_of(model: Model, t: Task, now: float) -> dict[str, Any]:
    """The SLA clock of a task's current state visit."""
    st = model.states[t.state]
    spent = now - t.entered_at
    out: dict[str, Any] = {"state": t.state, "in_state": spent, "tokens_in_state": t.tokens_in_state,
                           "target": None, "dimension": None, "used": None,
                           "warned": "warn" in t.fired, "escalated": "escalate" in t.fired}
    target = st.target_for(t.tier) if st.terminal is None else None
    if target is not None:
        amounts = resolve(target, st, t)
        if amounts:
            dim, amount = amounts[0]
            used = spent if dim == "time" else t.tokens_in_state
            out.update(target=amount, dimension=dim, used=used / amount if amount else None)
    return out


def task_row(model: Model, t: Task, now: float) -> dict[str, Any]:
    return {"id": t.id, "instruction": t.instruction, "kind": t.kind, "domain": t.domain, "tier": t.tier,
            "title": t.title, "state": t.state, "assignee": t.assignee, "sla": sla_of(model, t, now)}


def _sla_text(sla: dict[str, Any]) -> str:
    if sla["target"] is None:
        return "-"
    if sla["dimension"] == "time":
        text = f"{span_text(sla['in_state'])}/{span_text(sla['target'])}"
    else:
        text = f"{count_text(sla['tokens_in_state'])}/{count_text(sla['target'])}"
    mark = " ESCALATED" if sla["escalated"] else " late" if sla["warned"] else ""
    return f"{text} {pct(sla['used'])}{mark}"


def status_data(run: Run) -> dict[str, Any]:
    engine, model = run.engine, run.model
    base = engine.status()
    state, ledger, now = engine.state, engine.state.ledger, run.now
    tasks = [task_row(model, t, now) for t in sorted(state.tasks.values(), key=_task_key)]
    domains = {}
    for d in model.domains:
        agents = ledger.agents_in(d)
        if not agents:
            continue
        util = ledger.domain_utilisation(d)
        band = ledger.band(util)
        domains[d] = {"utilisation": util, "band": band.name if band else None,
                      "committed_hours": sum(ledger.committed(a) for a in agents), "members": len(agents)}
    return {
        "org": model.name,
        "now": now,
        "now_iso": iso(now),
        "clock": "virtual" if run.virtual else "wall",
        "last_seq": base["last_seq"],
        "instructions": base["instructions"],
        "tasks_by_state": base["tasks"],
        "tasks": tasks,
        "escalations": [dict(e) for e in [*state.escalations, *state.protocol_escalations]],
        "handoffs": [h.dump() for h in state.handoffs.values() if h.status == "open"],
        "delegations": [d.dump() for d in state.delegations.values() if d.status == "pending"],
        "consultations": [c.dump() for c in state.consultations.values() if c.status == "open"],
        "utilisation": {"agents": base["utilisation"], "domains": domains},
    }


def _task_key(t: Task) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", t.id))


def render_status(data: dict[str, Any]) -> str:
    out = [f"{data['org']} at {data['now_iso']} ({data['clock']} clock), "
           f"{data['last_seq']} events, {data['instructions']} instruction(s)", ""]
    if data["tasks"]:
        rows = [(t["id"], t["state"], t["domain"], t["assignee"] or "-", _sla_text(t["sla"]), t["title"])
                for t in data["tasks"]]
        out += [table(("TASK", "STATE", "DOMAIN", "ASSIGNEE", "SLA (in state/target)", "TITLE"), rows), ""]
        counts = ", ".join(f"{s} {len(ids)}" for s, ids in data["tasks_by_state"].items())
        out += [f"tasks by state: {counts}", ""]
    else:
        out += ["no tasks yet", ""]
    esc = data["escalations"]
    out.append(f"escalations: {len(esc)}")
    if esc:
        rows3 = [(e["seq"], iso(e["at"]), e.get("task") or e.get("domain") or e.get("delegation") or "-",
                  ", ".join(e["to"]), e["reason"]) for e in sorted(esc, key=lambda x: x["seq"])]
        out.append(table(("SEQ", "AT", "ABOUT", "TO", "REASON"), rows3, "  "))
    for h in data["handoffs"]:
        out.append(f"open handoff {h['id']}: {h['task']} {h['from_domain']} -> {h['to_domain']}, "
                   f"{len(h['ticked'])}/{len(h['checklist'])} checklist items ticked")
    for d in data["delegations"]:
        due = f", due {iso(d['due'])}" if d.get("due") is not None else ""
        out.append(f"pending delegation {d['id']}: {d['from']} -> {d['to']}{due}: {d['subject']}")
    for c in data["consultations"]:
        due = f", default at {iso(c['due'])}" if c.get("due") is not None else ""
        held = f", holding {c['task'] or c['instruction']}" if c["blocking"] and (c["task"] or c["instruction"]) else ""
        out.append(f"open consultation {c['id']} ({c['consultation']}): {c['from']} -> {', '.join(c['to'])}"
                   f"{due}{held}: {c['question']}")
    out.append("")
    doms = data["utilisation"]["domains"]
    rows2 = [(d, v["members"], number(v["committed_hours"], 1), pct(v["utilisation"]), v["band"] or "-")
             for d, v in doms.items()]
    out.append(table(("DOMAIN", "ICS", "COMMITTED H", "UTILISATION", "BAND"), rows2))
    return "\n".join(out) + "\n"


def describe(e: Event) -> str:
    """One event as a line of the story."""
    d = e.data
    t = e.type
    if t == "instruction_submitted":
        return f"submits {d['instruction']} (tier {d['tier']}): {d['text']}"
    if t == "task_created":
        extra = f", hands off to {d['handoff_to']}" if d.get("handoff_to") else ""
        deps = f", after {', '.join(d['dependencies'])}" if d.get("dependencies") else ""
        return f"creates {d['task']} ({d['kind']}, {d['domain']}{extra}{deps}): {d['title']}"
    if t == "task_assigned":
        score = f", score {d['score']:.2f}" if d.get("score") is not None else ""
        return f"assigns {d['task']} to {d['agent']} ({d['mode']}{score})"
    if t == "assignment_escalated":
        return f"ESCALATES {d['task']} to {', '.join(d['to'])}: {d['reason']}"
    if t == "task_moved":
        how = " (automatic)" if d.get("automatic") else f" (by gate {d['gate']})" if d.get("gate") else ""
        att = f", attesting {', '.join(d['attest'])}" if d.get("attest") else ""
        return f"moves {d['task']} {d['source']} -> {d['target']}{how}{att}"
    if t == "heartbeat":
        parts = [f"{d['tokens'] / 1000:g}K tokens" if d.get("tokens") else None,
                 f"{d['remaining_hours']:g}h left" if d.get("remaining_hours") is not None else None, d.get("note")]
        return f"heartbeat on {d['task']}: " + ", ".join(p for p in parts if p)
    if t == "gate_decided":
        return f"decides {d['gate']} on {d['task']}: {d['outcome']}"
    if t in ("sla_warning", "sla_escalation"):
        what = "SLA WARNING" if t == "sla_warning" else "SLA ESCALATION"
        if d.get("level") is not None:
            what += f" level {d['level']} round {d['round']}"
        return (f"{what} {d['task']}: {d['measured_text']} in {d['state']} (threshold {d['threshold']}), "
                f"to {', '.join(d['to']) or 'nobody'}")
    if t == "heartbeat_missed":
        return f"MISSED HEARTBEAT {d['task']} in {d['state']}, to {', '.join(d['to'])}"
    if t == "handoff_created":
        return (f"hands {d['task']} over to {d['to_domain']} as {d['handoff']} ({len(d['checklist'])} checklist "
                f"items, accepted by {', '.join(d['to']) or d['accepted_by']}): {d['summary']}")
    if t == "handoff_ticked":
        return f"ticks {d['handoff']}: {d['item']}"
    if t == "handoff_accepted":
        return f"accepts handoff {d['handoff']} of {d['task']}"
    if t == "handoff_rejected":
        return f"REJECTS handoff {d['handoff']} of {d['task']}: {d.get('reason')}"
    if t == "delegated":
        return f"delegates {d['delegation']} to {d['to']} [{d['priority']}]: {d['subject']}"
    if t == "delegation_acknowledged":
        return f"{'accepts' if d['accepted'] else 'declines'} {d['delegation']}" + (
            f": {d['notes']}" if d.get("notes") else "")
    if t == "delegation_overdue":
        return f"OVERDUE acknowledgement of {d['delegation']}, to {', '.join(d['to']) or 'nobody'}"
    if t == "consultation_asked":
        kind = "blocking" if d["blocking"] else "non-blocking"
        return f"asks {d['id']} ({d['consultation']}, {kind}) of {', '.join(d['to'])}: {d['question']}"
    if t == "consultation_answered":
        return f"answers {d['id']}: {d['answer']}"
    if t == "consultation_timed_out":
        return f"TIMEOUT of {d['id']}: " + ("the default applies: " + str(d["answer"]) if d.get("answer") is not None
                                             else "no default declared")
    if t == "broadcast_sent":
        return f"broadcasts on {d['channel']} [{d['kind']}, {d['priority']}]: {d['subject']}"
    if t == "stage_ran":
        return f"runs stage {d['stage']} of {d['instruction']}"
    if t == "instruction_gate_decided":
        total = f" (total {d['total']})" if d.get("total") is not None else ""
        return f"decides {d['gate']} on {d['instruction']}: {d['outcome']}{total}"
    if t == "instruction_closed":
        return f"closes {d['instruction']}"
    if t == "task_reassigned":
        return f"reassigns {d['task']} from {d['from']} to {d['to']} ({d['mode']})"
    if t == "clarification_recorded":
        return f"asks for a clarification on {d['task']}" + (f": {d['note']}" if d.get("note") else "")
    if t == "defect_recorded":
        return f"records a defect on {d['task']}" + (f": {d['note']}" if d.get("note") else "")
    if t == "domain_capacity_escalated":
        return (f"CAPACITY ESCALATION {d['domain']} at {d['utilisation']:.0%} (limit {d['limit']:.0%}), "
                f"to {', '.join(d['to']) or 'nobody'}")
    if t == "standup_reported":
        return f"standup {d['standup']} from {d['from']} to {', '.join(d['to']) or 'nobody'}"
    if t == "standups_scheduled":
        return f"schedules standups {', '.join(d['standups'])}"
    return f"{t} {json.dumps(d, sort_keys=True)}"


def event_lines(events: Sequence[Event]) -> list[tuple[object, ...]]:
    return [(e.seq, iso(e.at), e.actor or "(clock)", e.type, describe(e)) for e in events]


def event_text(events: Sequence[Event]) -> list[str]:
    """Events as indented lines under a command's head line."""
    return [f"{seq:>4}  {at}  {actor:<20} {typ:<20} {s}" for seq, at, actor, typ, s in event_lines(events)]


def command_out(command: Command, values: dict[str, Any], result: Result) -> Out:
    """What an engine command did: a head line, the events it recorded, and (for an
    assignment) the candidates it weighed."""
    fields = {k: v for k, v in values.items() if v is not None}
    if command.returns and result.created is not None:
        fields[command.returns] = result.created
    try:
        head = command.done.format(**fields) if command.done else f"{command.name}: done"
    except (KeyError, IndexError):
        head = f"{command.name}: done"
    lines = [f"  {line}" for line in event_text(result.events)]
    assigned = next((e for e in result.events if e.type == "task_assigned"), None)
    if command.name == "assign":
        if assigned is None:
            head = f"nobody qualifies for {values.get('task')}; escalated"
        else:
            head = f"assigned {assigned.data['task']} to {assigned.data['agent']} ({assigned.data['mode']})"
    if assigned is not None and assigned.data.get("candidates"):
        cands = assigned.data["candidates"]
        factors = list((cands[0].get("factors") or {}).keys())
        rows = [(c["agent"], f"{c['score']:.3f}", *(f"{c['factors'][f]:.2f}" for f in factors),
                 "yes" if c["eligible"] else f"no ({c['rejected_by']})") for c in cands]
        lines += ["", table(("CANDIDATE", "SCORE", *factors, "ELIGIBLE"), rows, "  ")]
    data: dict[str, Any] = {"events": [e.to_dict() for e in result.events]}
    if command.returns and result.created is not None:
        data[command.returns] = result.created
    return Out(data, "\n".join([head, *lines]) + "\n")


def clock_out(run: Run, before: int) -> Out:
    """What a clock command fired, and the time now."""
    events = run.store.read(before)
    head = f"clock at {iso(run.now)}: {len(events)} event(s) fired"
    text = "\n".join([head, *(f"  {line}" for line in event_text(events))]) + "\n"
    return Out({"events": [e.to_dict() for e in events], "now": run.now, "now_iso": iso(run.now)}, text)


# -- the views of the command table ---------------------------------------------------------


def status(run: Run) -> Out:
    data = status_data(run)
    return Out(data, render_status(data))


def inbox(run: Run, agent: str) -> Out:
    if agent not in run.model.agents:
        raise Refused("RUN001", f"unknown agent `{agent}`")
    msgs = [{**m.dump(), "at_iso": iso(m.at)} for m in run.engine.inbox(agent)]
    if not msgs:
        return Out({"agent": agent, "messages": []}, f"{agent}: no messages\n")
    rows = [(m["seq"], iso(m["at"]), m["type"], m["task"] or "-", m["text"]) for m in msgs]
    text = f"{agent}: {len(msgs)} message(s)\n" + table(("SEQ", "AT", "TYPE", "TASK", "MESSAGE"), rows) + "\n"
    return Out({"agent": agent, "messages": msgs}, text)


def show(run: Run, task: str) -> Out:
    data = run.engine.task(task)
    t = run.engine.state.tasks[task]
    data["sla"] = sla_of(run.model, t, run.now)
    events = [e for e in run.store.read(0) if e.data.get("task") == task]
    lines = [f"{t.id}  {t.title}"]
    if t.description:
        lines.append(f"  {t.description}")
    lines += [f"  done when: {c}" for c in t.acceptance_criteria]
    lines += [f"  instruction {t.instruction}, {t.kind}, domain {t.domain}, tier {t.tier}, {t.complexity}, "
              f"priority {t.priority}",
              f"  state {t.state} (visit {t.visit}) since {iso(t.entered_at)}; SLA {_sla_text(data['sla'])}",
              f"  assignee {t.assignee or '-'}; estimate {effort_text(t.estimate_hours, t.estimate_tokens)}; "
              f"tokens {count_text(t.tokens_total)}",
              f"  skills {', '.join(t.required_skills) or '-'}; nice {', '.join(t.nice_skills) or '-'}; "
              f"depends on {', '.join(t.dependencies) or '-'}; handoff to {t.handoff_to or '-'}",
              f"  attested {', '.join(sorted(t.attested)) or '-'}; gate decisions this visit "
              f"{', '.join(f'{g}={o}' for g, o in t.decisions.items()) or '-'}",
              "", table(("SEQ", "AT", "ACTOR", "EVENT", "DETAIL"), event_lines(events))]
    data["events"] = [e.to_dict() for e in events]
    return Out(data, "\n".join(lines) + "\n")


def instruction_show(run: Run, instruction: str) -> Out:
    data = run.engine.instruction(instruction)
    return Out(data, json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n")


def log(run: Run, verify_: bool = False, after: int = 0) -> Out:
    if verify_:
        res = verify(run)
        if res["ok"]:
            text = f"ok: {res['events']} events replay to the engine's state; the projection is current\n"
        else:
            text = "log verification failed:\n" + "".join(f"  {p}\n" for p in res["problems"])
        return Out(res, text, EXIT_OK if res["ok"] else EXIT_FAILED)
    events = run.store.read(after)
    text = table(("SEQ", "AT", "ACTOR", "EVENT", "DETAIL"), event_lines(events)) + "\n" if events else "no events\n"
    return Out({"events": [e.to_dict() for e in events]}, text)


def report(run: Run) -> Out:
    rep = build_report(run.engine)
    return Out(rep, render_report(rep))


def clock_show(run: Run) -> Out:
    mode = "virtual" if run.virtual else "wall"
    return Out({"now": run.now, "now_iso": iso(run.now), "clock": mode}, f"{iso(run.now)} ({mode} clock)\n")


def work(run: Run, agent: str) -> Out:
    run.engine.ctx.agent(agent)
    launches = run.engine.state.launches
    # what another agent was started for is that agent's to do
    items = [i.dump() for i in waiting(run.engine, agent)
             if not (i.key in launches and launches[i.key].running and launches[i.key].agent != agent)]
    if not items:
        return Out({"agent": agent, "items": []}, f"{agent}: nothing waits for you\n")
    rows = [(i["kind"], i["id"], i["summary"]) for i in items]
    return Out({"agent": agent, "items": items},
               f"{agent}: {len(items)} item(s) wait for you\n" + table(("KIND", "ID", "WHAT"), rows) + "\n")


def moves(run: Run, agent: str, task: str) -> Out:
    run.engine.refresh()
    options = possible_moves(run.engine, task, agent)
    t = run.engine.state.tasks[task]
    rows = [(o["target"], "yes" if o["allowed"] else "no", ", ".join(o["actors"]),
             o.get("refused") or (f"attest {', '.join(o['requires'])}" if o["requires"] else ""))
            for o in options]
    text = (f"{task} is in {t.state} (tier {t.tier}); moves for {agent}:\n"
            + table(("TO", "YOU MAY", "BY", "NOTE"), rows) + "\n")
    return Out({"task": task, "state": t.state, "agent": agent, "moves": options}, text)


VIEWS: dict[str, Callable[..., Out]] = {
    "status": status, "inbox": inbox, "show": show, "instruction_show": instruction_show,
    "log": lambda run, verify=False, after=0: log(run, verify, after), "report": report, "clock_show": clock_show,
    "work": work, "moves": moves,
}
"""the view functions by the ``method`` the command table names"""
