"""Token figures of one stream (seam 1): what TokenTimer notes, and the figures core/llm_metrics.py makes
of it, checked against hand-computed values with a fake clock."""

from __future__ import annotations

import pytest

from load_tests.core.llm_metrics import Slo, estimate_tokens, meets, request_figures
from load_tests.engine import request_hook
from load_tests.engine.request_hook import TokenTimer


class _FakeTime:
    """Stands in for the ``time`` module of request_hook: perf_counter() returns what the test set."""

    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _FakeTime:
    fake = _FakeTime()
    monkeypatch.setattr(request_hook, "time", fake)
    return fake


def _stream(clock: _FakeTime, chunks: list[tuple[float, int]], *, end_ms: float, completed: bool = True,
            usage: tuple[int | None, int | None] | None = None, reasoning: int = 0) -> dict:  # fmt: skip
    """A TokenTimer fed content chunks at (ms after send, tokens); returns its context()."""
    timer = TokenTimer()
    for at_ms, tokens in chunks:
        clock.now = 100.0 + at_ms / 1000.0
        timer.message()
        timer.chunk(tokens, reasoning=reasoning, text="x" * tokens)
    if usage is not None:
        timer.usage(*usage)
    clock.now = 100.0 + end_ms / 1000.0
    timer.finish(completed)
    return timer.context()


def test_one_token_per_chunk(clock: _FakeTime) -> None:
    ctx = _stream(clock, [(200, 1), (250, 1), (300, 1), (350, 1)], end_ms=360)
    assert ctx["messages"] == 4 and ctx["gaps_ms"] == pytest.approx([50, 50, 50])
    llm = ctx["llm"]
    assert llm["chunk_ms"] == pytest.approx([200, 250, 300, 350]) and llm["chunk_tokens"] == [1, 1, 1, 1]
    assert llm["output_tokens"] == 4 and llm["count_source"] == "messages" and llm["completed"] is True
    assert llm["text_chars"] == 4
    f = request_figures(llm)
    assert f.ttft_ms == pytest.approx(200) and f.ttst_ms == pytest.approx(250)
    assert f.itl_ms == pytest.approx([50, 50, 50])
    assert f.tpot_ms == pytest.approx((360 - 200) / 3)
    assert f.e2e_ms == pytest.approx(360) and f.tokens_per_s == pytest.approx(4 / 0.36)


def test_multi_token_chunks_give_itl_per_chunk_and_tpot_per_token(clock: _FakeTime) -> None:
    """3 chunks of 4 tokens, 40 ms apart: 2 ITL samples of 40 ms; TPOT over 11 tokens, 10 ms for a 10 ms/token
    server whose 4 tokens arrive together."""
    ctx = _stream(clock, [(100, 4), (140, 4), (180, 4)], end_ms=210, usage=(7, 12))
    f = request_figures(ctx["llm"])
    assert f.output_tokens == 12 and f.input_tokens == 7 and f.count_source == "usage"
    assert f.itl_ms == pytest.approx([40, 40])
    assert f.tpot_ms == pytest.approx((210 - 100) / 11)


def test_single_chunk_has_no_itl_and_no_tpot(clock: _FakeTime) -> None:
    f = request_figures(_stream(clock, [(80, 5)], end_ms=90)["llm"])
    assert f.ttft_ms == pytest.approx(80) and f.ttst_ms is None
    assert f.itl_ms == [] and f.tpot_ms is None and f.output_tokens == 5


def test_no_content_has_no_ttft(clock: _FakeTime) -> None:
    timer = TokenTimer()
    timer.message()  # a role-only chunk: a message, never a chunk()
    clock.now = 100.5
    timer.finish(False)
    f = request_figures(timer.context()["llm"])
    assert f.ttft_ms is None and f.output_tokens == 0 and f.tokens_per_s is None and f.e2e_ms == pytest.approx(500)


def test_reasoning_tokens_count_as_tokens_and_apart(clock: _FakeTime) -> None:
    timer = TokenTimer()
    clock.now = 100.1
    timer.chunk(reasoning=1, text="hm")  # one reasoning token
    clock.now = 100.2
    timer.chunk(3, reasoning=2)  # 3 tokens, 2 of them reasoning
    clock.now = 100.3
    timer.chunk(2)
    timer.finish(True)
    f = request_figures(timer.context()["llm"])
    assert f.reasoning_tokens == 3 and f.output_tokens == 6 and f.ttft_ms == pytest.approx(100)


def test_usage_wins_over_client_counts(clock: _FakeTime) -> None:
    timer = TokenTimer("estimate")
    timer.chunk(1, text="hello world")
    timer.usage(10, 3)
    timer.counted(9, "tokenizer", input_tokens=99)
    llm = timer.context()["llm"]
    assert (llm["input_tokens"], llm["output_tokens"], llm["count_source"]) == (10, 3, "usage")
    other = TokenTimer("estimate")
    other.chunk(1)
    other.counted(4, "tokenizer", input_tokens=12)
    llm = other.context()["llm"]
    assert (llm["input_tokens"], llm["output_tokens"], llm["count_source"]) == (12, 4, "tokenizer")


def test_cut_stream_keeps_its_partial_tokens(clock: _FakeTime) -> None:
    ctx = _stream(clock, [(100, 2), (150, 2), (200, 2)], end_ms=220, completed=False)
    f = request_figures(ctx["llm"])
    assert f.completed is False and f.output_tokens == 6 and f.itl_ms == pytest.approx([50, 50])
    assert not meets(f, Slo(ttft_ms=1000))


def test_slo_met_only_when_every_limit_holds(clock: _FakeTime) -> None:
    f = request_figures(_stream(clock, [(200, 1), (250, 1), (400, 1)], end_ms=400)["llm"])  # max gap 150
    assert meets(f, Slo(ttft_ms=201, tpot_ms=101, e2e_ms=401))
    assert not meets(f, Slo(ttft_ms=199))
    assert not meets(f, Slo(tpot_ms=99))
    assert not meets(f, Slo(itl_ms=149)) and meets(f, Slo(itl_ms=151))
    assert not meets(f, Slo(ttft_ms=1000), failed=True)
    single = request_figures(_stream(clock, [(50, 3)], end_ms=60)["llm"])
    assert meets(single, Slo(ttft_ms=100, tpot_ms=1, itl_ms=1))  # nothing streamed after the first chunk


def test_slo_from_config() -> None:
    assert Slo.from_dict(None) is None
    slo = Slo.from_dict({"ttft_ms": 500, "tpot_ms": 50})
    assert slo is not None and slo.as_dict() == {"ttft_ms": 500.0, "tpot_ms": 50.0}
    with pytest.raises(ValueError, match="unknown SLO 'ttft'"):
        Slo.from_dict({"ttft": 5})
    with pytest.raises(ValueError, match="'e2e_ms' must be a number"):
        Slo.from_dict({"e2e_ms": "fast"})


def test_estimate() -> None:
    assert estimate_tokens(0) == 0 and estimate_tokens(1) == 1 and estimate_tokens(400) == 100
