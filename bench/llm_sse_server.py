"""A tiny OpenAI-compatible SSE server with exact, logged timing: the truth the LLM client is checked against.

``python bench/llm_sse_server.py [--port 0] [--ttft-ms 50] [--delay-ms 10] [--tokens-per-chunk 1]
[--reasoning 0]`` prints ``PORT <n>`` once it listens on 127.0.0.1. ``/v1/chat/completions`` and
``/v1/completions`` stream ``max_tokens`` tokens (default 16): a role-only chunk at once (as vLLM sends it),
the first content after the TTFT, then a chunk every ``delay`` ms, each stamped ``x_server_time``; the
usage chunk (``include_usage``) and ``[DONE]``. ``/v1/embeddings`` answers at once. ``GET /log`` returns,
per request (keyed by the body's ``user``), the server's epoch times: ``received``, each content chunk's
send time (``chunks``), ``done``, and the token count. The body's ``x_fault`` asks for a failure: ``429``,
``500``, ``error_event`` (an error after 2 chunks), ``cut`` (the connection dropped after 3 chunks),
``slow_first`` (the first token after 2 s), ``no_usage``, ``json_error`` (200 with a JSON error, no stream);
``x_tokens_per_chunk`` and ``x_reasoning`` override the server's knobs for one request; ``--slow-every N``
makes every Nth request wait ``--slow-ttft-ms``.

A stand-in until (and beside) the reference service's own endpoints; gevent, one process, loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from gevent import monkey

monkey.patch_all()

import socket  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIHandler, WSGIServer  # noqa: E402

LOG: dict[str, dict[str, Any]] = {}


class Knobs:
    ttft_s = 0.05
    delay_s = 0.01
    tokens_per_chunk = 1
    reasoning = 0
    slow_every = 0  # every Nth request (1-based count) waits slow_ttft_s for its first token instead
    slow_ttft_s = 0.5


class Cut(Exception):
    """Drops the connection mid-stream (pywsgi closes the socket without the chunked terminator)."""


def _chunk(rid: str, created: int, model: str, delta: dict[str, Any], chat: bool, stamp: float | None = None) -> bytes:
    choice: dict[str, Any] = {"index": 0, "finish_reason": None}
    if chat:
        choice["delta"] = delta
    else:
        choice["text"] = delta.get("content", "")
    body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [choice],
            "x_server_time": stamp or time.time()}  # fmt: skip
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _stream(body: dict[str, Any], chat: bool, entry: dict[str, Any]) -> Iterator[bytes]:
    n = int(body.get("max_tokens") or 16)
    fault = body.get("x_fault")
    rid, created, model = f"cmpl-{entry['key']}", int(time.time()), str(body.get("model"))
    if chat:
        yield _chunk(rid, created, model, {"role": "assistant", "content": ""}, chat)
    slow = Knobs.slow_every and entry["number"] % Knobs.slow_every == 0
    gevent.sleep(2.0 if fault == "slow_first" else Knobs.slow_ttft_s if slow else Knobs.ttft_s)
    per_chunk = int(body.get("x_tokens_per_chunk") or Knobs.tokens_per_chunk)
    reasoning = int(body.get("x_reasoning") or Knobs.reasoning)
    sent, i = 0, 0
    while sent < n:
        k = min(per_chunk, n - sent)
        words = "".join(f"w{sent + j} " for j in range(k))
        key = "reasoning_content" if sent < reasoning else "content"
        stamp = time.time()
        entry["chunks"].append(stamp)
        yield _chunk(rid, created, model, {key: words}, chat, stamp)
        sent, i = sent + k, i + 1
        if fault == "error_event" and i == 2:
            yield b'data: {"error": {"type": "overloaded_error", "message": "try later"}}\n\n'
            return
        if fault == "cut" and i == 3:
            raise Cut
        if sent < n:
            gevent.sleep(Knobs.delay_s)
    options = body.get("stream_options") or {}
    if options.get("include_usage") and fault != "no_usage":
        usage = {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": n + 7}
        if reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": min(reasoning, n)}
        yield b"data: " + json.dumps({"id": rid, "choices": [], "usage": usage}).encode() + b"\n\n"
    entry["done"] = time.time()
    yield b"data: [DONE]\n\n"


def app(environ: dict[str, Any], start_response: Any) -> Any:
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if method == "GET" and path == "/log":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(LOG).encode()]
    received = time.time()
    raw = environ["wsgi.input"].read()
    body = json.loads(raw or b"{}")
    key = str(body.get("user") or f"r{len(LOG)}")
    entry = LOG[key] = {"key": key, "received": received, "chunks": [], "done": None, "number": len(LOG) + 1,
                        "tokens": int(body.get("max_tokens") or 16)}  # fmt: skip
    fault = body.get("x_fault")
    if fault in ("429", "500"):
        status = "429 Too Many Requests" if fault == "429" else "500 Internal Server Error"
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps({"error": {"type": "rate_limit" if fault == "429" else "server_error"}}).encode()]
    if fault == "json_error":  # a gateway that answers a stream request with plain JSON
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"error": {"type": "gateway_error", "message": "upstream down"}}']
    if path.endswith("/embeddings"):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"data": [{"embedding": [0.1, 0.2]}], "usage": {"prompt_tokens": 3}}).encode()]
    chat = path.endswith("/chat/completions")
    if not chat and not path.endswith("/completions"):
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": {"type": "not_found"}}']
    if not body.get("stream"):
        return _whole(body, chat, entry, start_response)
    start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
    return _stream(body, chat, entry)


def _whole(body: dict[str, Any], chat: bool, entry: dict[str, Any], start_response: Any) -> list[bytes]:
    n = int(body.get("max_tokens") or 16)
    gevent.sleep(Knobs.ttft_s + Knobs.delay_s * (n - 1))
    text = "".join(f"w{i} " for i in range(n))
    choice = {"index": 0, "message": {"role": "assistant", "content": text}} if chat else {"index": 0, "text": text}
    entry["chunks"].append(time.time())
    entry["done"] = entry["chunks"][-1]
    start_response("200 OK", [("Content-Type", "application/json")])
    usage = {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": n + 7}
    return [json.dumps({"id": "cmpl", "choices": [choice], "usage": usage}).encode()]


class NoDelayHandler(WSGIHandler):
    """Every chunk leaves at once (TCP_NODELAY), as uvicorn sends it: without it, Nagle holds a chunk
    until the client's delayed ACK of the one before, up to 40 ms later, and the truth would be late."""

    def handle(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    parser.add_argument("--reasoning", type=int, default=0, help="the first N tokens are reasoning_content")
    parser.add_argument("--slow-every", type=int, default=0, help="every Nth request waits --slow-ttft-ms instead")
    parser.add_argument("--slow-ttft-ms", type=float, default=500.0)
    args = parser.parse_args(argv)
    Knobs.ttft_s, Knobs.delay_s = args.ttft_ms / 1000.0, args.delay_ms / 1000.0
    Knobs.tokens_per_chunk, Knobs.reasoning = args.tokens_per_chunk, args.reasoning
    Knobs.slow_every, Knobs.slow_ttft_s = args.slow_every, args.slow_ttft_ms / 1000.0
    server = WSGIServer(("127.0.0.1", args.port), app, log=None, error_log=None, handler_class=NoDelayHandler)
    server.start()
    print(f"PORT {server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
