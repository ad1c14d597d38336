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
