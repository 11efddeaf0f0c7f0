"""The command table: every adapter is generated from it, and the docs list what it declares."""

from __future__ import annotations

import os
import re
from pathlib import Path

import jsonschema
import pytest
from orchdsl_runtime import Engine
from orchdsl_runtime.cli import commands_markdown, parser
from orchdsl_runtime.contract.commands import BY_STEP, COMMANDS, arguments_schema
from orchdsl_runtime.scenario import STEP_COMMANDS, schema

ROOT = Path(__file__).resolve().parents[2]
RUN_DOC = ROOT / "docs" / "run.md"


def test_every_command_names_a_method_the_engine_has(engine: Engine) -> None:
    for c in COMMANDS:
        if not c.view:
            assert callable(getattr(engine, c.method, None)), c.name


def test_names_are_unique_and_every_parameter_reaches_the_engine(engine: Engine) -> None:
    import inspect

    keys = [k for c in COMMANDS for k in (c.name, *c.aliases)]
    assert len(keys) == len(set(keys))
    for c in COMMANDS:
        if c.view:
            continue
        accepted = set(inspect.signature(getattr(engine, c.method)).parameters)
        for p in c.params:
            wanted = {"estimate_hours", "estimate_tokens"} if p.kind == "estimate" else {p.keyword}
            assert wanted <= accepted, (c.name, p.name)


def test_the_parser_has_every_command() -> None:
    p = parser()
    for c in COMMANDS:
        args = list(c.words) + [("x" if pr.kind != "int" else "1") for pr in c.params if pr.positional
                                and pr.required]
        for pr in c.params:
            if pr.required and not pr.positional:
                args += [pr.option, pr.choices[0] if pr.choices else "1" if pr.kind == "int" else "x"]
        ns = p.parse_args(args)
        assert ns.command is c


def test_scenario_steps_and_tool_arguments_have_schemas() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert set(STEP_COMMANDS) <= set(BY_STEP)
    for c in COMMANDS:
        s = arguments_schema(c, acting_as=True)
        jsonschema.Draft202012Validator.check_schema(s)
        assert set(s["properties"]) == {p.name for p in c.params} | ({"as"} if c.acts else set())


def test_docs_list_the_commands() -> None:
    text = RUN_DOC.read_text(encoding="utf-8")
    block = re.compile(r"(<!-- commands -->\n)(.*?)(<!-- /commands -->)", re.S)
    generated = commands_markdown()
    if os.environ.get("ORCHDSL_UPDATE_GOLDEN"):
        RUN_DOC.write_text(block.sub(lambda m: m.group(1) + generated + m.group(3), text), encoding="utf-8")
        pytest.skip("docs/run.md rewritten")
    m = block.search(text)
    assert m is not None and m.group(2) == generated, "docs/run.md: ORCHDSL_UPDATE_GOLDEN=1 rewrites the table"
