"""Our users side by side with the raw clients and Locust's own, in one run: ``python bench/run.py [--quick]``.

Starts the reference target (zero service times) pinned to core 0 and runs every contender in a
process of its own pinned to core 1 (when there are two cores), for the same time at the same
concurrency, interleaved round by round (the order reversed every other round) so drift on a shared
machine hits every contender alike. Compares CPU microseconds per request within each round: ratios
per round, then their median and range. Also: latency fidelity against a known server delay, client
memory per 1,000 idle connections, and ``--workers 2`` over one worker. Writes
``bench/results/latest.json`` and ``latest.md``. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import floors  # noqa: E402  (the phases beside the request ratios)
from bench.markdown_table import render_markdown  # noqa: E402
from load_tests.launch.plan_writer import plan_from_settings  # noqa: E402
from load_tests.launch.settings import load_settings  # noqa: E402
from load_tests.reference_service.faults import OPERATIONS  # noqa: E402
from load_tests.reference_service.launcher import TargetInfo, TargetProcess, set_faults  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CONTENDERS = {
    "http": ["raw", "ours", "fasthttp", "httpuser"],
    "websocket": ["raw", "ours"],
    "socketio": ["raw", "ours", "contrib"],
    # sync: plain grpcio, 8 OS threads, no gevent, one channel (grpc_floor.py); sync_channels: the same with a
    # channel per concurrent call, the connection count of our users (a channel each) and of the raw gevent loop
    "grpc": ["raw", "sync", "sync_channels", "ours", "example"],
}
# (protocol, ours vs, the most ours may cost per request relative to it): the targets
GOALS = [  # issue 18
    ("http", "fasthttp", 1.05),
    ("websocket", "raw", 1.15),
    ("socketio", "raw", 1.05),
    ("grpc", "sync", 1.25),
]
PROFILES = {  # rounds, seconds per contender, concurrency, fidelity seconds, idle connections
    "full": {"rounds": 5, "seconds": 5.0, "concurrency": 16, "fidelity_s": 5.0, "ws_idle": 10_000, "sio_idle": 1000},
    "quick": {"rounds": 3, "seconds": 2.5, "concurrency": 16, "fidelity_s": 3.0, "ws_idle": 1000, "sio_idle": 300},
    "tiny": {"rounds": 1, "seconds": 0.5, "concurrency": 2, "fidelity_s": 0.5, "ws_idle": 20, "sio_idle": 5},
}


def schedule(contenders: list[str], rounds: int) -> list[tuple[int, str]]:
    """A B C, C B A, A B C...: every contender runs once a round, the order reversed every other round."""
    order: list[tuple[int, str]] = []
    for r in range(rounds):
        names = contenders if r % 2 == 0 else list(reversed(contenders))
        order += [(r, name) for name in names]
    return order


def ratio_stats(runs: dict[str, list[dict[str, Any]]], ours: str, other: str, field: str) -> dict[str, Any] | None:
    """``ours / other`` of ``field`` per round (same round only), with the median and range."""
    values = []
    for a, b in zip(runs.get(ours, []), runs.get(other, []), strict=False):
        if a.get(field) and b.get(field):
            values.append(a[field] / b[field])
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "per_round": values}


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    def median(name: str, field: str) -> float | None:
        values = [r[field] for r in runs.get(name, []) if r.get(field) is not None]
        return statistics.median(values) if values else None

    return {
        name: {
            "rps": median(name, "rps"),
            "cpu_us_per_request": median(name, "cpu_us_per_request"),
            "failures": sum(r["failures"] for r in runs[name]),
            "requests": sum(r["requests"] for r in runs[name]),
        }
        for name in runs
    }


def goals(protocols: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for protocol, other, limit in GOALS:
        ratio = (protocols.get(protocol) or {}).get("ratios", {}).get(f"ours/{other}")
        if ratio is None:
            continue
        out.append(
            {
                "protocol": protocol,
                "against": other,
                "limit": limit,
                "median": ratio["median"],
                "met": ratio["median"] <= limit,
            }
        )
    return out


def _pin(cpu: int) -> Any:
    def preexec() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})

    return preexec


def _contender(name: str, seconds: float, concurrency: int, env: dict[str, str], cpu: int | None) -> dict[str, Any]:
    if name == "grpc_sync_channels":
        name, env = "grpc_sync", {**env, "BENCH_GRPC_CHANNELS": "per-call"}
    script = "grpc_floor.py" if name == "grpc_sync" else "contenders.py"  # the floor runs without gevent
    cmd = [sys.executable, str(ROOT / "bench" / script)] + ([] if script != "contenders.py" else [name])
    cmd += [str(seconds), str(concurrency)]
    out = subprocess.run(
        cmd,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 90,
        cwd=ROOT,
        preexec_fn=_pin(cpu) if cpu is not None else None,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr or out.stdout)[-400:], "requests": 0, "failures": 0}
    return dict(json.loads(lines[-1]))


def _env(info: TargetInfo, tmp: Path) -> dict[str, str]:
    settings = load_settings({"host": info.http_url, "grpc_target": info.grpc_target}, env={})
    plan = plan_from_settings(settings, tmp, "bench", with_scenario=False, from_runner=False)
    plan.write(tmp / "plan.json")
    return {**os.environ, "BENCH_TARGET": json.dumps(asdict(info)), "LOADTEST_PLAN": str(tmp / "plan.json")}


def throughput(profile: dict[str, Any], env: dict[str, str], cpu: int | None, only: list[str]) -> dict[str, Any]:
    protocols: dict[str, Any] = {}
    for protocol in only:
        names = [f"{protocol}_{c}" for c in CONTENDERS[protocol]]
        runs: dict[str, list[dict[str, Any]]] = {n.split("_", 1)[1]: [] for n in names}
        for _, name in schedule(names, profile["rounds"]):
            result = _contender(name, profile["seconds"], profile["concurrency"], env, cpu)
            runs[name.split("_", 1)[1]].append(result)
            print(
                f"  {name:<20} {result.get('rps', 0):>8.0f}/s  {result.get('cpu_us_per_request') or 0:>7.1f} us/req"
                f"  failures {result['failures']}{'  ERROR ' + result['error'] if 'error' in result else ''}",
                file=sys.stderr,
                flush=True,
            )
        ratios = {
            f"ours/{other}": ratio_stats(runs, "ours", other, "cpu_us_per_request")
            for other in CONTENDERS[protocol]
            if other != "ours"
        }
        protocols[protocol] = {"runs": runs, "median": summarise(runs), "ratios": ratios}
    return protocols


def fidelity(profile: dict[str, Any], info: TargetInfo, env: dict[str, str], cpu: int | None) -> list[dict[str, Any]]:
    """Our HTTP user at light load against a target that adds exactly D ms: what we measure minus D."""
    out = []
    for delay in (20, 200):
        set_faults(info.http_url, extra_delay_ms=delay, operations=["health"])
        ours = _contender("http_ours", profile["fidelity_s"], 2, env, cpu)
        raw = _contender("http_raw", profile["fidelity_s"], 2, {**env, "BENCH_LATENCY": "1"}, cpu)
        out.append(
            {
                "delay_ms": delay,
                "p50_minus_delay_ms": (ours.get("p50_ms") or 0) - delay,
                "p99_minus_delay_ms": (ours.get("p99_ms") or 0) - delay,
                "raw_p50_minus_delay_ms": (raw.get("p50_ms") or 0) - delay,
                "requests": ours["requests"],
            }
        )
    set_faults(info.http_url, extra_delay_ms=0)
    return out


def memory(profile: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, count, limit in (
        ("websocket", profile["ws_idle"], 200 * 1.048576),
        ("socketio", profile["sio_idle"], None),
    ):
        cmd = [sys.executable, str(ROOT / "bench" / "memory.py"), kind, str(count)] + ([str(limit)] if limit else [])
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        out[kind] = json.loads(lines[-1]) if lines else {"error": done.stderr[-400:]}
    return out


def scale_out(seconds: float) -> dict[str, Any]:
    """``--workers 2`` over ``--workers 1``: REST /health, stress users, against the bundled target."""
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "run_load_tests.py",
                "--workers",
                str(workers),
                "--test-type",
                "rest",
                "--tags",
                "health",
                "--scenario",
                "stress",
                "--users",  # ~200 x 30 calls/s of demand: more than one worker process can send
                "200",
                "--spawn-rate",
                "200",
                "--duration",
                f"{seconds:g}s",
                "--output-dir",
                tmp,
            ]
            subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180, cwd=ROOT)
            found = sorted(Path(tmp).glob("*/*/locust_report_*.json"))
            summary = json.loads(found[0].read_text()) if found else None
            rates[workers] = summary["total"]["requests"] / seconds if summary else None
    ratio = rates[2] / rates[1] if rates.get(1) and rates.get(2) else None
    return {
        "rps_one_worker": rates[1],
        "rps_two_workers": rates[2],
        "ratio": ratio,
        "against": f"the bundled target on the same {os.cpu_count()} cores (200 stress users, REST /health)",
    }


NGINX_CONF = """worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir}; uwsgi_temp_path {dir};
  scgi_temp_path {dir};
  server {{
    listen 127.0.0.1:{port};
    location = /health {{ default_type application/json; return 200 '{{"status":"ok"}}'; }}
  }}
}}
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ceiling(profile: dict[str, Any], env: dict[str, str], cpu: int | None) -> dict[str, Any]:
    """HTTP against nginx (one worker process, core 0): wrk as the ceiling, then the raw loop, our user and
    FastHttpUser (core 1) on the same ``GET /health``, so the target's own cost is out of the picture."""
    tools = {t: shutil.which(t) for t in ("nginx", "wrk")}
    if not all(tools.values()):
        return {"skipped": f"not installed: {', '.join(t for t, p in tools.items() if not p)}"}
    with tempfile.TemporaryDirectory(prefix="bench_nginx_") as tmp:
        port = _free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=tmp, port=port), encoding="utf-8")
        nginx = subprocess.Popen([str(tools["nginx"]), "-c", str(conf), "-p", tmp], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, preexec_fn=_pin(0) if cpu is not None else None)  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            seconds = max(int(profile["seconds"]), 1)
            wrk = subprocess.run([str(tools["wrk"]), "-t1", f"-c{profile['concurrency']}", f"-d{seconds}s",
                                  f"http://127.0.0.1:{port}/health"], capture_output=True, text=True,
                                 timeout=seconds + 30, preexec_fn=_pin(cpu) if cpu is not None else None)  # fmt: skip
            found = re.search(r"Requests/sec:\s*([\d.]+)", wrk.stdout)
            nginx_env = {**env, "BENCH_TARGET": json.dumps({"pid": nginx.pid, "host": "127.0.0.1", "http_port": port,
                                                            "grpc_port": 0})}  # fmt: skip
            runs = {c: _contender(f"http_{c}", profile["seconds"], profile["concurrency"], nginx_env, cpu)
                    for c in ("raw", "ours", "fasthttp")}  # fmt: skip
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
    return {"wrk_rps": float(found.group(1)) if found else None,
            **{f"{c}_rps": r.get("rps") for c, r in runs.items()},
            **{f"{c}_cpu_us_per_request": r.get("cpu_us_per_request") for c, r in runs.items()}}  # fmt: skip


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"model name\s*:\s*(.+)", text)
    return found.group(1).strip() if found else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 short rounds, 1,000 idle connections (under 5 min)")
    parser.add_argument("--tiny", action="store_true", help="a self-test of this harness (seconds, not figures)")
    parser.add_argument("--protocols", default=",".join(CONTENDERS), help="comma list (default all four)")
    parser.add_argument("--out", default=str(RESULTS), help="where latest.json and latest.md go")
    args = parser.parse_args(argv)
    name = "tiny" if args.tiny else "quick" if args.quick else "full"
    profile = PROFILES[name]
    only = [p for p in args.protocols.split(",") if p]
    unknown = [p for p in only if p not in CONTENDERS]
    if unknown:
        print(
            f"error: --protocols: unknown {', '.join(unknown)} (choose from {', '.join(CONTENDERS)})", file=sys.stderr
        )
        return 2
    two_cores = (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    started = time.monotonic()
    zero = [arg for op in sorted(OPERATIONS) for arg in ("--service-time", f"{op}=0")]
    zero += ["--llm-ttft-ms", "0", "--llm-token-ms", "0"]  # chat streams are timed by the reference LLM
    doc: dict[str, Any] = {
        "benchmark": "harness_overhead",
        "profile": name,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "pinned": "target on core 0, contenders on core 1" if two_cores else "no (one core)",
        "load_average": [round(x, 2) for x in os.getloadavg()],  # at the start: a shared machine is busy
        "settings": profile,
    }
    with TargetProcess(*zero) as info, tempfile.TemporaryDirectory() as tmp:
        if two_cores:
            psutil.Process(info.pid).cpu_affinity([0])
        env = _env(info, Path(tmp))
        cpu = 1 if two_cores else None
        print("throughput (contender, requests/s, CPU per request):", file=sys.stderr, flush=True)
        doc["protocols"] = throughput(profile, env, cpu, only)
        doc["goals"] = goals(doc["protocols"])
        print("latency fidelity, memory...", file=sys.stderr, flush=True)
        doc["fidelity"] = fidelity(profile, info, env, cpu) if "http" in only else []
        doc["memory"] = memory(profile, env)
        doc["ceiling"] = ceiling(profile, env, cpu) if "http" in only else {"skipped": "HTTP not benchmarked"}
        if "grpc" in only:
            print("gRPC timing layers (plain stub, Locust's interceptor, ours)...", file=sys.stderr, flush=True)
            doc["grpc_layers"] = floors.grpc_layers_phase(name, info.grpc_target, _pin(1) if two_cores else None)
    print("LLM streams (CPU per token, ours vs aiohttp)...", file=sys.stderr, flush=True)
    with TargetProcess(llm=floors.SSE_LLM) as llm_info:
        if two_cores:
            psutil.Process(llm_info.pid).cpu_affinity([0])
        pin = _pin(1) if two_cores else None
        doc["sse"] = floors.sse_phase(profile, {**os.environ, "BENCH_LLM_URL": llm_info.http_url}, pin)
    print("slow LLM streams held by one worker...", file=sys.stderr, flush=True)
    doc["slow_streams"] = floors.slow_streams_phase(name, _pin(1) if two_cores else None)
    print("master cost per worker report...", file=sys.stderr, flush=True)
    doc["master"] = floors.master_phase(profile, name, _pin(1) if two_cores else None)
    print("scale-out (--workers 2 over 1)...", file=sys.stderr, flush=True)
    doc["scale_out"] = scale_out(2.0 if args.tiny else 8.0) if not args.tiny else None
    doc["extra_goals"] = floors.extra_goals(doc)
    doc["elapsed_s"] = round(time.monotonic() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "latest.md").write_text(render_markdown(doc), encoding="utf-8")
    print(render_markdown(doc))
    print(json.dumps({"elapsed_s": doc["elapsed_s"], "goals": doc["goals"], "extra_goals": doc["extra_goals"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
