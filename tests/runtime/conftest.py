"""Fixtures of the runtime tests: compiled models (built once per session by the
compiler, which tests may import and the runtime may not) and engine helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from orchdsl_runtime import Engine, MemoryStore, Model, VirtualClock, load_model

from orchdsl.emit import compiled_json
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parents[2]


def compiled(path: Path) -> dict[str, Any]:
    result = check_files([path])
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    data: dict[str, Any] = json.loads(compiled_json(result.model))
    return data


def compile_spec(spec: Path, out: Path) -> Path:
    """``spec`` compiled into ``out``: model.json, schemas/ and Agent_Memory/."""
    from orchdsl.compile import compile_to_dir

    result = check_files([spec])
    assert result.model is not None and result.ok, [d.message for d in result.diagnostics]
    compile_to_dir(result.model, out)
    return out


@pytest.fixture(scope="session")
def compiled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The V2 spec compiled once per session."""
    return compile_spec(ROOT / "specs" / "orchestration_v2.orch", tmp_path_factory.mktemp("v2"))


@pytest.fixture(scope="session")
def v2_data() -> dict[str, Any]:
    return compiled(ROOT / "specs" / "orchestration_v2.orch")


@pytest.fixture(scope="session")
def v2(v2_data: dict[str, Any]) -> Model:
    return load_model(v2_data)


@pytest.fixture(scope="session")
def tokens_model() -> Model:
    return load_model(compiled(ROOT / "examples" / "token_budget.orch"))


@pytest.fixture
def engine(v2: Model) -> Engine:
    return Engine(v2, MemoryStore(), VirtualClock(0.0))
