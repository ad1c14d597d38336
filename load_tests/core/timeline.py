"""The run's time series, built from wall-clock windows (see :mod:`load_tests.core.recorder`).

``timeline``: one point per second with ``t_s`` (end of that second, from the run's start), ``stage``,
``users``, ``requests``, ``failures``, ``rps``, ``failures_per_s``, ``p50_ms`` and ``p95_ms``, and where
token streams were in flight ``output_tokens_per_s`` (tokens counted in the second their chunk arrived)
and ``llm_concurrency`` (their mean number in flight) (the first and last seconds are partial: their
rates are over the part the run covered); ``endpoint_timeline``: one point per 5-second bucket with
each endpoint's figures, its ``requests``, ``failures`` and ``histogram`` (HDR, base64, two
significant digits), so that a comparison can leave the warm-up out exactly (reporting/settle.py). In
a distributed run windows arrive from workers a few seconds late, so the master turns them into points
only after a lag; a window that still comes later (a slow worker) adds its counts to the point already
made.
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

from load_tests.core.recorder import ENDPOINT_BUCKET_S
from load_tests.core.scenarios import Scenario
from load_tests.core.window import WINDOW_DIGITS, Window, summed


class Timeline:
    def __init__(self, started_epoch: float, scenario: Scenario | None) -> None:
        self.started = started_epoch
        self.scenario = scenario
        self.users: dict[int, int] = {}
        self.points: dict[int, dict[str, Any]] = {}
        self.endpoint_points: dict[int, dict[str, Any]] = {}

    def note_users(self, epoch: float, users: int) -> None:
        self.users[int(epoch)] = users

    def _users_at(self, second: int) -> int:
        if second in self.users:
            return self.users[second]
        earlier = [s for s in self.users if s <= second]
        return self.users[max(earlier)] if earlier else 0

    def _stage(self, t: float) -> int | None:
        found = self.scenario.stage_at(t) if self.scenario else None
        return found[0] + 1 if found else None

    def _span(self, start: float, end: float, now: float) -> float:
        return max(min(end, now) - max(start, self.started), 1e-3)

    def add_seconds(self, windows: list[tuple[int, Window]], now: float) -> None:
        for second, window in windows:
            point = self.points.get(second)
            if point is not None:  # a late window for a second already charted: counts only
                span = point["_span"]
                point["requests"] += window.requests
                point["failures"] += window.failures
                point["rps"], point["failures_per_s"] = point["requests"] / span, point["failures"] / span
                if window.busy_s:  # a token stream's chunks that arrived in a second already charted
                    point["_tokens"] = point.get("_tokens", 0.0) + window.tokens
                    point["_busy"] = point.get("_busy", 0.0) + window.busy_s
                    point["output_tokens_per_s"], point["llm_concurrency"] = (
                        point["_tokens"] / span,
                        point["_busy"] / span,
                    )
                continue
            span = self._span(second, second + 1, now)
            t = round(min(second + 1, now) - self.started, 3)
            self.points[second] = {
                "t_s": t, "stage": self._stage(t), "users": self._users_at(second), **window.figures(span),
                "_span": span, "requests": window.requests, "failures": window.failures,
                "_tokens": window.tokens, "_busy": window.busy_s,
            }  # fmt: skip

    def add_endpoint_buckets(self, buckets: dict[int, dict[str, Window]], now: float) -> None:
        for bucket, windows in buckets.items():
            start, end = bucket * ENDPOINT_BUCKET_S, (bucket + 1) * ENDPOINT_BUCKET_S
            point = self.endpoint_points.get(bucket)
            if point is None:
                t = round(min(end, now) - self.started, 3)
                point = self.endpoint_points[bucket] = {"t_s": t, "users": self._users_at(int(end) - 1),
                                                        "endpoints": {}, "_span": self._span(start, end, now),
                                                        "_counts": {}, "_hists": {}}  # fmt: skip
            span = point["_span"]
            for key, window in windows.items():
                counts = point["_counts"].setdefault(key, [0, 0])
                counts[0] += window.requests
                counts[1] += window.failures
                figures = point["endpoints"].get(key) or window.figures(span)  # late: counts only
                figures.update(rps=counts[0] / span, failures_per_s=counts[1] / span, requests=counts[0],
                               failures=counts[1])  # fmt: skip
                point["_hists"][key] = summed(point["_hists"].get(key), window.histogram, WINDOW_DIGITS)
                point["endpoints"][key] = figures

    def latest(self) -> dict[str, Any] | None:
        return self.points[max(self.points)] if self.points else None

    def as_lists(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The JSON-ready series (private bookkeeping fields left out)."""
        timeline = [{k: v for k, v in p.items() if not k.startswith("_")} for _, p in sorted(self.points.items())]
        endpoints = [{k: v for k, v in p.items() if not k.startswith("_")}
                     for _, p in sorted(self.endpoint_points.items())]  # fmt: skip
        for point, (_, raw) in zip(endpoints, sorted(self.endpoint_points.items()), strict=True):
            point["endpoints"] = {key: {**figures, "histogram": _encoded(raw["_hists"].get(key))}
                                  for key, figures in point["endpoints"].items()}  # fmt: skip
        return timeline, endpoints


def _encoded(histogram: HdrHistogram | None) -> str | None:
    return histogram.encode().decode("ascii") if histogram is not None and histogram.total_count else None
