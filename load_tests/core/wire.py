"""A recorder delta as plain data, so a Locust worker can ship it to its master in ``report_to_master``.

Locust serialises worker reports with msgpack, so only dicts, lists, strings and numbers travel (and
JSON could carry them too). The master merges a delta straight into its own recorder
(:func:`merge_delta`), exactly: the same counts, hence the same percentiles, as one recorder that saw
every request.

A histogram travels as its counters only: HdrHistogram's V2 counts encoding (zig-zag LEB128 varints,
a run of zero counters as one negative number), base64-wrapped, without the zlib layer and header of
hdrh's own ``encode()``. Both ends use hdrh's C codec (``pyhdrh``): the worker encodes its counters in
place, and the master decodes into a reused scratch array and adds only the decoded index range into
its own histogram's counters (with numpy, vectorised; hdrh's decoder reports a payload's total as a C
int, which one 3-second report never comes near). Decoding into a new ``HdrHistogram`` per histogram
per report (23,552 zeroed counters each, plus zlib and the object's set-up) was most of the master's
cost. The settings of a histogram are those of the field it travels in (responses, gaps, corrected
times: ``SIGNIFICANT_DIGITS``; windows: ``WINDOW_DIGITS``), not carried on the wire: a master and its
workers always run the same version of this code, so no other version ever reads this format.
"""

from __future__ import annotations

import base64
import ctypes
from binascii import a2b_base64
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram
from pyhdrh import decode, encode

from load_tests.core.llm_record import LlmRecord
from load_tests.core.recorder import SIGNIFICANT_DIGITS, EndpointRecord, Recorder, new_histogram
from load_tests.core.window import WINDOW_DIGITS, Window, new_window_histogram

WORD = 8  # bytes per counter: hdrh's default, the only size our histograms use
# Reused buffers: the codec runs synchronously (no greenlet switch), so one of each per process will do.
_encoded = (ctypes.c_ubyte * 0)()  # the worker's varint output, grown to the largest histogram seen
_scratch: dict[int, np.ndarray] = {}  # counts_len -> all-zero counters to decode into


def pack_counts(histogram: HdrHistogram | None) -> str | None:
    """A histogram's counters for the wire (None when it has none)."""
    global _encoded
    if histogram is None or not histogram.total_count:
        return None
    length = histogram.get_counts_array_index(histogram.max_value) + 1
    if len(_encoded) < (WORD + 1) * length:  # the codec wants room for the worst case
        _encoded = (ctypes.c_ubyte * ((WORD + 1) * histogram.counts_len))()
    used = encode(ctypes.addressof(histogram.counts), length, WORD, ctypes.addressof(_encoded), len(_encoded))
    return base64.b64encode(ctypes.string_at(_encoded, used)).decode("ascii")


def add_counts(into: HdrHistogram, packed: str) -> None:
    """Add the counters of :func:`pack_counts` (a histogram of ``into``'s settings) into ``into``.

    Exact like ``HdrHistogram.add`` (short of 2**64 in one counter, where numpy's add would wrap),
    with the same ``min_value``/``max_value`` bookkeeping as decoding plus adding, so every
    percentile, mean and extreme read from ``into`` is what it was before. The add is numpy's over
    the decoded index range: hdrh's own ``add_array`` loops over it twice, unvectorised, and cost
    the master about a third more per report.
    """
    size = into.counts_len
    scratch = _scratch.get(size)
    if scratch is None:
        scratch = _scratch[size] = np.zeros(size, np.uint64)
    try:
        decoded = decode(a2b_base64(packed), 0, scratch.ctypes.data, size, WORD)
    except (ValueError, IndexError, OverflowError):
        scratch.fill(0)  # a bad payload may have left counters behind
        raise
    low = decoded["min_nonzero_index"]
    if low < 0:  # no counts at all
        return
    end = decoded["max_nonzero_index"] + 1
    added = scratch[low:end]
    counts = np.frombuffer(into.counts, np.uint64)[low:end]  # a view: the add lands in ``into``
    counts += added
    added.fill(0)
    into.total_count += decoded["total"]
    lowest = _lowest_value(into, low)
    if lowest < into.min_value:
        into.min_value = lowest
    highest = _lowest_value(into, end) - 1  # the highest value of the last index
    if highest > into.max_value:
        into.max_value = highest


def _lowest_value(h: HdrHistogram, index: int) -> int:
    """hdrh's ``get_value_from_index``, inlined: the master calls it twice per histogram per report."""
    half_magnitude = h.sub_bucket_half_count_magnitude
    bucket = (index >> half_magnitude) - 1
    sub_bucket = (index & ((1 << half_magnitude) - 1)) + (1 << half_magnitude)
    if bucket < 0:
        sub_bucket -= 1 << half_magnitude
        bucket = 0
    return sub_bucket << (bucket + h.unit_magnitude)


def _added(into: HdrHistogram | None, packed: str | None, digits: int = SIGNIFICANT_DIGITS) -> HdrHistogram | None:
    if not packed:
        return into
    if into is None:
        into = new_histogram() if digits == SIGNIFICANT_DIGITS else new_window_histogram()
    add_counts(into, packed)
    return into


def _window(w: Window) -> list[Any]:
    return [w.requests, w.failures, pack_counts(w.histogram), *((w.tokens, w.busy_s) if w.busy_s else ())]


def _merge_windows(windows: dict[int, Window], data: list[list[Any]]) -> None:
    """Each ``[key, requests, failures, counters, (tokens, busy_s)]`` into the window of that key."""
    for key, requests, failures, packed, *llm in data:  # token streams add (tokens, busy_s)
        window = windows.get(key)
        if window is None:
            window = windows[key] = Window()
        window.requests += requests
        window.failures += failures
        window.histogram = _added(window.histogram, packed, WINDOW_DIGITS)
        if llm:
            window.tokens += llm[0]
            window.busy_s += llm[1]


def encode_delta(delta: Recorder) -> dict[str, Any]:
    rows = []
    for r in delta.endpoints.values():
        rows.append({
            "request_type": r.request_type, "name": r.name, "histogram": pack_counts(r.histogram),
            "requests": r.requests, "failures": r.failures, "no_reply": r.no_reply, "total_ms": r.total_ms,
            "min_ms": r.min_ms, "max_ms": r.max_ms, "failures_by_type": r.failures_by_type,
            "messages": r.messages, "gaps": pack_counts(r.gaps), "corrected": pack_counts(r.corrected),
            "llm": r.llm.encode() if r.llm is not None else None,
            "windows": [[bucket, *_window(w)] for bucket, w in r.windows.items()],
        })  # fmt: skip
    return {"rows": rows, "seconds": [[s, *_window(w)] for s, w in delta.seconds.items()],
            "traffic": [delta.first_sent, delta.last_ended]}  # fmt: skip


def _merge_row(record: EndpointRecord, row: dict[str, Any]) -> None:
    if row["histogram"]:
        add_counts(record.histogram, row["histogram"])
    record.add_figures(
        requests=row["requests"], failures=row["failures"], no_reply=row["no_reply"], total_ms=row["total_ms"],
        min_ms=row["min_ms"], max_ms=row["max_ms"], failures_by_type=row["failures_by_type"],
        messages=row["messages"], llm=LlmRecord.decode(row["llm"]) if row.get("llm") else None,
    )  # fmt: skip
    record.gaps = _added(record.gaps, row["gaps"])
    record.corrected = _added(record.corrected, row.get("corrected"))
    _merge_windows(record.windows, row["windows"])


def merge_delta(recorder: Recorder, data: dict[str, Any]) -> dict[str, int]:
    """Add a worker's delta (:func:`encode_delta`) into ``recorder``, building no recorder or histogram
    of its own; returns the requests and failures it held (counted as ``recorder`` counts them, so the
    workers' totals add up to the run's). Rows merge one by one: a delta that fails to decode midway
    (never seen from a worker of the same version) leaves the rows before it merged."""
    totals = {"requests": 0, "failures": 0}
    for row in data.get("rows", ()):
        key = (row["request_type"], row["name"])
        record = recorder.endpoints.get(key)
        if record is None:
            record = recorder.endpoints[key] = EndpointRecord(*key)
        _merge_row(record, row)
        if recorder.counts(record.request_type):
            totals["requests"] += row["requests"]
            totals["failures"] += row["failures"]
    _merge_windows(recorder.seconds, data.get("seconds", ()))
    recorder.note_traffic(*data.get("traffic", (None, None)))
    return totals


def decode_delta(data: dict[str, Any]) -> Recorder:
    """A delta as a recorder of its own (tests, tools; the master merges with :func:`merge_delta`)."""
    recorder = Recorder()
    merge_delta(recorder, data)
    return recorder
