"""bench/run.py's phases beyond the request contenders: LLM streams against aiohttp, and the master's cost.

- :func:`sse_phase`: CPU per streamed token, our ``openai`` user vs a plain aiohttp client
  (bench/sse_floor.py), at 16 and 256 concurrent streams against the reference LLM, interleaved
  round by round like the request contenders, ratios within a round.
- :func:`master_phase`: CPU and bytes per worker report with our recorder deltas (bench/master_cost.py,
  50 endpoints, histograms included), and a real ``--workers N`` run's master CPU per worker report
  with Locust's own work included.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
SSE_STREAMS = (16, 256)
SSE_LLM = {"ttft_ms": 5, "token_ms": 2}  # fast tokens: the client's cost per token shows, not its idle time
# (few, many workers, steady window s) per profile: the master's CPU rate with each; the slope is a worker's
# cost, and the rate with many, all of it charged to the workers, bounds that cost from above
# (few, many, window s, settle s before it): tiny checks the harness, not the figures, so it barely settles
REAL_MASTER = {"full": (2, 16, 12.0, 5.0), "quick": (2, 10, 6.0, 5.0), "tiny": (1, 2, 1.5, 1.0)}
WORKER_REPORT_S = 3.0  # Locust's WORKER_REPORT_INTERVAL
CPU_TICK_S = 0.01  # the resolution of a process's CPU times in /proc


def _run_json(cmd: list[str], env: dict[str, str], timeout: float, preexec: Any = None) -> dict[str, Any]:
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                             preexec_fn=preexec)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr or out.stdout)[-400:]}
    return dict(json.loads(lines[-1]))


GRPC_LAYER_ROUNDS = {"full": 16, "quick": 6, "tiny": 1}


def grpc_layers_phase(profile_name: str, grpc_target: str, pin: Any) -> dict[str, Any]:
    """What timing a gRPC call costs: a plain stub, Locust's interceptor and our timed channel, switched
    every 0.75 s in one process (bench/grpc_layers.py)."""
    rounds = GRPC_LAYER_ROUNDS[profile_name]
    cmd = [sys.executable, str(ROOT / "bench" / "grpc_layers.py"), "--child", grpc_target, str(rounds)]
    return _run_json(cmd, dict(os.environ), 60 + 3 * rounds, pin)


def sse_phase(profile: dict[str, Any], env: dict[str, str], pin: Any) -> dict[str, Any]:
    """``{streams: {"runs": {aiohttp: [...], ours: [...]}, "ratio": {...}}}`` for 16 and 256 streams."""
    from bench.run import ratio_stats, schedule

    out: dict[str, Any] = {}
    for streams in SSE_STREAMS:
        runs: dict[str, list[dict[str, Any]]] = {"aiohttp": [], "ours": []}
        for _, name in schedule(["aiohttp", "ours"], profile["rounds"]):
            cmd = [sys.executable, str(ROOT / "bench" / "sse_floor.py"), name, str(profile["seconds"]), str(streams)]
            result = _run_json(cmd, env, profile["seconds"] + 90, pin)
            runs[name].append(result)
            error = "  ERROR " + result["error"] if "error" in result else ""
            print(f"  sse {name:<8} {streams:>4} streams {result.get('tokens_per_s', 0):>8.0f} tokens/s "
                  f"{result.get('cpu_us_per_token') or 0:>6.1f} us/token{error}",
                  file=sys.stderr, flush=True)  # fmt: skip
        out[str(streams)] = {"runs": runs, "ratio": ratio_stats(runs, "ours", "aiohttp", "cpu_us_per_token")}
    return out


SLOW_STREAMS = {"full": 5000, "quick": 0, "tiny": 20}  # quick skips it: it alone takes about 30 s here


def slow_streams_phase(profile_name: str, pin: Any) -> dict[str, Any]:
    """One worker holding thousands of slow streams (bench/slow_streams.py): peak RSS, ITL error."""
    from bench.slow_streams import LLM
    from load_tests.reference_service.launcher import TargetProcess

    streams = SLOW_STREAMS[profile_name]
    if not streams:
        return {"skipped": "the full run only (python bench/run.py)"}
    with TargetProcess(llm=LLM) as info:
        if pin is not None:
            psutil.Process(info.pid).cpu_affinity([0])
        cmd = [sys.executable, str(ROOT / "bench" / "slow_streams.py"), str(streams), "8"]
        return _run_json(cmd, {**os.environ, "BENCH_LLM_URL": info.http_url}, 240, pin)


def _master_rate(workers: int, window_s: float, settle_s: float) -> dict[str, Any]:
    """A ``--workers N`` run at low load; the master's CPU seconds per second over a steady window that
    opens once the workers have started (each imports Locust: seconds of CPU on 2 cores) and closes a
    second before the run ends, so neither start-up nor the end-of-run summary is counted."""
    settle = settle_s + 0.5 * workers  # the master's imports and its workers joining are not per-report work
    seconds = settle + window_s + 2.0
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "run_load_tests.py", "--workers", str(workers), "--test-type", "rest",
               "--users", str(workers), "--spawn-rate", str(workers), "--duration", f"{seconds:g}s",
               "--output-dir", tmp]  # fmt: skip
        launcher = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples: list[tuple[float, float]] = []
        deadline = time.monotonic() + seconds + 120
        while launcher.poll() is None and time.monotonic() < deadline:
            try:
                master = next((p for p in psutil.Process(launcher.pid).children(recursive=True)
                               if "--master" in p.cmdline()), None)  # fmt: skip
                age = time.time() - master.create_time() if master is not None else 0.0
                if master is not None and settle <= age <= settle + window_s:
                    cpu = master.cpu_times()
                    samples.append((time.monotonic(), cpu.user + cpu.system))
            except psutil.Error:
                pass
            time.sleep(0.25)
        if launcher.poll() is None:
            launcher.kill()
        launcher.wait()
    if len(samples) < 2 or samples[-1][0] - samples[0][0] < 0.5 * window_s:
        return {"workers": workers, "error": "the master was not seen for long enough"}
    span, cpu_s = samples[-1][0] - samples[0][0], samples[-1][1] - samples[0][1]
    return {"workers": workers, "span_s": round(span, 1), "master_cpu_s": round(cpu_s, 3),
            "cpu_per_s": round(cpu_s / span, 4)}  # fmt: skip


def _real_master(window_s: float, few: int, many: int, settle_s: float) -> dict[str, Any]:
    """The master's CPU per worker, measured with real workers: its steady CPU rate with ``few`` and with
    ``many`` low-load workers (``--test-type rest``: every REST endpoint, so each report carries a row and
    histograms per endpoint). The difference per added worker is what a worker costs the master (a report
    every 3 s, a heartbeat a second), but on this machine it is within the noise of 10 ms CPU ticks; the
    rate with ``many`` divided by ``many`` bounds it from above (the master's own idle work included)."""
    low, high = _master_rate(few, window_s, settle_s), _master_rate(many, window_s, settle_s)
    out: dict[str, Any] = {"runs": [low, high]}
    if "error" in low or "error" in high:
        return {**out, "error": low.get("error") or high.get("error")}
    per_worker = (high["cpu_per_s"] - low["cpu_per_s"]) / (many - few)  # CPU s per s, per worker
    bound = high["cpu_per_s"] / many  # as if the master did nothing but serve its workers
    # psutil reads CPU in 10 ms ticks: each rate is uncertain by two ticks over its span, and so the slope
    resolution = (2 * CPU_TICK_S / low["span_s"] + 2 * CPU_TICK_S / high["span_s"]) / (many - few)
    out.update({"per_worker_cpu_share": round(per_worker, 5),
                "resolution_ms_per_report": round(1000.0 * resolution * WORKER_REPORT_S, 3),
                "master_ms_per_report": round(1000.0 * per_worker * WORKER_REPORT_S, 3),
                "at_most_ms_per_report": round(1000.0 * bound * WORKER_REPORT_S, 3),
                "workers_per_core_at_least": int(1.0 / bound) if bound > 0 else None})  # fmt: skip
    return out


def master_phase(profile: dict[str, Any], profile_name: str, pin: Any) -> dict[str, Any]:
    reports = 30 if profile["rounds"] == 1 else 150
    synthetic = _run_json([sys.executable, str(ROOT / "bench" / "master_cost.py"), str(reports)], {}, 300, pin)
    few, many, window_s, settle_s = REAL_MASTER[profile_name]
    real = _real_master(window_s, few, many, settle_s)
    return {"deltas": synthetic, "real_master": real}


def extra_goals(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals beyond the request ratios: fidelity, CPU per token, master CPU per report."""
    out = []
    for f in doc.get("fidelity", []):
        if f["delay_ms"] == 20:
            ours, raw = f["p50_minus_delay_ms"], f["raw_p50_minus_delay_ms"]
            gap = ours - raw
            out.append({"goal": "p50 - 20 ms delay, ours minus the raw client's", "limit": "<= 0.5 ms",
                        "measured": f"{gap:.2f} ms ({ours:.2f} vs {raw:.2f})",
                        "met": gap <= 0.5})  # fmt: skip
    for streams, data in (doc.get("sse") or {}).items():
        ratio = data.get("ratio")
        if ratio:
            out.append({"goal": f"LLM stream CPU per token, ours / aiohttp, {streams} streams", "limit": "<= 1.00",
                        "measured": f"{ratio['median']:.3f} [{ratio['min']:.2f}-{ratio['max']:.2f}]",
                        "met": ratio["median"] <= 1.0})  # fmt: skip
    slow = doc.get("slow_streams") or {}
    if "peak_rss_mib" in slow:
        out.append({"goal": f"one worker, {slow['streams']:,} slow streams (a token per 100 ms): memory",
                    "limit": "<= 500 MiB", "measured": f"{slow['peak_rss_mib']:.0f} MiB peak RSS",
                    "met": slow["memory_met"]})  # fmt: skip
        p99 = slow.get("itl_error_ms_p99")
        done = slow["completed_streams"]
        out.append({"goal": f"  ... ITL error against the server's gaps, p99 ({done:,} streams done)",
                    "limit": "< 2 ms", "measured": f"{p99:.1f} ms (server jitter included)" if p99 else "-",
                    "met": slow["itl_met"]})  # fmt: skip
    deltas = (doc.get("master") or {}).get("deltas") or {}
    if "master_ms_per_report" in deltas:
        out.append({"goal": "master CPU per worker report (50 endpoints, decode + merge)", "limit": "< 2 ms",
                    "measured": f"{deltas['master_ms_per_report']:.2f} ms, {deltas['bytes_per_report']:,} bytes; "
                                f"{deltas['workers_served']:,} workers per core at 3 s",
                    "met": deltas["met"]})  # fmt: skip
    return out


def median_of(runs: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in runs if r.get(field) is not None]
    return statistics.median(values) if values else None
