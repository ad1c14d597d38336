"""A fleet config from an OpenAPI document: exact operations for a hand-written document, and the reference service's.

Pure: documents are dicts or files under tmp_path, and the one URL test replaces urllib's opener.
"""

from __future__ import annotations

import io
import json
import re
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from load_tests.core.errors import ConfigError
from load_tests.core.fleet import Service
from load_tests.launch import openapi
from load_tests.launch.fleet_config import prepare_fleet
from load_tests.launch.openapi import fleet_from_openapi, load_document, render_yaml, write_config
from load_tests.launch.openapi_examples import documented, example

FLEET = TypeAdapter(dict[str, Service])
OK = {"200": {"description": "ok"}}


def _json_body(ref: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": ref}}}}


DOC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Shop API (v2)", "version": "2"},
    "paths": {
        "/items/{item_id}": {
            "parameters": [
                {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer", "examples": [7]}}
            ],
            "get": {
                "tags": ["Items & Stock", "items-&-stock"],
                "parameters": [
                    {"name": "verbose", "in": "query", "required": True, "schema": {"type": "boolean"}},
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": OK,
            },
            "head": {"responses": OK},
            "options": {"responses": OK},
            "delete": {"responses": {"404": {"description": "no"}, "204": {"description": "gone"}}},
        },
        "/users/{user_name}/orders": {
            "post": {
                "parameters": [
                    {"name": "user_name", "in": "path", "required": True, "example": "ada lovelace"},
                    {"$ref": "#/components/parameters/Currency"},
                ],
                "requestBody": _json_body("#/components/schemas/Order"),
                "responses": {"default": {"description": "x"}, "201": {"description": "made"}, "202": {}},
            }
        },
        "/categories": {"put": {"requestBody": {"$ref": "#/components/requestBodies/CategoryBody"}}},
        "/orders/{order_id}/lines/{line}": {
            "parameters": [{"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"responses": OK},
        },
        "/me": {"get": {"security": [{"bearer": []}], "responses": OK}},
        "/upload": {
            "post": {
                "requestBody": {
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    }
                },
                "responses": OK,
            }
        },
        "/notes": {
            "post": {
                "requestBody": {
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["title", "size"],
                                "properties": {
                                    "title": {"type": "string"},
                                    "size": {"type": "integer"},
                                    "attachment": {"type": "string", "format": "binary"},
                                },
                            }
                        }
                    }
                },
                "responses": OK,
            }
        },
    },
    "components": {
        "parameters": {
            "Currency": {"name": "currency", "in": "query", "required": True, "schema": {"enum": ["EUR", "USD"]}}
        },
        "requestBodies": {"CategoryBody": _json_body("#/components/schemas/Category")},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Order": {
                "type": "object",
                "required": ["id", "customer", "lines", "status", "scores"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "customer": {"$ref": "#/components/schemas/Customer"},
                    "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                    "status": {"$ref": "#/components/schemas/Status"},
                    "scores": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
                    "note": {"type": "string"},
                    "priority": {"type": "integer", "default": 3},
                    "placed": {"type": "string", "format": "date-time", "example": "2025-05-01T10:00:00Z"},
                },
            },
            "Customer": {
                "allOf": [
                    {"$ref": "#/components/schemas/Named"},
                    {"type": "object", "required": ["email"], "properties": {"email": {"format": "email"}}},
                ]
            },
            "Named": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            "Line": {
                "type": "object",
                "required": ["sku", "qty", "price", "gift"],
                "properties": {
                    "sku": {"type": "string", "examples": ["SKU-1"]},
                    "qty": {"type": "integer", "minimum": 5},
                    "price": {"type": "number"},
                    "gift": {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
                },
            },
            "Status": {"type": "string", "enum": ["pending", "paid"]},
            "Category": {
                "type": "object",
                "required": ["name", "children", "parent"],
                "properties": {
                    "name": {"type": "string", "example": "tools"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Category"}},
                    "parent": {"$ref": "#/components/schemas/Category"},
                },
            },
        },
    },
}

ORDER = {
    "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "customer": {"name": "example", "email": "user@example.com"},
    "lines": [{"sku": "SKU-1", "qty": 5, "price": 1.0, "gift": True}],
    "status": "pending",
    "scores": [1.0, 1.0, 1.0],
    "priority": 3,
    "placed": "2025-05-01T10:00:00Z",
}


def _check(status: int) -> list[dict[str, int]]:
    return [{"status": status}]


def test_one_operation_per_path_and_method_with_literal_examples() -> None:
    fleet = fleet_from_openapi(DOC, "shop", "http://shop:8080")
    assert list(fleet) == ["shop"]
    service = fleet["shop"]
    assert (service["protocol"], service["url"]) == ("http", "http://shop:8080")
    assert service["operations"] == [
        {"name": "GET /items/{item_id}", "method": "GET", "path": "/items/7", "query": {"verbose": "true"},
         "checks": _check(200), "weight": 1, "tags": ["items-stock"]},
        {"name": "DELETE /items/{item_id}", "method": "DELETE", "path": "/items/7", "checks": _check(204),
         "weight": 1},
        {"name": "POST /users/{user_name}/orders", "method": "POST", "path": "/users/ada%20lovelace/orders",
         "query": {"currency": "EUR"}, "json": ORDER, "checks": _check(201), "weight": 1},
        {"name": "PUT /categories", "method": "PUT", "path": "/categories", "checks": _check(200), "weight": 1,
         "json": {"name": "tools", "children": [], "parent": None}},
        {"name": "POST /notes", "method": "POST", "path": "/notes", "multipart": {"title": "example", "size": "1"},
         "checks": _check(200), "weight": 1},
    ]  # fmt: skip
    assert openapi.skipped_operations(DOC) == ["POST /upload"]
    held = openapi.held_operations(DOC)
    assert [(h.operation["path"], h.why) for h in held] == [
        ("/orders/{{ row.order_id }}/lines/{{ row.line }}",
         ("needs a real order_id, line: add a data: feed with order_id, line columns (data: {file: order_ids.csv}) "
          "and uncomment",)),
        ("/me", ('needs credentials (bearer): add headers: {Authorization: "Bearer ${TOKEN}"} to the service, '
                 "or a flow that logs in and captures the token, then uncomment",)),
    ]  # fmt: skip


def test_the_yaml_parses_validates_and_says_how_to_feed_parameters() -> None:
    fleet = fleet_from_openapi(DOC, "shop", "http://shop:8080")
    text = render_yaml(fleet, "api.yaml", config_file="fleet-shop.yaml", notes=openapi.notes_for(DOC))
    assert yaml.safe_load(text)["fleet"] == fleet
    FLEET.validate_python(yaml.safe_load(text)["fleet"])
    lines = text.splitlines()
    assert "# Run it:  python run_load_tests.py --config fleet-shop.yaml --test-type shop" in lines
    assert any(line.startswith("# Left out") and "POST /upload" in line for line in lines)
    comment = lines.index("      # path parameter item_id: use {{ row.item_id }} with a data: feed")
    assert lines[comment + 1] == "      # query parameter verbose: use {{ row.verbose }} with a data: feed"
    assert lines[comment + 2] == "      - name: GET /items/{item_id}"
    assert "      # path parameter user_name: use {{ row.user_name }} with a data: feed" in lines
    assert "      # query parameter currency: use {{ row.currency }} with a data: feed" in lines
    keys = [line.strip().split(":")[0].lstrip("- ") for line in lines[comment + 2 : comment + 8]]
    assert keys == ["name", "method", "path", "query", "checks", "weight"]


def test_recursion_and_depth_stay_bounded() -> None:
    doc = {
        "openapi": "3.1.0",
        "paths": {"/tree/{kind}": {"post": {"requestBody": _json_body("#/components/schemas/A"), "responses": OK}}},
        "components": {
            "schemas": {
                "A": {"allOf": [{"$ref": "#/components/schemas/B"}], "required": ["b"],
                      "properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"type": "object", "required": ["a", "x"],
                      "properties": {"a": {"$ref": "#/components/schemas/A"}, "x": {"type": ["integer", "null"]}}},
            }
        },
    }  # fmt: skip
    fleet = fleet_from_openapi(doc, "t", "http://t")
    assert fleet["t"]["operations"] == []
    (held,) = openapi.held_operations(doc)
    assert held.operation["json"] == {"a": None, "x": 1, "b": {"a": None, "x": 1}}
    assert held.operation["path"] == "/tree/{{ row.kind }}"  # a path parameter the document forgot to declare
    text = render_yaml(fleet, "x.json", held={"t": [held]})
    assert yaml.safe_load(text)["fleet"] is None  # nothing runs as written: the whole service waits, commented
    assert "  # no operation runs as written: uncomment this service, then each operation" in text
    assert "  #     # - name: POST /tree/{kind}" in text


def test_a_file_document_in_yaml_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "api.yml"
    good.write_text(yaml.safe_dump(DOC), encoding="utf-8")
    assert load_document(str(good)) == DOC
    cases = {
        "swagger.json": json.dumps({"swagger": "2.0", "paths": {}}),
        "nopaths.json": json.dumps({"openapi": "3.0.0"}),
        "noversion.yaml": "paths: {}\n",
        "list.json": "[1, 2]",
        "broken.json": "{not json",
        "broken.yaml": "a: [\n  b: {",
        "api.txt": "{}",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    for name in [*cases, "missing.json"]:
        with pytest.raises(ConfigError) as caught:
            load_document(str(tmp_path / name))
        assert "\n" not in str(caught.value) and name in str(caught.value), str(caught.value)


def test_a_url_document_and_an_unreachable_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def opener(request: Any, timeout: float) -> io.BytesIO:
        if "down" in request.full_url:
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        return io.BytesIO(yaml.safe_dump(DOC).encode())

    monkeypatch.setattr(openapi.urllib.request, "urlopen", opener)
    assert load_document("https://shop.example/openapi.yaml") == DOC
    with pytest.raises(ConfigError, match=r"^cannot fetch OpenAPI document http://down:1/openapi.json: .*refused$"):
        load_document("http://down:1/openapi.json")


def test_write_config_names_defaults_and_never_overwrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "api.json"
    source.write_text(json.dumps(DOC), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    written = write_config(str(source), None)
    assert written == Path("fleet-shop-api-v2.yaml")
    text = written.read_text(encoding="utf-8")
    fleet = FLEET.validate_python(yaml.safe_load(text)["fleet"])
    assert fleet["shop-api-v2"].url == "http://127.0.0.1:8000"
    assert "# the document names no server: change url to where the service runs" in text
    with pytest.raises(ConfigError, match=r"^fleet-shop-api-v2\.yaml already exists: .*--output$"):
        write_config(str(source), None)
    assert write_config(str(source), tmp_path / "other.yaml", service_name="shop").exists()
    with pytest.raises(ConfigError, match=r"^service name '9lives'"):
        write_config(str(source), tmp_path / "third.yaml", service_name="9lives")


def test_base_url_and_service_name() -> None:
    servers = {"servers": [{"url": "https://{host}/v1", "variables": {"host": {"default": "api.shop"}}}]}
    assert openapi.base_url_of(servers, "spec.json") == "https://api.shop/v1"
    assert openapi.base_url_of({"servers": [{"url": "/api"}]}, "http://h:81/x/openapi.json") == "http://h:81/api"
    assert openapi.base_url_of({}, "http://h:81/openapi.json") == "http://h:81"
    assert openapi.service_slug("  42 Émile's API ") == "mile-s-api"
    assert openapi.service_slug(None) == "service"


def test_the_reference_services_own_document() -> None:
    from load_tests.reference_service.http_app import create_http_app
    from load_tests.reference_service.server import TargetOptions, build_service

    doc = create_http_app(build_service(TargetOptions())).openapi()
    assert not [p for p in doc["paths"] if p == "/metrics" or p.startswith("/admin")]  # operator endpoints
    fleet = fleet_from_openapi(doc, "reference", "http://127.0.0.1:8000")
    held = openapi.held_operations(doc)
    text = render_yaml(fleet, "http://127.0.0.1:8000/openapi.json", notes=openapi.notes_for(doc),
                       held={"reference": held})  # fmt: skip
    assert FLEET.validate_python(yaml.safe_load(text)["fleet"])["reference"].operations
    named = {op["name"]: op for op in fleet["reference"]["operations"]}
    waiting = {h.operation["name"]: h for h in held}
    expected = {f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item if m not in ("head", "options")}
    assert set(named) | set(waiting) | set(openapi.skipped_operations(doc)) == expected
    assert openapi.skipped_operations(doc) == ["POST /v1/stt"]  # a WAV upload has no inline value
    assert set(waiting) == {"POST /sessions", "POST /sessions/{id}/predict", "DELETE /sessions/{id}"}
    assert waiting["POST /sessions"].why[0].startswith("needs credentials (HTTPBearer): ")
    assert waiting["DELETE /sessions/{id}"].operation["path"] == "/sessions/{{ row.id }}"
    assert named["POST /predict"]["json"] == {"features": [55.0, 2.0, 5.0, 70.0]}
    assert named["POST /evaluate"]["json"] == {"rows": [{"features": [55.0, 2.0, 5.0, 70.0], "label": "normal"}]}
    assert named["POST /v1/chat"]["json"] == {"messages": [{"role": "user", "content": "example"}], "max_tokens": 16,
                                              "stream": False}  # fmt: skip


def _uncommented(text: str) -> dict[str, Any]:
    """The config with its commented-out operations taken back, as a user does after reading their comment."""
    lines = [re.sub(r"^(\s*)# (- |  )", r"\1\2", line) for line in text.splitlines()]
    return yaml.safe_load("\n".join(lines))["fleet"]


def test_held_operations_validate_once_given_a_feed_and_credentials(tmp_path: Path) -> None:
    """Uncommented, the held operations load only with what their comment asks for: a data: feed of ids
    (the loader refuses ``{{ row.id }}`` without one) and the Authorization header."""
    from load_tests.reference_service.http_app import create_http_app
    from load_tests.reference_service.server import TargetOptions, build_service

    doc = create_http_app(build_service(TargetOptions())).openapi()
    fleet = fleet_from_openapi(doc, "reference", "http://127.0.0.1:8000")
    text = render_yaml(fleet, "openapi.json", held={"reference": openapi.held_operations(doc)})
    service = _uncommented(text)["reference"]
    assert len(service["operations"]) == len(fleet["reference"]["operations"]) + 3
    with pytest.raises(ConfigError, match=r"needs a data: feed on the service$"):
        prepare_fleet(FLEET.validate_python({"reference": service}), tmp_path, "fleet.yaml", {})
    (tmp_path / "ids.csv").write_text("id\n0123abcd\n", encoding="utf-8")
    service |= {"data": {"file": "ids.csv"}, "headers": {"Authorization": "Bearer ${TOKEN}"}}
    prepared = prepare_fleet(FLEET.validate_python({"reference": service}), tmp_path, "fleet.yaml", {"TOKEN": "t"})
    assert [op.path for op in prepared["reference"].operations][-2:] == ["/sessions/{{ row.id }}/predict",
                                                                         "/sessions/{{ row.id }}"]  # fmt: skip


def test_document_security_and_what_each_scheme_needs() -> None:
    """The document's security holds every operation back unless the operation opts out (``security: []``
    or an empty requirement); each scheme says where its secret goes."""
    doc = {
        "openapi": "3.0.3",
        "security": [{"key": []}],
        "paths": {
            "/a": {"get": {"responses": OK}},
            "/b": {"get": {"security": [], "responses": OK}},
            "/c": {"get": {"security": [{}, {"key": []}], "responses": OK}},
            "/d": {"get": {"security": [{"basic": [], "oidc": []}], "responses": OK}},
            "/e": {"get": {"security": [{"q": []}], "responses": OK}},
        },
        "components": {"securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "basic": {"type": "http", "scheme": "basic"},
            "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://id.example/.well-known"},
            "q": {"type": "apiKey", "in": "query", "name": "api_key"},
        }},
    }  # fmt: skip
    assert [op["path"] for op in fleet_from_openapi(doc, "s", "http://s")["s"]["operations"]] == ["/b", "/c"]
    why = {h.operation["path"]: h.why[0] for h in openapi.held_operations(doc)}
    assert why["/a"] == 'needs credentials (key): add headers: {X-API-Key: "${API_KEY}"} to the service, then uncomment'
    assert why["/d"] == ('needs credentials (basic, oidc): add headers: {Authorization: "Basic ${CREDENTIALS}"} '
                         '(base64 of user:password) to the service and add headers: {Authorization: "Bearer ${TOKEN}"} '
                         "to the service, or a flow that logs in and captures the token, then uncomment")  # fmt: skip
    assert why["/e"] == 'needs credentials (q): add query: {api_key: "${API_KEY}"} to the operation, then uncomment'


def test_array_examples_honour_min_and_max_items_and_examples_lists() -> None:
    doc: dict[str, Any] = {"openapi": "3.1.0", "paths": {}}
    number = {"type": "number"}
    assert example(doc, {"type": "array", "items": number, "minItems": 4}, 0, ()) == [1.0] * 4
    assert example(doc, {"type": "array", "items": number, "maxItems": 0}, 0, ()) == []
    assert example(doc, {"type": "array", "items": number, "minItems": 4, "examples": [[5.0, 6.0]]}, 0, ()) == [
        5.0,
        6.0,
    ]
    two = {"type": "array", "items": {**number, "examples": [2.5, 3.5]}, "minItems": 2}
    assert example(doc, two, 0, ()) == [2.5, 2.5]
    assert documented(doc, {"examples": {"one": {"value": "a"}}}) == (True, "a")
    assert documented(doc, {"type": "string"}) == (False, None)
