"""Shared fixtures: paths of the repository's specs and examples."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLES = ROOT / "examples"


@pytest.fixture
def root() -> Path:
    return ROOT


def good_specs() -> list[Path]:
    """Every spec and example that must check clean (shared parts and bad/ excluded)."""
    files = sorted(SPECS.glob("*.orch")) + sorted(EXAMPLES.glob("*.orch"))
    return files
