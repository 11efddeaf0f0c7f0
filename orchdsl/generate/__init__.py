"""Generators: the model in, output files (as text keyed by relative path) out.

- ``model.json`` and ``schemas/compiled-model.schema.json``: the compiled model;
- ``Agent_Memory/``: system config, capacity and skill files, communication folders;
- ``agents/{role}.md``: one prompt per role;
- ``schemas/*.schema.json``: JSON Schemas of every file an agent reads or writes.

Every generator is deterministic: sorted keys, no timestamps.
"""

from __future__ import annotations

import json

from orchdsl.model import Organisation


def model_schema() -> dict[str, object]:
    """The JSON Schema (draft 2020-12) of the compiled model."""
    schema = Organisation.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://orchdsl.dev/schemas/compiled-model.schema.json"
    return schema


def dump_json(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_files(org: Organisation) -> dict[str, str]:
    files: dict[str, str] = {
        "model.json": org.to_json(),
        "schemas/compiled-model.schema.json": dump_json(model_schema()),
    }
    return files
