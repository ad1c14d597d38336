"""The token figures of one summary row (or of the run): exact HDR histograms, token counts and goodput.

Every row whose requests carried ``context["llm"]`` (see ``engine.request_hook.TokenTimer``) keeps one
:class:`LlmRecord`. Times are kept in microseconds like every other histogram of the recorder; a request's
output tokens/s is kept in thousandths of a token per second, so one histogram type serves all. Records
merge exactly (workers into their master, summaries into one), because the histograms, sums and counts
travel whole: :meth:`LlmRecord.encode` for the wire, ``figures()["histograms"]`` in the summary.

The row's ``llm`` figures (seam 2; rates over the run's traffic window ``window_s``)::

    requests, completed, input_tokens, output_tokens, reasoning_tokens, count_source ("usage", "tokenizer",
    "estimate", "messages", "field" or "mixed"), estimated, request_throughput, output_tokens_per_s,
    total_tokens_per_s, ttft_ms / ttst_ms / itl_ms / tpot_ms / e2e_ms / request_output_tokens_per_s:
    {mean, p50, p90, p95, p99, max} (None without samples), goodput: {slo, met, attainment_pct, goodput_rps}
    when an SLO was set, plus count_sources {source: requests} and histograms/sums for exact merging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from load_tests.core.hdr_fast import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS, record_all
from load_tests.core.llm_metrics import Slo, meets, request_figures

LOWEST, HIGHEST, DIGITS = LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS  # the recorder's range and resolution
FIGURES = ("ttft_ms", "ttst_ms", "itl_ms", "tpot_ms", "e2e_ms", "request_output_tokens_per_s")
STAT_PERCENTILES = (50, 90, 95, 99)


def _histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST, HIGHEST, DIGITS)


def _scaled(value: float) -> int:
    """ms -> µs, tokens/s -> thousandths: the histogram's integer unit, clamped to its range."""
    return max(LOWEST, min(int(value * 1000), HIGHEST))


@dataclass
class LlmRecord:
    """Token figures of the requests of one row; ``add`` runs once per LLM request, so it stays lean."""

    requests: int = 0
    completed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    met: int = 0  # requests that met every limit of ``slo``
    slo: dict[str, float] | None = None
    count_sources: dict[str, int] = field(default_factory=dict)  # count source -> requests
    histograms: dict[str, HdrHistogram] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)  # exact means
    maxes: dict[str, float] = field(default_factory=dict)  # exact maxima

    def _note(self, name: str, value: float) -> None:
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = _histogram()
        record_all(histogram, (value,))
        self.sums[name] = self.sums.get(name, 0.0) + value
        if value > self.maxes.get(name, float("-inf")):
            self.maxes[name] = value

    def _note_all(self, name: str, values: list[float]) -> None:
        """Many values of one figure (a request's ITLs): one histogram pass, one sum, one max."""
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = _histogram()
        record_all(histogram, values)
        self.sums[name] = self.sums.get(name, 0.0) + sum(values)
        top = max(values)
        if top > self.maxes.get(name, float("-inf")):
            self.maxes[name] = top

    def add(self, llm: dict[str, Any], failed: bool, slo: Slo | None) -> None:
        """One request's ``context["llm"]``; ``failed``: Locust saw it fail (it can not meet an SLO)."""
        figures = request_figures(llm)
        self.requests += 1
        self.completed += figures.completed and not failed
        self.input_tokens += figures.input_tokens or 0
        self.output_tokens += figures.output_tokens
        self.reasoning_tokens += figures.reasoning_tokens
        self.count_sources[figures.count_source] = self.count_sources.get(figures.count_source, 0) + 1
        for name, value in (("ttft_ms", figures.ttft_ms), ("ttst_ms", figures.ttst_ms), ("tpot_ms", figures.tpot_ms),
                            ("request_output_tokens_per_s", figures.tokens_per_s)):  # fmt: skip
            if value is not None:
                self._note(name, value)
        self._note("e2e_ms", figures.e2e_ms)
        if figures.itl_ms:
            self._note_all("itl_ms", figures.itl_ms)
        if slo is not None:
            if self.slo is None:  # the run's one SLO: its dict once, not one per request
                self.slo = slo.as_dict()
            self.met += meets(figures, slo, failed)

    def merge(self, other: LlmRecord) -> None:
        """Add ``other`` (the same row measured elsewhere): every figure stays exact."""
        self.requests += other.requests
        self.completed += other.completed
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.met += other.met
        self.slo = self.slo or other.slo
        for source, n in other.count_sources.items():
            self.count_sources[source] = self.count_sources.get(source, 0) + n
        for name, histogram in other.histograms.items():
            mine = self.histograms.get(name)
            if mine is None:
                mine = self.histograms[name] = _histogram()
            mine.add(histogram)
        for name, total in other.sums.items():
            self.sums[name] = self.sums.get(name, 0.0) + total
        for name, top in other.maxes.items():
            self.maxes[name] = max(self.maxes.get(name, top), top)

    @classmethod
    def merged(cls, records: list[LlmRecord]) -> LlmRecord:
        total = cls()
        for record in records:
            total.merge(record)
        return total

    def _stats(self, name: str) -> dict[str, float | None]:
        histogram = self.histograms.get(name)
        if histogram is None or not histogram.total_count:
            return {"mean": None, **{f"p{p}": None for p in STAT_PERCENTILES}, "max": None}
        top = self.maxes[name]  # HDR gives a bucket's upper edge: keep percentiles within the exact max
        stats: dict[str, float | None] = {"mean": self.sums[name] / histogram.total_count}
        for p in STAT_PERCENTILES:
            stats[f"p{p}"] = min(histogram.get_value_at_percentile(p) / 1000.0, top)
        stats["max"] = top
        return stats

    def count_source(self) -> str:
        sources = [s for s, n in self.count_sources.items() if n]
        return sources[0] if len(sources) == 1 else ("mixed" if sources else "messages")

    def figures(self, window_s: float) -> dict[str, Any]:
        """The row's ``llm`` figures (module docstring); rates over ``window_s``."""

        def rate(n: float) -> float:
            return n / window_s if window_s > 0 else 0.0

        out: dict[str, Any] = {
            "requests": self.requests, "completed": self.completed, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens, "reasoning_tokens": self.reasoning_tokens,
            "count_source": self.count_source(), "estimated": bool(self.count_sources.get("estimate")),
            "count_sources": dict(sorted(self.count_sources.items())),
            "request_throughput": rate(self.requests), "output_tokens_per_s": rate(self.output_tokens),
            "total_tokens_per_s": rate(self.input_tokens + self.output_tokens),
        }  # fmt: skip
        for name in FIGURES:
            out[name] = self._stats(name)
        if self.slo is not None:
            out["goodput"] = {
                "slo": dict(self.slo), "met": self.met, "goodput_rps": rate(self.met),
                "attainment_pct": 100.0 * self.met / self.requests if self.requests else 0.0,
            }  # fmt: skip
        out["histograms"] = {n: h.encode().decode("ascii") for n, h in self.histograms.items() if h.total_count}
        out["sums"] = dict(self.sums)
        return out

    def encode(self) -> dict[str, Any]:
        """Plain data (msgpack-able) for a worker's report to its master."""
        return {
            "counts": [self.requests, self.completed, self.input_tokens, self.output_tokens, self.reasoning_tokens,
                       self.met],
            "slo": self.slo, "count_sources": self.count_sources, "sums": self.sums, "maxes": self.maxes,
            "histograms": {n: h.encode().decode("ascii") for n, h in self.histograms.items() if h.total_count},
        }  # fmt: skip

    @classmethod
    def decode(cls, data: dict[str, Any]) -> LlmRecord:
        requests, completed, input_tokens, output_tokens, reasoning_tokens, met = data["counts"]
        return cls(
            requests, completed, input_tokens, output_tokens, reasoning_tokens, met, data.get("slo"),
            dict(data["count_sources"]), {n: HdrHistogram.decode(h) for n, h in data["histograms"].items()},
            dict(data["sums"]), dict(data["maxes"]),
        )  # fmt: skip

    @classmethod
    def from_figures(cls, figures: dict[str, Any]) -> LlmRecord:
        """The record a summary row's ``llm`` figures came from (to merge summaries exactly)."""
        goodput = figures.get("goodput") or {}
        return cls(
            figures["requests"], figures["completed"], figures["input_tokens"], figures["output_tokens"],
            figures["reasoning_tokens"], goodput.get("met", 0), goodput.get("slo"),
            dict(figures.get("count_sources") or {}),
            {n: HdrHistogram.decode(h) for n, h in (figures.get("histograms") or {}).items()},
            dict(figures.get("sums") or {}),
            {n: figures[n]["max"] for n in FIGURES if (figures.get(n) or {}).get("max") is not None},
        )  # fmt: skip


def spread_over_seconds(llm: dict[str, Any], end_epoch: float) -> list[tuple[int, float, float]]:
    """(epoch second, output tokens that arrived in it, seconds of the stream in flight in it) for one
    ``context["llm"]`` whose stream ended at ``end_epoch``: the tokens are shared among its chunks as their
    counts say, so a ``usage`` total lands where the chunks did."""
    e2e_s = float(llm.get("e2e_ms") or 0.0) / 1000.0
    start = end_epoch - e2e_s
    per_second: dict[int, list[float]] = {}
    chunk_tokens: list[int] = llm.get("chunk_tokens") or []
    counted = sum(chunk_tokens)
    output = llm.get("output_tokens")
    scale = (output / counted) if output is not None and counted else 1.0
    current, in_current = None, 0.0  # chunks come in time order: a second's tokens are summed, then stored once
    for at_ms, tokens in zip(llm.get("chunk_ms") or [], chunk_tokens, strict=False):
        second = int(start + at_ms / 1000.0)
        if second != current:
            if current is not None:
                per_second.setdefault(current, [0.0, 0.0])[0] += in_current
            current, in_current = second, 0.0
        in_current += tokens * scale
    if current is not None:
        per_second.setdefault(current, [0.0, 0.0])[0] += in_current
    second = int(start)
    while second < end_epoch:
        per_second.setdefault(second, [0.0, 0.0])[1] += min(second + 1, end_epoch) - max(second, start)
        second += 1
    return [(s, tokens, busy) for s, (tokens, busy) in per_second.items()]
