"""The VS Code extension in ``editors/vscode/``: its TextMate grammar names every keyword of
the Lark grammar, and, tokenized by the engine VS Code uses (vscode-textmate with Oniguruma,
from the extension's npm dev dependencies), highlights every keyword, comment, string,
relation and number of every spec and example where Lark's lexer finds them; the extension
starts `orchdsl lsp`.

The node tests skip when Node.js or the extension's packages are missing; `make test`
installs the packages with `npm ci` where npm is available.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lark import Token

from orchdsl.fmt import _tree_parser
from orchdsl.lsp.complete import keyword_terminals, keywords

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((EXT / "syntaxes" / "orch.tmLanguage.json").read_text(encoding="utf-8"))
PACKAGE = json.loads((EXT / "package.json").read_text(encoding="utf-8"))
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None or not (EXT / "node_modules" / "vscode-textmate").is_dir(),
    reason="needs Node.js and the extension's packages (`npm ci --prefix editors/vscode`)")
SPECS = sorted(p for top in ("specs", "examples") for p in (ROOT / top).rglob("*.orch"))


def grammar_words() -> set[str]:
    """The words of the TextMate grammar's keyword and constant patterns."""
    out: set[str] = set()
    for name, rule in GRAMMAR["repository"].items():
        if name.startswith(("keyword-", "constant")):
            found = re.fullmatch(r"\(\?<!\[\\w-\]\)\(\?:([a-z_|]+)\)\(\?!\[\\w-\]\)", rule["match"])
            assert found, f"{name}: {rule['match']}"
            out |= set(found.group(1).split("|"))
    return out


def test_the_textmate_grammar_has_every_keyword_of_the_lark_grammar() -> None:
    assert grammar_words() == keywords()
    assert len(keywords()) > 90


def test_the_extension_is_wired() -> None:
    (language,) = PACKAGE["contributes"]["languages"]
    (grammar,) = PACKAGE["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "orch" and language["extensions"] == [".orch"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"] == "source.orch"
    assert (EXT / grammar["path"]).is_file() and (EXT / language["configuration"]).is_file()
    assert (EXT / PACKAGE["main"]).is_file()
    assert PACKAGE["contributes"]["configuration"]["properties"]["orchdsl.command"]["default"] == ["orchdsl", "lsp"]
    json.loads((EXT / "language-configuration.json").read_text(encoding="utf-8"))


@needs_node
def test_the_extension_starts_the_language_server() -> None:
    assert NODE is not None
    run = subprocess.run([NODE, str(EXT / "test" / "extension.js")], capture_output=True, text=True, timeout=60,
                         check=True)
    (started,) = json.loads(run.stdout)["started"]
    assert started["server"]["command"] == "orchdsl" and started["server"]["args"] == ["lsp"]
    assert started["documentSelector"] == [{"language": "orch"}]
    env = {**os.environ, "ORCHDSL_COMMAND": json.dumps(["/venv/bin/orchdsl", "lsp"])}
    run = subprocess.run([NODE, str(EXT / "test" / "extension.js")], capture_output=True, text=True, timeout=60,
                         check=True, env=env)
    assert json.loads(run.stdout)["started"][0]["server"]["command"] == "/venv/bin/orchdsl"


def lark_tokens(text: str) -> tuple[list[Token], list[Token]]:
    """Every token and comment of a spec, as Lark's lexer finds them."""
    lark, collector = _tree_parser()
    collector.comments = []
    tree = lark.parse(text)
    return list(tree.scan_values(lambda v: isinstance(v, Token))), list(collector.comments)


EXPECTED = {  # a kind of token -> a scope its TextMate token must have
    "keyword": ("keyword.", "constant.language."),
    "COMMENT": ("comment.",),
    "STRING": ("string.quoted.double.orch",),
    "RELATION": ("variable.language.relation.orch",),
    "DURATION": ("constant.numeric.duration.orch",),
    "TOKENS": ("constant.numeric.tokens.orch",),
    "MULTIPLE": ("constant.numeric.multiple.orch",),
    "PERCENT": ("constant.numeric.percent.orch",),
    "COUNT": ("constant.numeric.count.orch",),
    "INT": ("constant.numeric.orch",),
    "FLOAT": ("constant.numeric.orch",),
}


@needs_node
def test_every_spec_is_highlighted_where_lark_finds_its_tokens() -> None:
    assert NODE is not None
    run = subprocess.run([NODE, str(EXT / "test" / "grammar.js"), *map(str, SPECS)], capture_output=True,
                         text=True, timeout=120, check=True)
    scanned = json.loads(run.stdout)
    kinds = keyword_terminals()
    checked: dict[str, int] = {}
    wrong: list[str] = []
    for spec in SPECS:
        text = spec.read_text(encoding="utf-8")
        tm: dict[int, list[tuple[int, int, list[str]]]] = {}
        for line, start, end, scopes in scanned[str(spec)]:
            tm.setdefault(line, []).append((start, end, scopes))
        tokens, comments = lark_tokens(text)
        for tok in [*tokens, *comments]:
            kind = "keyword" if tok.type in kinds else tok.type
            col = (tok.column or 1) - 1
            scopes = next((s for a, b, s in tm.get(tok.line or 0, []) if a <= col < b), [])
            where = f"{spec.relative_to(ROOT)}:{tok.line}:{tok.column} `{tok}`"
            if kind in EXPECTED:
                checked[kind] = checked.get(kind, 0) + 1
                if not any(s.startswith(EXPECTED[kind]) for s in scopes):
                    wrong.append(f"{where} ({kind}) has {scopes}")
            elif tok.type == "NAME" and str(tok) not in keywords():
                checked["NAME"] = checked.get("NAME", 0) + 1
                if any(s.startswith("keyword.") for s in scopes):
                    wrong.append(f"{where} is a name but highlighted as {scopes}")
    assert wrong == [], "\n".join(wrong)
    assert {"keyword", "COMMENT", "STRING", "RELATION", "DURATION", "PERCENT", "NAME", "COUNT"} <= set(checked)
    assert checked["keyword"] > 1000
