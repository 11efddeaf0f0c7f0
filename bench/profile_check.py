"""Profile one check of a generated spec and say where the time goes.

Runs ``orchdsl.pipeline.check_files`` on the spec of the given scale under
cProfile (after one unprofiled run, so that building the parser is left out)
and prints the top functions by cumulative and by own time, then the own
time summed by component: Lark itself (lexer and LALR loop), orchdsl's
transformer handlers, lowering, guards, the pydantic model, checks (with
their graphs). Time spent in built-in functions is charged to the component that
called them.

    .venv/bin/python bench/profile_check.py --scale 100
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from genspec import generate  # noqa: E402

COMPONENTS = (
    ("/lark/", "lark (lexer + LALR parser)"),
    ("orchdsl/parser.py", "orchdsl transformer (parser.py)"),
    ("orchdsl/ast.py", "orchdsl AST nodes (ast.py)"),
    ("orchdsl/lower/", "orchdsl lowering (lower/)"),
    ("orchdsl/guards.py", "orchdsl guards (guards.py)"),
    ("orchdsl/model.py", "orchdsl model (model.py)"),
    ("/pydantic", "pydantic validation"),
    ("orchdsl/checks/", "orchdsl checks"),
    ("orchdsl/diagnostics.py", "orchdsl diagnostics"),
    ("orchdsl/pipeline.py", "orchdsl pipeline"),
)


def component(filename: str) -> str | None:
    for marker, name in COMPONENTS:
        if marker in filename:
            return name
    if filename.startswith("~") or filename.startswith("<"):
        return None  # built-in: charged to the caller
    return "other (stdlib, dataclasses, re, ...)"


def by_component(stats: pstats.Stats) -> dict[str, float]:
    totals: dict[str, float] = {}
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for func, (_cc, _nc, tt, _ct, callers) in raw.items():
        comp = component(func[0])
        if comp is not None:
            totals[comp] = totals.get(comp, 0.0) + tt
            continue
        charged = 0.0
        for caller, info in callers.items():
            ccomp = component(caller[0]) or "built-ins called by built-ins"
            totals[ccomp] = totals.get(ccomp, 0.0) + info[2]
            charged += info[2]
        if tt - charged > 1e-9:
            totals["built-ins (caller unknown)"] = totals.get("built-ins (caller unknown)", 0.0) + tt - charged
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def profile(scale: int, top: int) -> str:
    from orchdsl.pipeline import check_files

    with tempfile.TemporaryDirectory(prefix="orchprof-") as tmp:
        path = Path(tmp) / f"scale-{scale}.orch"
        text = generate(scale)
        path.write_text(text, encoding="utf-8")
        check_files([path])  # build the parser outside the profile
        prof = cProfile.Profile()
        prof.enable()
        result = check_files([path])
        prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    out.write(f"scale {scale}: {text.count(chr(10)):,} lines, {len(result.diagnostics)} diagnostics, "
              f"{total:.2f} s profiled\n\n")
    out.write("== own time by component (built-ins charged to their callers)\n")
    for name, secs in by_component(stats).items():
        out.write(f"  {secs:8.3f} s  {100 * secs / total:5.1f}%  {name}\n")
    out.write("\n== top by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write("\n== top by own time\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue().replace(str(Path(sys.prefix)), "$VENV")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Profile a check of a generated spec.")
    p.add_argument("--scale", type=int, default=100)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("-o", "--output", type=Path, help="also write the report here")
    args = p.parse_args(argv)
    text = profile(args.scale, args.top)
    sys.stdout.write(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
