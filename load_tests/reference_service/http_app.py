"""HTTP and WebSocket side of the target: a small "AI gateway" on FastAPI.

Every endpoint counts itself under its path (``/v1/chat (stream)`` for streamed chat) so the
harness's per-endpoint figures can be checked against ``GET /metrics`` one for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from load_tests.reference_service import model
from load_tests.reference_service.faults import InjectedFault
from load_tests.reference_service.http_gateway import add_invocation_route, add_session_routes
from load_tests.reference_service.llm_app import add_llm_routes
from load_tests.reference_service.service import LOOPBACK, Service
from load_tests.reference_service.websocket_chat import serve_websocket

HTTP = "http"
# Liveness and scraping stay open when an API key is set, as load balancers and Prometheus expect.
OPEN_PATHS = frozenset({"/health", "/metrics"})
MAX_TOKENS = 2048
N_FEATURES = len(model.FEATURES)
FEATURES_EXAMPLE = [55.0, 2.0, 5.0, 70.0]  # temperature, vibration, pressure, flow: a "normal" pump

# The count is documented (so a generated config sends 4 numbers), not validated here: model.classify
# checks it and answers 400 naming the features, where a pydantic constraint would answer a bare 422.
Features = Annotated[
    list[float],
    Field(
        description=f"The model's {N_FEATURES} features, in order: {', '.join(model.FEATURES)}.",
        examples=[FEATURES_EXAMPLE],
        json_schema_extra={"minItems": N_FEATURES, "maxItems": N_FEATURES},
    ),
]


# /predict parses this by hand (it also takes a WAV upload): its docstring is the published description.
class PredictBody(BaseModel):
    """One row of features, or a batch of rows."""

    features: Features | None = None
    rows: list[Features] | None = None


class EvaluateRow(BaseModel):
    features: Features
    label: str = Field(examples=["normal"])


class EvaluateBody(BaseModel):
    rows: list[EvaluateRow] = Field(min_length=1)


class ChatMessage(BaseModel):
    role: str = "user"
    content: str


class ChatBody(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int = Field(default=16, ge=1, le=MAX_TOKENS)
    stream: bool = False


class GenerateBody(BaseModel):
    prompt: str
    max_tokens: int = Field(default=32, ge=1, le=MAX_TOKENS)


class TtsBody(BaseModel):
    text: str = Field(min_length=1, max_length=5000)
    voice: str = "default"


_WAV_UPLOAD = {
    "schema": {
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary", "description": "A 16-bit mono WAV file."}},
    },
    "encoding": {"file": {"contentType": "audio/wav"}},
}
# /predict and /v1/stt read their bodies themselves (JSON or a WAV upload), so FastAPI cannot infer them.
_PREDICT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": PredictBody.model_json_schema()},
            "multipart/form-data": _WAV_UPLOAD,
        },
    }
}
_STT_OPENAPI: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": _WAV_UPLOAD}}}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _injected() -> JSONResponse:
    return _error(500, "injected fault")


async def _uploaded_wav(request: Request) -> bytes:
    """The WAV a caller sent, as a multipart ``file`` field or as a raw ``audio/wav`` body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise model.BadInput("multipart body needs a 'file' field with a WAV file")
        return await upload.read()
    return await request.body()


def create_http_app(service: Service) -> FastAPI:
    """The FastAPI app with every HTTP endpoint and the ``/ws/chat`` WebSocket."""
    app = FastAPI(title="load_tests reference target", docs_url=None, redoc_url=None)
    _add_classifier_routes(app, service)
    _add_generation_routes(app, service)
    _add_audio_routes(app, service)
    _add_operator_routes(app, service)
    add_invocation_route(app, service)
    add_session_routes(app, service)
    add_llm_routes(app, service)

    @app.websocket("/ws/chat")
    async def ws_chat(websocket: WebSocket) -> None:
        await serve_websocket(service, websocket)

    return app


def _add_classifier_routes(app: FastAPI, service: Service) -> None:
    """/health, /model-info, and the classifier's /predict and /evaluate."""
    call = service.call

    @app.get("/health")
    async def health() -> dict[str, str]:
        await call(HTTP, "/health", "health")
        return {"status": "ok"}

    @app.get("/model-info")
    async def model_info() -> dict[str, Any]:
        await call(HTTP, "/model-info", "model_info")
        return model.MODEL_INFO

    @app.post("/predict", openapi_extra=_PREDICT_OPENAPI)
    async def predict(request: Request) -> Response:
        try:
            await call(HTTP, "/predict", "predict", db=True)
        except InjectedFault:
            return _injected()
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                body = PredictBody.model_validate_json(await request.body())
                if body.rows is not None:
                    predictions = [model.classify(r) for r in body.rows]
                    return JSONResponse({"predictions": [{"label": lb, "probabilities": p} for lb, p in predictions]})
                label, probabilities = model.classify(body.features or [])
                return JSONResponse({"label": label, "probabilities": probabilities, "model": "classifier"})
            pcm, rate = model.read_wav(await _uploaded_wav(request))
            label, probabilities = model.classify_audio(pcm, rate)
            return JSONResponse({"label": label, "probabilities": probabilities, "model": "audio-classifier"})
        except (model.BadInput, ValueError) as exc:
            service.telemetry.error(HTTP, "/predict", "bad_request")
            return _error(400, str(exc).splitlines()[0])

    @app.post("/evaluate")
    async def evaluate(body: EvaluateBody) -> Response:
        try:
            await call(HTTP, "/evaluate", "evaluate", db=True)
        except InjectedFault:
            return _injected()
        confusion: dict[str, dict[str, int]] = {}
        correct = 0
        try:
            for row in body.rows:
                predicted, _ = model.classify(row.features)
                correct += predicted == row.label
                confusion.setdefault(row.label, {}).setdefault(predicted, 0)
                confusion[row.label][predicted] += 1
        except model.BadInput as exc:
            service.telemetry.error(HTTP, "/evaluate", "bad_request")
            return _error(400, str(exc))
        n = len(body.rows)
        return JSONResponse({"count": n, "correct": correct, "accuracy": correct / n, "confusion": confusion})


def _add_generation_routes(app: FastAPI, service: Service) -> None:
    """/v1/chat (plain or streamed as server-sent events) and /v1/llm/generate."""
    call = service.call

    @app.post("/v1/chat")
    async def chat(body: ChatBody) -> Response:
        """Plain: answered after the chat service time. Streamed: timed by the reference LLM like every chat
        stream, each event carrying its words (``token``), their count (``tokens``) and ``x_server_time``."""
        endpoint, received = "/v1/chat (stream)" if body.stream else "/v1/chat", time.time()
        try:
            await call(HTTP, endpoint, "chat", timed=not body.stream)
        except InjectedFault:
            return _injected()
        prompt, chat_id = body.messages[-1].content, uuid.uuid4().hex
        if not body.stream:
            tokens = model.tokens_for(prompt, body.max_tokens)
            return JSONResponse(
                {"id": chat_id, "message": {"role": "assistant", "content": " ".join(tokens)}, "tokens": len(tokens)}
            )

        async def events() -> AsyncIterator[bytes]:
            sent = 0
            stream = service.llm.messages(HTTP, endpoint, prompt, body.max_tokens, received)
            async with contextlib.aclosing(stream):
                async for m in stream:
                    event = {"id": chat_id, "index": m.index, "token": m.text, "tokens": m.tokens}
                    yield f"data: {json.dumps({**event, 'x_server_time': m.stamp})}\n\n".encode()
                    sent += 1
            service.telemetry.stream_messages(HTTP, endpoint, sent)
            yield f"event: done\ndata: {json.dumps({'id': chat_id, 'tokens': body.max_tokens})}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/llm/generate")
    async def generate(body: GenerateBody) -> Response:
        try:
            await call(HTTP, "/v1/llm/generate", "llm", db=True)
        except InjectedFault:
            return _injected()
        tokens = model.tokens_for(body.prompt, body.max_tokens)
        return JSONResponse({"text": " ".join(tokens), "tokens": len(tokens), "finish_reason": "length"})


def _add_audio_routes(app: FastAPI, service: Service) -> None:
    """/v1/tts and /v1/stt."""
    call = service.call

    @app.post("/v1/tts")
    async def tts(body: TtsBody) -> Response:
        try:
            await call(HTTP, "/v1/tts", "tts")
        except InjectedFault:
            return _injected()
        pcm = model.synthesize_pcm(body.text)
        return Response(model.wav_bytes(pcm), media_type="audio/wav")

    @app.post("/v1/stt", openapi_extra=_STT_OPENAPI)
    async def stt(request: Request) -> Response:
        try:
            await call(HTTP, "/v1/stt", "stt")
        except InjectedFault:
            return _injected()
        try:
            pcm, rate = model.read_wav(await _uploaded_wav(request))
        except model.BadInput as exc:
            service.telemetry.error(HTTP, "/v1/stt", "bad_request")
            return _error(400, str(exc))
        transcript, duration = model.transcribe(pcm, rate)
        return JSONResponse({"transcript": transcript, "duration_s": round(duration, 3)})


def _add_operator_routes(app: FastAPI, service: Service) -> None:
    """/metrics and /admin/faults serve whoever runs the test, not the load: they are neither counted nor
    faulted, so they keep answering while the target is being broken on purpose. They stay out of
    /openapi.json, which describes the API: a config generated from it must not load-test them, let
    alone change the faults."""

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(service.telemetry.exposition(), media_type="text/plain; version=0.0.4")

    @app.get("/admin/faults", include_in_schema=False)
    async def get_faults(request: Request) -> Response:
        if not _from_loopback(request):
            return _error(403, "admin endpoints accept loopback callers only")
        return JSONResponse(service.work.as_dict())

    @app.post("/admin/faults", include_in_schema=False)
    async def set_faults(request: Request) -> Response:
        if not _from_loopback(request):
            return _error(403, "admin endpoints accept loopback callers only")
        try:
            data = json.loads(await request.body() or b"{}")
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            service.work.update(data)
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse(service.work.as_dict())


def _from_loopback(request: Request) -> bool:
    return request.client is not None and request.client.host in LOOPBACK


class ApiKeyMiddleware:
    """Pure ASGI guard: HTTP calls without the key get 401, WebSockets a 4401 close after an error frame.

    Socket.IO paths pass through: python-socketio refuses them in its own ``connect`` handler, which
    is how Socket.IO clients expect to be refused.
    """

    def __init__(self, app: Any, service: Service, socketio_path: str = "/socket.io") -> None:
        self.app, self.service, self.socketio_path = app, service, socketio_path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or not self.service.api_key:
            return await self.app(scope, receive, send)
        path: str = scope.get("path", "")
        if path in OPEN_PATHS or path.startswith("/admin/") or path.startswith(self.socketio_path):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.service.authorized(Service.key_from_headers(headers)):
            return await self.app(scope, receive, send)
        protocol = "websocket" if scope["type"] == "websocket" else HTTP
        self.service.telemetry.error(protocol, path, "unauthorized")
        if scope["type"] == "http":
            response = _error(401, "missing or invalid API key")
            return await response(scope, receive, send)
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send(
            {"type": "websocket.send", "text": json.dumps({"type": "error", "code": 401, "error": "unauthorized"})}
        )
        await send({"type": "websocket.close", "code": 4401, "reason": "unauthorized"})
        await asyncio.sleep(0)
