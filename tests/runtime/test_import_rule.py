"""The runtime loads only the compiled model: importing it pulls in neither the compiler nor
its parser or template engine."""

from __future__ import annotations

import subprocess
import sys


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
    from pathlib import Path

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
