"""One token stream's figures, as vLLM defines them, from what a client noted (``context["llm"]``).

Every stream client (OpenAI SSE, WebSocket, Socket.IO, gRPC) notes the same thing through
``engine.request_hook.TokenTimer``; this module is the one place the figures are defined:

- **TTFT**: request sent -> first chunk that carries generated content (role-only and empty chunks are
  never noted, so they can not count);
- **TTST** (time to second token): request sent -> the second content chunk;
- **ITL**: each gap between consecutive content chunks, one sample per gap (a chunk of 3 tokens is ONE
  gap, not three: dividing it would invent arrival times nobody measured);
- **TPOT**: (E2E - TTFT) / (output tokens - 1), per token, so multi-token chunks count all their tokens;
  a request whose content came in one chunk has no ITL and no TPOT (nothing streamed after the first);
- **E2E**: request sent -> stream ended; **output tokens/s** of the request: output tokens / E2E.

Output tokens come from the server's ``usage`` when it sent them, else what the client counted (one per
message, a count field, a tokenizer, or an estimate); ``count_source`` says which. A stream cut before its
end keeps the tokens it delivered. Reasoning tokens are tokens (in every figure) and are also counted apart.

A per-request SLO (:class:`Slo`) is met when the request succeeded, completed, and each figure it limits is
within the limit; a limit on ITL applies to the largest gap. Goodput counts the requests that met it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

COUNT_SOURCES = ("usage", "tokenizer", "estimate", "messages", "field")
CHARS_PER_TOKEN = 4.0  # the documented estimate when there is neither usage nor a tokenizer (English text)


@dataclass(frozen=True)
class Slo:
    """Per-request latency targets in ms (None: not limited); ``itl_ms`` limits the largest gap."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None
    itl_ms: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Slo | None:
        """The SLO of a config mapping (None when empty); ValueError names a bad key or value."""
        if not data:
            return None
        known = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"unknown SLO '{key}' (valid: {', '.join(sorted(known))})")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"SLO '{key}' must be a number of milliseconds > 0, not {value!r}")
        return cls(**{k: float(v) for k, v in data.items()})

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class RequestFigures:
    """The token figures of one request; None where the request gives no such figure."""

    ttft_ms: float | None
    ttst_ms: float | None
    itl_ms: list[float]
    tpot_ms: float | None
    e2e_ms: float
    output_tokens: int
    input_tokens: int | None
    reasoning_tokens: int
    count_source: str
    completed: bool
    tokens_per_s: float | None  # output tokens / E2E of this request

    @property
    def max_itl_ms(self) -> float | None:
        return max(self.itl_ms) if self.itl_ms else None


def estimate_tokens(text_chars: int) -> int:
    """The documented estimate: one token per ~4 characters (at least one for any text)."""
    return max(1, round(text_chars / CHARS_PER_TOKEN)) if text_chars > 0 else 0


def request_figures(llm: dict[str, Any]) -> RequestFigures:
    """TTFT, TTST, ITL, TPOT, E2E and output tokens/s of one ``context["llm"]`` (seam 1)."""
    chunk_ms: list[float] = llm.get("chunk_ms") or []
    chunk_tokens: list[int] = llm.get("chunk_tokens") or []
    e2e = float(llm.get("e2e_ms") or 0.0)
    output = llm.get("output_tokens")
    output = int(output) if output is not None else sum(chunk_tokens)
    ttft = chunk_ms[0] if chunk_ms else None
    itl = [b - a for a, b in pairwise(chunk_ms)]
    tpot = (e2e - ttft) / (output - 1) if ttft is not None and itl and output > 1 else None
    return RequestFigures(
        ttft_ms=ttft,
        ttst_ms=chunk_ms[1] if len(chunk_ms) > 1 else None,
        itl_ms=itl,
        tpot_ms=max(tpot, 0.0) if tpot is not None else None,
        e2e_ms=e2e,
        output_tokens=output,
        input_tokens=llm.get("input_tokens"),
        reasoning_tokens=int(llm.get("reasoning_tokens") or 0),
        count_source=str(llm.get("count_source") or "messages"),
        completed=bool(llm.get("completed")),
        tokens_per_s=output / (e2e / 1000.0) if e2e > 0 and output else None,
    )


def meets(figures: RequestFigures, slo: Slo, failed: bool = False) -> bool:
    """Whether one request met every limit of ``slo``: a failed, cut or tokenless request never does.

    A request without an ITL or TPOT (its content came in one chunk) meets those limits: nothing of it
    streamed slower than allowed.
    """
    if failed or not figures.completed or figures.ttft_ms is None:
        return False
    checks = (
        (slo.ttft_ms, figures.ttft_ms),
        (slo.tpot_ms, figures.tpot_ms),
        (slo.e2e_ms, figures.e2e_ms),
        (slo.itl_ms, figures.max_itl_ms),
    )
    return all(limit is None or value is None or value <= limit for limit, value in checks)
