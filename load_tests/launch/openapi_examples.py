"""Example values from OpenAPI schemas: what a generated config sends until a data feed replaces it.

A value the schema accepts, built the way a person would write one: the document's own ``example``
(or first of ``examples``), ``default`` or first ``enum`` value first, else one by type (``1``,
``1.0``, ``"example"``, ``true``, plausible strings for ``date-time``, ``uuid``, ``email``...).
Objects get their required properties (and optional ones with an example or default), arrays one
item, or ``minItems`` of them (a model that needs 4 features refuses 1). ``$ref`` is followed inside
the document only; recursive schemas stop at the first repeat, and nesting stops at ``MAX_DEPTH``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

MAX_DEPTH = 8  # nesting of example bodies; deeper (or recursive) schemas are cut there
FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "byte": "ZXhhbXBsZQ==",
}


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """A ``$ref`` followed inside the document; None for a cycle or a reference outside it."""
    return _deref(doc, node, ())[0]


def _deref(doc: dict[str, Any], node: Any, seen: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
    """The node behind a chain of ``$ref`` (siblings of a ``$ref`` win), and ``seen`` with the refs followed.

    Schemas may be recursive: a ref already in ``seen`` resolves to None, which ends the recursion.
    """
    while isinstance(node, dict) and isinstance(ref := node.get("$ref"), str):
        if not ref.startswith("#/") or ref in seen or len(seen) > MAX_DEPTH:
            return None, seen
        seen = (*seen, ref)
        target: Any = doc
        for part in ref[2:].split("/"):
            part = unquote(part).replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **siblings} if isinstance(target, dict) else None
    return node, seen


def merged(doc: dict[str, Any], schema: Any, seen: tuple[str, ...]) -> dict[str, Any]:
    """The schema with ``$ref`` resolved and ``allOf`` folded in; ``oneOf``/``anyOf`` take their first non-null."""
    schema, seen = _deref(doc, schema, seen)
    if not isinstance(schema, dict):
        return {}
    if parts := schema.get("allOf"):
        folded = {k: v for k, v in schema.items() if k != "allOf"}
        for part in parts:
            sub = merged(doc, part, seen)
            folded["properties"] = {**(folded.get("properties") or {}), **(sub.get("properties") or {})}
            folded["required"] = [*(folded.get("required") or []), *(sub.get("required") or [])]
            folded.update({k: v for k, v in sub.items() if k not in ("properties", "required")})
        schema = folded
    for key in ("oneOf", "anyOf"):
        choices = [c for c in schema.get(key) or [] if _deref(doc, c, seen)[0] != {"type": "null"}]
        if choices:
            rest = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
            return {**merged(doc, choices[0], seen), **rest}
    return schema


def example(doc: dict[str, Any], schema: Any, depth: int, seen: tuple[str, ...]) -> Any:
    """A value the schema accepts: its example, default or first enum value, else one built by type."""
    schema, seen = _deref(doc, schema, seen)
    if schema is None:
        return None  # recursive (or outside the document): the caller leaves the field out
    schema = merged(doc, schema, seen)
    found, value = documented(doc, schema)
    if found:
        return value
    kind = schema.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: ["string", "null"]
        kind = next((k for k in kind if k != "null"), "null")
    kind = kind or ("object" if "properties" in schema else "array" if "items" in schema else None)
    if kind == "object":
        return _object_example(doc, schema, depth, seen)
    if kind == "array":
        item = example(doc, schema.get("items") or {}, depth + 1, seen) if depth < MAX_DEPTH else None
        return [] if item is None else [item] * _item_count(schema)
    return _scalar_example(kind, schema)


def documented(doc: dict[str, Any], holder: dict[str, Any]) -> tuple[bool, Any]:
    """``(True, value)`` when the document itself gives a value: ``example``, the first of ``examples``
    (a list, as JSON Schema and OpenAPI 3.1 write it, or OpenAPI's named examples), ``const``,
    ``default`` or the first ``enum`` value; ``(False, None)`` when only the type says what to send.

    The difference matters for path parameters: a value the document gives is one the service knows,
    a value built from the type (``1``, ``"example"``) is a guess that will likely answer 404.
    """
    if "example" in holder:
        return True, plain(holder["example"])
    examples = holder.get("examples")
    if isinstance(examples, dict) and examples:  # named: {name: {value: ...}}
        first = resolve(doc, next(iter(examples.values())))
        if isinstance(first, dict) and "value" in first:
            return True, plain(first["value"])
    elif isinstance(examples, list) and examples:
        return True, plain(examples[0])
    for key in ("const", "default"):
        if key in holder:
            return True, plain(holder[key])
    if isinstance(holder.get("enum"), list) and holder["enum"]:
        return True, plain(holder["enum"][0])
    return False, None


def _item_count(schema: dict[str, Any]) -> int:
    """One item, or ``minItems`` of them, never more than ``maxItems``."""
    low, high = schema.get("minItems"), schema.get("maxItems")
    count = max(1, low) if isinstance(low, int) else 1
    return min(count, high) if isinstance(high, int) and high >= 0 else count


def _object_example(doc: dict[str, Any], schema: dict[str, Any], depth: int, seen: tuple[str, ...]) -> Any:
    """Required properties, and optional ones the document gives an example or default for."""
    if depth >= MAX_DEPTH:
        return {}
    required = set(schema.get("required") or [])
    value = {}
    for name, prop in (schema.get("properties") or {}).items():
        resolved = merged(doc, prop, seen)
        if name in required or any(k in resolved for k in ("example", "examples", "default")):
            item = example(doc, prop, depth + 1, seen)
            if item is not None or name in required:
                value[name] = item
    return value


def _scalar_example(kind: Any, schema: dict[str, Any]) -> Any:
    if kind in ("integer", "number"):
        value: float = 1 if kind == "integer" else 1.0
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, int | float) and value < low:
            value = low
        if isinstance(high, int | float) and value > high:
            value = high
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = FORMATS.get(str(schema.get("format")), "example")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = (text * (low // len(text) + 1))[:low]
    return text[:high] if isinstance(high, int) and high > 0 else text


def plain(value: Any) -> Any:
    """An example with no ``{{``/``${`` in it: those would be read as templates and environment variables."""
    if isinstance(value, str):
        return "example" if "{{" in value or "${" in value else value
    if isinstance(value, list):
        return [plain(v) for v in value]
    return {k: plain(v) for k, v in value.items()} if isinstance(value, dict) else value
