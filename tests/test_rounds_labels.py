"""Bounded loops (`rounds N then ...`), task labels and gates that apply by domain or label:
parsing, lowering into the compiled model, the checks with their "did you mean", and the
formatter's round trip. The runtime side is in tests/runtime/test_engine_rounds_labels_outputs.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from orchdsl.diagnostics import Diagnostics
from orchdsl.emit import compiled_json
from orchdsl.fmt import format_text
from orchdsl.pipeline import Result, check_text

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```orch\n(.*?)```", DOC, re.S)
LOOP = next(b for b in BLOCKS if b.startswith("org review-loop\n"))
SHOP = next(b for b in BLOCKS if b.startswith("org shop\n"))


def check(text: str) -> Result:
    return check_text(text, "t.orch")


def codes(r: Result) -> list[str]:
    return [d.code for d in r.diagnostics]


def model(text: str) -> dict[str, object]:
    r = check(text)
    assert r.model is not None and r.ok, [d.message for d in r.diagnostics]
    data: dict[str, object] = json.loads(compiled_json(r.model))
    return data


def test_the_doc_examples_check_clean() -> None:
    for text in (LOOP, SHOP, (ROOT / "examples" / "content_pipeline.orch").read_text(encoding="utf-8")):
        assert codes(check(text)) == []


def test_rounds_lower_into_the_transition() -> None:
    data = model(LOOP)
    states = {s["name"]: s for s in data["lifecycle"]["states"]}  # type: ignore[index]
    review = {t["target"]: t for t in states["REVIEW"]["transitions"]}
    assert review["DRAFT"]["rounds"] == {"limit": 2, "then": "DROPPED"}
    assert "rounds" not in review["DONE"]
    esc = model(LOOP.replace("then -> DROPPED", "then escalate to @lead"))
    states = {s["name"]: s for s in esc["lifecycle"]["states"]}  # type: ignore[index]
    assert states["REVIEW"]["transitions"][0]["rounds"] == {"limit": 2, "escalate": "@lead"}


def test_labels_and_applies_lower_into_the_model() -> None:
    data = model(SHOP)
    assert data["labels"] == ["code", "docs"]
    (gate,) = data["gates"]  # type: ignore[misc]
    assert gate["domains"] == ["eng"] and gate["labels"] == ["code"]


def test_a_spec_without_the_constructs_has_none_of_their_keys() -> None:
    data = model((ROOT / "specs" / "orchestration_v2.orch").read_text(encoding="utf-8"))
    assert "labels" not in data
    assert not [t for s in data["lifecycle"]["states"] for t in s["transitions"] if "rounds" in t]  # type: ignore[index]
    assert not [g for g in data["gates"] if "labels" in g or "domains" in g]  # type: ignore[union-attr]


def test_orc116_unknown_label_did_you_mean() -> None:
    r = check(SHOP.replace("applies to label code", "applies to label cdoe"))
    (d,) = r.diagnostics
    assert d.code == "ORC116" and d.message == "unknown label `cdoe`" and "`code`" in (d.help or "")


def test_unknown_domain_in_applies_did_you_mean() -> None:
    r = check(SHOP.replace("applies to domain eng", "applies to domain egn"))
    (d,) = r.diagnostics
    assert d.code == "ORC106" and "`eng`" in (d.help or "")


def test_a_label_declared_twice() -> None:
    assert codes(check(SHOP.replace("labels code, docs", "labels code, docs, code"))) == ["ORC101"]


def test_orc323_a_bound_that_never_comes_back() -> None:
    text = LOOP.replace('-> DONE "approved" by @peer', '-> DONE "approved" by @peer rounds 1 then -> DROPPED')
    r = check(text)
    (d,) = r.diagnostics
    assert d.code == "ORC324" and "`REVIEW -> DONE`" in d.message
    assert d.span is not None and d.span.line == text.splitlines().index(
        next(line for line in text.splitlines() if "rounds 1" in line)) + 1


def test_orc324_the_path_must_be_another_transition() -> None:
    r = check(LOOP.replace("then -> DROPPED", "then -> TODO"))
    (d,) = r.diagnostics
    assert d.code == "ORC325" and "`REVIEW -> TODO` is no transition" in d.message
    r = check(LOOP.replace("then -> DROPPED", "then -> DRPOPED"))
    assert codes(r) == ["ORC103"]  # not a state at all: the name is unknown
    r = check(LOOP.replace("then -> DROPPED", "then -> DRAFT"))
    (d,) = r.diagnostics
    assert d.code == "ORC325" and "cannot take itself" in d.message
    r = check(LOOP.replace("then -> DROPPED", "then -> DONE").replace("-> DONE \"approved\" by @peer", ""))
    assert "ORC325" in codes(r)


def test_orc325_an_escalation_that_leaves_the_task_nowhere() -> None:
    text = LOOP.replace("then -> DROPPED", "then escalate to @lead")
    assert codes(check(text)) == []  # `-> DONE` and `-> DROPPED` remain for the lead
    stuck = text.replace('-> DONE "approved" by @peer', "").replace('-> DROPPED "not worth it" by @lead', "")
    stuck = stuck.replace("-> REVIEW by @assignee", '-> REVIEW by @assignee -> DONE by @lead')
    r = check(stuck)
    assert "ORC326" in codes(r)
    (d,) = [d for d in r.diagnostics if d.code == "ORC326"]
    assert "no other transition leads out of `REVIEW`" in d.message


def test_rounds_need_a_whole_number_of_at_least_one() -> None:
    assert codes(check(LOOP.replace("rounds 2", "rounds 0"))) == ["ORC901"]
    assert codes(check(LOOP.replace("rounds 2", "rounds 1.5"))) == ["ORC001"]


def test_an_escalation_target_must_make_sense() -> None:
    assert codes(check(LOOP.replace("then -> DROPPED", "then escalate to @peer"))) == ["ORC110"]
    assert codes(check(LOOP.replace("then -> DROPPED", "then escalate to editr"))) == ["ORC102"]


def test_the_formatter_round_trips_the_constructs() -> None:
    for text in (LOOP, SHOP, LOOP.replace("then -> DROPPED", "then escalate to @lead")):
        squeezed = re.sub(r"\s+", " ", text)
        out = format_text(squeezed, "t.orch", Diagnostics())
        assert out is not None
        assert format_text(out, "t.orch", Diagnostics()) == out
        assert json.loads(compiled_json(check(out).model)) == json.loads(compiled_json(check(text).model))  # type: ignore[arg-type]


def test_the_language_server_indexes_labels_and_the_targets_of_rounds() -> None:
    from orchdsl.lsp.index import Index
    from orchdsl.parser import parse_text

    text = (ROOT / "examples" / "content_pipeline.orch").read_text(encoding="utf-8")
    f = parse_text(text, "c.orch", Diagnostics())
    assert f is not None
    index = Index([f])
    (decl,) = index.declarations("label", "news")
    uses = [o for o in index.references("label", "news", include_declarations=False)]
    assert decl.span.line == 24 and [o.span.line for o in uses] == [
        i for i, line in enumerate(text.splitlines(), 1) if "applies to label news" in line]
    spiked = {o.span.line for o in index.references("state", "SPIKED", include_declarations=False)}
    assert next(i for i, line in enumerate(text.splitlines(), 1) if "then -> SPIKED" in line) in spiked
    applied = next(i for i, line in enumerate(text.splitlines(), 1) if "applies to domain features" in line)
    assert applied in {o.span.line for o in index.references("domain", "features", include_declarations=False)}
