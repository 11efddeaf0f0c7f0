"""The benchmark's spec generator and runner work (no timings are asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from orchdsl.pipeline import check_text

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _genspec() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_genspec", BENCH / "genspec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_spec_checks_clean() -> None:
    text = _genspec().generate(1)
    result = check_text(text, "scale-1.orch")
    found = [f"{d.code} {d.message}" for d in result.diagnostics]
    assert result.model is not None
    assert found == []


def test_generator_is_deterministic_and_grows_linearly() -> None:
    gen = _genspec()
    one, two, four = (gen.generate(s).count("\n") for s in (1, 2, 4))
    assert gen.generate(2) == gen.generate(2)
    assert gen.generate(2, seed=2) != gen.generate(2)
    # Each step adds the same amount (domains of 50 ICs); the lifecycle grows a little too.
    assert 0.8 < (four - two) / (2 * (two - one)) < 1.2


def test_generated_spec_has_the_documented_shape() -> None:
    result = check_text(_genspec().generate(2), "scale-2.orch")
    org = result.model
    assert org is not None
    assert len(org.domains) == 2
    ics = [r for r in org.roles if r.layer == "ic"]
    assert len(ics) == 100
    assert len(org.lifecycle.states) == 16


@pytest.mark.slow
def test_run_quick(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--scales", "1", "--reps", "1", "--cold-runs", "1",
         "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [r["scale"] for r in data["scales"]] == [1]
    for row in data["scales"]:
        assert row["errors"] == 0
        assert row["lines"] > 0 and row["check"]["wall"] > 0 and row["bare"]["wall"] > 0
    assert data["cold"]["orchdsl_check_v2"]["exit"] == 0
    assert "| scale | lines |" in proc.stdout
