"""Routes that make the target look like our users' services: an inference endpoint and a session gateway.

Tests of "services as data" describe these in YAML exactly as users describe their own fleets, so
they follow FastAPI's habits: pydantic bodies, ``{"detail": ...}`` errors, a bearer security scheme,
and an ``/openapi.json`` that a config generator can read. Each route is counted under its path
template (the same string as the route), so the harness's figures match ``/metrics`` one for one.
"""

from __future__ import annotations

import secrets
import uuid
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from load_tests.reference_service import model, rows
from load_tests.reference_service.faults import InjectedFault
from load_tests.reference_service.rows import FeatureRow, PredictAnswer, ProbaAnswer
from load_tests.reference_service.service import Service

HTTP = "http"
INVOCATION = "/invocation"
LOGIN = "/login"
SESSIONS = "/sessions"
SESSION_PREDICT = "/sessions/{id}/predict"
SESSION = "/sessions/{id}"
MAX_SESSIONS = 100_000
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# Module-level, not local: FastAPI resolves these postponed annotations in the module's namespace.
Bearer = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(HTTPBearer(auto_error=False, description="The token that POST /login answered.")),
]
SessionId = Annotated[str, Path(alias="id", description="The id that POST /sessions answered.")]


class ErrorDetail(BaseModel):
    detail: str


class LoginBody(BaseModel):
    user: str = Field(min_length=1, max_length=256)


class TokenAnswer(BaseModel):
    token: str


class SessionAnswer(BaseModel):
    session_id: str


class SessionPrediction(BaseModel):
    session_id: str
    label: str
    probabilities: dict[str, float]


_ROW_SCHEMA = FeatureRow.model_json_schema()
_BINARY = {"schema": {"type": "string", "format": "binary"}}
# /invocation reads its body itself (Parquet or JSON), so FastAPI cannot infer the schema: we state it.
_INVOCATION_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "method",
            "in": "query",
            "required": True,
            "description": "predict: one label per row; predict_proba: class probabilities per row.",
            "schema": {"type": "string", "enum": list(rows.METHODS)},
        }
    ],
    "requestBody": {
        "required": True,
        "description": f"Rows with the feature columns {', '.join(model.FEATURES)}: a Parquet file, "
        "or JSON (one row object or a list of them).",
        "content": {
            rows.JSON_TYPE: {
                "schema": {"anyOf": [_ROW_SCHEMA, {"type": "array", "items": _ROW_SCHEMA, "minItems": 1}]}
            },
            **{media: _BINARY for media in rows.PARQUET_TYPES},
        },
    },
}


class SessionStore:
    """Tokens and open sessions of one service instance, in memory and bounded.

    Beyond ``limit`` the oldest token or session is forgotten, as a gateway's cache evicts: a long soak
    test must not grow the target until it becomes the bottleneck it is meant to measure.
    """

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self.limit = limit
        self._tokens: OrderedDict[str, str] = OrderedDict()
        self._sessions: OrderedDict[str, str] = OrderedDict()

    def login(self, user: str) -> str:
        token = secrets.token_urlsafe(24)
        self._remember(self._tokens, token, user)
        return token

    def user_of(self, token: str | None) -> str | None:
        return self._tokens.get(token) if token else None

    def open(self, user: str) -> str:
        session_id = uuid.uuid4().hex
        self._remember(self._sessions, session_id, user)
        return session_id

    def is_open(self, session_id: str) -> bool:
        return session_id in self._sessions

    def close(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    def _remember(self, store: OrderedDict[str, str], key: str, value: str) -> None:
        store[key] = value
        while len(store) > self.limit:
            store.popitem(last=False)


def _detail(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _reject(
    service: Service, endpoint: str, kind: str, status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A call turned away before any work, as a gateway does: counted as a request and an error of ``kind``."""
    service.telemetry.request(HTTP, endpoint)
    service.telemetry.error(HTTP, endpoint, kind)
    return _detail(status, message, headers)


def _errors(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, so a generator learns which answers are expected failures."""
    return {status: {"model": ErrorDetail, "description": text} for status, text in described.items()}


def add_invocation_route(app: FastAPI, service: Service) -> None:
    """``POST /invocation?method=...``: rows in (Parquet or JSON), predictions out, every row fingerprinted."""
    telemetry = service.telemetry

    @app.post(
        INVOCATION,
        response_model=PredictAnswer | ProbaAnswer,
        responses=_errors(
            {400: "bad body", 415: "neither JSON nor Parquet", 422: "unknown method", 500: "injected fault"}
        ),
        openapi_extra=_INVOCATION_OPENAPI,
    )
    async def invocation(request: Request) -> Response:
        try:
            await service.call(HTTP, INVOCATION, "predict", db=True)
        except InjectedFault:
            return _detail(500, "injected fault")
        method = request.query_params.get("method")
        if method not in rows.METHODS:
            telemetry.error(HTTP, INVOCATION, "unknown_method")
            return _detail(422, f"method must be one of {', '.join(rows.METHODS)}, got {method!r}")
        try:
            parsed = rows.parse_rows(await request.body(), request.headers.get("content-type", ""))
        except rows.UnsupportedMediaType as exc:
            telemetry.error(HTTP, INVOCATION, "unsupported_media_type")
            return _detail(415, str(exc))
        except model.BadInput as exc:
            telemetry.error(HTTP, INVOCATION, "bad_request")
            return _detail(400, str(exc).splitlines()[0])
        telemetry.rows(HTTP, INVOCATION, [rows.fingerprint(row) for row in parsed])
        return JSONResponse(rows.answer(parsed, method))


def add_session_routes(app: FastAPI, service: Service) -> None:
    """The gateway: log in for a token, open a session with it, predict inside it, close it."""
    store = SessionStore()
    _add_session_opening_routes(app, service, store)
    _add_session_use_routes(app, service, store)


def _add_session_opening_routes(app: FastAPI, service: Service, store: SessionStore) -> None:
    """``POST /login`` and ``POST /sessions`` (bearer token required)."""

    @app.post(LOGIN, response_model=TokenAnswer, responses=_errors({500: "injected fault"}))
    async def login(body: LoginBody) -> Response:
        try:
            await service.call(HTTP, LOGIN, "session")
        except InjectedFault:
            return _detail(500, "injected fault")
        return JSONResponse({"token": store.login(body.user)})

    @app.post(
        SESSIONS,
        response_model=SessionAnswer,
        responses=_errors({401: "missing or invalid token", 500: "injected fault"}),
    )
    async def open_session(credentials: Bearer) -> Response:
        user = store.user_of(credentials.credentials if credentials else None)
        if user is None:
            return _reject(service, SESSIONS, "unauthorized", 401, "missing or invalid token", _CHALLENGE)
        try:
            await service.call(HTTP, SESSIONS, "session")
        except InjectedFault:
            return _detail(500, "injected fault")
        return JSONResponse({"session_id": store.open(user)})


def _add_session_use_routes(app: FastAPI, service: Service, store: SessionStore) -> None:
    """``POST /sessions/{id}/predict`` and ``DELETE /sessions/{id}``: 404 once the session is unknown or closed."""

    @app.post(
        SESSION_PREDICT,
        response_model=SessionPrediction,
        responses=_errors({404: "no such session", 500: "injected fault"}),
    )
    async def session_predict(session_id: SessionId, row: FeatureRow) -> Response:
        if not store.is_open(session_id):
            return _reject(service, SESSION_PREDICT, "no_session", 404, "no such session")
        try:
            await service.call(HTTP, SESSION_PREDICT, "predict", db=True)
        except InjectedFault:
            return _detail(500, "injected fault")
        values = row.model_dump()
        service.telemetry.rows(HTTP, SESSION_PREDICT, [rows.fingerprint(values)])
        label, probabilities = model.classify(rows.features_of(values))
        return JSONResponse({"session_id": session_id, "label": label, "probabilities": probabilities})

    @app.delete(SESSION, status_code=204, responses=_errors({404: "no such session", 500: "injected fault"}))
    async def close_session(session_id: SessionId) -> Response:
        if not store.is_open(session_id):
            return _reject(service, SESSION, "no_session", 404, "no such session")
        try:
            await service.call(HTTP, SESSION, "session")
        except InjectedFault:
            return _detail(500, "injected fault")
        store.close(session_id)
        return Response(status_code=204)
