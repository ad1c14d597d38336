"""Reading Server-Sent Events from a streamed HTTP body, one event at a time as bytes arrive.

Works on any object with ``iter_content(chunk_size)`` (Locust's FastResponse, requests' Response),
so the streamed-chat task can time the first event and the whole stream. On geventhttpclient's
response (behind FastHttpUser) :func:`read_arrived` hands over everything that has landed in one piece,
so a token costs one socket read and one parser call, not two ``readline`` calls.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from geventhttpclient.response import HTTPConnectionClosed


class SseEvent(NamedTuple):
    """One event; a named tuple because one is made per streamed token (a frozen dataclass costs 3x)."""

    event: str  # "message" unless the server named it
    data: str


_event = tuple.__new__  # SseEvent(...) without the named tuple's Python-level __new__: once per token


class SseParser:
    """Server-Sent Events from bytes as they arrive, in O(bytes): each byte is looked at once.

    Keeps only the current line's unfinished tail and the current event's fields; UTF-8 is decoded
    incrementally, so a character split between two reads stays whole. ``\r\n`` ends a line like ``\n``;
    ``data:`` loses its leading whitespace; an event is yielded at its blank line when it has data or a name.
    """

    __slots__ = ("_data", "_decoder", "_name", "_split", "_tail")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._split = False  # the last chunk ended inside a multi-byte character: the decoder holds its start
        self._tail: list[str] = []  # the unfinished line, in pieces (a long line read in bits stays linear)
        self._name = "message"
        self._data: list[str] = []

    def _text(self, chunk: bytes) -> str:
        """``chunk`` decoded; the incremental decoder only when a character may straddle two chunks."""
        if not self._split and chunk[-1:] < b"\x80":  # ends in ASCII: nothing can be cut (one C call)
            return chunk.decode("utf-8", "replace")
        self._split = chunk[-1:] >= b"\x80"
        return self._decoder.decode(chunk)

    def feed(self, chunk: bytes | str) -> list[SseEvent]:
        """The events completed by ``chunk`` (often none or one)."""
        text = self._text(chunk) if isinstance(chunk, bytes) else chunk
        if (
            text.endswith("\n\n") and text.startswith("data:") and not self._tail and not self._data
            and self._name == "message"
        ):  # fmt: skip
            # The common case, one whole one-line event: ``data: {...}\n\n`` (a token, as servers send it).
            body = text[5:-2]
            if "\n" not in body and not body.endswith("\r"):
                return [_event(SseEvent, ("message", body.lstrip()))]
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


def read_arrived(raw: Any) -> bytes:
    """All of the body of geventhttpclient's response ``raw`` that has arrived (waiting for at least one
    byte); ``b""`` at the body's end.

    geventhttpclient's ``readline`` does the same socket reads but hands over one line per call, two calls
    per event; ``read(n)`` waits for ``n`` bytes, which would time the first event at the end of the stream.
    Like ``readline``, a failed read releases (closes) the connection before it raises.
    """
    buffer = raw._body_buffer
    while not buffer:
        if raw.message_complete:
            return b""
        sock = raw._sock
        if sock is None:
            raise HTTPConnectionClosed("connection closed.")
        try:
            raw.feed(sock.recv(raw.block_size))
        except BaseException:
            raw.release()
            raise
    data = bytes(buffer)
    del buffer[:]
    return data


def incremental_chunks(response: object) -> Iterator[bytes]:
    """The body of a streamed response as it arrives: geventhttpclient's response (Locust's FastResponse)
    through :func:`read_arrived`; other responses through ``iter_content``."""
    raw = getattr(response, "_response", None)
    if raw is None or not hasattr(raw, "_body_buffer"):
        yield from response.iter_content(1024)  # type: ignore[attr-defined]
        return
    while data := read_arrived(raw):
        yield data
