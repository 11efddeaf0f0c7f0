"""The refusal codes are declared once, in ``orchdsl_runtime.errors.REFUSALS``: the table in
docs/runtime.md is that list (``ORCHDSL_UPDATE_GOLDEN=1`` rewrites it), and ``CODES``,
``NAMES`` and ``Refused`` agree with it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from orchdsl_runtime.errors import BY_CODE, CODES, NAMES, REFUSALS, Refused

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "runtime.md"
TABLE = re.compile(r"(## Refusal codes\n\n)(\| code \| name \| meaning \|\n(?:\|.*\|\n)+)")


def refusal_table() -> str:
    rows = ["| code | name | meaning |", "|---|---|---|"]
    rows += [f"| {r.code} | {r.name} | {r.meaning.replace('|', chr(92) + '|')} |" for r in REFUSALS]
    return "\n".join(rows) + "\n"


def test_docs_table_is_the_registry() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = TABLE.search(text)
    assert found, "docs/runtime.md has no table under `## Refusal codes`"
    want = refusal_table()
    if os.environ.get("ORCHDSL_UPDATE_GOLDEN") == "1" and found.group(2) != want:
        DOC.write_text(text[:found.start(2)] + want + text[found.end(2):], encoding="utf-8")
        return
    assert found.group(2) == want, "docs/runtime.md's refusal table is out of date (ORCHDSL_UPDATE_GOLDEN=1)"


def test_one_entry_per_code_numbered_in_order() -> None:
    assert [r.code for r in REFUSALS] == [f"RUN{i:03d}" for i in range(1, len(REFUSALS) + 1)]
    assert len({r.name for r in REFUSALS}) == len(REFUSALS)
    for r in REFUSALS:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", r.name), r.name
        assert r.meaning and r.meaning[0].islower() and not r.meaning.endswith("."), r.meaning


def test_codes_and_names_come_from_the_registry() -> None:
    assert CODES == {r.code: r.name for r in REFUSALS}
    assert NAMES == {r.name: r.code for r in REFUSALS}
    assert set(BY_CODE) == set(CODES)


@pytest.mark.parametrize("given", ["RUN004", "actor-not-permitted"])
def test_refused_by_code_or_name(given: str) -> None:
    err = Refused(given, "`dev-1` may not move `T1`", task="T1")
    assert (err.code, err.name, err.reason, err.data) == (
        "RUN004", "actor-not-permitted", "`dev-1` may not move `T1`", {"task": "T1"})
    assert str(err) == "RUN004 actor-not-permitted: `dev-1` may not move `T1`"
