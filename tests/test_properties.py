"""Properties over generated specs: valid ones check clean and compile
deterministically; broken ones never crash the checker."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import mutated, valid_specs, weights

from orchdsl.codes import CODES
from orchdsl.compile import compile_to_dir
from orchdsl.pipeline import check_text
from orchdsl.render import FORMATS, render

# Compilation writes many small files; a memory-backed directory, where there is
# one, keeps the examples fast.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MUTATION_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def errors_of(text: str) -> list[str]:
    result = check_text(text, "generated.orch")
    return [f"{d.span}: {d.code} {d.message}" for d in result.diagnostics if d.is_error]


@given(weights())
def test_weights_sum_to_one(pairs: list[tuple[str, str]]) -> None:
    assert sum(int(w.replace(".", "")) for _, w in pairs) == 100
    assert all(0 < float(w) <= 1 for _, w in pairs)


@pytest.mark.slow
@SETTINGS
@given(valid_specs())
def test_valid_specs_check_clean_and_compile_deterministically(text: str) -> None:
    result = check_text(text, "generated.orch")
    errors = [f"{d.span}: {d.code} {d.message}" for d in result.diagnostics if d.is_error]
    assert errors == [], text
    assert result.model is not None
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        first, second = Path(tmp) / "a", Path(tmp) / "b"
        report = compile_to_dir(result.model, first)
        assert report.total > 0 and report.written == report.total
        compile_to_dir(result.model, second)
        files = tree(first)
        assert files == tree(second)
        assert "model.json" in files
        json.loads(files["model.json"])
        # A second compilation into the same place changes nothing.
        assert compile_to_dir(result.model, first).written == 0


@pytest.mark.slow
@MUTATION_SETTINGS
@given(valid_specs().flatmap(lambda text: st.tuples(st.just(text), mutated(text))))
def test_mutated_specs_never_crash_the_checker(pair: tuple[str, str]) -> None:
    _, text = pair
    result = check_text(text, "mutated.orch")  # must not raise
    n_lines = text.count("\n") + 1
    for d in result.diagnostics:
        assert d.code in CODES, d
        assert d.message.strip(), d
        assert d.severity is CODES[d.code].severity
        if d.span is not None:
            assert d.span.file == "mutated.orch"
            assert 1 <= d.span.line <= n_lines, d
            assert 1 <= d.span.end_line <= n_lines, d
            assert (d.span.line, d.span.column) <= (d.span.end_line, d.span.end_column), d
        for label in d.labels:
            assert 1 <= label.span.line <= n_lines, d
    for fmt in FORMATS:
        assert isinstance(render(result.diagnostics, result.sources, fmt), str)
    if result.ok and result.model is not None:
        with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
            compile_to_dir(result.model, Path(tmp))
