"""Start from an OpenAPI document: a ``fleet:`` config with one operation per path and method.

Every FastAPI service serves ``/openapi.json``, so a team's first load test should not start from a
blank file. The generated YAML runs as written, with no failures, against the service it came from:
query parameters, headers and request bodies hold literal example values (the document's own
examples first, else values built from the schema). An operation that could only fail as written is
written commented out under a line saying what to add: one whose path parameter has no example in the
document (its path becomes ``/items/{{ row.id }}``, for a ``data:`` feed of real ids), and one whose
``security`` asks for credentials. It is a starting point to edit by hand, so it stays short: no
optional fields without an example, the fewest array items the schema allows, weight 1 everywhere.

Only ``#/...`` references inside the document are followed (with a depth guard, since schemas may
be recursive); an operation whose body needs a file upload is left out and named in the header,
as no inline value would be a valid body for it.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import yaml

from load_tests.core.errors import ConfigError
from load_tests.core.fleet import SERVICE_NAME
from load_tests.launch.openapi_examples import documented, example, merged, resolve
from load_tests.launch.openapi_yaml import DEFAULT_BASE_URL, Held, render_yaml, row_ref

METHODS = ("get", "put", "post", "delete", "patch")  # HEAD, OPTIONS and TRACE carry nothing to load-test
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
TOKEN_SCHEMES = ("oauth2", "openIdConnect")  # both end in a bearer token


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
    """``{service_name: <http service>}`` with the operations that run as written (see :func:`held_operations`)."""
    drafts = _drafts(doc)
    if not any(op for _, op, _ in drafts):
        raise ConfigError("the OpenAPI document has no operation to load-test (all paths empty or file uploads)")
    operations = [op for _, op, why in drafts if op and not why]
    return {service_name: {"protocol": "http", "url": base_url, "operations": operations}}


def held_operations(doc: dict[str, Any]) -> list[Held]:
    """The operations to write commented out, each with what it needs: a real path id, credentials."""
    return [Held(op, why) for _, op, why in _drafts(doc) if op and why]


def skipped_operations(doc: dict[str, Any]) -> list[str]:
    """``METHOD path`` of the operations left out because their body needs a file upload."""
    return [label for label, op, _ in _drafts(doc) if op is None]


def _drafts(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None, tuple[str, ...]]]:
    """``(METHOD path, operation or None for a file upload, why it cannot run as written)`` per operation."""
    drafts = []
    for path, method, spec in _operations(doc):
        op, missing = _operation(doc, path, method, spec)
        why = [_id_hint(missing)] if missing else []
        if credentials := _credentials_hint(doc, spec):
            why.append(credentials)
        drafts.append((f"{method.upper()} {path}", op, tuple(why)))
    return drafts


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


def _operation(
    doc: dict[str, Any], path: str, method: str, spec: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The fleet operation (None when no inline body would be valid: a required file upload), and the
    path parameters the document gives no value for: those become ``{{ row.NAME }}`` in the path."""
    op: dict[str, Any] = {"name": f"{method.upper()} {path}", "method": method.upper(), "path": path}
    params: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in spec["parameters"]:  # an operation's own parameter overrides its path item's
        param = resolve(doc, raw)
        if isinstance(param, dict) and "name" in param:
            params[(param["name"], param.get("in", ""))] = param
    missing = []
    for name in dict.fromkeys(re.findall(r"\{([^{}/]+)\}", path)):  # declared or not, each needs a value
        found, value = _param_value(doc, params.get((name, "path")) or {})
        missing += [] if found else [name]
        op["path"] = op["path"].replace(f"{{{name}}}", quote(_text(value), safe=":@") if found else row_ref(name))
    for (name, where), param in params.items():
        value = _param_value(doc, param)[1]
        if where == "query" and param.get("required"):
            op.setdefault("query", {})[name] = _text(value) if isinstance(value, bool | str | dict) else value
        elif where == "header" and param.get("required") and name.lower() not in ("accept", "content-type"):
            op.setdefault("headers", {})[name] = _text(value)
    body = _request_body(doc, resolve(doc, spec.get("requestBody")))
    if body is None:
        return None, missing
    op.update(body)
    op["checks"] = [{"status": _success_status(spec.get("responses"))}]
    op["weight"] = 1
    if tags := _tags(spec.get("tags")):
        op["tags"] = tags
    return op, missing


def _param_value(doc: dict[str, Any], param: dict[str, Any]) -> tuple[bool, Any]:
    """``(True, value)`` when the document gives the parameter a value (its own example or examples, its
    schema's example, default or enum), else ``(False, one built from its schema)``."""
    found, value = documented(doc, param)
    if not found:
        schema = merged(doc, param.get("schema") or {"type": "string"}, ())
        found, value = documented(doc, schema)
        value = value if found else example(doc, schema, 0, ())
    return found, "example" if value is None or isinstance(value, dict) else value


def _id_hint(names: list[str]) -> str:
    """What to do for path parameters the document has no value for: feed real ones."""
    if len(names) == 1:
        what = f"{'an' if names[0][:1].lower() in 'aeiou' else 'a'} {names[0]} column"
    else:
        what = f"{', '.join(names)} columns"
    return (
        f"needs a real {', '.join(names)}: add a data: feed with {what} (data: {{file: {names[0]}s.csv}}) and uncomment"
    )


def _credentials_hint(doc: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """What to add when the operation's ``security`` (its own, else the document's) asks for a scheme.

    Credentials are never written in the file, and a ``${NAME}`` header would stop the whole file from
    starting until the variable is set, so the operation waits, commented out, for the user to choose.
    """
    requirements = spec["security"] if "security" in spec else doc.get("security")
    if not isinstance(requirements, list) or not requirements or any(not r for r in requirements):
        return None  # no security, or an empty requirement: anonymous calls are allowed
    names = [str(name) for name in requirements[0]] if isinstance(requirements[0], dict) else []
    declared = (doc.get("components") or {}).get("securitySchemes") or {}
    schemes = {name: resolve(doc, declared.get(name)) or {} for name in names}
    adds = " and ".join(_credential(scheme, name) for name, scheme in schemes.items())
    login = ", or a flow that logs in and captures the token" if any(map(_is_token, schemes.values())) else ""
    return f"needs credentials ({', '.join(names)}): {adds}{login}, then uncomment"


def _is_token(scheme: dict[str, Any]) -> bool:
    http = str(scheme.get("scheme", "")).lower() if scheme.get("type") == "http" else ""
    return scheme.get("type") in TOKEN_SCHEMES or http == "bearer"


def _credential(scheme: dict[str, Any], name: str) -> str:
    """Where one security scheme's secret goes, read from the environment (``${TOKEN}``), never written."""
    kind, where, key = scheme.get("type"), scheme.get("in"), scheme.get("name")
    if _is_token(scheme):
        return 'add headers: {Authorization: "Bearer ${TOKEN}"} to the service'
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
        return 'add headers: {Authorization: "Basic ${CREDENTIALS}"} (base64 of user:password) to the service'
    if kind == "apiKey" and key and where == "header":
        return f'add headers: {{{key}: "${{API_KEY}}"}} to the service'
    if kind == "apiKey" and key and where == "cookie":
        return f'add headers: {{Cookie: "{key}=${{API_KEY}}"}} to the service'
    if kind == "apiKey" and key and where == "query":
        return f'add query: {{{key}: "${{API_KEY}}"}} to the operation'
    return f"add what the {name} scheme needs"


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
    found, value = documented(doc, media)
    return value if found else example(doc, media.get("schema") or {}, 0, ())


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
    """Header lines for what the generated file does not run: file uploads, and operations held back."""
    notes = [f"Left out, its body needs a file upload (multipart: {{FIELD: {{file: PATH}}}}): {op}"
             for op in skipped_operations(doc)]  # fmt: skip
    if held := held_operations(doc):
        notes.append(
            f"{len(held)} operation(s) commented out at the end: each says what it needs (a real id, credentials)"
        )
    return notes


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
    held = {name: held_operations(doc)}
    text = render_yaml(fleet, source, config_file=str(path), notes=notes_for(doc), held=held)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(f"{path} already exists: choose another file with --output") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or _one_line(exc)}") from None
    return path
