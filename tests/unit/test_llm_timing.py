"""The reference LLM's pure timing model and token rules (the truth the e2e tests hold the server to)."""

from __future__ import annotations

import pytest

from load_tests.core.errors import UsageError
from load_tests.reference_service.__main__ import parse_options
from load_tests.reference_service.llm_timing import (
    LlmTiming,
    chunk_text,
    count_words,
    knob_flags,
    output_length,
    parse_timing,
    plan_chunks,
    reply_words,
)


def test_single_token_chunks_leave_at_ttft_plus_index_times_d() -> None:
    timing = LlmTiming(ttft_ms=50, prefill_ms_per_token=0.5, token_ms=10)
    chunks = plan_chunks(timing, input_tokens=20, content_tokens=4)
    assert [round(c.offset_s * 1000, 6) for c in chunks] == [60.0, 70.0, 80.0, 90.0]  # TTFT 50 + 0.5 x 20
    assert [c.tokens for c in chunks] == [1, 1, 1, 1]


def test_multi_token_chunks_give_itl_per_chunk_and_tpot_per_token() -> None:
    timing = LlmTiming(ttft_ms=20, token_ms=5, tokens_per_chunk=3)
    chunks = plan_chunks(timing, 0, content_tokens=8)
    assert [c.tokens for c in chunks] == [1, 3, 3, 1]  # the first token alone, then 3 at a time
    offsets = [c.offset_s * 1000 for c in chunks]
    assert offsets == pytest.approx([20, 35, 50, 55])  # each chunk leaves with its last token
    e2e, ttft, tokens = offsets[-1], offsets[0], sum(c.tokens for c in chunks)
    assert (e2e - ttft) / (tokens - 1) == pytest.approx(5.0)  # TPOT is D exactly
    assert offsets[1] - offsets[0] == pytest.approx(15.0)  # ITL of a full chunk: 3 x D


def test_reasoning_comes_first_in_chunks_of_its_own() -> None:
    timing = LlmTiming(ttft_ms=10, token_ms=1, tokens_per_chunk=4)
    chunks = plan_chunks(timing, 0, content_tokens=5, reasoning=3)
    assert [(c.tokens, c.reasoning) for c in chunks] == [(1, True), (2, True), (4, False), (1, False)]
    assert [c.first_token for c in chunks] == [0, 1, 3, 7]


def test_batching_slows_decoding_not_prefill() -> None:
    timing = LlmTiming(ttft_ms=10, token_ms=10, batch_slowdown=0.1)
    assert timing.slowdown(1) == 1.0 and timing.slowdown(5) == pytest.approx(1.4)
    chunks = plan_chunks(timing, 0, content_tokens=3, running=5)
    assert [c.offset_s * 1000 for c in chunks] == pytest.approx([10, 24, 38])


def test_reply_length_follows_max_min_tokens_and_ignore_eos() -> None:
    timing = LlmTiming(eos_tokens=10)
    assert output_length(timing, None) == (10, "stop")
    assert output_length(timing, 4) == (4, "length")
    assert output_length(timing, 40) == (10, "stop")
    assert output_length(timing, 40, ignore_eos=True) == (40, "length")
    assert output_length(timing, 40, min_tokens=25) == (25, "stop")


def test_words_are_tokens_on_both_sides() -> None:
    assert count_words("  hello   big\tworld\n") == 3
    words = reply_words("prompt", 0, 7)
    text = chunk_text(words[:1], True) + chunk_text(words[1:4], False) + chunk_text(words[4:], False)
    assert count_words(text) == 7 and text.split() == words
    assert reply_words("prompt", 2, 3) == words[2:5]  # a chunk's words do not depend on the chunking
    assert len(set(words)) == 7  # no short cycle


def test_knobs_are_validated_with_their_name() -> None:
    assert parse_timing({"token_ms": 3, "max_concurrency": 4}).max_concurrency == 4
    for body, needle in (
        ({"tokens_per_chunk": 0}, "tokens_per_chunk must be >= 1"),
        ({"cut_rate": 1.5}, "cut_rate must be between 0 and 1"),
        ({"max_concurrency": 2.5}, "max_concurrency must be a whole number"),
        ({"ttft": 1}, "unknown LLM knob(s): ttft"),
        ({"token_ms": "fast"}, "token_ms must be a number"),
    ):
        with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            parse_timing(body)


def test_flags_env_and_starter_kwargs_set_the_same_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    timing = LlmTiming(ttft_ms=50, token_ms=12.5, tokens_per_chunk=3, max_concurrency=8)
    assert parse_options(knob_flags(timing)).llm == timing
    monkeypatch.setenv("LOAD_TARGET_LLM_TOKEN_MS", "7")
    monkeypatch.setenv("LOAD_TARGET_LLM_TTFT_MS", "40")
    options = parse_options(["--llm-ttft-ms", "30"])
    assert (options.llm.ttft_ms, options.llm.token_ms) == (30.0, 7.0)  # the flag wins over the environment
    with pytest.raises(UsageError, match="--llm-cut-rate: cut_rate must be between 0 and 1"):
        parse_options(["--llm-cut-rate", "2"])
    monkeypatch.setenv("LOAD_TARGET_LLM_TOKEN_MS", "soon")
    with pytest.raises(UsageError, match="LOAD_TARGET_LLM_TOKEN_MS: 'soon' is not a number"):
        parse_options([])
