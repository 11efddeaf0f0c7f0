"""The runtime benchmark runs end to end at a tiny size (no timings are asserted)."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "runtime_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_runtime", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def v2(bench: ModuleType) -> dict[str, Any]:
    data: dict[str, Any] = bench.v2_data()
    return data


def tiny(bench: ModuleType) -> Any:
    return bench.Sizes(
        cycle_tasks=6, cycle_rounds=2, sqlite_tasks=3, sqlite_rounds=2, lifecycle_tasks=4, batch_events=10,
        assign_tasks=12, assign_ics=9, engine_assign_tasks=6, sla_tasks=30, repeat=1, sla_repeat=1,
    )


@pytest.mark.slow
def test_quick_run_writes_report_and_json(
    bench: ModuleType,
    v2: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sizes = tiny(bench)
    monkeypatch.setattr(bench, "QUICK", sizes)
    monkeypatch.setattr(bench, "v2_data", lambda: copy.deepcopy(v2))
    out = tmp_path / "runtime.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Runtime benchmark (quick)")
    assert "| target | measured |" in text

    data = json.loads(out.read_text())
    rows = {r["key"]: r for r in data["rows"]}
    moves = 2 * sizes.cycle_tasks * sizes.cycle_rounds
    for key in ("dict", "pytransitions", "statemachine", "engine_memory"):
        assert rows[key]["ops"] == moves, key
    assert rows["engine_sqlite"]["ops"] == 2 * sizes.sqlite_tasks * sizes.sqlite_rounds
    assert rows["engine_sqlite_batched"]["ops"] == 2 * sizes.sqlite_tasks * sizes.sqlite_rounds
    assert rows["engine_sqlite_full"]["ops"] == 2 * sizes.sqlite_tasks * sizes.sqlite_rounds
    assert rows["lifecycle_memory"]["ops"] == 9 * sizes.lifecycle_tasks
    assert rows["sqlite_batch_append"]["ops"] == sizes.batch_events
    assert rows["assign_matrix"]["ops"] == sizes.assign_tasks
    assert rows["assign_engine"]["ops"] == sizes.engine_assign_tasks
    assert rows["sla_warn"]["ops"] == sizes.sla_tasks
    assert rows["sla_replay"]["ops"] == sizes.sla_tasks + 1
    for row in rows.values():
        assert row["seconds"] and all(s > 0 for s in row["seconds"]), row["key"]
        assert row["best_s"] <= row["median_s"]
    assert len(data["targets"]) == 8
    assert all(isinstance(t["met"], bool) for t in data["targets"])
    assert data["machine"]["threads"] == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    assert data["machine"]["commit"]


def test_lifecycles_agree_with_the_model(bench: ModuleType, v2: dict[str, Any]) -> None:
    states, edges, terminal = bench.lifecycle_edges(v2)
    assert len(states) == 11 and states[0] == "PENDING"
    assert ("IN_PROGRESS", "BLOCKED") in edges and ("BLOCKED", "IN_PROGRESS") in edges
    assert set(terminal) == {"COMPLETED", "CANCELLED"}
    # the floor refuses what the lifecycle does not declare
    setup, run = bench.dict_floor([("IN_PROGRESS", "UNDER_REVIEW")], 1, 1)
    with pytest.raises(ValueError):
        run(setup())


def test_realistic_assignment_picks_members_with_the_skills(bench: ModuleType, v2: dict[str, Any]) -> None:
    from orchdsl_runtime import load_model
    from orchdsl_runtime.assignment import score_matrix

    model = load_model(v2)
    tasks, candidates = bench.realistic_assignment(model, v2, 20, 30)
    assert len({c.agent for c in candidates}) == 30
    best = score_matrix(tasks, candidates, model.weights, model.fit, model.horizon_days, model.assignment_filter)
    picked = [(t, b) for t, b in zip(tasks, best, strict=True) if b is not None]
    assert picked, "no task found a candidate"
    by_id = {c.agent: c for c in candidates}
    for task, b in picked:
        assert any(s in by_id[b.agent].skills for s in task.required)
