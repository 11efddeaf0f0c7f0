"""Generators: the model in, output files (as text keyed by relative path) out.

- ``model.json`` and ``schemas/compiled-model.schema.json``: the compiled model;
- ``Agent_Memory/``: system config, capacity and skill files, communication
  folders (``memory``);
- ``agents/{role}.md``: one prompt per role (``prompts``, the only user of jinja2);
- ``schemas/{name}.schema.json``: JSON Schemas of every file an agent reads or
  writes (``schemas``);
- ``docs/*.md``: the hierarchy, lifecycle, protocols and flows as Mermaid
  diagrams (``orchdsl.graph``).

Every generator is deterministic: a fixed key order, no timestamps.
"""

from __future__ import annotations

import copy
import functools
import json

from orchdsl.model import Organisation


def model_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of the compiled model (a fresh copy)."""
    return copy.deepcopy(_model_schema())


@functools.cache
def _model_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of the compiled model."""
    schema = Organisation.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://orchdsl.dev/schemas/compiled-model.schema.json"
    return schema


def dump_json(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dump_schema(data: object) -> str:
    """A generated schema keeps its key order: ``$schema`` first, properties as built."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@functools.cache
def _model_schema_text() -> str:
    # The same for every spec: built once per process.
    return dump_json(_model_schema())


def build_files(org: Organisation) -> dict[str, str]:
    from orchdsl.generate.memory import memory_files
    from orchdsl.generate.prompts import prompt_files
    from orchdsl.generate.schemas import agent_file_schemas
    from orchdsl.graph import markdown_views

    schemas = agent_file_schemas(org)
    files: dict[str, str] = {
        "model.json": org.to_json(),
        "schemas/compiled-model.schema.json": _model_schema_text(),
    }
    for name, schema in schemas.items():
        files[f"schemas/{name}.schema.json"] = dump_schema(schema)
    files.update(memory_files(org, schemas))
    files.update(prompt_files(org))
    files.update(markdown_views(org))
    return files
