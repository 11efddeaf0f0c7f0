"""The runtime loads only the compiled model: importing it pulls in neither the compiler nor
its parser or template engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_runtime_imports_no_compiler() -> None:
    code = (
        "import sys, orchdsl_runtime, orchdsl_runtime.engine\n"
        "import orchdsl_runtime.cli, orchdsl_runtime.scenario, orchdsl_runtime.report, orchdsl_runtime.projection\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('orchdsl', 'lark', 'jinja2', 'pydantic'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_engine_reads_time_only_from_its_clock() -> None:
    runtime = Path(__file__).resolve().parents[2] / "runtime"
    allowed = {"clock.py"}  # the wall clock itself
    checked = 0
    for path in sorted(runtime.rglob("*.py")):
        if path.name in allowed:
            continue
        text = path.read_text()
        checked += 1
        for forbidden in ("time.time(", "datetime.now(", "datetime.utcnow(", "time.monotonic("):
            assert forbidden not in text, (path.name, forbidden)
    assert checked > 20


def test_commands_import_only_what_they_use(compiled_dir: Path, tmp_path: Path) -> None:
    """`status` and `move` never import numpy (assignment scoring) nor jsonschema (scenarios);
    a view does not import yaml either, which only writing the projection needs."""
    from orchdsl_runtime import HUMAN
    from orchdsl_runtime.rundir import Run

    run = Run.init(tmp_path / "run", compiled_dir / "model.json", 1736154000.0)
    try:
        run.engine.submit_instruction(HUMAN, "fix the typo", 2, id="I1")
        task = run.engine.create_task("backend-lead", "I1", "tactical", "backend", "Typo", required_skills=["python"])
        run.engine.assign("backend-lead", task, "backend-developer-1")
        run.project()
    finally:
        run.close()
    code = (
        "import sys, io, contextlib\n"
        "from orchdsl_runtime.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(sys.argv[1:])\n"
        "print(code, ','.join(m for m in ('numpy', 'yaml', 'jsonschema') if m in sys.modules))\n"
    )

    def imports(*args: str) -> str:
        out = subprocess.run([sys.executable, "-c", code, *args, "--dir", str(tmp_path / "run")],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    assert imports("status") == "0"
    assert imports("show", task) == "0"
    assert imports("move", task, "IN_PROGRESS", "--as", "backend-developer-1") == "0 yaml"
