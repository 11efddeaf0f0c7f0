"""``orchdsl run``: the compiler's side of running an organisation.

The only compiler-side step of ``orchdsl run`` is turning a ``.orch`` spec into
the compiled model (and the schemas and Agent_Memory files the compiler
generates beside it). It happens where a command is given a spec:

- ``orchdsl run init SPEC [--dir D] [--virtual-clock START]``;
- ``orchdsl run SPEC --scenario FILE [--dir D] [--json] [--quiet]``.

A spec that does not check is reported with its diagnostics (exit 1). A
compiled ``model.json`` is accepted too; when no ``schemas/`` folder lies beside
it, the generators produce them from the model. Everything else is the
runtime's command line (``orchdsl_runtime.cli``), which works on a run
directory and never imports the compiler.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

EXIT_ERRORS, EXIT_USAGE = 1, 2
SPEC_SUFFIXES = (".orch", ".json")


def _compile(spec: Path, out: Path) -> Path | int:
    """Write model.json, schemas/ and Agent_Memory/ for ``spec`` under ``out``;
    returns the model's path, or an exit code after reporting why not."""
    from orchdsl.generate import build_files

    if not spec.is_file():
        sys.stderr.write(f"orchdsl run: no such file: {spec}\n")
        return EXIT_USAGE
    if spec.suffix == ".json":
        if (spec.parent / "schemas").is_dir():
            return spec
        from pydantic import ValidationError

        from orchdsl.model import Organisation

        try:
            org = Organisation.model_validate_json(spec.read_text(encoding="utf-8"))
        except (ValidationError, ValueError):
            return spec  # the runtime reports what is wrong with the model
    else:
        from orchdsl.pipeline import check_files
        from orchdsl.render import colour_enabled, render, summary_line

        result = check_files([spec])
        errors = [d for d in result.diagnostics if d.is_error]
        if errors or result.model is None:
            colour = colour_enabled("auto", sys.stderr)
            sys.stderr.write(render(result.diagnostics, result.sources, "human", colour))
            sys.stderr.write(f"not run: {summary_line(result.diagnostics)}\n")
            return EXIT_ERRORS
        org = result.model
    for rel, text in build_files(org).items():
        if rel == "model.json" or rel.startswith(("schemas/", "Agent_Memory/", "agents/")):
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return out / "model.json"


GLOBAL_VALUES = ("--dir",)
"""options of ``orchdsl run`` itself that take a value, given before the command"""


def _command_at(args: list[str]) -> int:
    """Where the command is in ``orchdsl run``'s arguments, after the options of ``orchdsl run`` itself
    (``orchdsl run --dir D init SPEC`` is ``orchdsl run init SPEC --dir D``)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in GLOBAL_VALUES else 1
    return i


def main(argv: Sequence[str]) -> int:
    # the runtime is its own package (``runtime/`` installed as ``orchdsl_runtime``)
    from orchdsl_runtime.cli import main as runtime_main

    args = list(argv)
    spec_at = None
    at = _command_at(args)
    word = args[at] if at < len(args) else ""
    if word == "init":
        spec_at = next((i for i, a in enumerate(args[at + 1:], at + 1) if a.endswith(SPEC_SUFFIXES)), None)
    elif word.endswith(SPEC_SUFFIXES):
        if "--scenario" not in args:
            sys.stderr.write("orchdsl run: give `--scenario FILE` to play a scenario on "
                             f"`{word}`, or `orchdsl run init {word}` to start a run\n")
            return EXIT_USAGE
        i = args.index("--scenario")
        if i + 1 >= len(args):
            sys.stderr.write("orchdsl run: `--scenario` needs a file\n")
            return EXIT_USAGE
        scenario = args[i + 1]
        rest = [a for j, a in enumerate(args) if j not in (at, i, i + 1)]
        args = ["scenario", word, scenario, *rest]
        spec_at = 1
    if spec_at is None:
        return int(runtime_main(args))
    with tempfile.TemporaryDirectory(prefix="orchdsl-model-") as tmp:
        model = _compile(Path(args[spec_at]), Path(tmp))
        if isinstance(model, int):
            return model
        args[spec_at] = str(model)
        return int(runtime_main(args))
