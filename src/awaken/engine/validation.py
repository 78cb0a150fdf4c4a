"""Validation of awakeable payloads against the JSON schema stored with the awakeable.

The schema is stored (not the Python type) so that any node, and an engine that serves handlers
living elsewhere, can validate a completion when it arrives, before anything is recorded.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from awaken.core.jsonvalue import loads_strict


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator | None:
    schema = json.loads(schema_json)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return None
    return Draft202012Validator(schema)


def validate_payload(schema: dict[str, Any], payload: bytes) -> list[str]:
    """Error messages for `payload` against `schema` (empty list: valid)."""
    try:
        value = loads_strict(payload) if payload else None
    except ValueError as exc:
        return [f"payload is not valid JSON: {exc}"]
    validator = _validator(json.dumps(schema, sort_keys=True))
    if validator is None:
        return []
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    return [
        (f"{'/'.join(str(p) for p in e.absolute_path)}: " if e.absolute_path else "") + e.message
        for e in errors[:20]
    ]
