"""CPU per streamed token: our ``openai`` user vs a plain aiohttp client, ``python bench/sse_floor.py NAME S N``.

``NAME`` is ``aiohttp`` (the floor: vLLM's ``benchmark_serving`` approach, one asyncio task per
stream reading ``resp.content`` line by line, ``json.loads`` of every ``data:`` line, a timestamp per
content chunk) or ``ours`` (the fleet's ``openai`` user, FastHttpUser + OpenAIClient + our recorder,
in a Locust environment under gevent). ``N`` streams at once against ``BENCH_LLM_URL``
(``/v1/chat/completions``, ``max_tokens`` = ``ignore_eos`` = :data:`TOKENS`), for ``S`` seconds
after a warm-up. Counts the content tokens of the streams that ended inside the window and the CPU
of this process in it; prints one JSON line like contenders.py, per token instead of per request.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "ours":
    from gevent import monkey

    monkey.patch_all()

import json
import os
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.measure import process_cpu_s, start_users

TOKENS = 32
STOP_TIMEOUT_S = 10.0  # a stream ends in about 70 ms
WARMUP_S = 1.0
BODY = {"model": "reference-llm", "messages": [{"role": "user", "content": "Say hello"}], "stream": True,
        "max_tokens": TOKENS, "ignore_eos": True, "stream_options": {"include_usage": True}}  # fmt: skip


def _result(tokens: int, streams: int, failures: int, cpu_s: float, wall_s: float) -> dict[str, Any]:
    return {"tokens": tokens, "requests": streams, "failures": failures, "cpu_s": cpu_s, "wall_s": wall_s,
            "tokens_per_s": tokens / wall_s if wall_s else 0.0,
            "cpu_us_per_token": 1e6 * cpu_s / tokens if tokens else None}  # fmt: skip


def run_aiohttp(url: str, seconds: float, streams: int) -> dict[str, Any]:
    import asyncio

    import aiohttp

    state = {"measure": False, "stop": False, "tokens": 0, "streams": 0, "failures": 0}

    async def one(session: aiohttp.ClientSession) -> None:
        start = most_recent = time.perf_counter()
        ttft, itl, tokens = 0.0, [], 0
        async with session.post(url + "/v1/chat/completions", json=BODY) as resp:
            if resp.status != 200:
                raise RuntimeError(resp.status)
            async for raw in resp.content:
                chunk = raw.strip()
                if not chunk:
                    continue
                text = chunk.decode("utf-8").removeprefix("data: ")
                if text == "[DONE]":
                    continue
                data = json.loads(text)
                choices = data.get("choices")
                if choices and choices[0]["delta"].get("content"):
                    now = time.perf_counter()
                    if ttft == 0.0:
                        ttft = now - start
                    else:
                        itl.append(now - most_recent)
                    most_recent = now
                    tokens += 1
        if state["measure"]:
            state["tokens"] += tokens
            state["streams"] += 1

    async def loop(session: aiohttp.ClientSession) -> None:
        while not state["stop"]:
            try:
                await one(session)
            except Exception:  # counted, never fatal
                state["failures"] += state["measure"]

    async def main() -> dict[str, Any]:
        connector = aiohttp.TCPConnector(limit=streams)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            tasks = [asyncio.create_task(loop(session)) for _ in range(streams)]
            await asyncio.sleep(WARMUP_S)
            cpu0, t0 = process_cpu_s(), time.perf_counter()
            state["measure"] = True
            await asyncio.sleep(seconds)
            state["measure"] = False
            cpu1, t1 = process_cpu_s(), time.perf_counter()
            state["stop"] = True
            await asyncio.wait(tasks, timeout=10)
        return _result(state["tokens"], state["streams"], state["failures"], cpu1 - cpu0, t1 - t0)

    return asyncio.run(main())


def run_ours(url: str, seconds: float, streams: int) -> dict[str, Any]:
    import gevent
    from locust.env import Environment

    from load_tests.core.fleet import OpenAIService
    from load_tests.core.recorder import Recorder
    from load_tests.engine.fleet_openai import openai_user

    config = OpenAIService.model_validate({"protocol": "openai", "url": url + "/v1", "model": "reference-llm",
                                           "prompt": "Say hello", "max_tokens": TOKENS,
                                           "extra_body": {"ignore_eos": True}})  # fmt: skip
    user = openai_user("llm", "BenchOpenAIUser", config, 1)
    # Users end their streams before the process exits: a server left writing to thousands of dead streams
    # logs a warning for each write, and the reference service's stderr pipe, which nobody reads, fills and
    # blocks it (the next contender on the same server then gets nothing).
    environment = Environment(user_classes=[user], host=url, stop_timeout=STOP_TIMEOUT_S)
    recorder = Recorder()
    environment.events.request.add_listener(recorder.record)
    state = {"measure": False, "tokens": 0, "streams": 0, "failures": 0}

    def count(exception: Any = None, context: dict | None = None, **_: Any) -> None:
        if not state["measure"]:
            return
        if exception is not None:
            state["failures"] += 1
        llm = (context or {}).get("llm")
        if llm:
            state["tokens"] += sum(llm["chunk_tokens"])
            state["streams"] += 1

    environment.events.request.add_listener(count)
    runner = environment.create_local_runner()
    start_users(runner, streams)
    gevent.sleep(WARMUP_S)
    cpu0, t0 = process_cpu_s(), time.perf_counter()
    state["measure"] = True
    gevent.sleep(seconds)
    state["measure"] = False
    cpu1, t1 = process_cpu_s(), time.perf_counter()
    runner.quit()
    return _result(state["tokens"], state["streams"], state["failures"], cpu1 - cpu0, t1 - t0)


if __name__ == "__main__":
    name, seconds, streams = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    target = os.environ["BENCH_LLM_URL"]
    result = (run_ours if name == "ours" else run_aiohttp)(target, seconds, streams)
    print(json.dumps({"contender": name, "streams": streams, **result}))
    sys.stdout.flush()
    os._exit(0)
