"""The incremental SSE parser: the same events as the old whole-buffer parser for any split of the bytes,
in time linear in the bytes (the old one re-scanned its whole buffer on every chunk)."""

from __future__ import annotations

import random
import time

from load_tests.clients.sse import SseEvent, SseParser, parse_events

STREAM = (
    ": keep-alive comment\r\n\r\n"
    'data: {"a": 1}\n\n'
    "event: token\ndata:  two words \ndata: second line\n\n"
    "event: done\n\n"
    "data: caf\u00e9 \u2603\r\n\r\n"
    "\n\n\n"
    "id: 7\ndata: [DONE]\n\n"
    "data: unfinished"
)


def _old(chunks: list[bytes]) -> list[SseEvent]:
    """The parser as it was (O(bytes^2)), kept here as the reference behaviour (one decode per whole stream,
    so a character split between chunks stays whole, as the new parser keeps it)."""
    buffer, events = b"".join(chunks).decode("utf-8").replace("\r\n", "\n"), []
    while "\n\n" in buffer:
        block, buffer = buffer.split("\n\n", 1)
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data or name != "message":
            events.append(SseEvent(name, "\n".join(data)))
    return events


def test_same_events_for_any_split() -> None:
    raw = STREAM.encode("utf-8")
    expected = _old([raw])
    assert [e.data for e in expected] == ['{"a": 1}', "two words \nsecond line", "", "caf\u00e9 \u2603", "[DONE]"]
    rng = random.Random(5)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(raw)), rng.randint(1, 40)))
        chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        assert list(parse_events(chunks)) == expected
    assert list(parse_events([raw[i : i + 1] for i in range(len(raw))])) == expected  # byte by byte
    assert list(parse_events([STREAM])) == expected  # text chunks too


def test_linear_in_the_bytes() -> None:
    """One 2 MB event read in 64-byte pieces: the old parser did ~30,000 passes over a growing buffer."""
    body = b"data: " + b"x" * 2_000_000 + b"\n\n"
    parser = SseParser()
    started = time.perf_counter()
    events = [e for i in range(0, len(body), 64) for e in parser.feed(body[i : i + 64])]
    assert time.perf_counter() - started < 2.0
    assert len(events) == 1 and len(events[0].data) == 2_000_000
