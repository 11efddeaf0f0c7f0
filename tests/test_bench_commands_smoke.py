"""The benchmark of the cost per command runs end to end at a tiny size, with the side-by-side
comparison exercised on this same installation (no timings are asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # it reads the machine's description from runtime_bench
    spec = importlib.util.spec_from_file_location("bench_commands", BENCH / "commands_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_tiny_run_writes_every_row_and_the_report(bench: ModuleType, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "commands.json"
    here = Path(sys.executable).parent
    assert bench.main(["--tasks", "10,30", "--rounds", "1", "--events", "301", "--replay-rounds", "1",
                       "--memory-tasks", "40", "--mcp-rounds", "2", "--fires", "2", "--compare", f"same={here}",
                       "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("### Command figures")
    assert "| `orchdsl run move` (same) |" in text and "| per assigned task |" in text
    data = json.loads(out.read_text())
    rows = {(r["family"], r["key"], r["size"], r["variant"]): r for r in data["rows"]}
    for variant in ("", "same"):
        for key in ("move", "status", "assign"):
            for size in (10, 30):
                row = rows[("cli", key, size, variant)]
                assert len(row["values"]) == 1 and len(row["cpu"]) == 1
        for key in ("fold", "open"):
            assert rows[("replay", key, 301, variant)]["values"]
        for key in ("open", "assigned"):
            assert rows[("memory", key, 40, variant)]["values"][0] > 0
    assert rows[("replay", "snapshot", 301, "")]["values"]
    for variant in ("stdio", "handler"):
        for key in ("move", "status", "assign"):
            assert len(rows[("mcp", key, 30, variant)]["values"]) >= 2
    assert len(rows[("mcp", "ping", 30, "stdio")]["values"]) == 2
    assert len(rows[("serve", "fire", None, "")]["values"]) == 2
    assert {("floor", "python", None, ""), ("floor", "help", None, "")} <= set(rows)
    assert [t[0] for t in data["targets"]] == [
        "`orchdsl run move` at 30 tasks within 1.5x of its time at 10 tasks",
        "`orchdsl run status` at 30 tasks within 1.5x of its time at 10 tasks",
        "`orchdsl run assign` at 30 tasks within 1.5x of its time at 10 tasks",
        "`orchdsl run move` under 0.3 s at every size",
        "an MCP tool call on a warm server under 5 ms median at 30 tasks, through the SDK client over stdio",
        "an MCP tool call on a warm server under 5 ms median at 30 tasks, in the server's handler",
        "`serve` firing a due deadline within 1 s of its due time",
    ]


def test_a_run_directory_holds_the_history_and_the_open_work(bench: ModuleType, tmp_path: Path) -> None:
    from orchdsl_runtime.rundir import Run

    compiled = bench.Bench(bench.QUICK, tmp_path, lambda s: None).model_json()
    built = bench.build_run(tmp_path / "run", compiled, 60)
    run = Run.open(built.directory)
    try:
        states = dict(run.engine.state.tasks.tags())
        assert run.engine.ctx.snapshot_seq == built.events == run.store.last_seq()
    finally:
        run.close()
    counts = {s: list(states.values()).count(s) for s in set(states.values())}
    assert counts == {"COMPLETED": 37, "IN_PROGRESS": 15, "PENDING": 8}
    assert states[built.moving[0]] == "IN_PROGRESS" and all(states[t] == "PENDING" for t, _ in built.pending)
    assert built.files > 60
