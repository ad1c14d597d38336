"""The run's time series from wall-clock windows: partial first and last seconds, stage and users of each
point, late windows from slow workers, and the 5-second endpoint points."""

from __future__ import annotations

import pytest

from load_tests.core.recorder import Window
from load_tests.core.scenarios import Scenario, Stage
from load_tests.core.timeline import Timeline

SCENARIO = Scenario("steps", (Stage(3, 2, 2), Stage(5, 4, 2)))  # stage 1 for 3 s, stage 2 until 8 s


def _window(requests: int, failures: int = 0, value_us: int = 10_000) -> Window:
    window = Window()
    for i in range(requests):
        window.add(value_us, i < failures)
    return window


def test_each_second_becomes_a_point_with_its_stage_users_and_rates() -> None:
    timeline = Timeline(1_000.5, SCENARIO)  # the run starts half-way through second 1000
    timeline.note_users(1_000.2, 2)
    timeline.note_users(1_002.0, 4)
    windows = [(1_000, _window(3)), (1_001, _window(10, 2)), (1_003, _window(8)), (1_008, _window(5))]
    timeline.add_seconds(windows, now=1_008.25)  # the run ends a quarter into second 1008
    points, _ = timeline.as_lists()
    assert [(p["t_s"], p["stage"], p["users"], p["requests"], p["failures"]) for p in points] == [
        (0.5, 1, 2, 3, 0),  # the first half second
        (1.5, 1, 2, 10, 2),
        (3.5, 2, 4, 8, 0),  # users as last noted before that second
        (7.75, 2, 4, 5, 0),  # the last quarter second
    ]  # fmt: skip
    assert [(p["rps"], p["failures_per_s"]) for p in points] == [(6.0, 0.0), (10.0, 2.0), (8.0, 0.0), (20.0, 0.0)]
    assert points[0]["p50_ms"] == pytest.approx(10.0, rel=0.01) and points[0]["p95_ms"] == pytest.approx(10.0, rel=0.01)
    assert all(not key.startswith("_") for p in points for key in p)
    assert timeline.latest()["t_s"] == 7.75
    timeline.add_seconds([(1_009, _window(1))], now=1_010.0)
    assert timeline.as_lists()[0][-1]["stage"] is None  # after the last stage
    assert Timeline(0.0, None).latest() is None


def test_a_late_window_adds_its_counts_to_the_point_already_made() -> None:
    timeline = Timeline(1_000.0, None)
    timeline.add_seconds([(1_004, _window(4, 1, value_us=2_000))], now=1_006.0)
    timeline.add_seconds([(1_004, _window(6, 3, value_us=900_000))], now=1_009.0)  # a slow worker's report
    [point], _ = timeline.as_lists()
    assert (point["t_s"], point["requests"], point["failures"], point["rps"], point["failures_per_s"]) == (
        5.0, 10, 4, 10.0, 4.0,
    )  # fmt: skip
    assert point["p95_ms"] == pytest.approx(2.0, rel=0.01)  # percentiles stay those of the first window
    assert point["stage"] is None and point["users"] == 0  # no scenario, no users noted


def test_endpoint_points_every_five_seconds_with_late_counts_added() -> None:
    timeline = Timeline(1_000.5, SCENARIO)
    timeline.note_users(1_001.0, 3)
    timeline.add_endpoint_buckets({200: {"POST /predict": _window(9, 1), "GET /health": _window(3)}}, now=1_006.0)
    timeline.add_endpoint_buckets({200: {"POST /predict": _window(9, 2)}, 201: {"GET /health": _window(10)}},
                                  now=1_007.5)  # fmt: skip
    _, points = timeline.as_lists()
    first, second = points
    assert (first["t_s"], first["users"]) == (4.5, 3)  # bucket 1000..1005, the run from 1000.5: 4.5 s covered
    assert first["endpoints"]["POST /predict"]["rps"] == 18 / 4.5
    assert first["endpoints"]["POST /predict"]["failures_per_s"] == 3 / 4.5
    assert first["endpoints"]["GET /health"]["rps"] == 3 / 4.5
    assert (second["t_s"], second["endpoints"]["GET /health"]["rps"]) == (7.0, 10 / 2.5)  # ends at now, 1007.5
    assert set(first) == {"t_s", "users", "endpoints"}


def test_token_streams_give_tokens_per_second_and_concurrency_where_their_chunks_arrived() -> None:
    """Two streams of 1.5 s from 1000.0 and 1000.5; their tokens (usage: twice the chunk count) land in
    the seconds their chunks arrived, their time in flight in the seconds they spanned."""
    from load_tests.core.recorder import Recorder

    clock = [0.0]
    recorder = Recorder(clock=lambda: clock[0])
    for start in (1_000.0, 1_000.5):
        chunk_ms = [100.0 * i for i in range(1, 15)]  # 14 chunks, 0.1 .. 1.4 s after the send
        llm = {"chunk_ms": chunk_ms, "chunk_tokens": [1] * 14, "output_tokens": 28, "e2e_ms": 1500.0,
               "count_source": "usage", "completed": True}  # fmt: skip
        clock[0] = start + 1.5
        recorder.record("LLM stream", "POST /v1/chat/completions", 1500.0, 0, None,
                        {"messages": 14, "gaps_ms": [], "llm": llm})  # fmt: skip
    timeline = Timeline(1_000.0, None)
    timeline.add_seconds(recorder.drain_seconds(1_010), now=1_003.0)
    points, _ = timeline.as_lists()
    assert [p.get("output_tokens_per_s") for p in points[:2]] == pytest.approx([26.0, 30.0])  # 9+4, 5+10 chunks
    assert [p.get("llm_concurrency") for p in points[:2]] == pytest.approx([1.5, 1.5])
    assert "output_tokens_per_s" not in points[2] and sum(p["requests"] for p in points) == 2  # ended at 1002.0
