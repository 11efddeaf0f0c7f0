"""Scenarios: a scripted run of an organisation on a virtual clock.

In: a scenario YAML file (validated against ``scenario.schema.json``; every
error is located at the offending YAML node, ``file:line:col``) and a compiled
model. Out: a narrated run (each step and the events it caused), the checks of
its ``expect`` and ``expect_refused`` clauses, a verified event log and the
final report (``report.py``). Steps use the vocabulary of ``orchdsl run``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from .context import HUMAN
from .contract.commands import BY_STEP, Command, Param, arguments_schema, param_schema
from .errors import Refused
from .invoke import ArgumentError, convert, invoke
from .report import build_report, render_report
from .rundir import DEFAULT_START, Run, UsageError, verify
from .timefmt import iso
from .views import describe

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STEP_COMMANDS: dict[str, Command] = {
    key: c for key, c in BY_STEP.items() if not c.view and c.name not in ("clock_advance", "clock_to")
}
"""a step's command key -> its command (the clock moves with a step's `at` and `advance`)"""
_TIME = Param("at", "time", "")
_DURATION = Param("advance", "seconds", "")

Path_ = tuple[str | int, ...]


@dataclass
class Located:
    """A problem at a place in the scenario file."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ScenarioError(Exception):
    def __init__(self, problems: list[Located]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass
class Scenario:
    file: str
    data: dict[str, Any]
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of the node at ``path`` (or its key), else its nearest parent."""
        p = tuple(path)
        while True:
            if key and p in self.key_marks:
                return self.key_marks[p]
            if p in self.marks:
                return self.marks[p]
            if not p:
                return (1, 1)
            p = p[:-1]

    def at(self, path: Path_, message: str, key: bool = False) -> Located:
        line, col = self.where(path, key)
        return Located(self.file, line, col, message)

    @property
    def steps(self) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = self.data["steps"]
        return steps


def schema() -> dict[str, Any]:
    """The JSON Schema of a scenario, its steps generated from the command table."""
    time = param_schema(_TIME)
    step_props: dict[str, Any] = {
        "say": {"type": "string", "description": "a line of narration"},
        "at": {**time, "description": "move the virtual clock to this time first"},
        "advance": {**param_schema(_DURATION), "description": "move the virtual clock by this much first"},
    }
    for key, c in STEP_COMMANDS.items():
        args = arguments_schema(c, acting_as=True)
        cmd: dict[str, Any] = {**args, "description": c.summary}
        step_props[key] = {"anyOf": [cmd, {"type": ["boolean", "null"]}]} if not c.params else cmd
    step_props["expect_refused"] = {"anyOf": [
        {"type": "string", "pattern": "^RUN[0-9]{3}$"},
        {"type": "object", "properties": {"code": {"type": "string", "pattern": "^RUN[0-9]{3}$"},
                                          "reason_contains": {"type": "string"}},
         "required": ["code"], "additionalProperties": False},
    ]}
    counts = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    step_props["expect"] = {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
        "state": {"type": "object", "additionalProperties": {"type": "string"}},
        "assignee": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        "escalations": {"type": "integer", "minimum": 0},
        "events": counts,
        "inbox": counts,
        "inbox_contains": {"type": "object", "additionalProperties": {"type": "string"}},
        "band": {"type": "object", "additionalProperties": {"type": "string"}},
        "metrics": {"type": "object", "additionalProperties": {"enum": ["met", "missed", "no data"]}},
    }}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://orchdsl.dev/schemas/scenario.schema.json",
        "title": "orchdsl scenario",
        "description": "A scripted run of an organisation on a virtual clock: a list of steps, each one command "
                       "of `orchdsl run` (with optional time, narration and expectations).",
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "start": {**time, "description": f"the virtual clock's start (default {DEFAULT_START}, a Monday)"},
            "steps": {"type": "array", "minItems": 1, "items": {
                "type": "object", "minProperties": 1, "properties": step_props, "additionalProperties": False,
                "description": "at most one command; `at`/`advance` move the clock first; `expect_refused` and "
                               "`expect` check the result",
            }},
        },
        "required": ["name", "steps"],
        "additionalProperties": False,
    }


def _marks(node: yaml.Node, path: Path_, marks: dict[Path_, tuple[int, int]],
           key_marks: dict[Path_, tuple[int, int]]) -> None:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            sub = (*path, str(k.value))
            key_marks[sub] = (k.start_mark.line + 1, k.start_mark.column + 1)
            _marks(v, sub, marks, key_marks)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _marks(v, (*path, i), marks, key_marks)


MAX_VALUES = 100_000
"""the most values a scenario may hold once its aliases are expanded"""


def _bounded(root: yaml.Node, name: str) -> None:
    """Refuse a document whose aliases would expand it past ``MAX_VALUES`` values (a "billion
    laughs" of nested aliases) or that refers to itself; counted on the composed nodes, each
    node once, without expanding anything."""
    size: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        key = id(node)
        kids = _children(node)
        if closing:
            open_.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            if size[key] > MAX_VALUES:
                line, col = node.start_mark.line + 1, node.start_mark.column + 1
                raise ScenarioError([Located(name, line, col, f"error: this value expands to more than "
                                             f"{MAX_VALUES} values through its aliases")])
            continue
        if key in size:
            continue
        open_.add(key)
        stack.append((node, True))
        for k in kids:
            if id(k) in open_:
                line, col = k.start_mark.line + 1, k.start_mark.column + 1
                raise ScenarioError([Located(name, line, col, "error: an alias refers to a value that holds it")])
            if id(k) not in size:
                stack.append((k, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def load(path: Path) -> Scenario:
    """Read and validate a scenario; ``ScenarioError`` lists every problem with its place."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the scenario `{path}`: {exc.strerror or exc}") from exc
    return loads(text, name)


def loads(text: str, name: str = "<scenario>") -> Scenario:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        node = yaml.compose(text, Loader=loader)
        if node is not None:
            _bounded(node, name)
        data = yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ScenarioError([Located(name, line, col, f"error: invalid YAML: {exc.problem or exc}")]) from None
    except RecursionError:
        raise ScenarioError([Located(name, 1, 1, "error: the YAML is nested too deeply")]) from None
    sc = Scenario(name, data if isinstance(data, dict) else {})
    if node is not None:
        _marks(node, (), sc.marks, sc.key_marks)
    if not isinstance(data, dict):
        raise ScenarioError([sc.at((), "error: a scenario is a mapping with `name` and `steps`")])
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    problems = sorted((_located(sc, err) for err in validator.iter_errors(data)), key=lambda p: (p.line, p.col))
    if not problems:
        for i, step in enumerate(data["steps"]):
            cmds = [k for k in step if k in STEP_COMMANDS]
            if len(cmds) > 1:
                problems.append(sc.at(("steps", i, cmds[1]), f"error: a step has one command; this one has "
                                      f"{', '.join(f'`{c}`' for c in cmds)}", key=True))
            if "expect_refused" in step and not cmds:
                problems.append(sc.at(("steps", i, "expect_refused"), "error: `expect_refused` needs a command "
                                      "in the same step", key=True))
            if "at" in step and "advance" in step:
                problems.append(sc.at(("steps", i, "advance"), "error: give `at` or `advance`, not both", key=True))
    if problems:
        raise ScenarioError(problems)
    return sc


def _located(sc: Scenario, err: Any) -> Located:
    path = tuple(err.absolute_path)
    v = err.validator
    if v == "additionalProperties":
        allowed = set(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            hint = f"; expected one of {', '.join(f'`{k}`' for k in sorted(allowed))}" if allowed else ""
            return sc.at((*path, extra[0]), f"error: unknown key `{extra[0]}`{hint}", key=True)
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return sc.at(path, f"error: missing key `{missing}`")
    if v in ("anyOf", "oneOf") and err.context:
        best = min(err.context, key=lambda e: len(list(e.absolute_path)) * -1)
        return _located(sc, best)
    if v == "pattern":
        return sc.at(path, f"error: `{err.instance}` does not match the expected form `{err.validator_value}`")
    if v == "enum":
        return sc.at(path, f"error: `{err.instance}` is not one of "
                     f"{', '.join(f'`{x}`' for x in err.validator_value)}")
    if v == "type":
        return sc.at(path, f"error: expected {err.validator_value}, got `{err.instance!r}`")
    return sc.at(path, f"error: {err.message}")


# -- playing -------------------------------------------------------------------------------------


def _list(x: Any) -> list[str]:
    if x is None:
        return []
    return [str(i) for i in x] if isinstance(x, list) else [str(x)]


class Failed(Exception):
    pass


class Player:
    def __init__(self, run: Run, sc: Scenario, out: TextIO, quiet: bool = False) -> None:
        self.run, self.sc, self.out, self.quiet = run, sc, out, quiet
        self.failures: list[Located] = []

    def say(self, text: str) -> None:
        if not self.quiet:
            self.out.write(text + "\n")

    def play(self) -> list[Located]:
        """Play the steps in order; stop after the first step that failed."""
        for i, step in enumerate(self.sc.steps):
            self.step(i, step)
            if self.failures:
                rest = len(self.sc.steps) - i - 1
                if rest:
                    self.say(f"    stopped: {rest} step(s) not played")
                break
        return self.failures

    def step(self, i: int, step: Mapping[str, Any]) -> None:
        run = self.run
        before = run.store.last_seq()
        if "say" in step:
            self.say(f"\n  {step['say']}")
        cmd = next((k for k in step if k in STEP_COMMANDS), None)
        if "at" in step or "advance" in step:
            t = convert(_TIME, step["at"]) if "at" in step else run.now + convert(_DURATION, step["advance"])
            if t < run.now:
                self.fail(("steps", i, "at"), f"`at` {step['at']} is before the clock ({iso(run.now)})")
                return
            try:
                run.engine.advance(t - run.now)
            except Refused as r:
                self.fail(("steps", i, "at" if "at" in step else "advance"), f"{r.code} {r.name}: {r.reason}")
                return
            before = self.print_events(before)  # what the clock fired, before the command
        if cmd is not None:
            args = step[cmd] if isinstance(step[cmd], dict) else {}
            refused = step.get("expect_refused")
            who = f"    {iso(run.now)}  {str(args.get('as', HUMAN)):<21}"
            try:
                self.command(cmd, args)
            except ArgumentError as exc:
                self.fail(("steps", i, cmd, exc.param), str(exc))
                return
            except Refused as r:
                if refused is None:
                    self.fail(("steps", i, cmd), f"`{cmd}` was refused: {r.code} {r.name}: {r.reason}", key=True)
                else:
                    want = refused if isinstance(refused, str) else refused["code"]
                    contains = None if isinstance(refused, str) else refused.get("reason_contains")
                    if r.code != want:
                        self.fail(("steps", i, "expect_refused"), f"expected refusal {want}, got {r.code} "
                                  f"{r.name}: {r.reason}")
                    elif contains and contains not in r.reason:
                        self.fail(("steps", i, "expect_refused"), f"the reason does not mention `{contains}`: "
                                  f"{r.reason}")
                    else:
                        self.say(f"{who} REFUSED {cmd} (as expected): {r.code} {r.name}: {r.reason}")
            else:
                if refused is not None:
                    want = refused if isinstance(refused, str) else refused["code"]
                    self.fail(("steps", i, "expect_refused"), f"expected refusal {want}, but `{cmd}` was accepted")
        self.print_events(before)
        if cmd is None and ("at" in step or "advance" in step):
            self.say(f"    {iso(run.now)}  {'(clock)':<21} it is now {iso(run.now)}")
        run.project()
        if "expect" in step:
            self.expect(i, step["expect"])

    def print_events(self, after: int) -> int:
        """Print the events after seq ``after``; returns the last seq."""
        events = self.run.store.read(after)
        for e in events:
            self.say(f"    {iso(e.at)}  {e.actor or '(clock)':<21} {describe(e)}")
        return events[-1].seq if events else after

    def fail(self, path: tuple[str | int, ...], message: str, key: bool = False) -> None:
        loc = self.sc.at(path, f"error: {message}", key=key)
        self.failures.append(loc)
        self.say(f"    FAILED {loc}")

    def command(self, key: str, a: Mapping[str, Any]) -> None:
        """Run a step's command through the command table."""
        values = {k: v for k, v in a.items() if k != "as"}
        invoke(self.run.engine, STEP_COMMANDS[key], str(a.get("as", HUMAN)), values)

    def expect(self, i: int, ex: Mapping[str, Any]) -> None:
        run = self.run
        run.engine.refresh()
        state = run.engine.state
        base = ("steps", i, "expect")
        checked = []
        failed = len(self.failures)
        for tid, want in (ex.get("state") or {}).items():
            t = state.tasks.get(tid)
            got = t.state if t else None
            if got != want:
                self.fail((*base, "state", tid), f"expected `{tid}` in `{want}`, it is in `{got}`")
            checked.append(f"{tid} {want}")
        for tid, want in (ex.get("assignee") or {}).items():
            t = state.tasks.get(tid)
            got = t.assignee if t else None
            if got != want:
                self.fail((*base, "assignee", tid), f"expected `{tid}` assigned to `{want}`, it is `{got}`")
            checked.append(f"{tid} assigned to {want}")
        if "escalations" in ex:
            got_n = len(state.escalations)
            if got_n != ex["escalations"]:
                self.fail((*base, "escalations"), f"expected {ex['escalations']} escalation(s), there are {got_n}")
            checked.append(f"{ex['escalations']} escalation(s)")
        if ex.get("events"):
            counts: dict[str, int] = {}
            for ev in run.store.read(0):
                counts[ev.type] = counts.get(ev.type, 0) + 1
            for typ, n in ex["events"].items():
                if counts.get(typ, 0) != n:
                    self.fail((*base, "events", typ), f"expected {n} `{typ}` event(s), there are {counts.get(typ, 0)}")
                checked.append(f"{n} {typ}")
        for agent, n in (ex.get("inbox") or {}).items():
            got_n = len(state.inboxes.get(agent, ()))
            if got_n != n:
                self.fail((*base, "inbox", agent), f"expected {n} message(s) for `{agent}`, there are {got_n}")
            checked.append(f"{agent} has {n} message(s)")
        for agent, text in (ex.get("inbox_contains") or {}).items():
            if not any(text in m.text for m in state.inboxes.get(agent, ())):
                self.fail((*base, "inbox_contains", agent), f"no message for `{agent}` mentions `{text}`")
            checked.append(f"{agent} told `{text}`")
        for domain, want in (ex.get("band") or {}).items():
            band = state.ledger.band(state.ledger.domain_utilisation(domain))
            got = band.name if band else None
            if got != want:
                util = state.ledger.domain_utilisation(domain)
                self.fail((*base, "band", domain), f"expected `{domain}` in band `{want}`, it is in `{got}` "
                          f"({util:.0%})")
            checked.append(f"{domain} {want}")
        if ex.get("metrics"):
            rep = build_report(run.engine)
            by_name = {m["name"]: m for m in rep["metrics"]}
            for name, want in ex["metrics"].items():
                m = by_name.get(name)
                got = m["status"] if m else "undeclared"
                if got != want:
                    self.fail((*base, "metrics", name), f"expected metric `{name}` {want}, it is {got}")
                checked.append(f"{name} {want}")
        if checked and len(self.failures) == failed:
            self.say(f"{'':<48}ok: {'; '.join(checked)}")


def play_file(model_path: Path, scenario_path: Path, directory: Path, out: TextIO, quiet: bool = False,
              sc: Scenario | None = None) -> tuple[Run, list[Located], dict[str, Any]]:
    """Play a scenario in a fresh run directory; returns the run, the failures and the report."""
    sc = sc or load(scenario_path)
    start = convert(_TIME, sc.data.get("start") or DEFAULT_START)
    run = Run.init(directory, model_path, start, force=True)
    if not quiet:
        out.write(f"Scenario: {sc.data['name']}\n")
        if sc.data.get("description"):
            out.write("  " + " ".join(str(sc.data["description"]).split()) + "\n")
        out.write(f"  {run.model.name} on a virtual clock from {iso(run.now)}\n")
    failures = Player(run, sc, out, quiet).play()
    checked = verify(run)
    if not checked["ok"]:
        failures += [Located(sc.file, 1, 1, f"error: {p}") for p in checked["problems"]]
    rep = build_report(run.engine)
    rep["scenario"] = {"name": sc.data["name"], "file": sc.file, "steps": len(sc.steps),
                       "failures": [str(f) for f in failures], "log_verified": checked["ok"]}
    return run, failures, rep


def main_scenario(model_path: Path, scenario_path: Path, directory: str | None, as_json: bool,
                  quiet: bool) -> int:
    try:
        sc = load(scenario_path)
    except ScenarioError as exc:
        for p in exc.problems:
            sys.stderr.write(f"{p}\n")
        return EXIT_USAGE
    tmp = None
    if directory is None:
        tmp = tempfile.TemporaryDirectory(prefix="orchdsl-scenario-")
        directory = tmp.name
    try:
        out = sys.stderr if as_json else sys.stdout
        run, failures, rep = play_file(model_path, scenario_path, Path(directory), out, quiet or as_json, sc)
        try:
            if as_json:
                sys.stdout.write(json.dumps(rep, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
            else:
                verdict = (f"log verified ({rep['events']} events); "
                           + ("every expectation held" if not failures else f"{len(failures)} failure(s)"))
                sys.stdout.write("\n" + render_report(rep) + "\n" + verdict + "\n")
        finally:
            run.close()
        for f in failures:
            sys.stderr.write(f"{f}\n")
        return EXIT_OK if not failures else EXIT_FAILED
    finally:
        if tmp is not None:
            tmp.cleanup()
