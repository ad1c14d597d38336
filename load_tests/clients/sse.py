"""Reading Server-Sent Events from a streamed HTTP body, one event at a time as bytes arrive.

Works on any object with ``iter_content(chunk_size)`` (Locust's FastResponse, requests' Response),
so the streamed-chat task can time the first event and the whole stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" unless the server named it
    data: str


def parse_events(chunks: Iterable[bytes | str]) -> Iterator[SseEvent]:
    """Yield each complete event (blank-line separated) as soon as its last byte has arrived."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
        buffer = buffer.replace("\r\n", "\n")
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            name, data = "message", []
            for line in block.split("\n"):
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
            if data or name != "message":
                yield SseEvent(name, "\n".join(data))


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
