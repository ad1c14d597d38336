"""Domain (custom) metrics: what an AI service produced under load, beside how fast it answered.

Tokens per second, the real-time factor of speech, how often each class was predicted: figures
that Locust's request statistics cannot hold. Any user or locustfile records them with three calls,
named after k6's metric kinds::

    from load_tests.core import domain

    domain.count("tokens", 16)                       # counter: a sum, and its rate per second
    domain.count("predicted_class=abnormal")         # one more of this class
    domain.rate("predict_accuracy", label == want)   # rate: the share of true
    domain.trend("stt_real_time_factor", 0.21)       # trend: a distribution (avg, p50, p95, ...)

Each process keeps one :data:`REGISTRY`. A Locust worker ships what it recorded since its last
report to the master, which merges it exactly (counters and counts add up; trend histograms add),
so the summary's ``custom`` section covers every worker. Thresholds use the names
(``thresholds.custom``: ``tokens_per_second: {min: 500}``, ``stt_real_time_factor.p95: {max: 0.5}``).
Locust-free: tests import it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

SCALE = 1000  # trends keep three decimals: a real-time factor of 0.213 is recorded as 213
HIGHEST = 10**12
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:=/+-]{0,119}$")
KINDS = ("counter", "rate", "trend")


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST, 3)


@dataclass
class Trend:
    count: int = 0
    total: float = 0.0
    min: float | None = None
    max: float | None = None
    histogram: HdrHistogram = field(default_factory=_histogram)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)
        self.histogram.record_value(max(1, min(round(value * SCALE), HIGHEST)))

    def merge(self, other: Trend) -> None:
        self.count += other.count
        self.total += other.total
        mins = [m for m in (self.min, other.min) if m is not None]
        maxs = [m for m in (self.max, other.max) if m is not None]
        self.min, self.max = (min(mins) if mins else None), (max(maxs) if maxs else None)
        self.histogram.add(other.histogram)

    def figures(self) -> dict[str, Any]:
        def at(p: float) -> float:
            return min(max(self.histogram.get_value_at_percentile(p) / SCALE, self.min or 0.0), self.max or 0.0)

        avg = self.total / self.count if self.count else None
        return {"kind": "trend", "count": self.count, "avg": avg, "min": self.min,
                "p50": at(50), "p90": at(90), "p95": at(95), "p99": at(99), "max": self.max}  # fmt: skip


class DomainMetrics:
    """One process's counters, rates and trends (or the merge of many processes')."""

    def __init__(self) -> None:
        self.counters: dict[str, float] = {}
        self.rates: dict[str, list[int]] = {}  # name -> [true, total]
        self.trends: dict[str, Trend] = {}

    def _check(self, name: str, kind: str) -> None:
        if not isinstance(name, str) or not NAME.match(name):
            raise ValueError(f"custom metric name {name!r}: use letters, digits and _ . : = / + - (at most 120)")
        for other_kind, table in (("counter", self.counters), ("rate", self.rates), ("trend", self.trends)):
            if other_kind != kind and name in table:
                raise ValueError(f"custom metric {name!r} is a {other_kind}, not a {kind}")

    def count(self, name: str, value: float = 1.0) -> None:
        if name not in self.counters:
            self._check(name, "counter")
        if not math.isfinite(value):
            raise ValueError(f"custom metric {name!r}: {value!r} is not a finite number")
        self.counters[name] = self.counters.get(name, 0.0) + value

    def rate(self, name: str, ok: bool) -> None:
        pair = self.rates.get(name)
        if pair is None:
            self._check(name, "rate")
            pair = self.rates[name] = [0, 0]
        pair[0] += bool(ok)
        pair[1] += 1

    def trend(self, name: str, value: float) -> None:
        found = self.trends.get(name)
        if found is None:
            self._check(name, "trend")
            found = self.trends[name] = Trend()
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"custom metric {name!r}: trends take finite numbers >= 0, got {value!r}")
        found.add(value)

    def __bool__(self) -> bool:
        return bool(self.counters or self.rates or self.trends)

    def take(self) -> DomainMetrics:
        """Everything recorded so far, leaving this registry empty (a worker's delta)."""
        taken = DomainMetrics()
        taken.counters, taken.rates, taken.trends = self.counters, self.rates, self.trends
        self.counters, self.rates, self.trends = {}, {}, {}
        return taken

    def merge(self, other: DomainMetrics) -> None:
        for name, value in other.counters.items():
            self.counters[name] = self.counters.get(name, 0.0) + value
        for name, (true, total) in other.rates.items():
            pair = self.rates.setdefault(name, [0, 0])
            pair[0] += true
            pair[1] += total
        for name, trend in other.trends.items():
            mine = self.trends.get(name)
            if mine is None:
                self.trends[name] = trend
            else:
                mine.merge(trend)

    def encode(self) -> dict[str, Any]:
        """Plain data for msgpack (a worker report) and JSON."""
        return {
            "counters": dict(self.counters),
            "rates": {k: list(v) for k, v in self.rates.items()},
            "trends": {
                k: [t.count, t.total, t.min, t.max, t.histogram.encode().decode("ascii")]
                for k, t in self.trends.items()
                if t.count
            },
        }

    @classmethod
    def decode(cls, data: dict[str, Any]) -> DomainMetrics:
        metrics = cls()
        metrics.counters = {k: float(v) for k, v in (data.get("counters") or {}).items()}
        metrics.rates = {k: [int(v[0]), int(v[1])] for k, v in (data.get("rates") or {}).items()}
        for name, (count, total, low, high, encoded) in (data.get("trends") or {}).items():
            metrics.trends[name] = Trend(count, total, low, high, HdrHistogram.decode(encoded))
        return metrics

    def summary(self, window_s: float) -> dict[str, dict[str, Any]]:
        """The summary's ``custom`` section: one entry per name, sorted; a counter's rate is over the
        run's traffic window, like every other rate."""
        out: dict[str, dict[str, Any]] = {}
        for name, value in self.counters.items():
            out[name] = {"kind": "counter", "value": value, "per_second": value / window_s if window_s else None}
        for name, (true, total) in self.rates.items():
            out[name] = {"kind": "rate", "rate": true / total if total else None, "true": true, "total": total}
        for name, trend in self.trends.items():
            out[name] = trend.figures()
        return dict(sorted(out.items()))


DEFAULT_STAT = {"counter": "value", "rate": "rate", "trend": "avg"}


def lookup(custom: dict[str, dict[str, Any]], key: str) -> tuple[str, str] | None:
    """Which metric and figure a threshold key names: ``tokens`` (a counter's value), ``tokens.per_second``
    or ``tokens_per_second``, ``stt_real_time_factor`` (a trend's avg) or ``stt_real_time_factor.p95``,
    ``predict_accuracy`` (a rate's share of true). None when no recorded metric matches."""
    if key in custom:
        return key, DEFAULT_STAT[custom[key]["kind"]]
    name, _, stat = key.rpartition(".")
    if name in custom and stat in custom[name]:
        return name, stat
    if key.endswith("_per_second") and custom.get(key[: -len("_per_second")], {}).get("kind") == "counter":
        return key[: -len("_per_second")], "per_second"
    return None


REGISTRY = DomainMetrics()


def count(name: str, value: float = 1.0) -> None:
    """Add ``value`` to the counter ``name`` (tokens, audio seconds, items of a class)."""
    REGISTRY.count(name, value)


def rate(name: str, ok: bool) -> None:
    """One more observation of the rate ``name``; its figure is the share of ``ok`` ones."""
    REGISTRY.rate(name, ok)


def trend(name: str, value: float) -> None:
    """One more value of the trend ``name`` (>= 0, three decimals kept): avg, percentiles, min, max."""
    REGISTRY.trend(name, value)


# What the bundled users record (one place, so the names stay the same on every protocol) ---------


def generated(tokens: int, seconds: float) -> None:
    """A chat/LLM answer of ``tokens`` tokens that took ``seconds``: ``tokens`` (and its rate per second
    of the run) plus ``request_tokens_per_s``, the generation speed one caller saw."""
    count("tokens", tokens)
    if tokens and seconds > 0:
        trend("request_tokens_per_s", tokens / seconds)


def speech(kind: str, audio_seconds: float, seconds: float) -> None:
    """``kind`` ``tts`` or ``stt``: ``<kind>_audio_seconds`` and ``<kind>_real_time_factor`` (time taken
    per second of audio; under 1 is faster than real time)."""
    count(f"{kind}_audio_seconds", audio_seconds)
    if audio_seconds > 0:
        trend(f"{kind}_real_time_factor", seconds / audio_seconds)


def predicted(label: str, expected: str | None) -> None:
    """``predicted_class=<label>`` and, when the true label is known, ``predict_accuracy``."""
    count(f"predicted_class={label}")
    if expected is not None:
        rate("predict_accuracy", label == expected)
