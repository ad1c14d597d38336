"""How close the LLM client's TTFT, ITL and TPOT are to the server's own stamps: ``python bench/llm_accuracy.py``.

Runs ``--streams`` concurrent streams (one Locust FastHttpSession each, as Locust users would) of
``--requests`` requests each through :class:`~load_tests.clients.openai_client.OpenAIClient` against
``bench/llm_sse_server.py`` (started here, on 127.0.0.1, in a process of its own), which logs when it
received each request and when it sent each content chunk and ``[DONE]``. Per request, the client's
figures minus the server's truth:

- TTFT: client (send -> first content chunk) minus server (received -> first content chunk sent);
- ITL: each client gap minus the same gap between the server's send times;
- TPOT: client (E2E - TTFT) / (tokens - 1) minus server (done - first chunk) / (tokens - 1).

Prints JSON: p50 / p99 / max of each difference (ms), whether they are within ``--p50-ms`` / ``--p99-ms``,
token counts against ``usage``, and failures. Defaults: TTFT 50 ms, 50 ms per chunk, 32 tokens, 200 streams
started over 1 s, 3 requests each (the first of each stream opens its connection: its TTFT is reported
apart, the figures are of the others); ``--pin`` puts the server on core 0 and the client on core 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gevent  # noqa: E402
from locust.contrib.fasthttp import FastHttpSession  # noqa: E402

from load_tests.clients.openai_client import OpenAIClient, TokenCounter  # noqa: E402
from load_tests.core.llm_metrics import request_figures  # noqa: E402
from load_tests.core.llm_request import LlmRequest  # noqa: E402


class Collector:
    """Stands in for Locust's request event: keeps every report, keyed by the greenlet that sent it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.last: dict[Any, dict[str, Any]] = {}

    def fire(self, **kwargs: Any) -> None:
        self.events.append(kwargs)
        self.last[gevent.getcurrent()] = kwargs


def start_server(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``bench/llm_sse_server.py`` with ``args``, and its base URL once it listens."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "llm_sse_server.py"), *args],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the SSE server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}"


def chat_request(key: str, tokens: int, *, stream: bool = True, usage: bool = True, **extra: Any) -> LlmRequest:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hello there"}],
                            "max_tokens": tokens, "stream": stream, "user": key, **extra}  # fmt: skip
    if stream and usage:
        body["stream_options"] = {"include_usage": True}
    return LlmRequest("/v1/chat/completions", body, "POST /v1/chat/completions", "hello there", stream)


def run_requests(url: str, plans: list[list[LlmRequest]], *, ttft_timeout_s: float | None = None,
                 tokenizer: str | None = None, ramp_s: float = 0.0) -> list[tuple[str, dict[str, Any]]]:  # fmt: skip
    """Each list of ``plans`` sent in turn by a greenlet of its own, the greenlets started evenly over
    ``ramp_s`` (as Locust spawns users); every (key, reported event)."""
    collector = Collector()
    counter = TokenCounter(tokenizer)
    results: list[tuple[str, dict[str, Any]]] = []

    def stream(requests: list[LlmRequest]) -> None:
        session = FastHttpSession(url, collector, None, network_timeout=30.0, connection_timeout=30.0)
        client = OpenAIClient(session, counter, {"Authorization": "Bearer sk-secret"}, ttft_timeout_s)
        for request in requests:
            client.send(request)
            results.append((request.body.get("user", ""), collector.last[gevent.getcurrent()]))

    step = ramp_s / max(len(plans), 1)
    gevent.joinall([gevent.spawn_later(i * step, stream, p) for i, p in enumerate(plans)], raise_error=True)
    return results


def server_log(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/log", timeout=10) as reply:
        return json.loads(reply.read())


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p1": None, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"n": len(values), "p1": at(0.01), "p50": at(0.50), "p99": at(0.99), "max": round(ordered[-1], 3)}


def differences(results: list[tuple[str, dict[str, Any]]], log: dict[str, Any]) -> dict[str, Any]:
    """Client minus server, per figure, over every completed request; token counts against usage."""
    diffs: dict[str, list[float]] = {"ttft_ms": [], "itl_ms": [], "tpot_ms": []}
    counts_equal, failures = 0, {}
    for key, event in results:
        if event["exception"] is not None:
            name = str(event["exception"])
            failures[name] = failures.get(name, 0) + 1
            continue
        llm = event["context"]["llm"]
        figures, truth = request_figures(llm), log[key]
        chunks = [t * 1000.0 for t in truth["chunks"]]
        counts_equal += figures.output_tokens == truth["tokens"]
        diffs["ttft_ms"].append(figures.ttft_ms - (chunks[0] - truth["received"] * 1000.0))
        server_gaps = [b - a for a, b in pairwise(chunks)]
        diffs["itl_ms"] += [c - s for c, s in zip(figures.itl_ms, server_gaps, strict=True)]
        if figures.tpot_ms is not None:
            server_tpot = (truth["done"] * 1000.0 - chunks[0]) / (figures.output_tokens - 1)
            diffs["tpot_ms"].append(figures.tpot_ms - server_tpot)
    completed = sum(1 for _, e in results if e["exception"] is None)
    return {"requests": len(results), "completed": completed, "counts_equal_usage": counts_equal,
            "failures": failures, **{k: _stats(v) for k, v in diffs.items()}}  # fmt: skip


def within_bounds(stats: dict[str, Any], p50_ms: float, p99_ms: float) -> bool:
    """The median difference within ``p50_ms`` and 98 % of them (p1..p99) within ``p99_ms`` either way."""
    return stats["n"] > 0 and abs(stats["p50"]) <= p50_ms and abs(stats["p99"]) <= p99_ms and abs(stats["p1"]) <= p99_ms


def pin(pid: int, core: int) -> None:
    """Pin ``pid`` to ``core`` when there are two or more (server and client then never share one)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(pid, {core})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=3, help="requests per stream, one after the other")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--ramp-s", type=float, default=1.0, help="streams start evenly over this time")
    parser.add_argument("--pin", action="store_true", help="server on core 0, client on core 1")
    parser.add_argument("--p50-ms", type=float, default=1.0)
    parser.add_argument("--p99-ms", type=float, default=3.0)
    args = parser.parse_args(argv)
    proc, url = start_server("--ttft-ms", str(args.ttft_ms), "--delay-ms", str(args.delay_ms),
                             "--tokens-per-chunk", str(args.tokens_per_chunk))  # fmt: skip
    if args.pin:
        pin(proc.pid, 0)
        pin(0, 1)
    try:
        plans = [[chat_request(f"s{s}r{r}", args.tokens) for r in range(args.requests)] for s in range(args.streams)]
        started = time.perf_counter()
        results = run_requests(url, plans, ramp_s=args.ramp_s)
        took = time.perf_counter() - started
        log = server_log(url)
        report = differences([(k, e) for k, e in results if not k.endswith("r0")], log)
        first = differences([(k, e) for k, e in results if k.endswith("r0")], log)
        report["first_request_ttft_ms"] = first["ttft_ms"]  # with the connection's set-up
    finally:
        proc.kill()
        proc.wait()
    within = all(within_bounds(report[k], args.p50_ms, args.p99_ms) for k in ("ttft_ms", "itl_ms", "tpot_ms"))
    out = {"streams": args.streams, "tokens": args.tokens, "tokens_per_chunk": args.tokens_per_chunk,
           "ttft_ms": args.ttft_ms, "delay_ms": args.delay_ms, "seconds": round(took, 2),
           "bounds_ms": {"p50": args.p50_ms, "p99": args.p99_ms}, "within_bounds": within,
           "difference_ms": report}  # fmt: skip
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
