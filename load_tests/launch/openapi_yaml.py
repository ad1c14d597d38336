"""The generated config's text: a header, the ``fleet:`` section, and a comment wherever a person must act.

Written by hand rather than dumped whole, so that each operation can carry its comment. An operation
that cannot succeed as written (it needs a real id, or credentials) is written commented out, under a
one-line comment saying what to add: the active part then runs with no failures against the service
it came from, and the rest is one edit away instead of a 404 or 401 on every call. The text is read
back and validated with the fleet's own schema, so a file we write always loads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from load_tests.core.fleet import Service

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
FLOW_WIDTH = 80  # a body or query this short reads best on one line, like JSON
KEY_ORDER = ("name", "method", "path", "query", "headers", "json", "form", "multipart", "body", "content_type")
_FLEET = TypeAdapter(dict[str, Service])
_FIELD = re.compile(r"[A-Za-z_][\w-]*")  # a row column a template can name with a dot (templates.py)


@dataclass(frozen=True)
class Held:
    """An operation written commented out, and why: one line each, saying what to add before uncommenting."""

    operation: dict[str, Any]
    why: tuple[str, ...]


def row_ref(column: str) -> str:
    """The template for a feed column: ``{{ row.id }}``, or ``{{ row["a column"] }}`` for any other name."""
    if _FIELD.fullmatch(column):
        return f"{{{{ row.{column} }}}}"
    return '{{ row["' + column.replace("\\", "\\\\").replace('"', '\\"') + '"] }}'


def render_yaml(
    fleet: dict[str, Any],
    source: str,
    *,
    config_file: str = "FILE",
    notes: Sequence[str] = (),
    held: Mapping[str, Sequence[Held]] | None = None,
) -> str:
    """The config file's text: a header saying where it came from and how to run it, then ``fleet:``.

    ``held`` holds, per service, the operations written commented out after the active ones. A service
    with no active operation is commented out whole: an empty one would not load.
    """
    lines = [
        f"# Generated from the OpenAPI document {source}",
        "# One operation per path and method, weight 1, literal example values: edit freely.",
        f"# Run it:  python run_load_tests.py --config {config_file} --test-type {','.join(fleet)}",
        *(f"# {note}" for note in notes),
        "fleet:",
    ]
    for name, service in fleet.items():
        lines += _service_lines(name, service, source, (held or {}).get(name, ()))
    text = "\n".join(lines) + "\n"
    try:
        _FLEET.validate_python(yaml.safe_load(text)["fleet"] or {})
    except ValidationError as exc:
        raise RuntimeError(f"bug: the generated fleet does not validate: {' '.join(str(exc).split())}") from exc
    return text


def _service_lines(name: str, service: dict[str, Any], source: str, held: Sequence[Held]) -> list[str]:
    lines = [f"  {name}:"]
    head = {k: v for k, v in service.items() if k not in ("operations", "flow")}
    if str(service.get("url")).startswith(DEFAULT_BASE_URL) and not source.startswith(("http://", "https://")):
        lines.append("    # the document names no server: change url to where the service runs")
    lines += _dump(head, "    ")
    lines.append("    operations:")
    for op in service.get("operations") or []:
        lines += [f"      # {comment}" for comment in _feed_comments(op)]
        lines += _item(op)
    for hold in held:
        lines += [f"      # {why}" for why in hold.why]
        lines += _commented(_item(hold.operation))
    if service.get("operations"):
        return lines
    note = "  # no operation runs as written: uncomment this service, then each operation once it has what it needs"
    return [note, *_commented(lines)]


def _item(op: dict[str, Any]) -> list[str]:
    """One operation as a YAML list item, its keys in reading order (name, method, path, ...)."""
    ordered = {k: op[k] for k in KEY_ORDER if k in op} | op
    item = _dump(ordered, "        ")
    return [f"      - {item[0].lstrip()}", *item[1:]]


def _commented(lines: list[str]) -> list[str]:
    """``# `` at the block's indentation, as editors comment a block: removing it gives the lines back."""
    indent = min(len(line) - len(line.lstrip(" ")) for line in lines)
    return [f"{line[:indent]}# {line[indent:]}" for line in lines]


class _Representer(yaml.representer.SafeRepresenter):
    def ignore_aliases(self, data: Any) -> bool:  # a value used twice is written twice, never as &id001
        return True


def _dump(data: dict[str, Any], indent: str) -> list[str]:
    """YAML lines, block style for the outline and one flow line for whatever fits (``checks: [{status: 200}]``)."""
    node = _Representer(default_flow_style=False, sort_keys=False).represent_data(data)
    _fold(node, top=True)
    text = yaml.serialize(node, Dumper=yaml.SafeDumper, allow_unicode=True, width=120)
    return [indent + line for line in text.splitlines()]


def _fold(node: yaml.Node, top: bool = False) -> None:
    """Flow style for a collection whose flow form is short, block style (and the same question below) if not."""
    if not isinstance(node, yaml.CollectionNode):
        return
    if not top:
        _set_flow(node)
        if len(yaml.serialize(node, Dumper=yaml.SafeDumper, allow_unicode=True, width=10**6)) <= FLOW_WIDTH:
            return
    node.flow_style = False
    for child in _children(node):
        _fold(child)


def _set_flow(node: yaml.Node) -> None:
    if isinstance(node, yaml.CollectionNode):
        node.flow_style = True
        for child in _children(node):
            _set_flow(child)


def _children(node: yaml.CollectionNode) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else [value for _, value in node.value]


def _feed_comments(op: dict[str, Any]) -> list[str]:
    """How to feed each path and query parameter from a data feed instead of the literal example.

    The parameter names come back from the name (``GET /items/{item_id}``), which keeps the path template
    the literal path lost, so the fleet dict itself stays exactly what the schema accepts.
    """
    template = str(op.get("name", "")).partition(" ")[2]
    names = re.findall(r"\{([^{}/]+)\}", template)
    comments = [f"path parameter {p}: use {row_ref(p)} with a data: feed" for p in names]
    comments += [f"query parameter {q}: use {row_ref(q)} with a data: feed" for q in op.get("query", {})]
    return comments
