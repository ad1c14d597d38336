"""One worker holding many slow LLM streams: ``python bench/slow_streams.py STREAMS SECONDS`` (prints JSON).

Our ``openai`` user (FastHttpUser + OpenAIClient + our recorder) in one gevent process, ``STREAMS``
users each streaming one token per :data:`TOKEN_MS` from the reference LLM at ``BENCH_LLM_URL``. Reports
the process's peak RSS while all streams are open, how many streams were open at once, and the error of
every inter-token gap the client measured against the server's own gap (its timing model sends token
``t`` at ``TTFT + t x token_ms``, no batch slowdown): an upper bound on our ITL error, since the
server's own scheduling jitter on this shared machine is in it too.

Beside that truth, the figure the run's validity check would judge: the process's event-loop lag
(engine/resources.LoopLagProbe, the median of its p99 per 0.5 s interval) and whether it would be
flagged (over core/validity.WARN_LAG_MS, a warning in a real run). ``STREAMS`` may be a list
(``500,1000,2000,5000``): each count runs in a process of its own and the output adds
``first_flagged`` and ``first_itl_missed``, the smallest counts where the lag was flagged and where the
ITL error p99 against the server passed 2 ms, so the two points can be compared.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from itertools import pairwise  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from load_tests.core.validity import WARN_LAG_MS  # noqa: E402
from load_tests.engine.resources import LoopLagProbe  # noqa: E402

TOKEN_MS = 100.0
TOKENS = 20  # a 2 s stream: every user sends several during the run
LLM = {"ttft_ms": 10, "token_ms": TOKEN_MS}
GOAL_MIB, GOAL_ITL_P99_MS = 500.0, 2.0
STOP_TIMEOUT_S = 5.0  # a stream lasts about 2 s


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100.0 * len(ordered)))]


def run(url: str, streams: int, seconds: float) -> dict[str, Any]:
    from locust.env import Environment

    from load_tests.core.fleet import OpenAIService
    from load_tests.core.recorder import Recorder
    from load_tests.engine.fleet_openai import openai_user

    config = OpenAIService.model_validate({"protocol": "openai", "url": url + "/v1", "model": "reference-llm",
                                           "prompt": "Say hello", "max_tokens": TOKENS, "timeout": 60,
                                           "extra_body": {"ignore_eos": True}})  # fmt: skip
    environment = Environment(
        user_classes=[openai_user("llm", "SlowStreamUser", config, 1)], host=url, stop_timeout=STOP_TIMEOUT_S
    )  # streams end before the exit (bench/sse_floor.py says why)
    recorder = Recorder()
    environment.events.request.add_listener(recorder.record)
    errors: list[float] = []
    state = {"done": 0, "failures": 0}

    def on_request(exception: Any = None, context: dict | None = None, **_: Any) -> None:
        if exception is not None:
            state["failures"] += 1
        llm = (context or {}).get("llm")
        if llm and exception is None:
            state["done"] += 1
            chunks = llm["chunk_ms"]
            errors.extend(abs(b - a - TOKEN_MS) for a, b in pairwise(chunks))
            if os.environ.get("SLOW_DEBUG"):
                print(chunks, llm["chunk_tokens"], file=sys.stderr)

    environment.events.request.add_listener(on_request)
    process = psutil.Process()
    rss0 = process.memory_info().rss
    probe = LoopLagProbe()
    probe.start()
    runner = environment.create_local_runner()
    runner.start(streams, spawn_rate=streams)
    peak_rss, started, lags = rss0, time.monotonic(), []
    while time.monotonic() - started < seconds:
        gevent.sleep(0.5)
        peak_rss = max(peak_rss, process.memory_info().rss)
        lag = probe.take()
        if lag is not None and time.monotonic() - started > 1.0:  # the spawn itself is not the steady state
            lags.append(lag)
    users = runner.user_count
    runner.quit()
    mib = peak_rss / 1048576.0
    p99 = _percentile(errors, 99)
    lag_p99 = statistics.median(lags) if lags else None
    return {"streams": streams, "users_running": users, "completed_streams": state["done"],
            "failures": state["failures"], "gaps": len(errors), "peak_rss_mib": round(mib, 1),
            "rss_mib_before_users": round(rss0 / 1048576.0, 1), "itl_error_ms_p50": _percentile(errors, 50),
            "itl_error_ms_p99": p99, "memory_met": mib <= GOAL_MIB,
            "itl_met": p99 is not None and p99 < GOAL_ITL_P99_MS, "loop_lag_ms_p99": lag_p99,
            "lag_flagged": lag_p99 is not None and lag_p99 > WARN_LAG_MS}  # fmt: skip


def sweep(url: str, counts: list[int], seconds: float) -> dict[str, Any]:
    """Each count in a fresh process (one worker each, as in a run); where the lag and the truth cross 2 ms."""
    points = []
    for streams in counts:
        out = subprocess.run([sys.executable, __file__, str(streams), str(seconds)], capture_output=True, text=True,
                             env={**os.environ, "BENCH_LLM_URL": url}, timeout=seconds + 180)  # fmt: skip
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        points.append(json.loads(lines[-1]) if lines else {"streams": streams, "error": out.stderr[-300:]})
    flagged = [p["streams"] for p in points if p.get("lag_flagged")]
    missed = [p["streams"] for p in points if "itl_met" in p and not p["itl_met"]]
    first_flagged, first_missed = min(flagged, default=None), min(missed, default=None)
    return {"points": points, "first_flagged": first_flagged, "first_itl_missed": first_missed}


if __name__ == "__main__":
    counts = [int(n) for n in sys.argv[1].split(",")]
    if len(counts) > 1:
        result = sweep(os.environ["BENCH_LLM_URL"], counts, float(sys.argv[2]))
    else:
        result = run(os.environ["BENCH_LLM_URL"], counts[0], float(sys.argv[2]))
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)
