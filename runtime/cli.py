"""The runtime's command line: ``orchdsl run ...`` on a run directory.

In: argv (after ``orchdsl run``). Out: text or ``--json`` on stdout, reasons on
stderr and an exit code: 0 done, 1 refused (the refusal code and reason on
stderr) or a failed check, 2 usage or I/O (no run directory, a bad argument).

A run directory (``.orchdsl-run/``, ``--dir DIR`` or ``$ORCHDSL_RUN_DIR``)
holds ``model.json``, ``events.sqlite`` (the event log), ``clock.json`` (wall
or virtual clock, and the virtual time), ``schemas/`` and ``Agent_Memory/``
(the projection, rewritten after every command). This module never imports the
compiler: ``orchdsl.run_cli`` compiles a ``.orch`` spec and hands over the
compiled model.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from .clock import Clock, VirtualClock, WallClock
from .contract.events import Event, check_event
from .engine import Engine
from .errors import ModelError, Refused, StoreError
from .model import Model, load_model
from .records import Task, resolve
from .state import OrgState
from .store import SQLiteStore
from .timefmt import iso

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_DIR = ".orchdsl-run"
DEFAULT_START = "2025-01-06T09:00:00Z"
CLOCK_FILE, MODEL_FILE, STORE_FILE = "clock.json", "model.json", "events.sqlite"
RECORD_KINDS = ("clarification", "defect")


class UsageError(Exception):
    """A problem with how a command was called (exit 2)."""


class BrokenLog(Exception):
    """The event log cannot be folded into a state (exit 1): it was changed outside the runtime."""


# -- time and budgets ------------------------------------------------------------------

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """``4h``, ``90m``, ``1.5d``, ``1d4h`` -> seconds."""
    t = text.strip()
    parts = _DURATION.findall(t)
    if not t or "".join(n + u for n, u in parts) != t:
        raise UsageError(f"bad duration `{text}`; write e.g. 30m, 4h, 1.5d, 1d4h")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def parse_time(text: str) -> float:
    """An ISO 8601 time (UTC unless an offset is given) -> seconds since the epoch."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"bad time `{text}`; write e.g. 2025-01-06T09:00:00Z") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def short_time(t: float) -> str:
    """A time in the story of a scenario: ISO 8601 UTC, like every time shown."""
    return iso(t)


def number(x: float, places: int = 2) -> float | int:
    """A number for output: rounded, and an int when whole."""
    r = round(float(x), places)
    return int(r) if r == int(r) else r


def _plain(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def fmt_duration(seconds: float) -> str:
    s = abs(seconds)
    if s < 3600:
        return f"{_plain(s / 60)}m"
    if s < 2 * 86400:
        return f"{_plain(round(s / 3600, 1))}h"
    return f"{_plain(round(s / 86400, 1))}d"


def fmt_tokens(n: float) -> str:
    if n >= 1e6:
        return f"{_plain(round(n / 1e6, 3))}M"
    if n >= 1e3:
        return f"{_plain(round(n / 1e3, 3))}K"
    return _plain(n)


def parse_estimate(items: Sequence[str]) -> tuple[float | None, float | None]:
    """``6h`` / ``1.5d`` -> hours, ``50K`` / ``1.2M`` / ``800`` tokens -> tokens."""
    hours = tokens = None
    for text in items:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([KM]|tok|tokens)", text.strip())
        if m:
            tokens = float(m.group(1)) * {"K": 1e3, "M": 1e6}.get(m.group(2), 1.0)
        else:
            try:
                hours = parse_duration(text) / 3600.0
            except UsageError:
                raise UsageError(f"bad estimate `{text}`; write hours (6h, 1.5d) or tokens (50K, 1.2M)") from None
    return hours, tokens


def parse_tokens(text: str) -> float:
    """``12000``, ``12K``, ``1.2M`` -> a token count."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KM]?)", text.strip())
    if not m:
        raise UsageError(f"bad token count `{text}`; write e.g. 12000, 12K or 1.2M")
    return float(m.group(1)) * {"K": 1e3, "M": 1e6}.get(m.group(2), 1.0)


def estimate_text(hours: float | None, tokens: float | None) -> str:
    """The estimate as a budget literal (``6h``, ``50K``); hours win when both exist."""
    if hours is not None:
        return f"{_plain(hours)}h"
    if tokens is not None:
        if tokens >= 1e6 and re.fullmatch(r"\d+(\.\d+)?", _plain(tokens / 1e6)):
            return f"{_plain(tokens / 1e6)}M"
        return f"{_plain(tokens / 1e3)}K"
    return "0h"


# -- tables ------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], indent: str = "") -> str:
    """An aligned text table; numbers are right-aligned."""
    body = [["" if c is None else str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in body:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    numeric = [all(_numeric(r[i]) for r in body) and bool(body) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return (indent + "  ".join(out)).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in body)])


def _numeric(s: str) -> bool:
    return bool(re.fullmatch(r"-?[\d.,]+%?|", s))


def pct(x: float) -> str:
    return f"{x * 100:.0f}%"


# -- the run directory ---------------------------------------------------------------------


def run_dir(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("ORCHDSL_RUN_DIR") or DEFAULT_DIR)


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class Run:
    """An opened run directory: model, engine (SQLite store) and the persisted clock."""

    dir: Path
    model: Model
    engine: Engine
    store: SQLiteStore
    virtual: bool

    @classmethod
    def open(cls, directory: Path) -> Run:
        if not (directory / MODEL_FILE).is_file():
            raise UsageError(
                f"no run directory at `{directory}`; start one with `orchdsl run init SPEC_OR_MODEL` "
                "or give `--dir DIR`"
            )
        try:
            # validated against its schema at `init`; the store's digest claim
            # refuses a model.json changed since
            model = load_model(directory / MODEL_FILE)
        except ModelError as exc:
            raise UsageError(str(exc)) from exc
        clock_data = _read_json(directory / CLOCK_FILE) or {"mode": "wall"}
        clock: Clock
        virtual = clock_data.get("mode") == "virtual"
        clock = VirtualClock(float(clock_data.get("now", 0.0))) if virtual else WallClock()
        try:
            store = SQLiteStore(directory / STORE_FILE)
            engine = Engine(model, store, clock)
        except StoreError as exc:
            raise UsageError(f"cannot open the event log of `{directory}`: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            store.close()
            raise BrokenLog(f"the event log of `{directory}` cannot be replayed: {type(exc).__name__}: {exc}") from exc
        return cls(directory, model, engine, store, virtual)

    @classmethod
    def init(cls, directory: Path, model_path: Path, start: float | None, force: bool = False,
             schemas: Path | None = None, memory: Path | None = None) -> Run:
        """Create a run directory for a compiled model; ``schemas`` and ``memory``
        default to the ``schemas/`` and ``Agent_Memory/`` beside the model."""
        try:
            model_text = model_path.read_text(encoding="utf-8")
            load_model(json.loads(model_text))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the compiled model `{model_path}`: {exc}") from exc
        except ModelError as exc:
            raise UsageError(str(exc)) from exc
        if (directory / STORE_FILE).exists():
            if not force:
                raise UsageError(f"`{directory}` holds a run already; use `--force` to start afresh")
            for name in (STORE_FILE, STORE_FILE + "-wal", STORE_FILE + "-shm", CLOCK_FILE):
                (directory / name).unlink(missing_ok=True)
            for sub in ("Agent_Memory", "schemas"):
                shutil.rmtree(directory / sub, ignore_errors=True)
            (directory / ".projection.json").unlink(missing_ok=True)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / MODEL_FILE, model_text)
        clock = {"mode": "virtual", "now": start} if start is not None else {"mode": "wall"}
        atomic_write(directory / CLOCK_FILE, json.dumps(clock, sort_keys=True) + "\n")
        here = model_path.resolve().parent
        for src, name in ((schemas or here / "schemas", "schemas"), (memory or here / "Agent_Memory", "Agent_Memory")):
            if src.is_dir() and src.resolve() != (directory / name).resolve():
                shutil.copytree(src, directory / name, dirs_exist_ok=True)
        run = cls.open(directory)
        run.project()
        return run

    @property
    def now(self) -> float:
        return self.engine.clock.now()

    def save_clock(self) -> None:
        if self.virtual:
            data = {"mode": "virtual", "now": self.now}
            atomic_write(self.dir / CLOCK_FILE, json.dumps(data, sort_keys=True) + "\n")

    def project(self) -> list[str]:
        """Rewrite the Agent_Memory projection; returns the files that changed."""
        from .projection import write_projection

        return write_projection(self.dir, self.model, self.engine.state, self.store.read(0), self.now)

    def close(self) -> None:
        self.store.close()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise UsageError(f"`{path}` is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else None


# -- task ids ------------------------------------------------------------------------------


def next_task_id(state: OrgState, kind: str, parent: str | None) -> str:
    """``ST{n}`` for strategic tasks; ``TT{st}.{n}`` for tactical ones, where ``st`` is
    the number of the parent strategic task (0 without one) and ``n`` counts its children."""
    tasks = state.tasks
    if kind == "strategic":
        n = 1 + sum(1 for t in tasks.values() if t.kind == "strategic")
        while f"ST{n}" in tasks:
            n += 1
        return f"ST{n}"
    m = re.fullmatch(r"ST(\d+)", parent or "")
    st = int(m.group(1)) if m else 0
    n = 1 + sum(1 for t in tasks.values() if t.kind == "tactical" and (t.parent or None) == (parent or None))
    while f"TT{st}.{n}" in tasks:
        n += 1
    return f"TT{st}.{n}"


# -- views ---------------------------------------------------------------------------------


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
        text = f"{fmt_duration(sla['in_state'])}/{fmt_duration(sla['target'])}"
    else:
        text = f"{fmt_tokens(sla['tokens_in_state'])}/{fmt_tokens(sla['target'])}"
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


def verify(run: Run) -> dict[str, Any]:
    """Replay the whole store into a fresh state and compare it with the engine's
    state; check that sequence numbers run 1..N and the projection is current."""
    events = run.store.read(0)
    problems: list[str] = []
    for i, e in enumerate(events, start=1):
        if e.seq != i:
            problems.append(f"event {i} has sequence number {e.seq}")
            break
    for e in events:
        try:
            check_event(e)
        except ValueError as exc:
            problems.append(str(exc))
            if len(problems) >= 10:
                break
    fresh = OrgState(run.model)
    try:
        for e in events:
            fresh.apply(e)
    except Exception as exc:  # a broken log cannot be folded: report, do not crash
        problems.append(f"replay failed at event {fresh.last_seq + 1}: {type(exc).__name__}: {exc}")
    else:
        run.engine.refresh()
        live, replayed = run.engine.state.dump(), fresh.dump()
        if live != replayed:
            keys = sorted(k for k in live if live[k] != replayed.get(k))
            problems.append(f"the replayed state differs from the engine's in {', '.join(keys)}")
    from .projection import stale_files

    stale = stale_files(run.dir, run.model, run.engine.state, events, run.now)
    if stale:
        problems.append(f"{len(stale)} projected file(s) differ from the log: {', '.join(stale[:5])}")
    return {"ok": not problems, "events": len(events), "problems": problems}


# -- commands ------------------------------------------------------------------------------


@dataclass
class Out:
    """What a command prints: data for ``--json`` and text for people."""

    data: Any
    text: str
    code: int = EXIT_OK


def _kv(items: Sequence[str] | None, what: str, cast: Callable[[str], Any]) -> dict[str, Any] | None:
    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"bad {what} `{item}`; write NAME=VALUE")
        try:
            out[key] = cast(value)
        except ValueError:
            raise UsageError(f"bad {what} value in `{item}`") from None
    return out


def _fired(run: Run, before: int) -> list[Event]:
    return run.store.read(before)


def _events_out(run: Run, before: int, head: str) -> Out:
    events = _fired(run, before)
    lines = [head] + [f"  {line}" for line in _event_text(events)]
    return Out({"events": [e.to_dict() for e in events]}, "\n".join(lines) + "\n")


def _event_text(events: Sequence[Event]) -> list[str]:
    return [f"{seq:>4}  {at}  {actor:<20} {typ:<20} {s}" for seq, at, actor, typ, s in event_lines(events)]


def cmd_submit(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    iid = run.engine.submit_instruction(a.as_, " ".join(a.text), a.tier, id=a.id)
    out = _events_out(run, before, f"submitted {iid} (tier {a.tier})")
    out.data["instruction"] = iid
    return out


def create_task(run: Run, as_: str, *, instruction: str, kind: str, domain: str, title: str,
                skills: Sequence[str] = (), nice: Sequence[str] = (), complexity: str = "moderate",
                priority: str = "normal", estimate: Sequence[str] = (), depends: Sequence[str] = (),
                parent: str | None = None, handoff_to: str | None = None, id: str | None = None,
                description: str = "", criteria: Sequence[str] = ()) -> str:
    """Create a task with an id of the Agent_Memory form (``ST{n}``, ``TT{st}.{n}``)."""
    hours, tokens = parse_estimate(estimate)
    run.engine.refresh()
    tid = id or next_task_id(run.engine.state, kind, parent)
    return run.engine.create_task(
        as_, instruction, kind, domain, title, required_skills=list(skills), nice_skills=list(nice),
        complexity=complexity, priority=priority, estimate_hours=hours, estimate_tokens=tokens,
        dependencies=list(depends), parent=parent, handoff_to=handoff_to, id=tid,
        description=description, acceptance_criteria=list(criteria),
    )


def _split(items: Sequence[str] | None) -> list[str]:
    return [s for item in items or () for s in item.split(",") if s.strip()]


def cmd_task_create(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    tid = create_task(run, a.as_, instruction=a.instruction, kind=a.kind, domain=a.domain, title=a.title,
                      skills=_split(a.skills), nice=_split(a.nice), complexity=a.complexity,
                      priority=a.priority, estimate=a.estimate or (), depends=_split(a.depends),
                      parent=a.parent, handoff_to=a.handoff_to, id=a.id,
                      description=a.description or "", criteria=a.criterion or ())
    out = _events_out(run, before, f"created {tid}")
    out.data["task"] = tid
    return out


def cmd_assign(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    run.engine.assign(a.as_, a.task, a.to)
    events = _fired(run, before)
    lines = [f"  {line}" for line in _event_text(events)]
    assigned = next((e for e in events if e.type == "task_assigned"), None)
    if assigned is not None:
        head = f"assigned {a.task} to {assigned.data['agent']} ({assigned.data['mode']})"
        cands = assigned.data.get("candidates") or []
        if cands:
            factors = list((cands[0].get("factors") or {}).keys())
            rows = [(c["agent"], f"{c['score']:.3f}", *(f"{c['factors'][f]:.2f}" for f in factors),
                     "yes" if c["eligible"] else f"no ({c['rejected_by']})") for c in cands]
            lines += ["", table(("CANDIDATE", "SCORE", *factors, "ELIGIBLE"), rows, "  ")]
    else:
        head = f"nobody qualifies for {a.task}; escalated"
    return Out({"events": [e.to_dict() for e in events]}, "\n".join([head, *lines]) + "\n")


def cmd_move(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    run.engine.move(a.as_, a.task, a.state, attest=_split(a.attest))
    return _events_out(run, before, f"moved {a.task} to {a.state}")


def cmd_heartbeat(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    remaining = parse_duration(a.remaining) / 3600.0 if a.remaining else None
    actual = parse_duration(a.actual) / 3600.0 if a.actual else None
    tokens = parse_tokens(a.tokens) if a.tokens else 0.0
    run.engine.heartbeat(a.as_, a.task, tokens=tokens, note=a.note, remaining_hours=remaining, actual_hours=actual)
    return _events_out(run, before, f"heartbeat on {a.task}")


def cmd_gate(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    run.engine.decide_gate(a.as_, a.task, a.gate, a.outcome, scores=_kv(a.score, "score", int),
                           measures=_kv(a.measure, "measure", _measure))
    return _events_out(run, before, f"decided {a.gate} on {a.task}")


def _measure(text: str) -> float:
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def cmd_clock(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    if a.clock_cmd == "show":
        return Out({"now": run.now, "now_iso": iso(run.now), "clock": "virtual" if run.virtual else "wall"},
                   f"{iso(run.now)} ({'virtual' if run.virtual else 'wall'} clock)\n")
    if a.clock_cmd in ("advance", "to"):
        if not run.virtual:
            raise UsageError("this run uses the wall clock; only `clock process` applies")
        seconds = parse_duration(a.amount) if a.clock_cmd == "advance" else parse_time(a.amount) - run.now
        if seconds < 0:
            raise UsageError(f"`{a.amount}` is in the past; the clock is at {iso(run.now)}")
        run.engine.advance(seconds)
    else:
        run.engine.process_clock()
    out = _events_out(run, before, f"clock at {iso(run.now)}: {run.store.last_seq() - before} event(s) fired")
    out.data.update(now=run.now, now_iso=iso(run.now))
    return out


def cmd_status(run: Run, a: argparse.Namespace) -> Out:
    data = status_data(run)
    return Out(data, render_status(data))


def cmd_inbox(run: Run, a: argparse.Namespace) -> Out:
    if a.agent not in run.model.agents:
        raise Refused("RUN001", f"unknown agent `{a.agent}`")
    msgs = [{**m.dump(), "at_iso": iso(m.at)} for m in run.engine.inbox(a.agent)]
    if not msgs:
        return Out({"agent": a.agent, "messages": []}, f"{a.agent}: no messages\n")
    rows = [(m["seq"], iso(m["at"]), m["type"], m["task"] or "-", m["text"]) for m in msgs]
    text = f"{a.agent}: {len(msgs)} message(s)\n" + table(("SEQ", "AT", "TYPE", "TASK", "MESSAGE"), rows) + "\n"
    return Out({"agent": a.agent, "messages": msgs}, text)


def cmd_log(run: Run, a: argparse.Namespace) -> Out:
    if a.verify:
        res = verify(run)
        if res["ok"]:
            text = f"ok: {res['events']} events replay to the engine's state; the projection is current\n"
        else:
            text = "log verification failed:\n" + "".join(f"  {p}\n" for p in res["problems"])
        return Out(res, text, EXIT_OK if res["ok"] else EXIT_FAILED)
    events = run.store.read(a.after)
    text = table(("SEQ", "AT", "ACTOR", "EVENT", "DETAIL"), event_lines(events)) + "\n" if events else "no events\n"
    return Out({"events": [e.to_dict() for e in events]}, text)


def cmd_show(run: Run, a: argparse.Namespace) -> Out:
    data = run.engine.task(a.task)
    t = run.engine.state.tasks[a.task]
    data["sla"] = sla_of(run.model, t, run.now)
    events = [e for e in run.store.read(0) if e.data.get("task") == a.task]
    lines = [f"{t.id}  {t.title}"]
    if t.description:
        lines.append(f"  {t.description}")
    lines += [f"  done when: {c}" for c in t.acceptance_criteria]
    lines += [f"  instruction {t.instruction}, {t.kind}, domain {t.domain}, tier {t.tier}, {t.complexity}, "
             f"priority {t.priority}",
             f"  state {t.state} (visit {t.visit}) since {iso(t.entered_at)}; SLA {_sla_text(data['sla'])}",
             f"  assignee {t.assignee or '-'}; estimate {estimate_text(t.estimate_hours, t.estimate_tokens)}; "
             f"tokens {fmt_tokens(t.tokens_total)}",
             f"  skills {', '.join(t.required_skills) or '-'}; nice {', '.join(t.nice_skills) or '-'}; "
             f"depends on {', '.join(t.dependencies) or '-'}; handoff to {t.handoff_to or '-'}",
             f"  attested {', '.join(sorted(t.attested)) or '-'}; gate decisions this visit "
             f"{', '.join(f'{g}={o}' for g, o in t.decisions.items()) or '-'}",
             "", table(("SEQ", "AT", "ACTOR", "EVENT", "DETAIL"), event_lines(events))]
    data["events"] = [e.to_dict() for e in events]
    return Out(data, "\n".join(lines) + "\n")


def cmd_record(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    record = run.engine.record_clarification if a.kind == "clarification" else run.engine.record_defect
    record(a.as_, a.task, a.note)
    return _events_out(run, before, f"recorded a {a.kind} on {a.task}")


def cmd_reassign(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    run.engine.reassign(a.as_, a.task, a.to)
    return _events_out(run, before, f"reassigned {a.task}")


def cmd_handoff(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    e = run.engine
    if a.handoff_cmd == "create":
        hid = e.create_handoff(a.as_, a.task, a.to, a.summary or "", _split(a.artifact))
        out = _events_out(run, before, f"created handoff {hid}")
        out.data["handoff"] = hid
        return out
    if a.handoff_cmd == "tick":
        for item in a.items:
            e.tick_handoff(a.as_, a.handoff, item)
        return _events_out(run, before, f"ticked {len(a.items)} item(s) of {a.handoff}")
    if a.handoff_cmd == "accept":
        e.accept_handoff(a.as_, a.handoff, attest=_split(a.attest))
        return _events_out(run, before, f"accepted {a.handoff}")
    e.reject_handoff(a.as_, a.handoff, a.reason, attest=_split(a.attest))
    return _events_out(run, before, f"rejected {a.handoff}")


def cmd_delegate(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    did = run.engine.delegate(a.as_, a.to, a.subject, a.message or "", a.priority, a.instruction, a.task)
    out = _events_out(run, before, f"delegated {did} to {a.to}")
    out.data["delegation"] = did
    return out


def cmd_ack(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    run.engine.acknowledge(a.as_, a.delegation, not a.decline, a.notes or "")
    return _events_out(run, before, f"{'declined' if a.decline else 'accepted'} {a.delegation}")


def cmd_consult(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    cid = run.engine.consult(a.as_, a.consultation, a.question, a.instruction, a.task)
    out = _events_out(run, before, f"asked {cid} ({a.consultation})")
    out.data["consultation"] = cid
    return out


def cmd_answer(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    run.engine.answer_consultation(a.as_, a.consultation, a.answer)
    return _events_out(run, before, f"answered {a.consultation}")


def cmd_broadcast(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    run.engine.broadcast(a.as_, a.channel, a.kind, a.priority, a.subject, a.message or "")
    return _events_out(run, before, f"broadcast on {a.channel}")


def cmd_standup(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    if a.standup_cmd == "schedule":
        run.engine.schedule_standups(a.as_, a.names or None)
        return _events_out(run, before, "standups scheduled")
    run.engine.generate_standups()
    return _events_out(run, before, "standups generated")


def cmd_instruction(run: Run, a: argparse.Namespace) -> Out:
    before = run.store.last_seq()
    e = run.engine
    if a.instruction_cmd == "stage":
        e.run_stage(a.as_, a.instruction, a.stage)
        return _events_out(run, before, f"stage {a.stage} of {a.instruction} ran")
    if a.instruction_cmd == "gate":
        e.decide_instruction_gate(a.as_, a.instruction, a.gate, a.outcome, scores=_kv(a.score, "score", int))
        return _events_out(run, before, f"decided {a.gate} on {a.instruction}")
    if a.instruction_cmd == "close":
        e.close_instruction(a.as_, a.instruction)
        return _events_out(run, before, f"closed {a.instruction}")
    data = e.instruction(a.instruction)
    return Out(data, json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n")


def cmd_report(run: Run, a: argparse.Namespace) -> Out:
    from .report import build_report, render_report

    rep = build_report(run.engine)
    return Out(rep, render_report(rep))


# -- argument parsing -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _common(p: argparse.ArgumentParser, top: bool = False) -> None:
    default = None if top else argparse.SUPPRESS
    p.add_argument("--dir", default=default, metavar="DIR",
                   help=f"the run directory (default: $ORCHDSL_RUN_DIR or {DEFAULT_DIR})")
    p.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="print JSON for scripts and agents")


def _as(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="as_", default=os.environ.get("ORCHDSL_AS"), metavar="AGENT",
                   help="the agent acting (default: $ORCHDSL_AS)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="orchdsl run", description="Run a compiled organisation on a run directory.",
                epilog="Play a scripted scenario: orchdsl run SPEC.orch --scenario FILE.yaml [--dir DIR] [--json]. "
                       "Exit codes: 0 done, 1 refused (code and reason on stderr) or a failed check, 2 usage.")
    _common(p, top=True)
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help, description=help)
        _common(s)
        return s

    s = add("init", "start a run for a compiled model (`orchdsl run init SPEC.orch` compiles first)")
    s.add_argument("model", metavar="MODEL_JSON")
    s.add_argument("--virtual-clock", nargs="?", const=DEFAULT_START, default=None, metavar="START_ISO",
                   help=f"run on a virtual clock starting at START_ISO (default {DEFAULT_START})")
    s.add_argument("--force", action="store_true", help="discard an existing run in DIR")

    s = add("submit", "submit an instruction")
    _as(s)
    s.add_argument("--tier", type=int, required=True)
    s.add_argument("--id")
    s.add_argument("text", nargs="+")

    t = add("task", "create tasks")
    tsub = t.add_subparsers(dest="task_cmd", metavar="create", parser_class=_Parser, required=True)
    s = tsub.add_parser("create", help="create a task of an instruction")
    _common(s)
    _as(s)
    s.add_argument("--instruction", required=True)
    s.add_argument("--kind", choices=("strategic", "tactical"), default="tactical")
    s.add_argument("--domain", required=True)
    s.add_argument("--title", required=True)
    s.add_argument("--description", help="what the work is, in a sentence or a paragraph")
    s.add_argument("--criterion", action="append", metavar="TEXT",
                   help="an acceptance criterion (repeat for each)")
    s.add_argument("--skills", action="append", metavar="SKILL[,SKILL]")
    s.add_argument("--nice", action="append", metavar="SKILL[,SKILL]")
    s.add_argument("--complexity", default="moderate")
    s.add_argument("--priority", default="normal")
    s.add_argument("--estimate", action="append", metavar="6h|50K")
    s.add_argument("--depends", action="append", metavar="TASK")
    s.add_argument("--parent", metavar="ST")
    s.add_argument("--handoff-to", metavar="DOMAIN")
    s.add_argument("--id", help="the task id (default: ST{n} or TT{st}.{n})")

    s = add("assign", "assign a task (automatically, or --to an agent)")
    _as(s)
    s.add_argument("task")
    s.add_argument("--to", metavar="AGENT")

    s = add("move", "move a task to a state")
    _as(s)
    s.add_argument("task")
    s.add_argument("state")
    s.add_argument("--attest", action="append", metavar="ITEM")

    s = add("heartbeat", "report progress on a task")
    _as(s)
    s.add_argument("task")
    s.add_argument("--tokens", metavar="N", help="tokens spent since the last report (12000, 12K)")
    s.add_argument("--note")
    s.add_argument("--remaining", metavar="DURATION", help="remaining estimate, e.g. 3h")
    s.add_argument("--actual", metavar="DURATION", help="hours worked on the task so far, e.g. 5h")

    s = add("reassign", "move an assigned task to another member (the domain lead)")
    _as(s)
    s.add_argument("task")
    s.add_argument("--to", metavar="AGENT")

    h = add("handoff", "hand a task to another domain: create, tick, accept, reject")
    hsub = h.add_subparsers(dest="handoff_cmd", metavar="create|tick|accept|reject", parser_class=_Parser,
                            required=True)
    s = hsub.add_parser("create", help="the task's domain lead hands it over")
    _common(s)
    _as(s)
    s.add_argument("task")
    s.add_argument("--to", metavar="DOMAIN")
    s.add_argument("--summary")
    s.add_argument("--artifact", action="append", metavar="NAME")
    s = hsub.add_parser("tick", help="tick checklist items")
    _common(s)
    _as(s)
    s.add_argument("handoff")
    s.add_argument("items", nargs="+", metavar="ITEM")
    for verb in ("accept", "reject"):
        s = hsub.add_parser(verb, help=f"the acceptor {verb}s the handoff")
        _common(s)
        _as(s)
        s.add_argument("handoff")
        s.add_argument("--attest", action="append", metavar="ITEM")
        if verb == "reject":
            s.add_argument("--reason", required=True)

    s = add("delegate", "delegate work one hop down the chain")
    _as(s)
    s.add_argument("--to", required=True, metavar="AGENT")
    s.add_argument("--subject", required=True)
    s.add_argument("--message")
    s.add_argument("--priority", default="normal")
    s.add_argument("--instruction")
    s.add_argument("--task")
    s = add("ack", "acknowledge a delegation (accept, or --decline)")
    _as(s)
    s.add_argument("delegation")
    s.add_argument("--decline", action="store_true")
    s.add_argument("--notes")

    s = add("consult", "ask a declared consultation (its `to` actor answers)")
    _as(s)
    s.add_argument("consultation", metavar="NAME")
    s.add_argument("--question", required=True)
    s.add_argument("--instruction")
    s.add_argument("--task")
    s = add("answer", "answer an open consultation")
    _as(s)
    s.add_argument("consultation", metavar="ID")
    s.add_argument("--answer", required=True)

    s = add("broadcast", "send an announcement to a channel")
    _as(s)
    s.add_argument("channel")
    s.add_argument("--kind", required=True)
    s.add_argument("--priority", default="normal")
    s.add_argument("--subject", required=True)
    s.add_argument("--message")

    su = add("standup", "standups: schedule their cadence, or generate the reports now")
    ssub = su.add_subparsers(dest="standup_cmd", metavar="schedule|generate", parser_class=_Parser, required=True)
    s = ssub.add_parser("schedule", help="start the cadence of standups (all by default)")
    _common(s)
    _as(s)
    s.add_argument("names", nargs="*", metavar="STANDUP")
    _common(ssub.add_parser("generate", help="every standup's reports now"))

    ins = add("instruction", "an instruction's flow: stages, stage gates (go/no-go), closing")
    isub = ins.add_subparsers(dest="instruction_cmd", metavar="stage|gate|close|show", parser_class=_Parser,
                              required=True)
    s = isub.add_parser("stage", help="record that a stage of the tier's flow ran")
    _common(s)
    _as(s)
    s.add_argument("instruction")
    s.add_argument("stage")
    s = isub.add_parser("gate", help="decide a stage gate (risk assessment, go/no-go)")
    _common(s)
    _as(s)
    s.add_argument("instruction")
    s.add_argument("gate")
    s.add_argument("outcome", nargs="?")
    s.add_argument("--score", action="append", metavar="CATEGORY=N")
    s = isub.add_parser("close", help="close the instruction")
    _common(s)
    _as(s)
    s.add_argument("instruction")
    s = isub.add_parser("show", help="the instruction's flow as data")
    _common(s)
    s.add_argument("instruction")

    s = add("gate", "record a gate decision")
    _as(s)
    s.add_argument("task")
    s.add_argument("gate")
    s.add_argument("outcome", nargs="?")
    s.add_argument("--score", action="append", metavar="CATEGORY=N")
    s.add_argument("--measure", action="append", metavar="CRITERION=X")

    c = add("clock", "show, advance or process the clock")
    csub = c.add_subparsers(dest="clock_cmd", metavar="advance|to|process|show", parser_class=_Parser,
                            required=True)
    for name, help in (("advance", "advance a virtual clock by a duration (4h, 1d)"),
                       ("to", "advance a virtual clock to a time (ISO 8601)")):
        s = csub.add_parser(name, help=help)
        _common(s)
        s.add_argument("amount")
    for name, help in (("process", "fire what is due now"), ("show", "print the time")):
        _common(csub.add_parser(name, help=help))

    add("status", "tasks by state, SLA clocks, escalations, utilisation")
    s = add("inbox", "an agent's inbox")
    s.add_argument("agent")
    s = add("log", "print (or --verify) the event log")
    s.add_argument("--verify", action="store_true")
    s.add_argument("--after", type=int, default=0, metavar="SEQ")
    s = add("show", "one task with its history")
    s.add_argument("task")
    s = add("record", "record a clarification or a defect on a task (for the success metrics)")
    _as(s)
    s.add_argument("kind", choices=RECORD_KINDS)
    s.add_argument("task")
    s.add_argument("--note")
    add("report", "the report: tasks per state, SLAs, escalations, utilisation, success metrics")
    s = add("scenario", "play a scenario on a compiled model (`orchdsl run SPEC --scenario FILE`)")
    s.add_argument("model", metavar="MODEL_JSON")
    s.add_argument("scenario", metavar="SCENARIO_YAML")
    s.add_argument("--quiet", action="store_true", help="print only the report")
    return p


COMMANDS: dict[str, Callable[[Run, argparse.Namespace], Out]] = {
    "submit": cmd_submit, "task": cmd_task_create, "assign": cmd_assign, "move": cmd_move,
    "heartbeat": cmd_heartbeat, "gate": cmd_gate, "clock": cmd_clock, "status": cmd_status,
    "inbox": cmd_inbox, "log": cmd_log, "show": cmd_show, "record": cmd_record, "report": cmd_report,
    "reassign": cmd_reassign, "handoff": cmd_handoff, "delegate": cmd_delegate, "ack": cmd_ack,
    "broadcast": cmd_broadcast, "standup": cmd_standup, "instruction": cmd_instruction,
    "consult": cmd_consult, "answer": cmd_answer,
}
ACTING = {"submit", "task", "assign", "move", "heartbeat", "gate", "record", "reassign", "handoff", "delegate",
          "ack", "broadcast", "consult", "answer"}
WRITING = ACTING | {"clock", "standup", "instruction"}


def _emit(out: Out, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(out.data, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(out.text)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = parser()
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(p.format_help())
        return EXIT_OK if argv else EXIT_USAGE
    try:
        a = p.parse_args(argv)
        return _dispatch(a)
    except UsageError as exc:
        sys.stderr.write(f"orchdsl run: {exc}\n")
        return EXIT_USAGE
    except BrokenLog as exc:
        sys.stderr.write(f"orchdsl run: {exc}\n")
        return EXIT_FAILED
    except SystemExit as exc:  # argparse --help
        return int(exc.code or 0)


def _dispatch(a: argparse.Namespace) -> int:
    directory = run_dir(a.dir)
    if a.cmd == "init":
        start = parse_time(a.virtual_clock) if a.virtual_clock else None
        run = Run.init(directory, Path(a.model), start, a.force)
        try:
            mode = f"virtual clock at {iso(start)}" if start is not None else "wall clock"
            data = {"dir": str(directory), "org": run.model.name, "clock": "virtual" if start is not None else "wall",
                    "now": run.now, "agents": len(run.model.agents)}
            _emit(Out(data, f"{directory}: run of {run.model.name} started ({mode}, "
                            f"{len(run.model.agents)} agents)\n"), a.json)
        finally:
            run.close()
        return EXIT_OK
    if a.cmd == "scenario":
        from .scenario import main_scenario

        return main_scenario(Path(a.model), Path(a.scenario), a.dir, a.json, a.quiet)
    if a.cmd is None:
        raise UsageError("give a command; see `orchdsl run --help`")
    if hasattr(a, "as_") and not a.as_:
        raise UsageError(f"`{a.cmd}` needs `--as AGENT` (or $ORCHDSL_AS)")
    run = Run.open(directory)
    try:
        if a.cmd in WRITING and not run.virtual:
            run.engine.process_clock()  # a wall clock: fire what fell due since the last command
        try:
            out = COMMANDS[a.cmd](run, a)
        except Refused as r:
            if a.json:
                sys.stdout.write(json.dumps({"refused": {"code": r.code, "name": r.name, "reason": r.reason}},
                                            sort_keys=True) + "\n")
            sys.stderr.write(f"refused: {r.code} {r.name}: {r.reason}\n")
            return EXIT_FAILED
        finally:
            if a.cmd in WRITING:
                run.save_clock()
                run.project()
        _emit(out, a.json)
        return out.code
    finally:
        run.close()
