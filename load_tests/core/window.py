"""One stretch of wall-clock time (a second of the run, or 5 s of one endpoint): requests, failures and a
coarse response-time histogram. Split from core/recorder.py, which fills two of these for every request."""

from __future__ import annotations

from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from load_tests.core.hdr_fast import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS, index_of

WINDOW_DIGITS = 2  # windows only feed charts and per-second checks: 1 % resolution, 8x less memory


def new_window_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, WINDOW_DIGITS)


window_index = index_of(new_window_histogram())


def summed(
    into: HdrHistogram | None, other: HdrHistogram | None, digits: int = SIGNIFICANT_DIGITS
) -> HdrHistogram | None:
    """``into`` plus ``other`` (``into`` is created when missing and ``other`` is not)."""
    if other is None:
        return into
    if into is None:
        into = HdrHistogram(LOWEST_US, HIGHEST_US, digits)
    into.add(other)
    return into


@dataclass
class Window:
    """Requests, failures and response times of one stretch of wall-clock time."""

    requests: int = 0
    failures: int = 0
    histogram: HdrHistogram | None = None
    tokens: float = 0.0  # token streams: output tokens that arrived in this window
    busy_s: float = 0.0  # token streams: seconds of them in flight within it (their mean concurrency x span)

    def add(self, value_us: int | None, failed: bool, index: int | None = None) -> None:
        """Count one request; ``index``: ``window_index(value_us)`` when the caller has it already.
        Runs twice per request: :func:`~load_tests.core.hdr_fast.bump` is inlined."""
        self.requests += 1
        if failed:
            self.failures += 1
        if value_us is not None:
            histogram = self.histogram
            if histogram is None:
                histogram = self.histogram = new_window_histogram()
            histogram.counts[window_index(value_us) if index is None else index] += 1
            histogram.total_count += 1
            if value_us < histogram.min_value:
                histogram.min_value = value_us
            if value_us > histogram.max_value:
                histogram.max_value = value_us

    def merge(self, other: Window) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.histogram = summed(self.histogram, other.histogram, WINDOW_DIGITS)
        self.tokens += other.tokens
        self.busy_s += other.busy_s

    def figures(self, span_s: float) -> dict[str, float | None]:
        """RPS, failures/s, p50 and p95 of this window over ``span_s`` seconds (and, where token streams
        were in flight, their output tokens/s and mean concurrency)."""
        h = self.histogram if self.histogram is not None and self.histogram.total_count else None
        figures = {
            "rps": self.requests / span_s,
            "failures_per_s": self.failures / span_s,
            "p50_ms": h.get_value_at_percentile(50) / 1000.0 if h else None,
            "p95_ms": h.get_value_at_percentile(95) / 1000.0 if h else None,
        }
        if self.busy_s:
            figures.update(output_tokens_per_s=self.tokens / span_s, llm_concurrency=self.busy_s / span_s)
        return figures
