"""Generators: the model in, output files (as text keyed by relative path) out.

- ``model.json`` and ``schemas/compiled-model.schema.json``: the compiled model;
- ``Agent_Memory/``: system config, capacity and skill files, communication
  folders (``memory``);
- ``agents/{agent}.md``: one prompt per agent (``prompts``, the only user of jinja2);
- ``schemas/{name}.schema.json``: JSON Schemas of every file an agent reads or
  writes (``schemas``);
- ``docs/*.md``: the hierarchy, lifecycle, protocols and flows as Mermaid
  diagrams (``orchdsl.graph``);
- with the ``claude`` layout, ``.claude/agents/{agent}.md`` and ``.mcp.json``
  (``claude``).

Every generator is deterministic: a fixed key order, no timestamps.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import TYPE_CHECKING

from orchdsl.emit import compiled_json
from orchdsl.model import Organisation

if TYPE_CHECKING:
    from orchdsl_runtime.model import Model

LAYOUTS = ("default", "claude")
"""what ``orchdsl compile --layout`` writes: the usual output; and with it Claude Code's
subagents and MCP servers"""


def model_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of the compiled model (a fresh copy)."""
    return copy.deepcopy(_model_schema())


@functools.cache
def _model_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of the compiled model, generated from the
    runtime's contract (its dataclasses, with their docstrings as descriptions)."""
    from orchdsl_runtime.contract import model as contract
    from orchdsl_runtime.contract.codec import json_name
    from pydantic import TypeAdapter

    for part in contract.PARTS:
        # read by pydantic only: field docstrings become descriptions, unknown fields are refused
        part.__pydantic_config__ = {"use_attribute_docstrings": True, "extra": "forbid"}  # type: ignore[attr-defined]
    schema = TypeAdapter(contract.CompiledModel).json_schema(mode="validation")
    for part_schema in [schema, *schema.get("$defs", {}).values()]:
        props = part_schema.get("properties", {})
        part_schema["properties"] = {json_name(k): v for k, v in props.items()}
        if "required" in part_schema:
            part_schema["required"] = [json_name(k) for k in part_schema["required"]]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://orchdsl.dev/schemas/compiled-model.schema.json", **schema}


def dump_json(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dump_schema(data: object) -> str:
    """A generated schema keeps its key order: ``$schema`` first, properties as built."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@functools.cache
def _model_schema_text() -> str:
    # The same for every spec: built once per process.
    return dump_json(_model_schema())


def runtime_model(model_json: str) -> Model | None:
    """The compiled model as the runtime loads it, or ``None`` when it cannot (a model with
    errors, which the runtime would refuse)."""
    from orchdsl_runtime.errors import ModelError
    from orchdsl_runtime.model import load_model

    try:
        return load_model(json.loads(model_json))
    except ModelError:
        return None


def build_files(org: Organisation, layout: str = "default", run_dir: str | None = None) -> dict[str, str]:
    """Every output file as text, keyed by its path in the output directory. ``layout`` is one
    of ``LAYOUTS``; ``run_dir`` is the run directory prompts and launch lines name."""
    from orchdsl_runtime.rundir import DEFAULT_DIR

    from orchdsl.generate.memory import memory_files
    from orchdsl.generate.prompts import prompt_files
    from orchdsl.generate.schemas import agent_file_schemas
    from orchdsl.graph import markdown_views

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout `{layout}`; layouts are {', '.join(LAYOUTS)}")
    run_dir = run_dir or DEFAULT_DIR
    schemas = agent_file_schemas(org)
    model_text = compiled_json(org)
    files: dict[str, str] = {
        "model.json": model_text,
        "schemas/compiled-model.schema.json": _model_schema_text(),
    }
    for name, schema in schemas.items():
        files[f"schemas/{name}.schema.json"] = dump_schema(schema)
    files.update(memory_files(org, schemas))
    model = runtime_model(model_text)
    files.update(prompt_files(org, model, run_dir))
    files.update(markdown_views(org))
    if layout == "claude":
        from orchdsl.generate.claude import claude_files

        files.update(claude_files(org, model, run_dir))
    return files
