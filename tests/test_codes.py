"""Every diagnostic code has a page, and every page's example produces its code.

A page is ``docs/codes/ORCnnn.md``. Its first ```orch block is a failing
example: it is written as ``example.orch`` into a temporary directory beside
copies of ``base.orch`` and ``base_flow.orch``, and checked. A line ending in
``# E: ORCnnn`` (or ``# W: ORCnnn`` for a warning; several codes may be
listed, comma-separated) expects a diagnostic of that code and severity whose
primary span starts on that line; the example must produce exactly what its
lines expect, nothing more. The page's own code must be expected on at least
one line. Other ```orch blocks (the fix) must parse.

A control picture in an example (``␛`` for U+001B, ``␀`` for NUL...) stands for the control
character it pictures, so that pages stay printable. A few codes need files no example can
hold (a folder, a file over the size limit, a long chain of includes): ``FIXTURES`` makes
them beside the example and says which file to check.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from orchdsl.codes import CODES, Severity
from orchdsl.diagnostics import Diagnostics
from orchdsl.parser import parse_text
from orchdsl.pipeline import check_files
from orchdsl.sources import MAX_FILE_BYTES, MAX_INCLUDE_DEPTH

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "codes"
BASES = ("base.orch", "base_flow.orch")

PAGE_NAME = re.compile(r"^ORC\d{3}\.md$")
BLOCK = re.compile(r"^```orch[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
EXPECT = re.compile(r"#\s*([EW]):\s*(ORC\d{3}(?:\s*,\s*ORC\d{3})*)\s*$")
SEVERITY = {"E": Severity.ERROR, "W": Severity.WARNING}


def pages() -> list[Path]:
    return sorted(p for p in PAGES.glob("ORC*.md") if PAGE_NAME.match(p.name))


def blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def expectations(example: str) -> set[tuple[int, str, Severity]]:
    """(line, code, severity) for each inline expectation of an example."""
    out: set[tuple[int, str, Severity]] = set()
    for number, line in enumerate(example.splitlines(), start=1):
        found = EXPECT.search(line)
        if found:
            for code in found.group(2).split(","):
                out.add((number, code.strip(), SEVERITY[found.group(1)]))
    return out


def _folder(tmp: Path) -> Path:
    (tmp / "teams").mkdir()
    return tmp / "example.orch"


def _huge_file(tmp: Path) -> Path:
    with open(tmp / "huge.orch", "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: the size is what counts, nothing is read
    return tmp / "example.orch"


def _include_chain(tmp: Path) -> Path:
    """top.orch -> level1.orch -> ... -> example.orch, which is MAX_INCLUDE_DEPTH deep."""
    names = ["top.orch"] + [f"level{i}.orch" for i in range(1, MAX_INCLUDE_DEPTH)] + ["example.orch"]
    for here, below in zip(names, names[1:], strict=False):
        (tmp / here).write_text(f'include "{below}"\n', encoding="utf-8")
    return tmp / "top.orch"


FIXTURES = {"ORC010": _folder, "ORC011": _huge_file, "ORC012": _include_chain}
CONTROL_PICTURES = {0x2400 + c: c for c in range(0x20)}


def run_example(example: str, tmp_path: Path, code: str | None = None) -> tuple[set[tuple[int, str, Severity]], list[str]]:
    """Check an example beside the base files: what it produced in example.orch,
    and every diagnostic that landed anywhere else (rendered)."""
    for base in BASES:
        shutil.copy(PAGES / base, tmp_path / base)
    path = tmp_path / "example.orch"
    path.write_text(example.translate(CONTROL_PICTURES), encoding="utf-8")
    if code in FIXTURES:
        path = FIXTURES[code](tmp_path)
    result = check_files([path])
    got: set[tuple[int, str, Severity]] = set()
    elsewhere: list[str] = []
    for d in result.diagnostics:
        if d.span is not None and Path(d.span.file).name == "example.orch":
            got.add((d.span.line, d.code, d.severity))
        elif d.span is not None and Path(d.span.file).name in BASES:
            elsewhere.append(f"{d.span}: {d.code} {d.message}")
        elif d.span is None:
            got.add((0, d.code, d.severity))
    return got, elsewhere


# ---------------------------------------------------------------- registry <-> pages


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_a_page(code: str) -> None:
    assert (PAGES / f"{code}.md").is_file(), f"docs/codes/{code}.md is missing"


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.stem)
def test_every_page_is_a_code(page: Path) -> None:
    assert page.stem in CODES, f"{page.name} documents a code that is not in the registry"


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.stem)
def test_page_heading(page: Path) -> None:
    code = CODES.get(page.stem)
    if code is None:
        pytest.skip("not a registry code (reported by test_every_page_is_a_code)")
    lines = page.read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# {code.code}: {code.name}"
    assert f"**Severity:** {code.severity.value}" in lines
    assert "## Example" in lines and "## Fix" in lines


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.stem)
def test_page_example(page: Path, tmp_path: Path) -> None:
    code = CODES.get(page.stem)
    if code is None:
        pytest.skip("not a registry code (reported by test_every_page_is_a_code)")
    found = blocks(page.read_text(encoding="utf-8"))
    assert found, f"{page.name} has no ```orch example"
    example = found[0]
    expected = expectations(example)
    assert any(c == code.code for _, c, _ in expected), (
        f"the example of {page.name} does not expect {code.code} on any line"
    )
    for _, c, sev in expected:
        assert c in CODES, f"{page.name} expects unknown code {c}"
        assert CODES[c].severity is sev, f"{c} is marked {sev.value} but is {CODES[c].severity.value}"
    got, elsewhere = run_example(example, tmp_path, code.code)
    missing = sorted(expected - got)
    assert not missing, f"expected but not produced (line, code): {missing}; produced: {sorted(got)}"
    extra = sorted(got - expected)
    assert not extra, f"produced but not expected (line, code): {extra}"
    assert not elsewhere, f"diagnostics in the base files: {elsewhere}"


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.stem)
def test_page_other_blocks_parse(page: Path) -> None:
    for i, text in enumerate(blocks(page.read_text(encoding="utf-8"))[1:], start=2):
        diags = Diagnostics()
        tree = parse_text(text, f"{page.stem}-block{i}.orch", diags)
        assert tree is not None and not diags.has_errors, [d.message for d in diags]


GROUPS = {
    "0": "input and syntax", "1": "names", "2": "hierarchy", "3": "lifecycle", "4": "protocols",
    "5": "assignment and capacity", "6": "skills and domains", "7": "tiers, gates and metrics",
    "8": "declared but unused", "9": "values",
}


def index_text() -> str:
    """docs/codes/README.md as the registry gives it."""
    out = [
        "# Diagnostic codes",
        "",
        "Every problem `orchdsl check` reports carries a stable code. Each code has a page with",
        "an example that produces it (the examples are run by the tests) and the way to fix it.",
        "Codes are grouped by hundreds; a code keeps its meaning once published.",
    ]
    group = None
    for c in CODES.values():
        if c.code[3] != group:
            group = c.code[3]
            out += ["", f"## {group}xx: {GROUPS[group]}", "",
                    "| code | name | severity | summary |", "|---|---|---|---|"]
        out.append(f"| [{c.code}]({c.code}.md) | `{c.name}` | {c.severity.value} | {c.summary} |")
    return "\n".join(out) + "\n"


def test_index_matches_registry() -> None:
    """docs/codes/README.md lists every code of the registry, in order
    (``ORCHDSL_UPDATE_GOLDEN=1`` rewrites it)."""
    path = PAGES / "README.md"
    want = index_text()
    if os.environ.get("ORCHDSL_UPDATE_GOLDEN") == "1":
        path.write_text(want, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == want, "docs/codes/README.md is out of date"


# ---------------------------------------------------------------- the base files


@pytest.mark.parametrize("base", BASES)
def test_base_files_check_clean(base: str, tmp_path: Path) -> None:
    """Nothing is reported in either base file; base_flow.orch, a whole
    organisation, checks clean (base.orch alone has no lifecycle)."""
    got, elsewhere = run_example(f'org example\ninclude "{base}"\n', tmp_path)
    assert not elsewhere
    if base == "base_flow.orch":
        assert not got


def test_expectation_syntax() -> None:
    example = "a  # E: ORC101\nb\nc # W: ORC801, ORC805\nd # E: ORC1\n"
    assert expectations(example) == {
        (1, "ORC101", Severity.ERROR),
        (3, "ORC801", Severity.WARNING),
        (3, "ORC805", Severity.WARNING),
    }
