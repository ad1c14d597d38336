"""The reference LLM's timing model and token rules: pure functions, so tests can state the truth exactly.

Tokens are words. A prompt's input tokens are its whitespace-separated words (chat: the words of
every message's text, nothing added for roles or templates), and every generated token is one word,
sent with a leading space after the first, so the words of the concatenated reply equal the output
tokens. A client that counts words therefore agrees with the server's ``usage`` exactly.

Timing, from the moment a request is admitted (after any wait in the max-concurrency queue):

- prefill: ``TTFT = ttft_ms + prefill_ms_per_token x input tokens``; the first generated token
  leaves then, alone in its chunk (as vLLM sends it);
- decode: token ``t`` is generated at ``TTFT + t x D``, with ``D = token_ms x slowdown`` and
  ``slowdown = 1 + batch_slowdown x (streams running at admission - 1)``, fixed for the request's
  life; after the first, tokens go out ``tokens_per_chunk`` at a time, each chunk when its last token
  is generated. So ITL is ``tokens_per_chunk x D`` per chunk and TPOT is exactly ``D``;
- reasoning tokens (``reasoning_tokens`` of them) come first, in chunks of their own, and count as
  output tokens on top of the content tokens that ``max_tokens`` bounds.

The reply has ``eos_tokens`` content tokens unless ``max_tokens`` is smaller, ``min_tokens`` larger
or ``ignore_eos`` is set (then exactly ``max_tokens``); ``finish_reason`` is ``length`` when
``max_tokens`` cut it, else ``stop``.

The fault knobs (``rate_limit_rate``, ``cut_rate``, ``error_event_rate``) act on the OpenAI API's
generation requests only; the other chat streams fail through the target's usual faults.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, fields, replace
from typing import Any

MODEL_NAME = "reference-llm"
MAX_OUTPUT_TOKENS = 8192
EMBEDDING_DIM = 16
_VOCABULARY = (
    "the", "model", "answers", "every", "request", "with", "a", "steady", "stream", "of", "tokens",
    "while", "load", "rises", "and", "latency", "stays", "low", "under", "pressure", "today",
)  # fmt: skip


@dataclass(frozen=True)
class LlmTiming:
    """The knobs of the reference LLM (flags ``--llm-<name>`` with dashes, env ``LOAD_TARGET_LLM_<NAME>``)."""

    ttft_ms: float = 10.0  # base time to first token
    prefill_ms_per_token: float = 0.0  # added to TTFT per input token
    token_ms: float = 2.0  # D: time to generate one token (one stream alone)
    tokens_per_chunk: int = 1  # tokens per streamed chunk after the first
    batch_slowdown: float = 0.0  # each other running stream makes decoding this fraction slower
    max_concurrency: int = 0  # streams generating at once; more wait in a FIFO queue (0: no limit)
    reasoning_tokens: int = 0  # reasoning tokens before the content (delta.reasoning_content)
    eos_tokens: int = 64  # the natural reply length (content tokens) when max_tokens does not cut it
    rate_limit_rate: float = 0.0  # share of requests answered 429 at once (error injection)
    cut_rate: float = 0.0  # share of streams cut halfway, before their end and [DONE] (error injection)
    error_event_rate: float = 0.0  # share of streams that send an error event halfway, then [DONE] (vLLM's way)

    def slowdown(self, running: int) -> float:
        """Decode slowdown of a request admitted while ``running`` streams (itself included) generate."""
        return 1.0 + self.batch_slowdown * max(0, running - 1)

    def ttft_s(self, input_tokens: int) -> float:
        return (self.ttft_ms + self.prefill_ms_per_token * input_tokens) / 1000.0

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_INTS = frozenset({"tokens_per_chunk", "max_concurrency", "reasoning_tokens", "eos_tokens"})
_RATES = frozenset({"rate_limit_rate", "cut_rate", "error_event_rate"})
_MIN_ONE = frozenset({"tokens_per_chunk", "eos_tokens"})
KNOBS = tuple(f.name for f in fields(LlmTiming))
KNOB_HELP = {
    "ttft_ms": "base time to first token, ms",
    "prefill_ms_per_token": "time to first token added per input token (prefill), ms",
    "token_ms": "per-token delay D of one stream alone, ms (TPOT)",
    "tokens_per_chunk": "tokens per streamed chunk after the first (ITL is per chunk)",
    "batch_slowdown": "decode slowdown per other running stream (0.05: each makes D 5%% longer)",
    "max_concurrency": "streams generating at once; the rest wait in a FIFO queue (0: no limit)",
    "reasoning_tokens": "reasoning tokens sent as delta.reasoning_content before the content",
    "eos_tokens": "natural reply length in tokens when max_tokens is larger and ignore_eos unset",
    "rate_limit_rate": "share of OpenAI-API generation requests answered 429 (0..1)",
    "cut_rate": "share of OpenAI-API streams cut halfway, before [DONE] (0..1)",
    "error_event_rate": "share of OpenAI-API streams that send an error event halfway, then [DONE] (0..1)",
}
ENV_PREFIX = "LOAD_TARGET_LLM_"


def knob_flags(timing: LlmTiming) -> list[str]:
    """The ``python -m load_tests.reference_service`` flags for every knob of ``timing`` off its default."""
    default = LlmTiming()
    return [
        arg
        for name in KNOBS
        if getattr(timing, name) != getattr(default, name)
        for arg in (f"--llm-{name.replace('_', '-')}", str(getattr(timing, name)))
    ]


def parse_timing(data: dict[str, Any], base: LlmTiming | None = None) -> LlmTiming:
    """Validate knob values (a ``POST /admin/llm`` body or the CLI's); keys left out keep ``base``'s value."""
    unknown = set(data) - set(KNOBS)
    if unknown:
        raise ValueError(f"unknown LLM knob(s): {', '.join(sorted(unknown))}; valid: {', '.join(KNOBS)}")
    changes: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if name in _INTS and value != int(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        low = 1 if name in _MIN_ONE else 0
        if value < low or (name in _RATES and value > 1):
            valid = "between 0 and 1" if name in _RATES else f">= {low}"
            raise ValueError(f"{name} must be {valid}, got {value!r}")
        changes[name] = int(value) if name in _INTS else float(value)
    return replace(base or LlmTiming(), **changes)


@dataclass(frozen=True)
class Chunk:
    """One streamed chunk: when it leaves (seconds after admission) and what it carries."""

    offset_s: float
    tokens: int
    reasoning: bool
    first_token: int  # index of its first token in the whole output (reasoning first)


def plan_chunks(
    timing: LlmTiming, input_tokens: int, content_tokens: int, reasoning: int = 0, running: int = 1
) -> list[Chunk]:
    """Every chunk of one reply, in order; the first carries one token, a chunk never mixes reasoning and content."""
    ttft = timing.ttft_s(input_tokens)
    step = timing.token_ms * timing.slowdown(running) / 1000.0
    total = reasoning + content_tokens
    chunks: list[Chunk] = []
    start = 0
    while start < total:
        size = 1 if start == 0 else timing.tokens_per_chunk
        end = min(start + size, total)
        if start < reasoning < end:
            end = reasoning  # the boundary ends a chunk
        chunks.append(Chunk(ttft + (end - 1) * step, end - start, start < reasoning, start))
        start = end
    return chunks


def output_length(
    timing: LlmTiming, max_tokens: int | None, min_tokens: int = 0, ignore_eos: bool = False
) -> tuple[int, str]:
    """(content tokens, finish_reason) of a reply, by the rules in the module docstring."""
    natural = max(timing.eos_tokens, min_tokens)
    if max_tokens is None:
        return min(natural, MAX_OUTPUT_TOKENS), "stop"
    if ignore_eos or max_tokens <= natural:
        return max_tokens, "length"
    return natural, "stop"


def count_words(text: str) -> int:
    """Input tokens of a text: its whitespace-separated words."""
    return len(text.split())


def reply_words(seed_text: str, first: int, count: int) -> list[str]:
    """Tokens ``first .. first+count-1`` of the deterministic reply to ``seed_text`` (same prompt, same text)."""
    seed = zlib.crc32(seed_text.encode())
    return [_VOCABULARY[(seed + i * 5) % len(_VOCABULARY)] for i in range(first, first + count)]  # 5: coprime with 21


def chunk_text(words: list[str], first_of_kind: bool) -> str:
    """The text a chunk carries: words joined by spaces, with a leading space unless it opens its kind."""
    text = " ".join(words)
    return text if first_of_kind else " " + text


def embedding(text: str) -> list[float]:
    """A deterministic unit-ish vector for a text (the same text, the same vector)."""
    seed = zlib.crc32(text.encode())
    return [round(((seed >> (i % 24)) % 1000) / 1000.0 - 0.5, 6) for i in range(EMBEDDING_DIM)]
