"""The runtime's command line: ``orchdsl run ...`` on a run directory.

In: argv (after ``orchdsl run``). Out: text or ``--json`` on stdout, reasons on
stderr and an exit code: 0 done, 1 refused (the refusal code and reason on
stderr) or a failed check, 2 usage or I/O (no run directory, a bad argument, a
damaged, locked or read-only run directory, with its RUN code).

The commands are the command table's (``contract.commands``): the parser is
generated from it, each engine command runs through ``invoke`` and each view
through ``views``. Only ``init`` and ``scenario``, which make run directories,
and ``doctor``, which examines and repairs one, are declared here. This module
never imports the compiler: ``orchdsl.run_cli`` compiles a ``.orch`` spec and
hands over the compiled model.

A writing command first checks what it will write into (``Run.check_projection``);
once its events are recorded it is accepted, whatever happens to the projection
after: a file that cannot be written is a warning (``RUN036``) that the next
writing command or ``doctor --repair`` settles, never a failure of the command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .contract.commands import COMMANDS, Command, Param
from .errors import Refused, RunError, StoreError
from .invoke import ArgumentError, arguments, convert, invoke
from .rundir import DEFAULT_DIR, DEFAULT_START, Run, UsageError, run_dir, store_error
from .snapshot import SnapshotError
from .timefmt import iso
from .views import VIEWS, Out, clock_out, command_out

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _common(p: argparse.ArgumentParser, top: bool = False) -> None:
    default = None if top else argparse.SUPPRESS
    p.add_argument("--dir", default=default, metavar="DIR",
                   help=f"the run directory (default: $ORCHDSL_RUN_DIR or {DEFAULT_DIR})")
    p.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="print JSON for scripts and agents")


def _add_param(s: argparse.ArgumentParser, p: Param) -> None:
    help = p.help + (f" (default {p.default})" if p.default not in (None, "", (), False, 0.0) else "")
    if p.positional:
        if p.kind == "words" or (p.many and p.required):
            nargs: str | None = "+"
        elif p.many:
            nargs = "*"
        else:
            nargs = None if p.required else "?"
        s.add_argument(p.name, metavar=p.metavar or p.name.upper(), nargs=nargs, help=help)
    elif p.kind == "flag":
        s.add_argument(p.option, dest=p.name, action="store_true", help=help)
    elif p.many or p.kind in ("scores", "measures"):
        s.add_argument(p.option, dest=p.name, action="append", metavar=p.metavar, help=help + "; repeat for more",
                       required=p.required)
    else:
        s.add_argument(p.option, dest=p.name, metavar=p.metavar, choices=p.choices or None, help=help,
                       required=p.required)


def parser(first: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``orchdsl run``; with ``first``, of the commands whose first word it is
    only (a command line names one command: building all 40 costs more than running most)."""
    p = _Parser(prog="orchdsl run", description="Run a compiled organisation on a run directory.",
                epilog="Play a scripted scenario: orchdsl run SPEC.orch --scenario FILE.yaml [--dir DIR] [--json]. "
                       "Exit codes: 0 done, 1 refused (code and reason on stderr) or a failed check, 2 usage.")
    _common(p, top=True)
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)

    if first in (None, "init"):
        s = sub.add_parser("init", help="start a run for a compiled model (`orchdsl run init SPEC.orch` compiles first)")
        _common(s)
        s.add_argument("model", metavar="MODEL_JSON")
        s.add_argument("--virtual-clock", nargs="?", const=DEFAULT_START, default=None, metavar="START_ISO",
                       help=f"run on a virtual clock starting at START_ISO (default {DEFAULT_START})")
        s.add_argument("--force", action="store_true", help="discard an existing run in DIR")

    groups: dict[str, Any] = {}
    for cmd in COMMANDS:
        words = cmd.words
        if first is not None and words[0] != first:
            continue
        if len(words) == 1:
            s = sub.add_parser(words[0], help=cmd.summary, description=cmd.summary)
        else:
            group = groups.get(words[0])
            if group is None:
                members = [c.words[1] for c in COMMANDS if c.words[0] == words[0]]
                g = sub.add_parser(words[0], help=f"{words[0]}: {', '.join(members)}")
                _common(g)
                group = groups[words[0]] = g.add_subparsers(dest=f"{words[0]}_cmd", metavar="|".join(members),
                                                            parser_class=_Parser, required=True)
            s = group.add_parser(words[1], help=cmd.summary, description=cmd.summary)
        _common(s)
        s.set_defaults(command=cmd)
        if cmd.acts:
            s.add_argument("--as", dest="as_", default=os.environ.get("ORCHDSL_AS"), metavar="AGENT",
                           help="the agent acting (default: $ORCHDSL_AS)")
        for param in cmd.params:
            _add_param(s, param)

    if first in (None, "serve"):
        s = sub.add_parser("serve", help="serve the run on the wall clock: fire deadlines on time, project, and with "
                                         "--http serve MCP to agents")
        _common(s)
        s.add_argument("--http", metavar="HOST:PORT", help="also serve MCP over streamable HTTP at http://HOST:PORT/mcp "
                                                           "(each agent presents its token; see `orchdsl run tokens`)")
        s.add_argument("--poll", type=float, default=0.5, metavar="SECONDS",
                       help="how often to look for what other writers recorded (default 0.5)")
        s.add_argument("--quiet", action="store_true", help="do not print what the clock fires")
        _dispatch_options(s, "--dispatch", required=False)

    if first in (None, "dispatch"):
        s = sub.add_parser("dispatch", help="start agents when work waits for them (see docs/agents.md)")
        _common(s)
        _dispatch_options(s, "--agent-cmd", required=True)
        s.add_argument("--poll", type=float, default=0.5, metavar="SECONDS",
                       help="how often to look at the run (default 0.5)")
        s.add_argument("--until-idle", action="store_true",
                       help="stop when no agent runs and nothing waits that an agent could be started for")
        s.add_argument("--quiet", action="store_true", help="do not print launches and exits")

    if first in (None, "mcp"):
        s = sub.add_parser("mcp", help="serve one agent over MCP on standard input and output (what an agent tool "
                                       "launches)")
        _common(s)
        s.add_argument("--as", dest="as_", default=os.environ.get("ORCHDSL_AS"), metavar="AGENT",
                       help="the agent served: every tool acts as it (default: $ORCHDSL_AS)")

    if first in (None, "tokens"):
        s = sub.add_parser("tokens", help="the agents' tokens for `serve --http` (issued for agents that have none)")
        _common(s)
        s.add_argument("agents", nargs="*", metavar="AGENT", help="these agents only (default: every agent)")
        s.add_argument("--rotate", action="store_true", help="issue new tokens; the old ones stop working")

    if first in (None, "scenario"):
        s = sub.add_parser("scenario", help="play a scenario on a compiled model (`orchdsl run SPEC --scenario FILE`)")
        _common(s)
        s.add_argument("model", metavar="MODEL_JSON")
        s.add_argument("scenario", metavar="SCENARIO_YAML")
        s.add_argument("--quiet", action="store_true", help="print only the report")

    if first in (None, "doctor"):
        s = sub.add_parser("doctor", help="check the run directory and say what is wrong; `--repair` rebuilds what "
                                          "the log gives (never the log itself)")
        _common(s)
        s.add_argument("--repair", action="store_true",
                       help="rebuild the projection, the manifest and the clock from the log; move aside what is "
                            "in their way")
        s.add_argument("--clock", choices=("wall", "virtual"), default=None,
                       help="with `--repair`: the kind of clock to restore when the log lost it")
    return p


FIRST_WORDS = frozenset({"init", "serve", "dispatch", "mcp", "tokens", "scenario", *(c.words[0] for c in COMMANDS)})


def _first_word(argv: Sequence[str]) -> str | None:
    """The first word of the command an argument list names, when it names a known one."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--dir":
            skip = True
        elif not token.startswith("-"):
            return token if token in FIRST_WORDS else None
    return None


def _dispatch_options(s: argparse.ArgumentParser, flag: str, required: bool) -> None:
    s.add_argument(flag, dest="agent_cmd", required=required, metavar="COMMAND",
                   help="the command that starts an agent for a waiting item, with placeholders {agent}, {kind}, "
                        "{id}, {key}, {task}, {task_file}, {prompt}, {run_dir}, {item}")
    s.add_argument("--max-agents", type=int, default=4, metavar="N", help="agents running at once (default 4)")
    s.add_argument("--agent-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop an agent that runs longer; its item is offered again")


def _emit(out: Out, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(out.data, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(out.text)


def _usage(message: str, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps({"error": {"code": "usage", "message": message}}, sort_keys=True) + "\n")
    sys.stderr.write(f"{message}\n")
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = parser(_first_word(argv))
    as_json = "--json" in argv
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(p.format_help())
        return EXIT_OK if argv else EXIT_USAGE
    try:
        a = p.parse_args(argv)
        return _dispatch(a)
    except UsageError as exc:
        text = str(exc)
        return _usage(text if text.startswith("orchdsl run") else f"orchdsl run: {text}", as_json)
    except ArgumentError as exc:
        return _usage(f"orchdsl run: {exc}", as_json)
    except RunError as exc:
        return _problem(exc, as_json)
    except StoreError as exc:  # the log failed under a command (locked, full, damaged)
        if exc.code is None:
            raise
        return _problem(store_error(run_dir(_dir_of(argv)), exc), as_json)
    except SystemExit as exc:  # argparse --help
        return int(exc.code or 0)


def _dir_of(argv: list[str]) -> str | None:
    if "--dir" in argv and argv.index("--dir") + 1 < len(argv):
        return argv[argv.index("--dir") + 1]
    return next((a.removeprefix("--dir=") for a in argv if a.startswith("--dir=")), None)


def _problem(exc: RunError, as_json: bool) -> int:
    """A coded problem of the run directory: its code, name and message; exit 2."""
    if as_json:
        sys.stdout.write(json.dumps({"error": {"code": exc.code, "name": exc.name, "message": exc.message}},
                                    sort_keys=True) + "\n")
    sys.stderr.write(f"orchdsl run: {exc.code} {exc.name}: {exc.message}\n")
    return EXIT_USAGE


def _dispatch(a: argparse.Namespace) -> int:
    directory = run_dir(a.dir)
    if a.cmd == "init":
        start = convert(Param("virtual_clock", "time", ""), a.virtual_clock) if a.virtual_clock else None
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
        from .scenario import main_scenario  # YAML and JSON Schema, only to play a scenario

        return main_scenario(Path(a.model), Path(a.scenario), a.dir, a.json, a.quiet)
    if a.cmd == "doctor":
        from .doctor import doctor  # the whole projection and the schemas, only to examine a run

        out = doctor(directory, a.repair, a.clock)
        _emit(out, a.json)
        return out.code
    if a.cmd in ("serve", "mcp", "tokens", "dispatch"):
        return _process(a, directory)
    command: Command | None = getattr(a, "command", None)
    if command is None:
        raise UsageError("give a command; see `orchdsl run --help`")
    values = {p.name: getattr(a, p.name) for p in command.params if getattr(a, p.name, None) not in (None, [])}
    if command.acts and not a.as_:
        raise UsageError(f"`{' '.join(command.words)}` needs `--as AGENT` (or $ORCHDSL_AS)")
    run = Run.open(directory)
    try:
        try:
            out = _run(run, command, values, getattr(a, "as_", None))
        except Refused as r:
            if a.json:
                sys.stdout.write(json.dumps({"refused": {"code": r.code, "name": r.name, "reason": r.reason}},
                                            sort_keys=True) + "\n")
            sys.stderr.write(f"refused: {r.code} {r.name}: {r.reason}\n")
            return EXIT_FAILED
        except SnapshotError as exc:
            run.store.drop_snapshots()
            raise RunError("RUN028", f"the snapshot of `{directory}` is damaged ({exc}); it is dropped: run the "
                                     "command again (it will replay the whole log)") from exc
        _emit(out, a.json)
        run.checkpoint()
        return out.code
    finally:
        run.close()


def _process(a: argparse.Namespace, directory: Path) -> int:
    """``serve``, ``mcp``, ``dispatch`` and ``tokens``: the run as a living process, and its agents' tokens."""
    from . import serve, tokens
    from .dispatch import TemplateError, parse_template

    if a.cmd == "mcp" and not a.as_:
        raise UsageError("`mcp` needs `--as AGENT` (or $ORCHDSL_AS): the agent it serves")
    http = _host_port(a.http) if a.cmd == "serve" and a.http else None
    if getattr(a, "agent_cmd", None):
        try:
            parse_template(a.agent_cmd)
        except TemplateError as exc:
            raise UsageError(str(exc)) from exc
    run = Run.open(directory)
    if a.cmd == "mcp" and a.as_ not in run.model.agents:
        run.close()
        raise UsageError(f"unknown agent `{a.as_}`; the agents are listed by `orchdsl run tokens`")
    if a.cmd == "serve":
        return serve.run_serve(run, http, a.poll, a.quiet, _dispatching(a))
    if a.cmd == "mcp":
        return serve.run_mcp(run, a.as_)
    if a.cmd == "dispatch":
        return serve.run_dispatcher(run, _dispatching(a), a.poll, a.until_idle)
    try:
        unknown = [x for x in a.agents if x not in run.model.agents]
        if unknown:
            raise UsageError(f"unknown agent(s) {', '.join(f'`{x}`' for x in unknown)}")
        try:
            issued = tokens.issue(run.dir, a.agents or list(run.model.agents), rotate=a.rotate)
        except tokens.TokenError as exc:
            raise UsageError(str(exc)) from exc
        shown = {k: v for k, v in issued.items() if not a.agents or k in a.agents}
        text = "".join(f"{k}  {v}\n" for k, v in sorted(shown.items()))
        _emit(Out({"tokens": shown, "file": str(run.dir / tokens.TOKENS_FILE)}, text), a.json)
        return EXIT_OK
    finally:
        run.close()


def _dispatching(a: argparse.Namespace) -> dict[str, Any] | None:
    if not a.agent_cmd:
        return None
    if a.max_agents < 1 or (a.agent_timeout is not None and not a.agent_timeout > 0):
        raise UsageError("`--max-agents` and `--agent-timeout` must be positive")
    return {"template": a.agent_cmd, "max_running": a.max_agents, "timeout": a.agent_timeout, "quiet": a.quiet}


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"bad address `{text}`; write HOST:PORT, e.g. 127.0.0.1:8765")
    return host or "127.0.0.1", int(port)


def _run(run: Run, command: Command, values: dict[str, Any], as_: str | None) -> Out:
    """One command of the table on an open run; a writing one is checked first, and what it
    recorded is projected after (problems of the projection are warnings)."""
    if command.view:
        kwargs = arguments(command, values)
        if command.acts:
            kwargs["agent"] = as_
        return VIEWS[command.method](run, **kwargs)
    run.check_projection()
    engine, before = run.engine, run.store.last_seq()
    try:
        if not run.virtual:
            engine.process_clock()  # a wall clock: fire what fell due since the last command
        if command.name in ("clock_advance", "clock_to"):
            if not run.virtual:
                raise UsageError("this run uses the wall clock; only `clock process` applies")
            kwargs = arguments(command, values)
            if command.name == "clock_to" and kwargs["time"] < run.now:
                raise UsageError(f"`{values['time']}` is in the past; the clock is at {iso(run.now)}")
        if command.name.startswith("clock_"):
            invoke(engine, command, as_, values)
            out = clock_out(run, before)
        else:
            out = command_out(command, values, invoke(engine, command, as_, values))
    except BaseException:
        _project_after(run, before, command, None)
        raise
    _project_after(run, before, command, out)
    return out


def _project_after(run: Run, before: int, command: Command, out: Out | None) -> None:
    """Bring the projection up to the log after a writing command, accepted or not; what
    cannot be written is a warning on stderr (and in ``--json`` output), never a failure."""
    try:
        if run.store.last_seq() == before and not command.name.startswith("clock_") and not run.projection_behind():
            return
        written = run.project()
        problems = written.problems
    except Exception as exc:  # noqa: BLE001 - after the commit nothing may fail the command
        problems = [("Agent_Memory", f"{type(exc).__name__}: {exc}")]
    if not problems:
        return
    rel, why = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    text = (f"the projection is incomplete: `{rel}` {why}{more}; the next writing command or `orchdsl run doctor "
            "--repair` completes it")
    sys.stderr.write(f"orchdsl run: warning: RUN036 projection-incomplete: {text}\n")
    if out is not None and isinstance(out.data, dict):
        out.data["warnings"] = [{"code": "RUN036", "name": "projection-incomplete", "message": text}]


def commands_markdown() -> str:
    """The table of commands of ``docs/run.md``: each command's usage and what it does."""
    p = parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    rows = [("command", "what it does")]
    for name in ("init", "scenario", "doctor", "serve", "mcp", "tokens", "dispatch"):
        s = sub.choices[name]
        rows.append((f"`{_usage_line(s)}`", _help_of(sub, name)))
    for cmd in COMMANDS:
        s = sub.choices[cmd.words[0]]
        if len(cmd.words) > 1:
            inner = next(a for a in s._actions if isinstance(a, argparse._SubParsersAction))
            s = inner.choices[cmd.words[1]]
        details = "; ".join(f"`{(p.metavar or p.name.upper()) if p.positional else p.option}` {p.help}"
                            for p in cmd.params)
        rows.append((f"`{_usage_line(s)}`", cmd.summary + (f": {details}" if details else "")))
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    lines.insert(1, "|---|---|")
    return "\n".join(lines) + "\n"


def _usage_line(s: argparse.ArgumentParser) -> str:
    usage = " ".join(s.format_usage().split())
    return usage.removeprefix("usage: ").replace(" [--dir DIR] [--json]", "").replace(" [-h]", "")


def _help_of(sub: Any, name: str) -> str:
    return next((a.help for a in sub._choices_actions if a.dest == name), "") or ""
