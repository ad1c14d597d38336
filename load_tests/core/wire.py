"""A recorder delta as plain data, so a Locust worker can ship it to its master in ``report_to_master``.

Locust serialises worker reports with msgpack, so only dicts, lists, strings and numbers travel;
histograms go as HdrHistogram's compressed base64 encoding. Decoding gives back a :class:`Recorder`
that the master merges exactly into its own (:meth:`Recorder.merge`).
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

from load_tests.core.llm_record import LlmRecord
from load_tests.core.recorder import EndpointRecord, Recorder, Window


def _hist(h: HdrHistogram | None) -> str | None:
    return h.encode().decode("ascii") if h is not None and h.total_count else None


def _window(w: Window) -> list[Any]:
    return [w.requests, w.failures, _hist(w.histogram), *((w.tokens, w.busy_s) if w.busy_s else ())]


def _unwindow(data: list[Any]) -> Window:
    requests, failures, hist, *llm = data  # token streams add (tokens, busy_s)
    return Window(requests, failures, HdrHistogram.decode(hist) if hist else None, *llm)


def encode_delta(delta: Recorder) -> dict[str, Any]:
    rows = []
    for r in delta.endpoints.values():
        rows.append({
            "request_type": r.request_type, "name": r.name, "histogram": _hist(r.histogram),
            "requests": r.requests, "failures": r.failures, "no_reply": r.no_reply, "total_ms": r.total_ms,
            "min_ms": r.min_ms, "max_ms": r.max_ms, "failures_by_type": r.failures_by_type,
            "messages": r.messages, "gaps": _hist(r.gaps), "corrected": _hist(r.corrected),
            "llm": r.llm.encode() if r.llm is not None else None,
            "windows": [[bucket, *_window(w)] for bucket, w in r.windows.items()],
        })  # fmt: skip
    return {"rows": rows, "seconds": [[s, *_window(w)] for s, w in delta.seconds.items()],
            "traffic": [delta.first_sent, delta.last_ended]}  # fmt: skip


def decode_delta(data: dict[str, Any]) -> Recorder:
    recorder = Recorder()
    for row in data.get("rows", []):
        record = EndpointRecord(row["request_type"], row["name"])
        if row["histogram"]:
            record.histogram = HdrHistogram.decode(row["histogram"])
        record.requests, record.failures, record.no_reply = row["requests"], row["failures"], row["no_reply"]
        record.total_ms, record.min_ms, record.max_ms = row["total_ms"], row["min_ms"], row["max_ms"]
        record.failures_by_type = dict(row["failures_by_type"])
        record.messages = row["messages"]
        record.gaps = HdrHistogram.decode(row["gaps"]) if row["gaps"] else None
        record.corrected = HdrHistogram.decode(row["corrected"]) if row.get("corrected") else None
        record.llm = LlmRecord.decode(row["llm"]) if row.get("llm") else None
        record.windows = {int(w[0]): _unwindow(w[1:]) for w in row["windows"]}
        recorder.endpoints[(record.request_type, record.name)] = record
    recorder.seconds = {int(s[0]): _unwindow(s[1:]) for s in data.get("seconds", [])}
    recorder.note_traffic(*data.get("traffic", (None, None)))
    return recorder
