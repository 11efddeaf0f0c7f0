"""Every spec and example is a test: the good ones check clean and compile,
and the deliberately bad one is caught on every line that says what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchdsl.compile import compile_to_dir
from orchdsl.pipeline import check_files, display_path

ROOT = Path(__file__).resolve().parent.parent
TWELVE = ROOT / "examples" / "bad" / "twelve_mistakes.orch"
EXPECT = re.compile(r"#\s*expect\s+(ORC\d{3}(?:\s*,\s*ORC\d{3})*):\s*(.+)$")


def good_specs() -> list[Path]:
    """specs/*.orch and examples/*.orch; examples/shared/ holds included parts
    and examples/bad/ holds specs that are wrong on purpose."""
    return sorted((ROOT / "specs").glob("*.orch")) + sorted((ROOT / "examples").glob("*.orch"))


def spec_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_there_are_specs_and_examples() -> None:
    names = {spec_id(p) for p in good_specs()}
    assert {"specs/orchestration_v1.orch", "specs/orchestration_v2.orch", "examples/startup.orch"} <= names


@pytest.mark.parametrize("spec", good_specs(), ids=spec_id)
def test_spec_checks_clean(spec: Path) -> None:
    result = check_files([spec])
    errors = [f"{d.span}: {d.code} {d.message}" for d in result.diagnostics if d.is_error]
    assert errors == []
    assert result.model is not None


@pytest.mark.parametrize("spec", good_specs(), ids=spec_id)
def test_spec_compiles(spec: Path, tmp_path: Path) -> None:
    result = check_files([spec])
    assert result.ok and result.model is not None
    out = tmp_path / "out"
    report = compile_to_dir(result.model, out)
    assert report.total > 0 and report.written == report.total
    assert (out / "model.json").is_file()
    again = compile_to_dir(result.model, out, check=True)
    assert again.ok, again.describe()


def test_includes_are_followed() -> None:
    """An example that includes the shared base reads it, and the shared part
    is not an organisation on its own (it is not in the list of good specs)."""
    including = [p for p in good_specs() if re.search(r'^include\s+"', p.read_text(encoding="utf-8"), re.M)]
    assert including, "no example uses `include`"
    for spec in including:
        result = check_files([spec])
        assert len(result.files) > 1, f"{spec_id(spec)} includes files that were not read"
    assert all("shared" not in p.parts for p in good_specs())


def expectations() -> dict[tuple[int, str], str]:
    """(line, code) -> what the comment says is wrong there (``# expect ORC102: ...``)."""
    out: dict[tuple[int, str], str] = {}
    for number, line in enumerate(TWELVE.read_text(encoding="utf-8").splitlines(), start=1):
        found = EXPECT.search(line)
        if found:
            for code in found.group(1).split(","):
                out[(number, code.strip())] = found.group(2).strip()
    return out


def test_twelve_mistakes_has_its_expectations() -> None:
    assert len(expectations()) == 12
    lines = TWELVE.read_text(encoding="utf-8").splitlines()
    unnamed = [n for n, line in enumerate(lines, start=1) if "# expect" in line and not EXPECT.search(line)]
    assert unnamed == [], "marks that name no code"


def test_twelve_mistakes_reports_exactly_what_is_marked() -> None:
    """Each marked line gets an error of the code its mark names, and nothing else is reported."""
    result = check_files([TWELVE])
    name = display_path(TWELVE)
    assert all(d.is_error and d.span is not None and d.span.file == name for d in result.diagnostics)
    got = {(d.span.line, d.code) for d in result.diagnostics if d.span is not None}
    expected = expectations()
    missed = {k: why for k, why in expected.items() if k not in got}
    assert missed == {}, f"not reported: {missed}"
    assert sorted(got - set(expected)) == [], "reported but not marked"
