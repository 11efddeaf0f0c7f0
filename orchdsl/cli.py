"""The command line: ``orchdsl check``, ``orchdsl compile``, ``orchdsl run``.

Exit codes: 0 clean (or warnings only), 1 errors in the spec or a refused
command, 2 usage or I/O problems, 3 an internal error. Heavy modules are
imported inside the commands so that ``orchdsl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A problem with how the command was called (exit 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="orchdsl",
        description="Check, compile and run organisations of agents written in .orch files.",
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="check .orch files and report every problem")
    c.add_argument("files", nargs="+", type=Path, metavar="FILE")
    c.add_argument("--format", choices=("human", "short", "json", "github"), default="human",
                   help="how to print diagnostics (default: human)")
    c.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    c.add_argument("--deny-warnings", action="store_true", help="exit 1 on warnings too")

    k = sub.add_parser("compile", help="compile a spec into Agent_Memory, prompts, schemas and a model")
    k.add_argument("files", nargs=1, type=Path, metavar="FILE",
                   help="the top file of the organisation (it may include others)")
    k.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    k.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if DIR differs from what the spec produces")
    k.add_argument("--format", choices=("human", "short", "json", "github"), default="human")
    k.add_argument("--color", choices=("auto", "always", "never"), default="auto")

    r = sub.add_parser("run", help="run a compiled organisation (see `orchdsl run --help`)",
                       add_help=False)
    r.add_argument("args", nargs=argparse.REMAINDER)

    e = sub.add_parser("explain", help="explain a diagnostic code or a runtime refusal, e.g. `orchdsl explain ORC102`, "
                                      "`orchdsl explain RUN004`")
    e.add_argument("code")
    return p


def _colour(choice: str, stream: object) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _check_paths(files: list[Path]) -> None:
    for f in files:
        if not f.exists():
            raise UsageError(f"no such file: {f}")
        if f.is_dir():
            raise UsageError(f"{f} is a directory; give .orch files")


def cmd_check(args: argparse.Namespace) -> int:
    from orchdsl.pipeline import check_files
    from orchdsl.render import render, summary_line

    _check_paths(args.files)
    # Each file named is its own organisation; `include` is how files compose.
    results = [check_files([f]) for f in args.files]
    diagnostics = [d for r in results for d in r.diagnostics]
    sources = {k: v for r in results for k, v in r.sources.items()}
    out = render(diagnostics, sources, args.format, _colour(args.color, sys.stdout))
    sys.stdout.write(out)
    if args.format == "human":
        names = ", ".join(map(str, args.files)) if len(args.files) <= 3 else f"{len(args.files)} files"
        sys.stderr.write(f"{names}: {summary_line(diagnostics)}\n")
    if not all(r.ok for r in results):
        return EXIT_ERRORS
    if args.deny_warnings and diagnostics:
        return EXIT_ERRORS
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from orchdsl.compile import compile_to_dir
    from orchdsl.pipeline import check_files
    from orchdsl.render import render, summary_line

    _check_paths(args.files)
    result = check_files(args.files)
    if result.diagnostics:
        out = render(result.diagnostics, result.sources, args.format, _colour(args.color, sys.stderr))
        sys.stderr.write(out)
    if not result.ok or result.model is None:
        sys.stderr.write(f"not compiled: {summary_line(result.diagnostics)}\n")
        return EXIT_ERRORS
    try:
        report = compile_to_dir(result.model, args.output, check=args.check)
    except OSError as err:
        raise UsageError(f"cannot write {args.output}: {err.strerror or err}") from err
    if args.check:
        if report.ok:
            print(f"{args.output}: up to date ({report.total} files)")
            return EXIT_OK
        for line in report.describe():
            print(line)
        print(f"{args.output}: out of date; run `orchdsl compile {' '.join(map(str, args.files))} "
              f"-o {args.output}`")
        return EXIT_ERRORS
    print(f"{args.output}: wrote {report.written} of {report.total} files"
          + (f", removed {report.removed}" if report.removed else ""))
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if argv[:1] == ["run"]:
        return _run(argv[1:])
    args = parser.parse_args(argv)
    if args.version:
        from orchdsl import __version__

        print(f"orchdsl {__version__}")
        return EXIT_OK
    commands = {"check": cmd_check, "compile": cmd_compile, "explain": cmd_explain}
    if args.command not in commands:
        parser.print_help()
        return EXIT_USAGE
    return _guarded(lambda: commands[args.command](args))


def _run(argv: list[str]) -> int:
    def go() -> int:
        from orchdsl.run_cli import main as run_main

        return run_main(argv)

    return _guarded(go)


def _guarded(fn: object) -> int:
    try:
        return int(fn())  # type: ignore[operator]
    except UsageError as err:
        sys.stderr.write(f"orchdsl: {err}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("orchdsl: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as err:  # the one place internal errors are caught
        if os.environ.get("ORCHDSL_DEBUG"):
            raise
        sys.stderr.write(
            f"orchdsl: internal error: {type(err).__name__}: {err}\n"
            "this is a bug in orchdsl; set ORCHDSL_DEBUG=1 to see where it happened\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
