"""The reference LLM at run time: the max-concurrency FIFO queue, the token schedule and the truth log.

Every chat stream of the target (OpenAI SSE, plain /v1/chat SSE, WebSocket, Socket.IO, gRPC) runs through one
:class:`LlmEngine`, so they share one queue and one batching slowdown, as streams on one GPU do.
Chunks leave at absolute deadlines (admission + planned offset, on the loop's monotonic clock), never
after cumulative sleeps, so a late wake-up does not push every later chunk back; the stamp each chunk
carries (``x_server_time``, epoch seconds) is read just before it is handed to the protocol. The log
keeps, per request, what tests need to compute TTFT, ITL and goodput from the server's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from load_tests.reference_service import model
from load_tests.reference_service.llm_timing import Chunk, LlmTiming, count_words, plan_chunks

LOG_LIMIT = 20_000  # requests kept in the truth log (oldest forgotten first)


@dataclass
class Sent:
    """One chunk as it left: the plan's chunk, its server stamp and how late it was against its deadline."""

    chunk: Chunk
    stamp: float
    late_ms: float


@dataclass(frozen=True)
class StreamMessage:
    """One chunk of a non-HTTP chat stream: its index, words, token count, server stamp, and whether it ends it."""

    index: int
    text: str
    tokens: int
    stamp: float
    last: bool


@dataclass
class Record:
    """One request in the truth log (see :meth:`as_dict` for the JSON shape)."""

    id: str
    protocol: str
    endpoint: str
    received: float
    input_tokens: int
    content_tokens: int = 0
    reasoning_tokens: int = 0
    status: int = 200
    admitted: float | None = None
    slowdown: float = 1.0
    chunk_times: list[float] = field(default_factory=list)
    chunk_tokens: list[int] = field(default_factory=list)
    max_late_ms: float = 0.0
    completed: bool = False
    fault: str | None = None  # an injected stream fault: "cut" or "error_event"

    def as_dict(self) -> dict[str, Any]:
        admitted = self.admitted
        return {
            "id": self.id,
            "protocol": self.protocol,
            "endpoint": self.endpoint,
            "status": self.status,
            "received": self.received,
            "admitted": admitted,
            "queued_ms": (admitted - self.received) * 1000.0 if admitted is not None else None,
            "first_token": self.chunk_times[0] if self.chunk_times else None,
            "last_token": self.chunk_times[-1] if self.chunk_times else None,
            "ttft_ms": (self.chunk_times[0] - self.received) * 1000.0 if self.chunk_times else None,
            "chunk_times": self.chunk_times,
            "chunk_tokens": self.chunk_tokens,
            "input_tokens": self.input_tokens,
            "output_tokens": sum(self.chunk_tokens),
            "reasoning_tokens": self.reasoning_tokens,
            "slowdown": self.slowdown,
            "max_late_ms": self.max_late_ms,
            "completed": self.completed,
            "fault": self.fault,
        }


class LlmEngine:
    """The shared generator: admission (FIFO beyond ``max_concurrency``), chunk deadlines, the truth log."""

    def __init__(self, timing: LlmTiming | None = None, rng: random.Random | None = None) -> None:
        self.timing = timing or LlmTiming()
        self.rng = rng or random.Random()
        self.running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._log: deque[Record] = deque(maxlen=LOG_LIMIT)
        self._ids = itertools.count(1)

    def new_record(self, protocol: str, endpoint: str, input_tokens: int, received: float | None = None) -> Record:
        """Log a request on arrival (``received`` defaults to now); the stream fills in the rest."""
        record = Record(f"{protocol}-{next(self._ids)}", protocol, endpoint, received or time.time(), input_tokens)
        self._log.append(record)
        return record

    def rate_limited(self, record: Record) -> bool:
        """Draw the 429 fault for one request; a limited request is logged with status 429 and no tokens."""
        if self.timing.rate_limit_rate > 0 and self.rng.random() < self.timing.rate_limit_rate:
            record.status = 429
            return True
        return False

    def draw_break(self, record: Record) -> str | None:
        """Draw the stream faults for one stream: ``cut`` (it stops halfway, before its end), ``error_event``
        (halfway it sends an error event and ends), or None; the log keeps it as ``fault``."""
        timing = self.timing
        if timing.cut_rate > 0 and self.rng.random() < timing.cut_rate:
            record.fault = "cut"
        elif timing.error_event_rate > 0 and self.rng.random() < timing.error_event_rate:
            record.fault = "error_event"
        return record.fault

    async def _admit(self) -> None:
        limit = self.timing.max_concurrency
        if limit and (self.running >= limit or self._waiting):
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter  # _release hands its slot over: self.running already counts us
                return
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # the slot was ours already: pass it on
                else:
                    self._waiting.remove(waiter)
                raise
        self.running += 1

    def _release(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the oldest waiter
                return
        self.running -= 1

    async def generate(
        self, record: Record, content_tokens: int, reasoning_tokens: int = 0, cut: bool = False
    ) -> AsyncIterator[Sent | None]:
        """Admit the request, yield None once (admitted: a role-only chunk may go now), then each chunk at its deadline.

        The caller sends each chunk as soon as it gets it; closing the generator early (a client gone)
        frees the slot. ``cut`` ends the stream after half its chunks, as the cut fault does.
        """
        await self._admit()
        try:
            loop = asyncio.get_running_loop()
            start_loop, record.admitted = loop.time(), time.time()
            timing = self.timing
            record.slowdown = timing.slowdown(self.running)
            record.content_tokens = content_tokens
            chunks = plan_chunks(timing, record.input_tokens, content_tokens, reasoning_tokens, self.running)
            yield None
            for i, chunk in enumerate(chunks):
                if cut and i >= len(chunks) // 2:
                    return
                deadline = start_loop + chunk.offset_s
                delay = deadline - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = loop.time()
                stamp = time.time()
                late_ms = (now - deadline) * 1000.0
                record.chunk_times.append(stamp)
                record.chunk_tokens.append(chunk.tokens)
                record.reasoning_tokens += chunk.tokens if chunk.reasoning else 0
                record.max_late_ms = max(record.max_late_ms, late_ms)
                yield Sent(chunk, stamp, late_ms)
            record.completed = True
        finally:
            self._release()

    async def messages(
        self, protocol: str, endpoint: str, prompt: str, max_tokens: int, received: float
    ) -> AsyncIterator[StreamMessage]:
        """A chat stream of the WebSocket, Socket.IO, gRPC and /v1/chat APIs: one message per chunk, engine-timed.

        The words are the reference model's (``model.tokens_for``, ``max_tokens`` of them, no
        reasoning); the queue, TTFT, D, chunking and slowdown are the same as on the OpenAI API.
        """
        record = self.new_record(protocol, endpoint, count_words(prompt), received)
        words = model.tokens_for(prompt, max_tokens)
        generator = self.generate(record, len(words))
        async with contextlib.aclosing(generator):
            index = 0
            async for sent in generator:
                if sent is not None:
                    first, n = sent.chunk.first_token, sent.chunk.tokens
                    text = " ".join(words[first : first + n])
                    yield StreamMessage(index, text, n, sent.stamp, first + n == len(words))
                    index += 1

    def log(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self._log]

    def reset_log(self) -> None:
        self._log.clear()
