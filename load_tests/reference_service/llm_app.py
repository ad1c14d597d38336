"""The target's OpenAI-compatible API: `/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`.

The wire format follows OpenAI's closely enough for the official ``openai`` package (and vLLM-style
benchmark clients): streamed replies are server-sent events ``data: {...}`` ending with
``data: [DONE]``; a chat stream opens with a role-only chunk (``delta: {"role": "assistant"}``),
reasoning tokens come as ``delta.reasoning_content`` before the content, the last content chunk
carries ``finish_reason`` and, with ``stream_options.include_usage``, one more chunk with empty
``choices`` carries ``usage``. Every chunk and every plain reply carries ``x_server_time``, the
server's epoch time when it sent it. Errors are OpenAI's ``{"error": {...}}``. Token rules and timing
are in :mod:`llm_timing`; the per-request truth is at ``GET /admin/llm/requests`` (loopback only).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from load_tests.reference_service.llm_admin import add_llm_admin_routes
from load_tests.reference_service.llm_engine import LlmEngine, Record, Sent
from load_tests.reference_service.llm_timing import (
    MAX_OUTPUT_TOKENS,
    MODEL_NAME,
    chunk_text,
    count_words,
    embedding,
    output_length,
    reply_words,
)
from load_tests.reference_service.service import Service

HTTP = "http"
CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"


class ApiError(Exception):
    """A request OpenAI would refuse: answered as ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param, self.code = status, param, code

    def response(self) -> JSONResponse:
        kind = {404: "not_found_error", 429: "rate_limit_error"}.get(self.status, "invalid_request_error")
        error = {"message": str(self), "type": kind, "param": self.param, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status)


@dataclass(frozen=True)
class Ask:
    """One validated generation request."""

    stream: bool
    include_usage: bool
    input_tokens: int
    seed_text: str
    content_tokens: int
    finish_reason: str


def _sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _int_field(body: dict[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_OUTPUT_TOKENS:
        raise ApiError(400, f"{name} must be a whole number from {low} to {MAX_OUTPUT_TOKENS}, got {value!r}", name)
    return value


def _check_model_and_n(body: dict[str, Any]) -> None:
    model = body.get("model")
    if model != MODEL_NAME:
        raise ApiError(404, f"The model `{model}` does not exist; this server serves `{MODEL_NAME}`", "model",
                       "model_not_found")  # fmt: skip
    if body.get("n", 1) not in (1, None):
        raise ApiError(400, f"only n=1 is supported, got {body.get('n')!r}", "n")


def parse_ask(engine: LlmEngine, body: dict[str, Any], prompt: str) -> Ask:
    """Validate the generation fields of a chat or completions body whose prompt text is ``prompt``."""
    max_tokens = _int_field(body, "max_completion_tokens", 1)
    max_tokens = max_tokens if max_tokens is not None else _int_field(body, "max_tokens", 1)
    min_tokens = _int_field(body, "min_tokens", 0) or 0
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "stream_options must be an object", "stream_options")
    content, finish = output_length(engine.timing, max_tokens, min_tokens, bool(body.get("ignore_eos")))
    stream = bool(body.get("stream"))
    return Ask(stream, stream and bool(options.get("include_usage")), count_words(prompt), prompt, content, finish)


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        raise ApiError(400, "each message must be an object with 'role' and 'content'", "messages")
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise ApiError(400, "message content must be a string or a list of parts", "messages")


def chat_prompt(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", "messages")
    return " ".join(_message_text(m) for m in messages)


def completion_prompt(body: dict[str, Any]) -> str:
    """The prompt as text; token-id prompts become one word per id, so they count as many tokens."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]
    if isinstance(prompt, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        return " ".join(str(t) for t in prompt)
    if not isinstance(prompt, str):
        raise ApiError(400, "prompt must be a string, a list of token ids, or a list of one of those", "prompt")
    return prompt


def _usage(record: Record) -> dict[str, Any]:
    output = sum(record.chunk_tokens)
    return {
        "prompt_tokens": record.input_tokens,
        "completion_tokens": output,
        "total_tokens": record.input_tokens + output,
        "completion_tokens_details": {"reasoning_tokens": record.reasoning_tokens},
    }


def _text_of(sent: Sent, ask: Ask, reasoning: int) -> str:
    chunk = sent.chunk
    if chunk.reasoning:
        words = reply_words("reasoning " + ask.seed_text, chunk.first_token, chunk.tokens)
        return chunk_text(words, chunk.first_token == 0)
    first = chunk.first_token - reasoning
    return chunk_text(reply_words(ask.seed_text, first, chunk.tokens), first == 0)


class _Generation:
    """One chat or completions request on its way through the engine, in OpenAI's chunk shapes."""

    def __init__(self, engine: LlmEngine, record: Record, ask: Ask, chat: bool) -> None:
        self.engine, self.record, self.ask, self.chat = engine, record, ask, chat
        self.reasoning = engine.timing.reasoning_tokens if chat else 0
        prefix = "chatcmpl" if chat else "cmpl"
        self.base = {
            "id": f"{prefix}-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(record.received),
            "model": MODEL_NAME,
        }
        self.prefix = "data: " + json.dumps(self.base, separators=(",", ":"))[:-1] + ","  # the object, still open

    async def events(self, fault: str | None) -> AsyncIterator[bytes]:
        total = self.reasoning + self.ask.content_tokens
        generator = self.engine.generate(self.record, self.ask.content_tokens, self.reasoning, fault is not None)
        async with contextlib.aclosing(generator):
            async for sent in generator:
                if sent is None and not self.chat:
                    continue  # completions streams have no role chunk
                last = sent is not None and sent.chunk.first_token + sent.chunk.tokens == total
                finish = self.ask.finish_reason if last else None
                if sent is None:
                    role = {"index": 0, "delta": {"role": "assistant"}, "logprobs": None, "finish_reason": None}
                    yield _sse({**self.base, "choices": [role], "x_server_time": time.time()})
                else:
                    yield self._content_event(sent, finish)
        if fault == "error_event":
            error = {"message": "generation failed (injected by --llm-error-event-rate)", "type": "server_error",
                     "param": None, "code": 500}  # fmt: skip
            yield _sse({"error": error, "x_server_time": time.time()}) + b"data: [DONE]\n\n"
        if not self.record.completed:
            return  # cut (or failed): no end, no usage
        end = b"data: [DONE]\n\n"  # in the same write as the usage chunk: one system call less per stream
        if self.ask.include_usage:
            end = _sse({**self.base, "choices": [], "usage": _usage(self.record), "x_server_time": time.time()}) + end
        yield end

    def _content_event(self, sent: Sent, finish: str | None) -> bytes:
        """The event of one content chunk, built around a per-stream JSON prefix: at 200 streams a chunk's
        cost is what delays the next stream's chunk, and ``json.dumps`` of the whole object was a third of it."""
        text = json.dumps(_text_of(sent, self.ask, self.reasoning))
        end = "null" if finish is None else f'"{finish}"'
        if self.chat:
            key = "reasoning_content" if sent.chunk.reasoning else "content"
            choice = f'{{"index":0,"delta":{{"{key}":{text}}},"logprobs":null,"finish_reason":{end}}}'
        else:
            choice = f'{{"index":0,"text":{text},"logprobs":null,"finish_reason":{end}}}'
        return f'{self.prefix}"choices":[{choice}],"x_server_time":{sent.stamp!r}}}\n\n'.encode()

    async def reply(self) -> dict[str, Any]:
        parts: dict[bool, list[str]] = {True: [], False: []}
        generator = self.engine.generate(self.record, self.ask.content_tokens, self.reasoning)
        async with contextlib.aclosing(generator):
            async for sent in generator:
                if sent is not None:
                    parts[sent.chunk.reasoning].append(_text_of(sent, self.ask, self.reasoning))
        text = "".join(parts[False])
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if parts[True]:
                message["reasoning_content"] = "".join(parts[True])
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self.ask.finish_reason}
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": self.ask.finish_reason}
        obj = "chat.completion" if self.chat else "text_completion"
        return {**self.base, "object": obj, "choices": [choice], "usage": _usage(self.record),
                "x_server_time": time.time()}  # fmt: skip


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


async def _generate(service: Service, request: Request, endpoint: str, chat: bool) -> Response:
    received = time.time()
    telemetry, engine = service.telemetry, service.llm
    telemetry.request(HTTP, endpoint)
    try:
        body = await _json_body(request)
        _check_model_and_n(body)
        ask = parse_ask(engine, body, chat_prompt(body) if chat else completion_prompt(body))
        record = engine.new_record(HTTP, endpoint, ask.input_tokens, received)
        if engine.rate_limited(record):
            raise ApiError(429, "rate limit reached (injected by --llm-rate-limit-rate)", None, "rate_limit_exceeded")
    except ApiError as exc:
        telemetry.error(HTTP, endpoint, {404: "model_not_found", 429: "rate_limited"}.get(exc.status, "bad_request"))
        return exc.response()
    generation = _Generation(engine, record, ask, chat)
    if not ask.stream:
        return JSONResponse(await generation.reply())
    return SseResponse(
        generation.events(engine.draw_break(record)), lambda sent: telemetry.stream_messages(HTTP, endpoint, sent)
    )


class SseResponse(Response):
    """A server-sent event stream written straight to the ASGI ``send``, each event as soon as it exists.

    Starlette's StreamingResponse runs every stream in an anyio task group; ending 200 of those at
    once held the loop for tens of ms and made the last chunks late. One plain task per stream waits
    for the client's disconnect instead, which ends the generation (and frees its queue slot).
    """

    def __init__(self, events: AsyncIterator[bytes], on_end: Callable[[int], None]) -> None:
        self.events, self.on_end = events, on_end
        self.background = None
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        gone = asyncio.ensure_future(_disconnect(receive))
        sent = 0
        try:
            async with contextlib.aclosing(self.events) as events:  # type: ignore[type-var]
                async for event in events:
                    if gone.done():
                        return
                    await send({"type": "http.response.body", "body": event, "more_body": True})
                    sent += 1
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            self.on_end(sent)


async def _disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _embedding_inputs(body: dict[str, Any]) -> list[str]:
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [" ".join(map(str, value))]
    if isinstance(value, list) and value and all(isinstance(v, (str, list)) for v in value):
        return [v if isinstance(v, str) else " ".join(map(str, v)) for v in value]
    raise ApiError(400, "input must be a string, a list of strings, or token ids", "input")


async def _embeddings(service: Service, request: Request) -> Response:
    service.telemetry.request(HTTP, EMBEDDINGS)
    try:
        body = await _json_body(request)
        _check_model_and_n(body)
        inputs = _embedding_inputs(body)
    except ApiError as exc:
        service.telemetry.error(HTTP, EMBEDDINGS, "bad_request")
        return exc.response()
    tokens = sum(count_words(text) for text in inputs)
    timing = service.llm.timing
    await _sleep_s(timing.ttft_s(tokens))
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(inputs):
        vector = embedding(text)
        value: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
        data.append({"object": "embedding", "index": i, "embedding": value})
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": MODEL_NAME, "usage": usage,
                         "x_server_time": time.time()})  # fmt: skip


async def _sleep_s(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def _documented(summary: str, example: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a route that reads its body itself: a config generated from /openapi.json sends ``example``."""
    model = {"type": "string", "enum": [MODEL_NAME]}
    schema = {"type": "object", "required": ["model"], "properties": {"model": model}}
    body = {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}
    return {"summary": summary, "requestBody": body}


_CHAT_OPENAPI = _documented(
    "OpenAI chat completions, streamed (SSE) or not",
    {"model": MODEL_NAME, "messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 8},
)
_COMPLETIONS_OPENAPI = _documented(
    "OpenAI completions, streamed (SSE) or not", {"model": MODEL_NAME, "prompt": "Say hello", "max_tokens": 8}
)
_EMBEDDINGS_OPENAPI = _documented("OpenAI embeddings", {"model": MODEL_NAME, "input": "hello world"})


def add_llm_routes(app: FastAPI, service: Service) -> None:
    """The OpenAI-compatible API, and its operator endpoints (hidden from /openapi.json, loopback only)."""

    @app.get("/v1/models")
    async def models() -> Response:
        service.telemetry.request(HTTP, "/v1/models")
        card = {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "load_tests", "root": MODEL_NAME}
        return JSONResponse({"object": "list", "data": [card]})

    @app.post(CHAT, openapi_extra=_CHAT_OPENAPI)
    async def chat_completions(request: Request) -> Response:
        return await _generate(service, request, CHAT, chat=True)

    @app.post(COMPLETIONS, openapi_extra=_COMPLETIONS_OPENAPI)
    async def completions(request: Request) -> Response:
        return await _generate(service, request, COMPLETIONS, chat=False)

    @app.post(EMBEDDINGS, openapi_extra=_EMBEDDINGS_OPENAPI)
    async def embeddings(request: Request) -> Response:
        return await _embeddings(service, request)

    add_llm_admin_routes(app, service)
