"""Snapshots: the folded state kept in the store, so a process folds only the events after it.

In: an ``OrgState`` (``save``), or the store's snapshot and the model (``load``).
Out: the snapshot, or a state whose ``dump()`` equals that of the state saved,
ready for the events after its sequence number.

A snapshot is data only, in JSON: a header line (the format, the model's
digest, the sequence number, the size of each table and every small part of
the state), then one line per record of the large tables (tasks,
instructions, inboxes, handoffs, delegations, consultations): for each, a
line of the ids (tab-separated), then one line per record in that order; the
line of a task is ``state TAB json`` (of a handoff, delegation or consultation
``status TAB json``), so views find open work without decoding the rest. The lines go into the state's tables still encoded, and a record
is decoded, every field checked, the first time the engine uses it: opening a
state of 100,000 tasks reads and splits the text, then decodes only what the
command touches. Nothing is unpickled: records are built through their
constructors from checked values.

The store keeps the text with its checksum; a snapshot whose checksum, format,
model or sequence number does not match, or whose header does not decode, is
ignored and the log replayed from the start (``load`` returns None). A record
that does not decode when it is used raises ``SnapshotError``: the command line
then drops the snapshot and asks for the command again. Derived structures are
rebuilt: the ledger's running totals from its allocations, the timer heap from
the open timers (and the deadlines not planned yet), the escalations of each
task from their list.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from .bulk import collector_paused
from .model import Model
from .records import (
    Consultation,
    Delegation,
    Encoded,
    Handoff,
    Instruction,
    Launch,
    Message,
    Rationale,
    Table,
    Task,
    rationale_of,
)
from .state import PROTOCOL_TIMERS, OrgState

FORMAT = 2
"""the version of the snapshot format; a snapshot of another version is ignored"""
TABLES = ("tasks", "instructions", "inboxes", "handoffs", "delegations", "consultations")


class SnapshotError(ValueError):
    """A snapshot that cannot be used: damaged, of another format or model, or not this log's."""


@runtime_checkable
class SnapshotStore(Protocol):
    """A store that keeps the latest snapshot of the state beside the log."""

    def read_snapshot(self, format: int, digest: str) -> tuple[int, bytes, str] | None: ...

    def write_snapshot(self, format: int, digest: str, seq: int, data: bytes, checksum: str) -> None: ...

    def last_seq(self) -> int: ...


# -- checks ----------------------------------------------------------------------------------


def _bad(what: str, value: Any) -> SnapshotError:
    return SnapshotError(f"{what}: unexpected {type(value).__name__} {str(value)[:60]!r}")


def _str(v: Any) -> str:
    if type(v) is not str:
        raise _bad("a text", v)
    return v


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _int(v: Any) -> int:
    if type(v) is not int:
        raise _bad("a whole number", v)
    return v


def _num(v: Any) -> float:
    # ints stay ints: the state keeps numbers as the events gave them
    if type(v) is not float and type(v) is not int:
        raise _bad("a number", v)
    return v  # type: ignore[no-any-return]


def _opt_num(v: Any) -> float | None:
    return None if v is None else _num(v)


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise _bad("true or false", v)
    return v


def _strs(v: Any) -> tuple[str, ...]:
    if type(v) is not list or not all(type(x) is str for x in v):
        raise _bad("a list of texts", v)
    return tuple(v)


def _str_list(v: Any) -> list[str]:
    return list(_strs(v))


def _str_set(v: Any) -> set[str]:
    return set(_strs(v))


def _str_map(v: Any) -> dict[str, str]:
    if type(v) is not dict or not all(type(x) is str for x in v.values()):
        raise _bad("a mapping of texts", v)
    return v


def _num_map(v: Any) -> dict[str, float]:
    if type(v) is not dict or not all(type(x) in (int, float) for x in v.values()):
        raise _bad("a mapping of numbers", v)
    return v


def _history(v: Any) -> list[tuple[int, float, str, str]]:
    if type(v) is not list:
        raise _bad("a history", v)
    out = []
    for h in v:
        if type(h) is not list or len(h) != 4:
            raise _bad("a move", h)
        out.append((_int(h[0]), _num(h[1]), _str(h[2]), _str(h[3])))
    return out


def _assignment(v: Any) -> Rationale | None:
    if v is None:
        return None
    if type(v) is not dict or set(v) != {"mode", "agent", "score", "factors"}:
        raise _bad("an assignment", v)
    factors = v["factors"]
    return rationale_of(_str(v["mode"]), _str(v["agent"]), _opt_num(v["score"]),
                        None if factors is None else _num_map(factors))


NOTE = {"seq": _int, "at": _num, "by": _opt_str, "state": _str, "text": _str}
NOTE_PARTS = {"to": _str, "gate": _str, "outcome": _str}


def _notes(v: Any) -> tuple[dict[str, Any], ...]:
    """The notes of a task: each with its event, author, state and text, and its target
    (a move's) or gate and outcome (a decision's)."""
    notes = _entries(v, NOTE)
    for note in notes:
        for name, value in note.items():
            if name not in NOTE:
                if name not in NOTE_PARTS:
                    raise _bad("a part of a note", name)
                NOTE_PARTS[name](value)
    return tuple(notes)


def _entries(v: Any, required: Mapping[str, Callable[[Any], Any]]) -> list[dict[str, Any]]:
    """A list of JSON objects, each with the fields that readers of the list rely on."""
    if type(v) is not list:
        raise _bad("a list", v)
    for entry in v:
        if type(entry) is not dict:
            raise _bad("an entry", entry)
        for name, check in required.items():
            if name not in entry:
                raise SnapshotError(f"an entry without `{name}`")
            check(entry[name])
    return v


def _row(v: Any, size: int) -> list[Any]:
    if type(v) is not list or len(v) != size:
        raise _bad(f"a record of {size} fields", v)
    return v


# -- records ---------------------------------------------------------------------------------

TASK = (
    ("instruction", _str), ("kind", _str), ("domain", _str), ("title", _str), ("tier", _int),
    ("required_skills", _strs), ("nice_skills", _strs), ("complexity", _str), ("priority", _str),
    ("estimate_hours", _opt_num), ("estimate_tokens", _opt_num), ("dependencies", _strs), ("parent", _opt_str),
    ("handoff_to", _opt_str), ("created_at", _num), ("entered_at", _num), ("assignee", _opt_str), ("visit", _int),
    ("tokens_in_state", _num), ("tokens_total", _num), ("last_heartbeat", _opt_num), ("hb_due", _opt_num),
    ("attested", _str_set), ("decisions", _str_map), ("fired", _str_set), ("history", _history),
    ("skipped", lambda v: frozenset(_strs(v))), ("handoff", _opt_str), ("clarifications", _int), ("defects", _int),
    ("reassignments", _int), ("actual_hours", _opt_num), ("description", _str), ("acceptance_criteria", _strs),
    ("assignment", _assignment), ("labels", _strs), ("outputs", _strs), ("notes", _notes),
)
INSTRUCTION = (
    ("text", _str), ("tier", _int), ("by", _str), ("at", _num), ("tasks", _str_list), ("stages", _str_list),
    ("gate_decisions", _str_map), ("closed_at", _opt_num), ("closed_by", _opt_str),
)
HANDOFF = (
    ("task", _str), ("from_domain", _str), ("to_domain", _str), ("by", _str), ("at", _num), ("summary", _str),
    ("artifacts", _str_list), ("checklist", _str_list), ("accepted_by", _str), ("on_accept", _str),
    ("on_reject", _opt_str), ("ticked", _str_list), ("ticked_by", _str_map),
    ("decided_by", _opt_str), ("decided_at", _opt_num), ("reason", _opt_str),
)
DELEGATION = (
    ("sender", _str), ("to", _str), ("subject", _str), ("message", _str), ("priority", _str),
    ("instruction", _opt_str), ("task", _opt_str), ("at", _num), ("due", _opt_num),
    ("acknowledged_at", _opt_num), ("notes", _str), ("escalated", _bool), ("seq", _int),
    ("acknowledged_seq", lambda v: None if v is None else _int(v)),
)
CONSULTATION = (
    ("name", _str), ("asker", _str), ("to", _strs), ("question", _str), ("instruction", _opt_str),
    ("task", _opt_str), ("blocking", _bool), ("at", _num), ("due", _opt_num), ("default", _opt_str),
    ("answer", _opt_str), ("answered_by", _opt_str), ("answered_at", _opt_num), ("seq", _int),
    ("answered_seq", lambda v: None if v is None else _int(v)),
)
Fields = tuple[tuple[str, Callable[[Any], Any]], ...]
LAUNCH: Fields = (
    ("key", _str), ("agent", _str), ("kind", _str), ("what", _str), ("task", _opt_str), ("attempt", _int),
    ("at", _num), ("running", _bool), ("code", lambda v: None if v is None else _int(v)), ("reason", _opt_str),
    ("ended_at", _opt_num),
)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _json_ready(record: Any, fields: Fields = LAUNCH) -> list[Any]:
    # a task's assignment is written as its rationale (a mapping), the form `dump()` gives
    return [record.rationale() if name == "assignment" else _plain(getattr(record, name)) for name, _ in fields]


def _encode_record(record: Any, fields: Fields) -> str:
    return _json(_json_ready(record, fields))


def _decoder(cls: Callable[..., Any], fields: Fields) -> Callable[[str, str], Any]:
    names = [name for name, _ in fields]
    checks = [check for _, check in fields]

    def decode(key: str, text: str) -> Any:
        try:
            row = _row(json.loads(text), len(names))
            return cls(key, **{n: check(v) for n, check, v in zip(names, checks, row, strict=True)})
        except ValueError as exc:  # JSONDecodeError and SnapshotError alike
            raise SnapshotError(f"record `{key}` of the snapshot: {exc}") from exc

    return decode


def _tagged(decode: Callable[[str, str], Any], attr: str) -> Callable[[str, str], Any]:
    """A decoder of ``tag TAB json`` lines: the record from the json, its ``attr`` from the tag."""

    def decode_tagged(key: str, text: str) -> Any:
        tag, sep, rest = text.partition("\t")
        if not sep:
            raise SnapshotError(f"record `{key}` of the snapshot has no {attr}")
        record = decode(key, rest)
        setattr(record, attr, tag)
        return record

    return decode_tagged


def _task(key: str, **fields: Any) -> Task:
    return Task(key, state="", **fields)  # the state comes from the tag


def _decode_messages(key: str, text: str) -> list[Message]:
    try:
        rows = json.loads(text)
        if type(rows) is not list:
            raise _bad("an inbox", rows)
        return [Message(_int(r[0]), _num(r[1]), _str(r[2]), _opt_str(r[3]), _str(r[4]))
                for r in rows if _row(r, 5)]
    except ValueError as exc:
        raise SnapshotError(f"the inbox of `{key}` in the snapshot: {exc}") from exc


def _encode_messages(messages: list[Message]) -> str:
    return _json([[m.seq, m.at, m.type, m.task, m.text] for m in messages])


FIELDS: dict[str, Fields] = {"tasks": TASK, "instructions": INSTRUCTION, "handoffs": HANDOFF,
                             "delegations": DELEGATION, "consultations": CONSULTATION}
DECODERS: dict[str, Callable[[str, str], Any]] = {
    "tasks": _tagged(_decoder(_task, TASK), "state"),
    "instructions": _decoder(Instruction, INSTRUCTION),
    "inboxes": _decode_messages,
    "handoffs": _tagged(_decoder(Handoff, HANDOFF), "status"),
    "delegations": _tagged(_decoder(Delegation, DELEGATION), "status"),
    "consultations": _tagged(_decoder(Consultation, CONSULTATION), "status"),
}


def _encode_value(table: Table[Any], name: str, value: Any) -> str:
    """A table's value as its line: re-using what is still encoded; a table's tag first."""
    if type(value) is str:
        return value
    if type(value) is Encoded:
        tail = _encode_messages(value.tail)
        return tail if value.text == "[]" else f"{value.text[:-1]},{tail[1:]}"
    if name == "inboxes":
        return _encode_messages(value)
    text = _encode_record(value, FIELDS[name])
    return f"{getattr(value, table.tag)}\t{text}" if table.tag else text


# -- the state ---------------------------------------------------------------------------------

ESCALATION = {"seq": _int, "at": _num, "task": _str, "to": _strs, "reason": _str}
PROTOCOL_ESCALATION = {"seq": _int, "at": _num, "kind": _str, "to": _strs, "reason": _str}
BROADCAST = {"seq": _int, "at": _num, "channel": _str, "kind": _str, "priority": _str, "subject": _str, "to": _strs}
BAND_ENTRY = {"seq": _int, "at": _num, "domain": _str, "band": _str, "utilisation": _num, "to": _strs}
STANDUP = {"seq": _int, "at": _num, "standup": _str, "from": _str, "to": _strs}


def encode(state: OrgState) -> str:
    """The snapshot text of a state: its open timers as they stand, with the tasks and
    protocol deadlines still to plan."""
    header = {
        "format": FORMAT,
        "digest": state.model.digest,
        "seq": state.last_seq,
        "tables": {name: len(getattr(state, name)) for name in TABLES},
        "kind_counts": [[k, p, n] for (k, p), n in state.kind_counts.items()],
        "escalations": state.escalations,
        "protocol_escalations": state.protocol_escalations,
        "broadcasts": state.broadcasts,
        "band_entries": state.band_entries,
        "standups": state.standups,
        "strategic_dependents": state.strategic_dependents,
        "consumers": state.consumers,
        "waiting": [[a, s, c] for (a, s), c in state.waiting.items()],
        "domain_band": state.domain_band,
        "domain_above": state.domain_above,
        "domain_escalated": sorted(state.domain_escalated),
        "assignment_count": state.assignment_count,
        "reassignment_count": state.reassignment_count,
        "standup_origin": state.standup_origin,
        "standup_last": state.standup_last,
        "launches": [_json_ready(launch) for launch in state.launches.values()],
        "allocations": [[a.task, a.agent, a.remaining, a.due] for a in state.ledger.in_commit_order()],
        "timers": [[due, *key] for due, key in state.timers.items()],
        "to_plan": sorted(state._dirty),
        "protocols_to_plan": sorted([kind, ident] for kind, ident in state._dirty_protocol),
    }
    lines = [_json(header)]
    for name in TABLES:
        table: Table[Any] = getattr(state, name)
        if table:
            lines.append("\t".join(table))
            lines += [_encode_value(table, name, table.raw(key)) for key in table]
    return "\n".join(lines)


def decode(model: Model, text: str) -> OrgState:
    """The state a snapshot holds; ``SnapshotError`` when it is not usable with this model."""
    lines = text.split("\n")
    try:
        header = json.loads(lines[0])
    except ValueError as exc:
        raise SnapshotError(f"the snapshot's header does not decode: {exc}") from exc
    if type(header) is not dict or header.get("format") != FORMAT:
        raise SnapshotError("the snapshot is of another format")
    if header.get("digest") != model.digest:
        raise SnapshotError("the snapshot is of another model")
    try:
        return _restore(model, header, lines)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        if isinstance(exc, SnapshotError):
            raise
        raise SnapshotError(f"the snapshot's header is damaged: {type(exc).__name__}: {exc}") from exc


def _restore(model: Model, h: dict[str, Any], lines: list[str]) -> OrgState:
    state = OrgState(model)
    state.last_seq = _int(h["seq"])
    sizes = h["tables"]
    if type(sizes) is not dict or list(sizes) != list(TABLES):
        raise SnapshotError("the snapshot's tables are not this format's")
    start = 1
    for name in TABLES:
        table: Table[Any] = getattr(state, name)
        table.decode = DECODERS[name]
        n = _int(sizes[name])
        if not n:
            continue
        keys = lines[start].split("\t") if start < len(lines) else []
        values = lines[start + 1:start + 1 + n]
        if len(keys) != n or len(values) != n:
            raise SnapshotError("the snapshot is cut short")
        table.load(zip(keys, values, strict=True))
        if len(table) != n:
            raise SnapshotError(f"the snapshot's {name} repeat an id")
        start += 1 + n
    if start != len(lines):
        raise SnapshotError("the snapshot has lines past its tables")
    for k, parent, n in h["kind_counts"]:
        state.kind_counts[(_str(k), _opt_str(parent))] = _int(n)
        state.kind_totals[k] = state.kind_totals.get(k, 0) + n
    state.escalations = _entries(h["escalations"], ESCALATION)
    for entry in state.escalations:
        state.escalations_by_task.setdefault(entry["task"], []).append(entry)
    state.protocol_escalations = _entries(h["protocol_escalations"], PROTOCOL_ESCALATION)
    state.broadcasts = _entries(h["broadcasts"], BROADCAST)
    state.band_entries = _entries(h["band_entries"], BAND_ENTRY)
    state.standups = _entries(h["standups"], STANDUP)
    deps = h["strategic_dependents"]
    if type(deps) is not dict:
        raise _bad("the strategic dependents", deps)
    state.strategic_dependents = {_str(k): _str_list(v) for k, v in deps.items()}
    consumers = h["consumers"]
    if type(consumers) is not dict:
        raise _bad("the consumers of outputs", consumers)
    state.consumers = {_str(k): _str_list(v) for k, v in consumers.items()}
    state.waiting = {(_str(a), _str(s)): _str(c) for a, s, c in h["waiting"]}
    state.domain_band = _str_map(h["domain_band"])
    state.domain_above = _num_map(h["domain_above"])
    state.domain_escalated = _str_set(h["domain_escalated"])
    state.assignment_count = _int(h["assignment_count"])
    state.reassignment_count = _int(h["reassignment_count"])
    state.standup_origin = _num_map(h["standup_origin"])
    state.standup_last = _num_map(h["standup_last"])
    for row in h["launches"]:
        fields: list[Any] = [check(v) for (_, check), v in zip(LAUNCH, _row(row, len(LAUNCH)), strict=True)]
        launch = Launch(*fields)
        state.launches[launch.key] = launch
    allocations = []
    for task, agent, remaining, due in h["allocations"]:
        if _str(task) not in state.tasks:
            raise SnapshotError(f"an allocation of the unknown task `{task}`")
        allocations.append((task, _str(agent), _num(remaining), _opt_num(due)))
    state.ledger.restore(allocations)
    timers: list[tuple[float, tuple[str, ...]]] = []
    for item in h["timers"]:
        if type(item) is not list or len(item) not in (2, 3):
            raise _bad("a timer", item)
        key = tuple(_str(k) for k in item[1:])
        if (len(key) == 1 and key[0] not in state.tasks) or (len(key) == 2 and key[0] not in PROTOCOL_TIMERS):
            raise _bad("a timer", item)
        timers.append((_num(item[0]), key))
    state.timers.push_many(timers)
    for tid in _strs(h["to_plan"]):
        if tid not in state.tasks:
            raise SnapshotError(f"a deadline of the unknown task `{tid}`")
        state._dirty.add(tid)
    for item in h["protocols_to_plan"]:
        kind, ident = _strs(item)
        if kind not in PROTOCOL_TIMERS:
            raise _bad("a protocol deadline", item)
        state._dirty_protocol.add((kind, ident))
    return state


# -- the store ---------------------------------------------------------------------------------


def checksum(data: bytes) -> str:
    """What the store keeps beside a snapshot to tell a damaged one (a CRC-32: damage, not
    forgery, is what it detects; whoever can rewrite the store can rewrite the log)."""
    return f"crc32:{zlib.crc32(data):08x}"


def save(store: SnapshotStore, state: OrgState) -> int:
    """Keep a snapshot of ``state`` in the store; returns its size in bytes."""
    data = encode(state).encode("utf-8")
    store.write_snapshot(FORMAT, state.model.digest, state.last_seq, data, checksum(data))
    return len(data)


def load(store: object, model: Model, upto: int | None = None) -> OrgState | None:
    """The state of the store's snapshot, or None when there is none it can use: none kept,
    damaged, of another format or model, past the end of the log, or past ``upto``."""
    if not isinstance(store, SnapshotStore):
        return None
    found = store.read_snapshot(FORMAT, model.digest)
    if found is None:
        return None
    seq, data, kept_checksum = found
    if seq > store.last_seq() or (upto is not None and seq > upto):
        return None
    if checksum(data) != kept_checksum:
        return None
    try:
        with collector_paused():  # many small objects at once: no collection should scan them
            state = decode(model, data.decode("utf-8"))
    except (SnapshotError, UnicodeDecodeError):
        return None
    return state if state.last_seq == seq else None
