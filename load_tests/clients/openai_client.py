"""An OpenAI-compatible client that times every token: chat and text completions (streamed or not), embeddings.

One request is one row (``LLM stream`` or ``LLM request``, named ``POST /v1/chat/completions``) whose
context carries ``TokenTimer``'s ``llm`` figures (TTFT, gaps between content chunks, tokens), so the
recorder computes TTFT, ITL, TPOT and goodput as core/llm_metrics.py defines them. The stream is read
as it lands (everything that arrived, in one piece: ``sse.read_arrived``) through the O(bytes) :class:`SseParser`.

What is a token: a chunk whose ``delta.content`` (``text`` for completions) or ``delta.reasoning_content``
/ ``delta.reasoning`` is a non-empty string. Role-only, empty and keep-alive chunks are not; the chunk with
``choices: []`` and ``usage`` is the usage chunk. Counts: ``usage`` when sent, else the tokenizer, else an
estimate (~4 characters per token), each labelled in ``count_source``.

Failures, each its own name: ``HTTP 429``, ``HTTP 503`` (any status >= 400 by its code); ``stream error:
TYPE`` (an ``error`` event or object in the stream); ``stream cut before [DONE]`` (its tokens still count);
``first token timeout`` (no content within ``ttft_timeout_s``); ``bad reply: ...`` (not the API's JSON).
The API key travels in the ``Authorization`` header only: no failure, log or report names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gevent

from load_tests.clients import fast_json
from load_tests.clients.sse import SseParser, read_arrived
from load_tests.core.llm_metrics import estimate_tokens
from load_tests.core.llm_request import LlmRequest
from load_tests.core.request_types import LLM_REQUEST, LLM_STREAM
from load_tests.engine.request_hook import TokenTimer, report

DONE = "[DONE]"
CUT = "stream cut before [DONE]"
TTFT_TIMEOUT = "first token timeout"
DRAIN_S = 0.1  # after [DONE], how long the body's end may take before the connection is closed instead


class TokenCounter:
    """Counts tokens of text the server gave no ``usage`` for: a local tokenizer.json, else the estimate."""

    _loaded: ClassVar[dict[str, Any]] = {}  # path -> Tokenizer, once per process

    def __init__(self, tokenizer_path: str | None = None) -> None:
        self.tokenizer = None
        if tokenizer_path:
            tokenizer = self._loaded.get(tokenizer_path)
            if tokenizer is None:
                from tokenizers import Tokenizer  # only services with a tokenizer pay for the import

                tokenizer = self._loaded[tokenizer_path] = Tokenizer.from_file(tokenizer_path)
            self.tokenizer = tokenizer
        self.source = "tokenizer" if self.tokenizer is not None else "estimate"

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self.tokenizer is not None:
            return len(self.tokenizer.encode(text, add_special_tokens=False).ids)
        return estimate_tokens(len(text))


@dataclass
class _Reading:
    """What one stream delivered so far."""

    texts: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    done: bool = False
    failure: str | None = None
    reasoning_tokens: int | None = None  # usage.completion_tokens_details.reasoning_tokens
    size: int = 0


class OpenAIClient:
    """Sends :class:`LlmRequest` s on a Locust ``FastHttpSession`` and reports each one once."""

    def __init__(self, session: Any, counter: TokenCounter, headers: dict[str, str] | None = None,
                 ttft_timeout_s: float | None = None) -> None:  # fmt: skip
        self.session = session
        self.counter = counter
        self.headers = headers or {}
        self.ttft_timeout_s = ttft_timeout_s
        self.reply_text = ""  # the content of the last reply (a multi-turn workload carries it in the history)

    def send(self, request: LlmRequest) -> bool:
        """Send one request and report it (one request event); False when it failed."""
        self.reply_text = ""
        if "/embeddings" in request.path:
            return self._embeddings(request)
        timer = TokenTimer(self.counter.source)
        reading = _Reading()
        # The TTFT timeout runs from the send: a server that holds back even its headers is caught too.
        timeout = gevent.Timeout(self.ttft_timeout_s) if self.ttft_timeout_s and request.stream else None
        if timeout is not None:
            timeout.start()
        try:
            return self._exchange(request, timer, reading, timeout)
        except gevent.Timeout as exc:
            if exc is not timeout:
                raise
            timer.finish(completed=False)  # before the reply's headers: nothing was reported yet
            self._count(timer, reading, request)
            report(self.session.request_event, LLM_STREAM, request.name, timer.e2e_ms, exception=TTFT_TIMEOUT,
                   context=timer.context())  # fmt: skip
            return False
        finally:
            if timeout is not None:
                timeout.close()

    def _exchange(self, request: LlmRequest, timer: TokenTimer, reading: _Reading, timeout: Any) -> bool:
        with self.session.post(request.path, json=request.body, name=request.name, headers=self.headers,
                               stream=request.stream, catch_response=True) as resp:  # fmt: skip
            resp.request_meta["request_type"] = LLM_STREAM if request.stream else LLM_REQUEST
            status = resp.status_code or 0
            if status and status < 400:
                if request.stream and "json" not in str(resp.headers.get("content-type") or ""):
                    self._read_stream(resp, timer, reading, timeout)
                else:  # not asked to stream, or a server (a gateway's error) that answered plain JSON anyway
                    self._read_whole(resp, timer, reading)
            elif status:
                reading.failure = f"HTTP {status}"
            if timer.e2e_ms is None or reading.failure is not None:  # a stream that reached [DONE] has its E2E
                timer.finish(completed=reading.failure is None and status != 0)
            self._count(timer, reading, request)
            self.reply_text = "".join(reading.texts)
            resp.request_meta["response_time"] = timer.e2e_ms
            resp.request_meta["context"] = timer.context()
            if request.stream:
                resp.request_meta["response_length"] = reading.size
            if reading.failure is not None:
                resp.failure(reading.failure)
                return False
            return status != 0  # status 0: no connection; FastHttpSession already names the exception

    def _read_stream(self, resp: Any, timer: TokenTimer, reading: _Reading, timeout: Any) -> None:
        """Read the SSE body, every content chunk timed as it lands, to ``[DONE]`` (the end of E2E) or its end.

        Everything that has arrived is parsed in one piece (:func:`read_arrived`): events that came in one
        read arrived together, so they share one arrival time, as they would with a line-by-line read."""
        raw = resp._response  # geventhttpclient's response
        parser = SseParser()
        try:
            while not reading.done and (data := read_arrived(raw)):
                reading.size += len(data)
                for event in parser.feed(data):
                    timer.message()
                    if self._on_event(event.event, event.data, timer, reading) and timeout is not None:
                        timeout.cancel()  # the first token is in: no more TTFT timeout
                    if reading.failure is not None:
                        raw.release()  # half read: should_close() holds, so the socket is closed
                        return
                    if reading.done:
                        break
            if reading.done:
                timer.finish(completed=True)
                _drain(raw)
                return
        except gevent.Timeout as exc:
            if exc is not timeout:
                raise
            reading.failure = TTFT_TIMEOUT  # read_arrived released (closed) the half-read connection
            return
        except Exception:  # a reset mid-stream is a cut stream; its tokens still count
            reading.failure = CUT
            return
        if not reading.done:
            reading.failure = CUT

    def _on_event(self, name: str, data: str, timer: TokenTimer, reading: _Reading) -> bool:
        """Handle one SSE event; True when it carried the stream's first content."""
        if data == DONE:
            reading.done = True
            return False
        try:
            payload = fast_json.loads(data) if data else {}  # once per token: orjson first
        except ValueError:
            reading.failure = "bad reply: an event that is not JSON"
            return False
        if name == "error" or (isinstance(payload, dict) and payload.get("error") is not None):
            reading.failure = f"stream error: {_error_type(payload)}"
            return False
        if not isinstance(payload, dict):
            return False
        usage = payload.get("usage")
        if usage is not None:  # most chunks carry none (or null): no call for them
            self._usage(usage, timer, reading)
        choices = payload.get("choices")
        if not choices:
            return False  # the usage chunk, or a keep-alive
        first = not timer.chunk_ms
        return self._content(choices[0].get("delta") or choices[0], timer, reading) and first

    @staticmethod
    def _content(part: dict[str, Any], timer: TokenTimer, reading: _Reading) -> bool:
        """Note the content of a delta (chat) or choice (completions); False for role-only and empty ones."""
        text = part.get("content") or part.get("text")
        thought = part.get("reasoning_content") or part.get("reasoning")
        if thought is None and text and type(text) is str:  # the usual token: text only
            reading.texts.append(text)
            timer.chunk(1, 0, text)
            return True
        text = text if isinstance(text, str) else ""
        thought = thought if isinstance(thought, str) else ""
        if not text and not thought:
            return False
        if text:
            reading.texts.append(text)
        if thought:
            reading.reasoning.append(thought)
        timer.chunk(bool(text) + bool(thought), reasoning=int(bool(thought)), text=text + thought)
        return True

    @staticmethod
    def _usage(usage: Any, timer: TokenTimer, reading: _Reading) -> None:
        if not isinstance(usage, dict):
            return
        timer.usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
        details = usage.get("completion_tokens_details") or {}
        if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
            reading.reasoning_tokens = int(details["reasoning_tokens"])

    def _read_whole(self, resp: Any, timer: TokenTimer, reading: _Reading) -> None:
        """A reply that is not streamed: all its content is one chunk, when the body has arrived."""
        try:
            payload = json.loads(resp.content or b"")
        except ValueError:
            reading.failure = "bad reply: not JSON"
            return
        reading.size = len(resp.content or b"")
        if not isinstance(payload, dict) or payload.get("error") is not None:
            reading.failure = f"stream error: {_error_type(payload)}"
            return
        timer.message()
        self._usage(payload.get("usage"), timer, reading)
        choices = payload.get("choices") or [{}]
        self._content(choices[0].get("message") or choices[0], timer, reading)
        reading.done = True

    def _count(self, timer: TokenTimer, reading: _Reading, request: LlmRequest) -> None:
        """Tokens the server did not count: the tokenizer's or the estimate; reasoning tokens apart."""
        if timer.count_source != "usage":
            output = self.counter.count("".join(reading.texts)) + self.counter.count("".join(reading.reasoning))
            timer.counted(output, self.counter.source, input_tokens=self.counter.count(request.prompt_text))
        if reading.reasoning_tokens is not None:
            timer.reasoning_tokens = reading.reasoning_tokens
        elif reading.reasoning:
            timer.reasoning_tokens = self.counter.count("".join(reading.reasoning))

    def _embeddings(self, request: LlmRequest) -> bool:
        """Embeddings: one plain request (no tokens are generated, so no token figures)."""
        with self.session.post(request.path, json=request.body, name=request.name, headers=self.headers,
                               catch_response=True) as resp:  # fmt: skip
            resp.request_meta["request_type"] = LLM_REQUEST
            status = resp.status_code or 0
            if status >= 400:
                resp.failure(f"HTTP {status}")
                return False
            if status:
                try:
                    json.loads(resp.content or b"")["data"]
                except (ValueError, KeyError, TypeError):
                    resp.failure("bad reply: no data")
                    return False
            return status != 0


def _drain(raw: Any) -> None:
    """After ``[DONE]``: read the body's last bytes (the chunked terminator, at once in practice) so the
    connection can be reused; a server that holds the stream open longer gets it closed instead."""
    try:
        if raw.message_complete:  # the usual case: the terminator came with [DONE], nothing can block
            while read_arrived(raw):
                pass
            return
        with gevent.Timeout(DRAIN_S):
            while read_arrived(raw):
                pass
    except (gevent.Timeout, Exception):  # read_arrived released (closed) the connection: nothing was lost
        pass


def _error_type(payload: Any) -> str:
    """A short, stable name for an error the server sent: its type or code, never its free-text message."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("type") or error.get("code") or "error")[:60]
    return "error"
