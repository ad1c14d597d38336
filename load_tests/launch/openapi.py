"""Start from an OpenAPI document: a ``fleet:`` config with one operation per path and method.

Every FastAPI service serves ``/openapi.json``, so a team's first load test should not start from a
blank file. The generated YAML runs as written: path parameters, required query parameters and
request bodies hold literal example values (the document's own examples first, else values built
from the schema), and a comment above each operation says how to feed real values instead with a
``data:`` feed and ``{{ row.COLUMN }}``. It is a starting point to edit by hand, so it stays short:
no optional fields without an example, one item per array, weight 1 everywhere.

Only ``#/...`` references inside the document are followed (with a depth guard, since schemas may
be recursive); an operation whose body needs a file upload is left out and named in the header,
as no inline value would be a valid body for it.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import yaml
from pydantic import TypeAdapter, ValidationError

from load_tests.core.errors import ConfigError
from load_tests.core.fleet import SERVICE_NAME, Service
from load_tests.launch.openapi_examples import example, merged, plain, resolve

METHODS = ("get", "put", "post", "delete", "patch")  # HEAD, OPTIONS and TRACE carry nothing to load-test
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
FLOW_WIDTH = 80  # a body or query this short reads best on one line, like JSON
KEY_ORDER = ("name", "method", "path", "query", "headers", "json", "form", "multipart", "body", "content_type")
_FLEET = TypeAdapter(dict[str, Service])


def load_document(source: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The OpenAPI 3 document at a URL (http/https) or in a local .json/.yaml/.yml file."""
    if source.startswith(("http://", "https://")):
        text, yaml_ok = _fetch(source, timeout_s), True
    else:
        path = Path(source)
        if path.suffix.lower() not in (".json", ".yaml", ".yml"):
            raise ConfigError(f"OpenAPI document {source}: give a http(s) URL or a .json, .yaml or .yml file")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"OpenAPI document {source} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read OpenAPI document {source}: {_one_line(exc)}") from None
        yaml_ok = path.suffix.lower() != ".json"
    doc = _parse(text, source, yaml_ok)
    if not isinstance(doc, dict) or "swagger" in doc:
        what = "Swagger 2.0 (convert it to OpenAPI 3 first)" if isinstance(doc, dict) else "not a JSON object"
        raise ConfigError(f"{source} is not an OpenAPI 3 document: {what}")
    if not str(doc.get("openapi", "")).startswith("3"):
        raise ConfigError(f"{source} is not an OpenAPI 3 document: no 'openapi: 3.x' key")
    if not isinstance(doc.get("paths"), dict):
        raise ConfigError(f"{source} is not an OpenAPI 3 document: no 'paths' object")
    return doc


def _fetch(url: str, timeout_s: float) -> str:
    request = urllib.request.Request(url, headers={"Accept": "application/json, application/yaml;q=0.9"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            data = reply.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ConfigError(f"cannot fetch OpenAPI document {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise ConfigError(f"cannot fetch OpenAPI document {url}: {_one_line(exc.reason)}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
        raise ConfigError(f"cannot fetch OpenAPI document {url}: {_one_line(exc)}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ConfigError(f"OpenAPI document {url} is larger than {MAX_DOCUMENT_BYTES // 2**20} MiB")
    return data.decode("utf-8", errors="replace")


def _parse(text: str, source: str, yaml_ok: bool) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        if not yaml_ok:
            raise ConfigError(f"OpenAPI document {source} is not valid JSON: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"OpenAPI document {source} is neither JSON nor YAML: {_one_line(exc)}") from None


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def fleet_from_openapi(doc: dict[str, Any], service_name: str, base_url: str) -> dict[str, Any]:
    """``{service_name: <http service>}`` with one operation per path and method of the document."""
    operations = [op for path, method, spec in _operations(doc) if (op := _operation(doc, path, method, spec))]
    if not operations:
        raise ConfigError("the OpenAPI document has no operation to load-test (all paths empty or file uploads)")
    return {service_name: {"protocol": "http", "url": base_url, "operations": operations}}


def skipped_operations(doc: dict[str, Any]) -> list[str]:
    """``METHOD path`` of the operations left out because their body needs a file upload."""
    return [f"{m.upper()} {p}" for p, m, spec in _operations(doc) if _operation(doc, p, m, spec) is None]


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) in document order, each operation with its path item's parameters."""
    found = []
    for path, item in doc["paths"].items():
        item = resolve(doc, item)
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method in METHODS:
            if isinstance(spec := item.get(method), dict):
                found.append((path, method, {**spec, "parameters": [*shared, *(spec.get("parameters") or [])]}))
    return found


def _operation(doc: dict[str, Any], path: str, method: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The fleet operation, or None when no inline body would be valid (a required file upload)."""
    op: dict[str, Any] = {"name": f"{method.upper()} {path}", "method": method.upper(), "path": path}
    params: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in spec["parameters"]:  # an operation's own parameter overrides its path item's
        param = resolve(doc, raw)
        if isinstance(param, dict) and "name" in param:
            params[(param["name"], param.get("in", ""))] = param
    for (name, where), param in params.items():
        value = _param_value(doc, param)
        if where == "path":
            op["path"] = op["path"].replace(f"{{{name}}}", quote(_text(value), safe=":@"))
        elif where == "query" and param.get("required"):
            op.setdefault("query", {})[name] = _text(value) if isinstance(value, bool | str | dict) else value
        elif where == "header" and param.get("required") and name.lower() not in ("accept", "content-type"):
            op.setdefault("headers", {})[name] = _text(value)
    op["path"] = re.sub(r"\{[^{}/]+\}", "example", op["path"])  # a path parameter the document did not declare
    body = _request_body(doc, resolve(doc, spec.get("requestBody")))
    if body is None:
        return None
    op.update(body)
    op["checks"] = [{"status": _success_status(spec.get("responses"))}]
    op["weight"] = 1
    if tags := _tags(spec.get("tags")):
        op["tags"] = tags
    return op


def _param_value(doc: dict[str, Any], param: dict[str, Any]) -> Any:
    """A parameter's example: its own, its first named example, else one built from its schema."""
    examples = param.get("examples")
    first = resolve(doc, next(iter(examples.values()))) if isinstance(examples, dict) and examples else None
    if "example" in param:
        value = plain(param["example"])
    elif isinstance(first, dict) and "value" in first:
        value = plain(first["value"])
    else:
        value = example(doc, param.get("schema") or {"type": "string"}, 0, ())
    return "example" if value is None or isinstance(value, dict) else value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return ",".join(map(_text, value)) if isinstance(value, list) else str(value)


def _request_body(doc: dict[str, Any], spec: Any) -> dict[str, Any] | None:
    """The operation's body keys (``json``, ``form``, ``multipart``, ``body``); None when it cannot be built."""
    content = spec.get("content") if isinstance(spec, dict) else None
    if not isinstance(content, dict) or not content:
        return {}
    media_types = list(content)
    kind = next((m for m in media_types if "json" in m.lower()), None)
    kind = kind or next((m for m in media_types if m.lower().startswith("application/x-www-form")), None)
    kind = kind or next((m for m in media_types if m.lower().startswith("multipart/")), media_types[0])
    media = resolve(doc, content[kind]) or {}
    value = _media_example(doc, media)
    if "json" in kind.lower():
        return {"json": value if value is not None else {}}
    if kind.lower().startswith(("application/x-www-form", "multipart/")):
        return _form_body(doc, media, value, "multipart" if kind.lower().startswith("multipart/") else "form")
    return {"body": value if isinstance(value, str) else "example", "content_type": kind}


def _media_example(doc: dict[str, Any], media: dict[str, Any]) -> Any:
    if "example" in media:
        return plain(media["example"])
    examples = media.get("examples")
    if isinstance(examples, dict) and examples:
        first = resolve(doc, next(iter(examples.values())))
        if isinstance(first, dict) and "value" in first:
            return plain(first["value"])
    return example(doc, media.get("schema") or {}, 0, ())


def _form_body(doc: dict[str, Any], media: dict[str, Any], value: Any, key: str) -> dict[str, Any] | None:
    """Text fields of a form; None when a required field is a file (an upload has no inline value)."""
    schema = merged(doc, media.get("schema") or {}, ())
    required = set(schema.get("required") or [])
    for name, prop in (schema.get("properties") or {}).items():
        if name in required and _is_file(merged(doc, prop, ())):
            return None
    fields = value if isinstance(value, dict) else {}
    return {key: {name: v if isinstance(v, str) else json.dumps(v) for name, v in fields.items()}}


def _is_file(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "array":
        return _is_file(schema.get("items") or {})
    return schema.get("format") in ("binary", "base64") or "contentMediaType" in schema


def _success_status(responses: Any) -> int:
    """The first 2xx code the operation declares (what a healthy reply is), else 200."""
    codes = [str(code) for code in (responses or {})]
    return next((int(c) for c in codes if c.isdigit() and c.startswith("2")), 200)


def _tags(tags: Any) -> list[str]:
    """Tags as ``--tags`` can take them: letters, digits, ``_`` and ``-``."""
    clean = (re.sub(r"[^a-z0-9_]+", "-", str(t).lower()).strip("-") for t in tags or [])
    return list(dict.fromkeys(t for t in clean if t))


def notes_for(doc: dict[str, Any]) -> list[str]:
    """Header lines for what the generated file cannot do by itself: file uploads, credentials.

    Credentials are only named, not wired in: a ``${NAME}`` header would make the file fail to start
    until the variable is set, and many services hand out their token from a login call instead.
    """
    notes = [f"Left out, its body needs a file upload (multipart: {{FIELD: {{file: PATH}}}}): {op}"
             for op in skipped_operations(doc)]  # fmt: skip
    used = {name for req in doc.get("security") or [] for name in req}
    for _, _, spec in _operations(doc):
        used.update(name for req in spec.get("security") or [] for name in req)
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    for name in sorted(used):
        scheme = resolve(doc, schemes.get(name)) or {}
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header" and scheme.get("name"):
            notes.append(f'Security {name}: add headers: {{{scheme["name"]}: "${{API_KEY}}"}} to the service')
        elif scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            notes.append(f'Security {name}: add headers: {{Authorization: "Bearer ${{TOKEN}}"}} to the service,')
            notes.append("  or use a flow: capture the token from the login step and send {{ vars.token }}")
    return notes


def render_yaml(fleet: dict[str, Any], source: str, *, config_file: str = "FILE", notes: Sequence[str] = ()) -> str:
    """The config file's text: a header saying where it came from and how to run it, then ``fleet:``.

    Written by hand rather than dumped whole, so that each operation can carry its comment; the text
    is read back and validated with the fleet's own schema, so a file we write always loads.
    """
    names = ",".join(fleet)
    lines = [
        f"# Generated from the OpenAPI document {source}",
        "# One operation per path and method, weight 1, literal example values: edit freely.",
        f"# Run it:  python run_load_tests.py --config {config_file} --test-type {names}",
        *(f"# {note}" for note in notes),
        "fleet:",
    ]
    for name, service in fleet.items():
        lines.append(f"  {name}:")
        head = {k: v for k, v in service.items() if k not in ("operations", "flow")}
        if str(service.get("url")).startswith(DEFAULT_BASE_URL) and not source.startswith(("http://", "https://")):
            lines.append("    # the document names no server: change url to where the service runs")
        lines += _dump(head, "    ")
        lines.append("    operations:")
        for op in service.get("operations", []):
            lines += [f"      # {comment}" for comment in _feed_comments(op)]
            ordered = {k: op[k] for k in KEY_ORDER if k in op} | op
            item = _dump(ordered, "        ")
            lines += [f"      - {item[0].lstrip()}", *item[1:]]
    text = "\n".join(lines) + "\n"
    try:
        _FLEET.validate_python(yaml.safe_load(text)["fleet"])
    except ValidationError as exc:
        raise RuntimeError(f"bug: the generated fleet does not validate: {_one_line(exc)}") from exc
    return text


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
    comments = [f"path parameter {p}: use {{{{ row.{p} }}}} with a data: feed" for p in names]
    comments += [f"query parameter {q}: use {{{{ row.{q} }}}} with a data: feed" for q in op.get("query", {})]
    return comments


def base_url_of(doc: dict[str, Any], source: str) -> str:
    """``servers[0].url`` if absolute, else resolved against the source URL (a file: the usual local port)."""
    servers = doc.get("servers") or [{}]
    server = servers[0] if isinstance(servers[0], dict) else {}
    url = str(server.get("url") or "")
    for var, spec in (server.get("variables") or {}).items():
        url = url.replace(f"{{{var}}}", str((spec or {}).get("default", "")))
    if urlsplit(url).scheme in ("http", "https"):
        return url.rstrip("/")
    if source.startswith(("http://", "https://")):
        origin = urlsplit(source)._replace(path="/", query="", fragment="").geturl()
        return urljoin(origin, url or "/").rstrip("/")
    return (DEFAULT_BASE_URL + "/" + url.strip("/")).rstrip("/")


def service_slug(title: Any) -> str:
    """A service name from the document's title: letters, digits, ``_`` and ``-``, starting with a letter."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", str(title or "").lower())
    slug = re.sub(r"^[^a-z]+", "", slug).strip("-_")[:63].rstrip("-_")
    return slug or "service"


def write_config(source: str, out: Path | None, service_name: str | None = None) -> Path:
    """Load the document, generate the fleet and write it; never over an existing file."""
    doc = load_document(source)
    name = service_name or service_slug((doc.get("info") or {}).get("title"))
    if not re.match(SERVICE_NAME, name):
        raise ConfigError(f"service name {name!r}: use letters, digits, '_' and '-', starting with a letter")
    path = out if out is not None else Path(f"fleet-{name}.yaml")
    if path.exists():
        raise ConfigError(f"{path} already exists: choose another file with --output")
    fleet = fleet_from_openapi(doc, name, base_url_of(doc, source))
    text = render_yaml(fleet, source, config_file=str(path), notes=notes_for(doc))
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(f"{path} already exists: choose another file with --output") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or _one_line(exc)}") from None
    return path
