"""Golden files, one set per stage, under ``tests/golden/``.

- parse:   ``parse/small.txt``, a dump of the syntax tree of ``parse/small.orch``
- lower:   ``lower/<spec>.model.json``, the compiled model of each spec
- check:   ``check/<name>.<format>``, ``orchdsl check`` of the bad specs in every format
- compile: ``compile/orchestration_v2.sha256``, every file compilation writes, with its hash
           and ``compile/startup/``, some files compiled from ``examples/startup.orch``, as text
- graph:   ``graph/<spec>.<view>[.tier<N>].<mmd|dot>``, ``orchdsl graph`` of each view

Set ``ORCHDSL_UPDATE_GOLDEN=1`` to rewrite the files from the current output;
otherwise a mismatch fails with a unified diff. The bad specs in
``golden/bad/`` also carry their expectations inline, independent of the
golden text: ``# E: ORCnnn`` (or ``# W:`` for a warning; several codes
comma-separated) on a line expects a diagnostic of that code and severity
starting on that line, and nothing else is expected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from orchdsl import ast
from orchdsl.cli import main
from orchdsl.codes import Severity
from orchdsl.diagnostics import Diagnostics, Span
from orchdsl.emit import compiled_json
from orchdsl.parser import parse_text
from orchdsl.pipeline import check_files

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("ORCHDSL_UPDATE_GOLDEN") == "1"
FORMATS = {"human": "human.txt", "short": "short.txt", "json": "json", "github": "github.txt"}
EXPECT = re.compile(r"#\s*([EW]):\s*(ORC\d{3}(?:\s*,\s*ORC\d{3})*)\s*$")


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths in output are relative to the working directory: run from the root."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        if not path.exists() or path.read_bytes() != actual.encode("utf-8"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual.encode("utf-8"))
        return
    rel = path.relative_to(ROOT).as_posix()
    if not path.exists():
        pytest.fail(f"{rel} does not exist; create it with ORCHDSL_UPDATE_GOLDEN=1")
    expected = path.read_bytes().decode("utf-8")
    if expected != actual:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=rel, tofile="actual",
        )
        pytest.fail(f"output differs from {rel} (ORCHDSL_UPDATE_GOLDEN=1 rewrites it):\n"
                    + "".join(diff), pytrace=False)


# ---------------------------------------------------------------- parse: AST dump


def span_text(s: Span) -> str:
    return f"@{s.line}:{s.column}-{s.end_line}:{s.end_column}"


def inline(v: object) -> str:
    """A value on one line, spans left out."""
    if v is None:
        return "_"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, ast.Name):
        return v.text
    if isinstance(v, ast.Text):
        return json.dumps(v.value, ensure_ascii=False)
    if isinstance(v, ast.Num):
        if v.percent:
            return f"{v.value * 100:g}%"
        return str(int(v.value)) if v.integer else f"{v.value:g}"
    if isinstance(v, ast.Budget):
        return f"{v.kind}:{v.text}"
    if isinstance(v, ast.TierRange):
        return f"tier {v.low}" if v.low == v.high else f"tier {v.low}-{v.high}"
    if isinstance(v, ast.Path):
        return v.dotted
    if isinstance(v, ast.Literal):
        return f"{v.type}:{v.text}"
    if isinstance(v, ast.BoolOp):
        return f"({v.op} {inline(v.left)} {inline(v.right)})"
    if isinstance(v, ast.Not):
        return f"(not {inline(v.arg)})"
    if isinstance(v, ast.Compare):
        return f"({v.op} {inline(v.left)} {inline(v.right)})"
    if isinstance(v, ast.MemberOf):
        return f"(in {inline(v.left)} {inline(v.items)})"
    if isinstance(v, ast.Step):
        if v.gate is not None:
            return f"gate {v.gate.text}"
        return inline(v.actor) + (f":{v.stage.text}" if v.stage else "")
    if isinstance(v, ast.Clause):
        return f"({v.kind} {inline(v.value)})"
    if isinstance(v, list):
        return "[" + ", ".join(inline(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + " ".join(inline(x) for x in v) + ")"
    raise TypeError(f"cannot dump {type(v).__name__}")


def dump(node: object, depth: int = 0) -> list[str]:
    """The syntax tree, one node per line, each with its span."""
    pad = "  " * depth
    if isinstance(node, ast.File):
        return [line for item in node.items for line in dump(item, depth)]
    if isinstance(node, ast.Block):
        head = node.kind + (f" {node.name.text} {span_text(node.name.span)}" if node.name else "")
        extra = "".join(f" {k}={inline(v)}" for k, v in sorted(node.extra.items()) if v is not None)
        lines = [f"{pad}{head}{extra} {span_text(node.span)}"]
        for c in node.clauses:
            lines += dump(c, depth + 1)
        return lines
    if isinstance(node, ast.Transition):
        label = f" {inline(node.label)}" if node.label else ""
        lines = [f"{pad}-> {node.target.text} {span_text(node.target.span)}{label} {span_text(node.span)}"]
        for c in node.clauses:
            lines += dump(c, depth + 1)
        return lines
    if isinstance(node, ast.Clause):
        return [f"{pad}{node.kind} {inline(node.value)} {span_text(node.span)}"]
    return [f"{pad}{inline(node)}"]  # a bare value among clauses, e.g. a level of `experience`


def test_dump_is_one_line_per_node() -> None:
    diags = Diagnostics()
    tree = parse_text('org o\nrole r { reports_to b }\n', "t.orch", diags)
    assert tree is not None
    assert dump(tree) == [
        "org o @1:5-1:6 @1:1-1:6",
        "role r @2:6-2:7 @2:1-2:24",
        "  reports_to b @2:10-2:22",
    ]


def test_parse_golden() -> None:
    source = GOLDEN / "parse" / "small.orch"
    diags = Diagnostics()
    tree = parse_text(source.read_text(encoding="utf-8"), "small.orch", diags)
    assert tree is not None, [d.message for d in diags]
    assert_golden("parse/small.txt", "\n".join(dump(tree)) + "\n")


# ---------------------------------------------------------------- lower: model.json


@pytest.mark.parametrize("spec", ["orchestration_v1", "orchestration_v2"])
def test_lower_golden(spec: str) -> None:
    result = check_files([Path("specs") / f"{spec}.orch"])
    assert result.model is not None and result.ok
    text = compiled_json(result.model)
    json.loads(text)
    assert_golden(f"lower/{spec}.model.json", text if text.endswith("\n") else text + "\n")


# ---------------------------------------------------------------- check: renderings


def bad_specs() -> list[str]:
    specs = sorted(p.relative_to(ROOT).as_posix() for p in (GOLDEN / "bad").glob("*.orch"))
    return ["examples/bad/twelve_mistakes.orch", *specs]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("spec", bad_specs(), ids=lambda s: Path(s).stem)
def test_check_golden(spec: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--format", fmt, "--color", "never", spec])
    out = capsys.readouterr().out
    assert code == 1
    assert_golden(f"check/{Path(spec).stem}.{FORMATS[fmt]}", out)


def expectations(text: str) -> set[tuple[int, str, Severity]]:
    out = set()
    for number, line in enumerate(text.splitlines(), start=1):
        found = EXPECT.search(line)
        if found:
            severity = Severity.ERROR if found.group(1) == "E" else Severity.WARNING
            out |= {(number, code.strip(), severity) for code in found.group(2).split(",")}
    return out


@pytest.mark.parametrize("spec", bad_specs()[1:], ids=lambda s: Path(s).stem)
def test_bad_spec_expectations(spec: str) -> None:
    expected = expectations(Path(spec).read_text(encoding="utf-8"))
    assert expected, f"{spec} states no expectations"
    result = check_files([Path(spec)])
    got = {(d.span.line if d.span else 0, d.code, d.severity) for d in result.diagnostics}
    assert sorted(expected - got) == [], "expected but not reported"
    assert sorted(got - expected) == [], "reported but not expected"


# ---------------------------------------------------------------- compile: files and hashes


def test_compile_golden(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["compile", "specs/orchestration_v2.orch", "-o", str(out)]) == 0
    capsys.readouterr()
    lines = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(out).as_posix()}")
    assert lines
    assert_golden("compile/orchestration_v2.sha256", "\n".join(lines) + "\n")


READABLE = ("model.json", "agents/eng-lead.md")
"""Compiled files of the small example kept as text, to read what compilation makes of a spec."""


def test_compile_readable_golden(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["compile", "examples/startup.orch", "-o", str(out)]) == 0
    capsys.readouterr()
    for name in READABLE:
        assert_golden(f"compile/startup/{name}", (out / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- graph: Mermaid and DOT text

GRAPHS = [("orchestration_v2", view, tier) for view in ("hierarchy", "lifecycle", "protocols", "flows")
          for tier in (None,)] + [("orchestration_v2", "lifecycle", 2), ("orchestration_v2", "flows", 4),
                                  ("startup", "hierarchy", None), ("startup", "lifecycle", None)]


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
@pytest.mark.parametrize("spec, view, tier", GRAPHS,
                         ids=[f"{s}-{v}" + (f"-tier{t}" if t is not None else "") for s, v, t in GRAPHS])
def test_graph_golden(spec: str, view: str, tier: int | None, fmt: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    path = f"specs/{spec}.orch" if spec.startswith("orchestration") else f"examples/{spec}.orch"
    argv = ["graph", path, "--view", view, "--format", fmt] + (["--tier", str(tier)] if tier is not None else [])
    assert main(argv) == 0
    suffix = (f".tier{tier}" if tier is not None else "") + (".mmd" if fmt == "mermaid" else ".dot")
    assert_golden(f"graph/{spec}.{view}{suffix}", capsys.readouterr().out)


def test_goldens_hold_no_machine_paths() -> None:
    """Golden text names files relative to the repository, so it matches anywhere."""
    for path in sorted(GOLDEN.rglob("*")):
        if path.is_file() and path.suffix != ".orch":
            text = path.read_text(encoding="utf-8")
            assert str(ROOT) not in text, path
            assert not re.search(r"(/tmp/|/home/|[A-Z]:\\\\)", text), path
