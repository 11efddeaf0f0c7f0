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
    for name in ("engine.py", "state.py", "store.py", "model.py", "events.py"):
        text = (runtime / name).read_text()
        for forbidden in ("time.time(", "datetime.now(", "datetime.utcnow(", "time.monotonic("):
            assert forbidden not in text, (name, forbidden)
