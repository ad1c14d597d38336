"""Reading Server-Sent Events from a streamed HTTP body, one event at a time as bytes arrive.

Works on any object with ``iter_content(chunk_size)`` (Locust's FastResponse, requests' Response),
so the streamed-chat task can time the first event and the whole stream.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" unless the server named it
    data: str


class SseParser:
    """Server-Sent Events from bytes as they arrive, in O(bytes): each byte is looked at once.

    Keeps only the current line's unfinished tail and the current event's fields; UTF-8 is decoded
    incrementally, so a character split between two reads stays whole. ``\r\n`` ends a line like ``\n``;
    ``data:`` loses its leading whitespace; an event is yielded at its blank line when it has data or a name.
    """

    __slots__ = ("_data", "_decoder", "_name", "_tail")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._tail: list[str] = []  # the unfinished line, in pieces (a long line read in bits stays linear)
        self._name = "message"
        self._data: list[str] = []

    def feed(self, chunk: bytes | str) -> list[SseEvent]:
        """The events completed by ``chunk`` (often none or one)."""
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if "\n" not in text:
            if text:
                self._tail.append(text)
            return []
        lines = text.split("\n")
        if self._tail:
            self._tail.append(lines[0])
            lines[0] = "".join(self._tail)
        last = lines.pop()
        self._tail = [last] if last else []
        events: list[SseEvent] = []
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            if not line:
                if self._data or self._name != "message":
                    events.append(SseEvent(self._name, "\n".join(self._data)))
                self._name, self._data = "message", []
            elif line.startswith("data:"):
                self._data.append(line[5:].lstrip())
            elif line.startswith("event:"):
                self._name = line[6:].strip()
        return events


def parse_events(chunks: Iterable[bytes | str]) -> Iterator[SseEvent]:
    """Yield each complete event (blank-line separated) as soon as its last byte has arrived."""
    parser = SseParser()
    for chunk in chunks:
        yield from parser.feed(chunk)


def incremental_chunks(response: object) -> Iterator[bytes]:
    """The body of a streamed response as it arrives, line by line.

    geventhttpclient's ``read(n)`` (behind Locust's FastResponse ``iter_content``) waits until ``n``
    bytes are in, which would time the first event at the end of the stream; its ``readline`` returns
    each line as soon as it lands. Other responses fall back to ``iter_content``.
    """
    raw = getattr(response, "_response", None)
    readline = getattr(raw, "readline", None)
    if readline is None:
        yield from response.iter_content(1024)  # type: ignore[attr-defined]
        return
    while line := readline(b"\n"):
        yield line
