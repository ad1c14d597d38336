"""HDR histogram records without hdrh's per-value method calls: the recorder's hot path.

hdrh's ``record_value`` spends most of its microsecond in four method calls and ``bin()``; every
request records into three histograms and every streamed token into one or two, so the index
arithmetic is done here, once per layout: hdrh's own ``_counts_index_for``, where ``64 - clz(x)`` is
``x.bit_length()``. Valid for the values the recorder keeps (1 µs .. 1 h); tests/unit/test_recorder.py
and tests/unit/test_llm_record.py check the counts against ``record_value`` across that range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS = 1, 3_600_000_000, 3  # 1 µs .. 1 h at 0.1 % resolution


def index_of(layout: HdrHistogram) -> Callable[[int], int]:
    """The counts index of a value (µs) for histograms shaped like ``layout``, as one closure."""
    mask, unit, half_magnitude = layout.sub_bucket_mask, layout.unit_magnitude, layout.sub_bucket_half_count_magnitude
    shift, half_count = unit + half_magnitude + 1, layout.sub_bucket_half_count

    def index(value: int) -> int:
        bucket = (value | mask).bit_length() - shift
        return ((bucket + 1) << half_magnitude) + (value >> (bucket + unit)) - half_count

    return index


def bump(histogram: HdrHistogram, index: int, value: int) -> None:
    """``histogram.record_value(value)`` with its counts index already known (see :func:`index_of`)."""
    histogram.counts[index] += 1
    histogram.total_count += 1
    if value < histogram.min_value:
        histogram.min_value = value
    if value > histogram.max_value:
        histogram.max_value = value


def record_all(histogram: HdrHistogram, values: Iterable[float]) -> None:
    """Record every value (ms, kept in µs and clamped to the range) as ``record_value`` would, in one pass:
    a stream's gaps and ITLs, one per message or token. The loop inlines :func:`index_of`'s arithmetic,
    since a call per value was the largest cost of recording an LLM request."""
    counts = histogram.counts
    mask, unit = histogram.sub_bucket_mask, histogram.unit_magnitude
    half_magnitude, half_count = histogram.sub_bucket_half_count_magnitude, histogram.sub_bucket_half_count
    low, high, n = histogram.min_value, histogram.max_value, 0
    for value in values:
        scaled = int(value * 1000)
        scaled = LOWEST_US if scaled < LOWEST_US else HIGHEST_US if scaled > HIGHEST_US else scaled
        bucket = (scaled | mask).bit_length() - unit - half_magnitude - 1
        counts[((bucket + 1) << half_magnitude) + (scaled >> (bucket + unit)) - half_count] += 1
        n += 1
        if scaled < low:
            low = scaled
        if scaled > high:
            high = scaled
    histogram.total_count += n
    histogram.min_value, histogram.max_value = low, high
