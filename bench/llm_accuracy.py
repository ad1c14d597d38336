"""How close the LLM client's TTFT, ITL and TPOT are to the server's own stamps: ``python bench/llm_accuracy.py``.

Runs ``--streams`` concurrent streams (one Locust FastHttpSession each, as Locust users would) of
``--requests`` requests each through :class:`~load_tests.clients.openai_client.OpenAIClient` against the
reference service (``--target reference``, its LLM set to TTFT T, per-token delay D, K tokens per chunk)
or ``bench/llm_sse_server.py`` (``--target sse``), each in a process of its own on 127.0.0.1. Both log,
per request, when it was received and the ``x_server_time`` of each content chunk; a client's request is
matched to its record by the stamp of its first content chunk. Per request, the client minus the truth:

- TTFT: client (send -> first content chunk) minus server (received -> first content chunk sent);
- ITL: each client gap minus the same gap between the server's stamps (one per chunk, multi-token too);
- TPOT: client (E2E - TTFT) / (tokens - 1) minus server (last chunk - first chunk) / (tokens - 1).

Prints JSON: p1 / p50 / p99 / max of each difference (ms), whether p50 is within ``--p50-ms`` and p1..p99
within ``--p99-ms``, token counts against ``usage``, and failures. Defaults: TTFT 50 ms, D 20 ms, 32 tokens,
200 streams started over 1 s, 3 requests each (the first of each stream opens its connection: its TTFT is
reported apart, the figures are of the others); ``--pin`` puts the server on core 0 and the client on core 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gevent  # noqa: E402
from locust.contrib.fasthttp import FastHttpSession  # noqa: E402

from load_tests.clients.openai_client import OpenAIClient, TokenCounter, _Reading  # noqa: E402
from load_tests.core.llm_metrics import request_figures  # noqa: E402
from load_tests.core.llm_request import LlmRequest  # noqa: E402
from load_tests.engine.request_hook import TokenTimer  # noqa: E402

STAMP = '"x_server_time":'


class Collector:
    """Stands in for Locust's request event: keeps every report, keyed by the greenlet that sent it."""

    def __init__(self) -> None:
        self.last: dict[Any, dict[str, Any]] = {}

    def fire(self, **kwargs: Any) -> None:
        self.last[gevent.getcurrent()] = kwargs


class StampedClient(OpenAIClient):
    """The client, also keeping each content chunk's ``x_server_time`` (read after the chunk was timed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stamps: list[float] = []

    def _on_event(self, name: str, data: str, timer: TokenTimer, reading: _Reading) -> bool:
        before = len(timer.chunk_ms)
        first = super()._on_event(name, data, timer, reading)
        if len(timer.chunk_ms) > before and STAMP in data:
            tail = data[data.rindex(STAMP) + len(STAMP) :]
            self.stamps.append(float(tail.split(",")[0].split("}")[0]))
        return first


def start_sse_server(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``bench/llm_sse_server.py`` with ``args``, and its base URL once it listens."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "llm_sse_server.py"), *args],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the SSE server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}"


start_server = start_sse_server  # the name tests/e2e/openai_driver.py uses


@contextmanager
def server(target: str, ttft_ms: float, delay_ms: float, per_chunk: int) -> Iterator[tuple[int, str]]:
    """(pid, base URL) of the server to measure against, stopped afterwards."""
    if target == "reference":
        from load_tests.reference_service.launcher import TargetProcess

        knobs = {"ttft_ms": ttft_ms, "token_ms": delay_ms / per_chunk, "tokens_per_chunk": per_chunk}
        with TargetProcess(llm=knobs) as info:
            yield info.pid, info.http_url
        return
    proc, url = start_sse_server("--ttft-ms", str(ttft_ms), "--delay-ms", str(delay_ms),
                                 "--tokens-per-chunk", str(per_chunk))  # fmt: skip
    try:
        yield proc.pid, url
    finally:
        proc.kill()
        proc.wait()


def chat_request(key: str, tokens: int, *, stream: bool = True, usage: bool = True, **extra: Any) -> LlmRequest:
    messages = [{"role": "user", "content": "hello there"}]
    body: dict[str, Any] = {"model": "reference-llm", "messages": messages, "max_tokens": tokens, "ignore_eos": True,
                            "stream": stream, "user": key, **extra}  # fmt: skip
    if stream and usage:
        body["stream_options"] = {"include_usage": True}
    return LlmRequest("/v1/chat/completions", body, "POST /v1/chat/completions", "hello there", stream)


def run_requests(url: str, plans: list[list[LlmRequest]], *, ttft_timeout_s: float | None = None,
                 tokenizer: str | None = None, ramp_s: float = 0.0) -> list[tuple[str, dict[str, Any]]]:  # fmt: skip
    """Each list of ``plans`` sent in turn by a greenlet of its own, the greenlets started evenly over
    ``ramp_s`` (as Locust spawns users); every (key, reported event with ``stamps`` added)."""
    collector = Collector()
    counter = TokenCounter(tokenizer)
    results: list[tuple[str, dict[str, Any]]] = []

    def stream(requests: list[LlmRequest]) -> None:
        session = FastHttpSession(url, collector, None, network_timeout=30.0, connection_timeout=30.0)
        client = StampedClient(session, counter, {"Authorization": "Bearer sk-secret"}, ttft_timeout_s)
        for request in requests:
            client.stamps = []
            client.send(request)
            results.append((request.body.get("user", ""), {**collector.last[gevent.getcurrent()],
                                                           "stamps": client.stamps}))  # fmt: skip

    step = ramp_s / max(len(plans), 1)
    gevent.joinall([gevent.spawn_later(i * step, stream, p) for i, p in enumerate(plans)], raise_error=True)
    return results


def server_log(url: str) -> dict[str, Any]:
    """The server's truth: the SSE server's log by request key, or the reference service's records."""
    for path in ("/admin/llm/requests", "/log"):
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=10) as reply:
                return {"records": json.loads(reply.read())} if path.startswith("/admin") else json.loads(reply.read())
        except OSError:
            continue
    raise RuntimeError(f"{url} has no request log")


def truth_by_first_stamp(log: dict[str, Any]) -> dict[float, dict[str, Any]]:
    """Each logged request as {received, chunk_times, output_tokens}, by its first content chunk's stamp."""
    if "records" in log:
        records = log["records"]
    else:
        records = [{"received": e["received"], "chunk_times": e["chunks"], "output_tokens": e["tokens"]}
                   for e in log.values()]  # fmt: skip
    return {r["chunk_times"][0]: r for r in records if r["chunk_times"]}


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p1": None, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"n": len(values), "p1": at(0.01), "p50": at(0.50), "p99": at(0.99), "max": round(ordered[-1], 3)}


def differences(results: list[tuple[str, dict[str, Any]]], log: dict[str, Any]) -> dict[str, Any]:
    """Client minus server, per figure, over every completed request; token counts against usage."""
    truth_of = truth_by_first_stamp(log)
    diffs: dict[str, list[float]] = {"ttft_ms": [], "itl_ms": [], "tpot_ms": []}
    counts_equal, unmatched, failures = 0, 0, {}
    for _key, event in results:
        if event["exception"] is not None:
            name = str(event["exception"])
            failures[name] = failures.get(name, 0) + 1
            continue
        truth = truth_of.get(event["stamps"][0]) if event["stamps"] else None
        if truth is None:
            unmatched += 1
            continue
        figures = request_figures(event["context"]["llm"])
        chunks = [t * 1000.0 for t in truth["chunk_times"]]
        counts_equal += figures.output_tokens == truth["output_tokens"]
        diffs["ttft_ms"].append(figures.ttft_ms - (chunks[0] - truth["received"] * 1000.0))
        diffs["itl_ms"] += [c - (b - a) for c, (a, b) in zip(figures.itl_ms, pairwise(chunks), strict=True)]
        if figures.tpot_ms is not None:
            diffs["tpot_ms"].append(figures.tpot_ms - (chunks[-1] - chunks[0]) / (figures.output_tokens - 1))
    completed = sum(1 for _, e in results if e["exception"] is None)
    return {"requests": len(results), "completed": completed, "unmatched": unmatched,
            "counts_equal_usage": counts_equal, "failures": failures,
            **{k: _stats(v) for k, v in diffs.items()}}  # fmt: skip


def within_bounds(stats: dict[str, Any], p50_ms: float, p99_ms: float) -> bool:
    """The median difference within ``p50_ms`` and 98 % of them (p1..p99) within ``p99_ms`` either way."""
    return stats["n"] > 0 and abs(stats["p50"]) <= p50_ms and abs(stats["p99"]) <= p99_ms and abs(stats["p1"]) <= p99_ms


def pin(pid: int, core: int) -> None:
    """Pin ``pid`` to ``core`` when there are two or more (server and client then never share one)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(pid, {core})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("reference", "sse"), default="reference")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=3, help="requests per stream, one after the other")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="between chunks (D x tokens per chunk)")
    parser.add_argument("--ramp-s", type=float, default=1.0, help="streams start evenly over this time")
    parser.add_argument("--pin", action="store_true", help="server on core 0, client on core 1")
    parser.add_argument("--p50-ms", type=float, default=1.0)
    parser.add_argument("--p99-ms", type=float, default=3.0)
    args = parser.parse_args(argv)
    with server(args.target, args.ttft_ms, args.delay_ms, args.tokens_per_chunk) as (pid, url):
        if args.pin:
            pin(pid, 0)
            pin(0, 1)
        plans = [[chat_request(f"s{s}r{r}", args.tokens) for r in range(args.requests)] for s in range(args.streams)]
        started = time.perf_counter()
        results = run_requests(url, plans, ramp_s=args.ramp_s)
        took = time.perf_counter() - started
        log = server_log(url)
    report = differences([(k, e) for k, e in results if not k.endswith("r0")], log)
    report["first_request_ttft_ms"] = differences([(k, e) for k, e in results if k.endswith("r0")], log)["ttft_ms"]
    within = all(within_bounds(report[k], args.p50_ms, args.p99_ms) for k in ("ttft_ms", "itl_ms", "tpot_ms"))
    out = {"target": args.target, "streams": args.streams, "tokens": args.tokens,
           "tokens_per_chunk": args.tokens_per_chunk, "ttft_ms": args.ttft_ms, "delay_ms": args.delay_ms,
           "cpus": os.cpu_count(), "seconds": round(took, 2), "bounds_ms": {"p50": args.p50_ms, "p99": args.p99_ms},
           "within_bounds": within, "difference_ms": report}  # fmt: skip
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
