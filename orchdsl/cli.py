"""The command line: ``orchdsl check``, ``compile``, ``fmt``, ``graph``, ``lsp``,
``explain`` and ``run``.

Exit codes: 0 clean (or warnings only), 1 errors in the spec or a refused
command, 2 usage or I/O problems, 3 an internal error. Wherever a spec is
read, ``-`` reads it from standard input (its includes are read relative to
the working directory). With ``--format json`` (or ``sarif``) a usage, I/O or
internal error is reported in that format on standard output too. Heavy
modules are imported inside the commands so that ``orchdsl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from orchdsl.pipeline import Result

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
STDIN = "-"
# render.FORMATS, written out so that `orchdsl --help` imports nothing more (a test holds them equal)
DIAGNOSTIC_FORMATS = ("human", "short", "json", "github", "sarif")
MACHINE_FORMATS = ("json", "sarif")


class UsageError(Exception):
    """A problem with how the command was called, or with reading its files (exit 2)."""

    def __init__(self, message: str, kind: str = "usage") -> None:
        super().__init__(message)
        self.kind = kind  # "usage" or "io"


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, reporting its errors in the machine format the command line asked for."""

    machine_format: str | None = None
    command: str | None = None

    def error(self, message: str) -> NoReturn:
        if self.machine_format:
            _write_failure(self.machine_format, "usage", f"{self.prog}: {message}")
            self.exit(EXIT_USAGE)
        super().error(message)


def _parser(machine_format: str | None = None) -> argparse.ArgumentParser:
    _ArgumentParser.machine_format = machine_format
    p = _ArgumentParser(
        prog="orchdsl",
        description="Check, format, draw, compile and run organisations of agents written in .orch files.",
        epilog="`-` in place of a file reads the spec from standard input. NO_COLOR turns colour off.",
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    common = _ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true",
                        help="print only results and errors, no summaries or progress")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)

    c = sub.add_parser("check", parents=[common], help="check .orch files and report every problem")
    c.add_argument("files", nargs="+", metavar="FILE", help="a spec, or `-` for standard input")
    c.add_argument("--format", choices=DIAGNOSTIC_FORMATS, default="human",
                   help="how to print diagnostics (default: human)")
    c.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    c.add_argument("--deny-warnings", action="store_true", help="exit 1 on warnings too")

    k = sub.add_parser("compile", parents=[common],
                       help="compile a spec into Agent_Memory, prompts, schemas, diagrams and a model")
    k.add_argument("files", nargs=1, metavar="FILE",
                   help="the top file of the organisation (it may include others), or `-`")
    k.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    k.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if DIR differs from what the spec produces")
    k.add_argument("--layout", choices=("default", "claude"), default="default",
                   help="`claude` also writes Claude Code's .claude/agents/ and .mcp.json (default: default)")
    k.add_argument("--run-dir", metavar="DIR", default=None,
                   help="the run directory prompts and MCP launch lines name (default: .orchdsl-run)")
    k.add_argument("--format", choices=DIAGNOSTIC_FORMATS, default="human")
    k.add_argument("--color", choices=("auto", "always", "never"), default="auto")

    f = sub.add_parser("fmt", parents=[common], help="rewrite .orch files in the canonical layout")
    f.add_argument("files", nargs="+", metavar="FILE",
                   help="a spec, a directory (every .orch below it), or `-` (standard input to standard output)")
    f.add_argument("--check", action="store_true",
                   help="write nothing; print a diff and exit 1 when a file is not formatted")
    f.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the diff of --check")

    g = sub.add_parser("graph", parents=[common], help="draw the organisation: Mermaid, DOT or SVG")
    g.add_argument("files", nargs=1, metavar="SPEC", help="the top file of the organisation, or `-`")
    g.add_argument("--view", choices=("hierarchy", "lifecycle", "protocols", "flows"), default="hierarchy",
                   help="what to draw (default: hierarchy)")
    g.add_argument("--tier", type=int, metavar="N",
                   help="the tier whose lifecycle or flow to draw (default: every tier)")
    g.add_argument("--format", choices=("mermaid", "dot", "svg"), default="mermaid",
                   help="Mermaid or Graphviz DOT text, or SVG drawn by Graphviz's `dot` (default: mermaid)")
    g.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")

    lsp = sub.add_parser("lsp", parents=[common],
                         help="run the language server (LSP over standard input and output)")
    lsp.add_argument("--stdio", action="store_true", help="talk over standard input and output (the default)")

    r = sub.add_parser("run", help="run a compiled organisation (see `orchdsl run --help`)",
                       add_help=False)
    r.add_argument("args", nargs=argparse.REMAINDER)

    e = sub.add_parser("explain", help="explain a diagnostic code or a runtime refusal, e.g. `orchdsl explain ORC102`, "
                                      "`orchdsl explain RUN004`")
    e.add_argument("code")
    return p


# ---------------------------------------------------------------------- reading specs


def _read_stdin() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"standard input is not UTF-8 text: {err.reason}", "io") from err
    except (OSError, AttributeError, ValueError) as err:
        raise UsageError(f"cannot read standard input: {err}", "io") from err


def _check_paths(files: Sequence[str], directories: bool = False) -> None:
    if list(files).count(STDIN) > 1:
        raise UsageError("standard input (`-`) can be read once")
    for name in files:
        if name == STDIN:
            continue
        f = Path(name)
        if not f.exists():
            raise UsageError(f"no such file: {f}", "io")
        if f.is_dir() and not directories:
            raise UsageError(f"{f} is a directory; give .orch files", "io")


def _check_spec(name: str) -> Result:
    """Check one organisation: a file and its includes, or standard input."""
    from orchdsl.pipeline import check_files, check_text

    if name == STDIN:
        return check_text(_read_stdin(), "<stdin>", base=Path.cwd())
    return check_files([Path(name)])


# ---------------------------------------------------------------------- commands


def cmd_check(args: argparse.Namespace) -> int:
    from orchdsl.render import colour_enabled, render, summary_line

    _check_paths(args.files)
    # Each file named is its own organisation; `include` is how files compose.
    results = [_check_spec(f) for f in args.files]
    diagnostics = [d for r in results for d in r.diagnostics]
    sources = {k: v for r in results for k, v in r.sources.items()}
    out = render(diagnostics, sources, args.format, colour_enabled(args.color, sys.stdout))
    sys.stdout.write(out)
    if args.format == "human" and not args.quiet:
        shown = ["<stdin>" if f == STDIN else f for f in args.files]
        names = ", ".join(shown) if len(shown) <= 3 else f"{len(shown)} files"
        sys.stderr.write(f"{names}: {summary_line(diagnostics)}\n")
    if not all(r.ok for r in results):
        return EXIT_ERRORS
    if args.deny_warnings and diagnostics:
        return EXIT_ERRORS
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from orchdsl.compile import compile_to_dir
    from orchdsl.render import colour_enabled, render, summary_line

    _check_paths(args.files)
    result = _check_spec(args.files[0])
    if result.diagnostics:
        out = render(result.diagnostics, result.sources, args.format, colour_enabled(args.color, sys.stderr))
        sys.stderr.write(out)
    if not result.ok or result.model is None:
        if not args.quiet:
            sys.stderr.write(f"not compiled: {summary_line(result.diagnostics)}\n")
        return EXIT_ERRORS
    try:
        report = compile_to_dir(result.model, args.output, check=args.check, layout=args.layout,
                                run_dir=args.run_dir)
    except OSError as err:
        raise UsageError(f"cannot write {args.output}: {err.strerror or err}", "io") from err
    except ValueError as err:  # an existing .mcp.json that cannot be merged
        raise UsageError(f"cannot write {args.output}: {err}", "io") from err
    if args.check:
        if report.ok:
            if not args.quiet:
                print(f"{args.output}: up to date ({report.total} files)")
            return EXIT_OK
        for line in report.describe():
            print(line)
        print(f"{args.output}: out of date; run `orchdsl compile {' '.join(args.files)} "
              f"-o {args.output}`")
        return EXIT_ERRORS
    if not args.quiet:
        print(f"{args.output}: wrote {report.written} of {report.total} files"
              + (f", removed {report.removed}" if report.removed else ""))
    return EXIT_OK


def _fmt_targets(files: Sequence[str]) -> list[str]:
    """The files named, with each directory replaced by the .orch files below it
    (hidden directories skipped)."""
    out: list[str] = []
    for name in files:
        p = Path(name)
        if name != STDIN and p.is_dir():
            found = sorted(f for f in p.rglob("*.orch")
                           if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts))
            out += [str(f) for f in found]
        else:
            out.append(name)
    return out


def cmd_fmt(args: argparse.Namespace) -> int:
    from orchdsl.diagnostics import Diagnostics
    from orchdsl.fmt import format_text, unified_diff
    from orchdsl.render import colour_enabled, render

    _check_paths(args.files, directories=True)
    colour_out = colour_enabled(args.color, sys.stdout)
    changed: list[str] = []
    failed = unchanged = 0
    for name in _fmt_targets(args.files):
        display = "<stdin>" if name == STDIN else name
        if name == STDIN:
            text = _read_stdin()
        else:
            try:
                text = Path(name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
                raise UsageError(f"cannot read {name}: {reason.lower()}", "io") from err
        diags = Diagnostics()
        formatted = format_text(text, display, diags)
        if formatted is None:
            failed += 1
            sys.stderr.write(render(diags.sorted(), {display: text}, "human",
                                    colour_enabled(args.color, sys.stderr)))
            continue
        if name == STDIN and not args.check:
            sys.stdout.write(formatted)
            continue
        if formatted == text:
            unchanged += 1
            continue
        changed.append(display)
        if args.check:
            sys.stdout.write(unified_diff(text, formatted, display, colour_out))
            continue
        _rewrite(Path(name), formatted)
        if not args.quiet:
            sys.stderr.write(f"reformatted {display}\n")
    if not args.quiet and (changed or unchanged) and args.files != [STDIN]:
        verb = "would be reformatted" if args.check else "reformatted"
        summary = f"{len(changed)} file{'s' if len(changed) != 1 else ''} {verb}, {unchanged} already formatted"
        if failed:
            summary += f", {failed} not formatted (syntax errors)"
        sys.stderr.write(summary + "\n")
    if failed or (args.check and changed):
        return EXIT_ERRORS
    return EXIT_OK


def _rewrite(path: Path, text: str) -> None:
    """Replace a spec atomically with its formatted text, keeping its permissions."""
    from orchdsl_runtime.contract.layout import write_text

    try:
        mode = path.stat().st_mode & 0o7777
        write_text(path, text)
        os.chmod(path, mode)
    except OSError as err:
        raise UsageError(f"cannot write {path}: {(err.strerror or str(err)).lower()}", "io") from err


def cmd_graph(args: argparse.Namespace) -> int:
    from orchdsl.graph import GraphError, draw
    from orchdsl.render import colour_enabled, render, summary_line

    _check_paths(args.files)
    result = _check_spec(args.files[0])
    if not result.ok or result.model is None:
        sys.stderr.write(render(result.diagnostics, result.sources, "human", colour_enabled("auto", sys.stderr)))
        sys.stderr.write(f"not drawn: {summary_line(result.diagnostics)}\n")
        return EXIT_ERRORS
    try:
        data = draw(result.model, args.view, args.format, args.tier)
    except GraphError as err:
        raise UsageError(str(err), err.kind) from err
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return EXIT_OK
    try:
        args.output.write_bytes(data)
    except OSError as err:
        raise UsageError(f"cannot write {args.output}: {(err.strerror or str(err)).lower()}", "io") from err
    if not args.quiet:
        sys.stderr.write(f"wrote {args.output}\n")
    return EXIT_OK


def cmd_lsp(args: argparse.Namespace) -> int:
    from orchdsl.lsp.server import serve

    serve()
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from importlib.resources import files

    from orchdsl.codes import BY_NAME, CODES

    code = CODES.get(args.code.upper()) or BY_NAME.get(args.code)
    if code is None:
        return _explain_refusal(args.code)
    # The pages of docs/codes/, shipped as the package `orchdsl_codes`.
    page = files("orchdsl_codes").joinpath(f"{code.code}.md")
    if page.is_file():
        sys.stdout.write(page.read_text(encoding="utf-8"))
    else:
        print(f"{code.code} {code.name} ({code.severity.value}): {code.summary}")
    return EXIT_OK


def _explain_refusal(name: str) -> int:
    """A runtime refusal code (``RUN004`` or ``actor-not-permitted``): its name and meaning, from the
    runtime's registry of refusal codes."""
    from orchdsl_runtime.errors import BY_CODE as REFUSALS  # type: ignore[import-not-found]
    from orchdsl_runtime.errors import NAMES as RUN_NAMES  # type: ignore[import-not-found]

    from orchdsl.codes import CODES

    code = name.upper() if name.upper() in REFUSALS else RUN_NAMES.get(name)
    if code is None:
        raise UsageError(f"unknown code `{name}`; checker codes run from {min(CODES)} to {max(CODES)}, "
                         f"runtime refusals from RUN001 to {max(REFUSALS)}")
    refusal = REFUSALS[code]
    print(f"{refusal.code} {refusal.name} (a refused runtime command: nothing was recorded)")
    print(f"  {refusal.meaning}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": cmd_check, "compile": cmd_compile, "fmt": cmd_fmt, "graph": cmd_graph,
    "lsp": cmd_lsp, "explain": cmd_explain,
}


# ---------------------------------------------------------------------- entry point


def _machine_format(argv: Sequence[str]) -> str | None:
    """The machine-readable format asked for (``--format json``), looked up before parsing
    so that even a usage error can be reported in it."""
    for i, a in enumerate(argv):
        value = argv[i + 1] if a == "--format" and i + 1 < len(argv) else (
            a.split("=", 1)[1] if a.startswith("--format=") else None)
        if value in MACHINE_FORMATS:
            return value
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        return _run(argv[1:])
    machine = _machine_format(argv)
    _ArgumentParser.command = next((a for a in argv if not a.startswith("-")), None)
    parser = _parser(machine)
    args = parser.parse_args(argv)
    if args.version:
        from orchdsl import __version__

        print(f"orchdsl {__version__}")
        return EXIT_OK
    if args.command not in COMMANDS:
        parser.print_help()
        return EXIT_USAGE
    return _guarded(lambda: COMMANDS[args.command](args), machine)


def _run(argv: list[str]) -> int:
    def go() -> int:
        from orchdsl.run_cli import main as run_main

        return run_main(argv)

    return _guarded(go, None)


def _write_failure(fmt: str, kind: str, message: str) -> None:
    """A usage, I/O or internal error, as JSON or as a SARIF log, where the command
    writes its diagnostics: standard output (``compile``: standard error)."""
    if fmt == "sarif":
        from orchdsl.sarif import failed_run

        text = json.dumps(failed_run(kind, message), indent=2) + "\n"
    else:
        code = EXIT_INTERNAL if kind == "internal" else EXIT_USAGE
        text = json.dumps({"failure": {"kind": kind, "message": message}, "exit_code": code}, indent=2) + "\n"
    stream = sys.stderr if _ArgumentParser.command == "compile" else sys.stdout
    stream.write(text)
    stream.flush()


def _guarded(fn: Callable[[], int], machine: str | None) -> int:
    try:
        return int(fn())
    except UsageError as err:
        if machine:
            _write_failure(machine, err.kind, str(err))
        else:
            sys.stderr.write(f"orchdsl: {err}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("orchdsl: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`orchdsl graph ... | head`): nothing more to say, and
        # nothing for the interpreter to flush into the closed pipe at exit.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_OK
    except Exception as err:  # the one place internal errors are caught
        if os.environ.get("ORCHDSL_DEBUG"):
            raise
        message = f"internal error: {type(err).__name__}: {err}"
        if machine:
            _write_failure(machine, "internal", message)
        sys.stderr.write(
            f"orchdsl: {message}\n"
            "this is a bug in orchdsl; set ORCHDSL_DEBUG=1 to see where it happened\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
