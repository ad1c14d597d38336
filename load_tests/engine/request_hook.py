"""THE hook every client reports through: one call fires Locust's ``request`` event exactly once.

Clients never touch Locust's stats: they call :func:`report`, which fires Locust's ``request`` event;
our exact histograms (``load_tests.core.recorder``) listen to that same event, so Locust's own tables
and ours always count the same requests. Something that has no reply (a fire-and-forget send) reports
``response_time=None``, never 0, so it cannot drag latency figures down. The request types are in
``load_tests.core.request_types``.

A stream's whole-row report carries ``context={"messages": n, "gaps_ms": [...]}`` so the summary can
give message counts and the gaps between messages without one event per message.
"""

from __future__ import annotations

import time
from typing import Any, Protocol


class RequestEvent(Protocol):
    def fire(self, **kwargs: Any) -> Any: ...


def report(
    request_event: RequestEvent,
    request_type: str,
    name: str,
    response_time_ms: float | None,
    *,
    response_length: int = 0,
    exception: BaseException | str | None = None,
    context: dict[str, Any] | None = None,
) -> None:
    """Record one request/message/stream: fires Locust's request event exactly once."""
    request_event.fire(
        request_type=request_type,
        name=name,
        response_time=response_time_ms,
        response_length=response_length,
        exception=exception,
        context=context or {},
    )


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - start) * 1000.0


class StreamTimer:
    """Times one stream: time to first message, the gap before each later message, and the whole.

    Every protocol's client uses this one class, so a stream means the same in every table.
    """

    __slots__ = ("first_ms", "gaps_ms", "last", "messages", "start")

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.last: float | None = None
        self.first_ms: float | None = None
        self.gaps_ms: list[float] = []
        self.messages = 0

    def message(self) -> float | None:
        """Note one message; returns the time to first message when this is the first, else None."""
        now = time.perf_counter()
        self.messages += 1
        if self.last is None:
            self.last = now
            self.first_ms = (now - self.start) * 1000.0
            return self.first_ms
        self.gaps_ms.append((now - self.last) * 1000.0)
        self.last = now
        return None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0

    def context(self) -> dict[str, Any]:
        return {"messages": self.messages, "gaps_ms": self.gaps_ms}


class TokenTimer(StreamTimer):
    """Times one token stream (an LLM reply) as vLLM defines its figures; see ``core/llm_metrics.py``.

    Keeps the send-relative time and token count of every *content* chunk, so TTFT, the gaps between
    chunks (ITL) and TPOT are computed once, in the pure core, the same way for every protocol. Role-only,
    empty and keep-alive chunks are not content: clients must not pass them to :meth:`chunk` (that is what
    makes TTFT the first *token*). :meth:`message` (inherited) still counts every message of the stream.
    """

    __slots__ = ("_usage", "chunk_ms", "chunk_tokens", "completed", "count_source", "e2e_ms", "input_tokens",
                 "output_tokens", "reasoning_tokens", "text_chars")  # fmt: skip

    def __init__(self, count_source: str = "messages") -> None:
        """``count_source`` says what the per-chunk counts are (``messages``: one per chunk, ``field``: a
        count the server sent, ``tokenizer``, ``estimate``); :meth:`usage` replaces it with ``usage``."""
        super().__init__()
        self.chunk_ms: list[float] = []
        self.chunk_tokens: list[int] = []
        self.reasoning_tokens = 0
        self.text_chars = 0
        self.count_source = count_source
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self._usage = False
        self.e2e_ms: float | None = None
        self.completed = False

    def chunk(self, tokens: int = 1, reasoning: int = 0, text: str = "") -> None:
        """Note one chunk that carries generated content (call it ONLY for chunks with text or a
        token count > 0; role-only / empty / keep-alive chunks must not be passed).

        ``tokens`` is the chunk's generated tokens, reasoning included; ``reasoning`` how many of them are
        reasoning (``chunk(reasoning=1)`` is one reasoning token; more reasoning than tokens raises tokens).
        """
        self.chunk_ms.append((time.perf_counter() - self.start) * 1000.0)
        self.chunk_tokens.append(max(tokens, reasoning))
        self.reasoning_tokens += reasoning
        self.text_chars += len(text)

    def usage(self, input_tokens: int | None, output_tokens: int | None) -> None:
        """The server's own counts (OpenAI `usage`), when it sent them."""
        if input_tokens is not None:
            self.input_tokens = input_tokens
        if output_tokens is not None:
            self.output_tokens, self.count_source, self._usage = output_tokens, "usage", True

    def counted(self, output_tokens: int | None, source: str, input_tokens: int | None = None) -> None:
        """Counts found by the client itself (a tokenizer, an estimate); the server's ``usage`` wins."""
        if self._usage:
            return
        if input_tokens is not None and self.input_tokens is None:
            self.input_tokens = input_tokens
        if output_tokens is not None:
            self.output_tokens, self.count_source = output_tokens, source

    def finish(self, completed: bool) -> None:
        """The stream ended (``completed=False``: it was cut before its end); fixes the E2E time."""
        self.e2e_ms = (time.perf_counter() - self.start) * 1000.0
        self.completed = completed

    def context(self) -> dict[str, Any]:
        """StreamTimer's ``{"messages", "gaps_ms"}`` plus ``"llm"``: plain JSON types (seam 1)."""
        e2e = self.e2e_ms if self.e2e_ms is not None else self.elapsed_ms()
        output = self.output_tokens if self.output_tokens is not None else sum(self.chunk_tokens)
        return {
            "messages": self.messages,
            "gaps_ms": self.gaps_ms,
            "llm": {
                "chunk_ms": self.chunk_ms, "chunk_tokens": self.chunk_tokens,
                "reasoning_tokens": self.reasoning_tokens, "e2e_ms": e2e, "input_tokens": self.input_tokens,
                "output_tokens": output, "count_source": self.count_source, "completed": self.completed,
                "text_chars": self.text_chars,
            },
        }  # fmt: skip
