"""Locust master/worker runs: counts that match the target, per-worker resources, a lost worker, wrong flags."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import (
    REPO_ROOT,
    Ran,
    assert_rates_over_the_traffic_window,
    cli_only,
    load_summary,
    metric,
    run_cli,
    sent,
    served,
    served_window,
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--worker"], "--worker: give --master-host HOST"),
        (["--worker", "--master-host", "h"], "--worker: give --host"),
        (["--master"], "--master: give --host"),
        (["--master-host", "h"], "--master-host: only with --worker"),
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--workers", "two"], "--workers: 'two' is not a whole number"),
        (["--master", "--worker", "--master-host", "h"], "--master and --worker"),
        (
            ["--master", "--host", "http://127.0.0.1:1", "--master-port", "70000"],
            "--master-port: 70000 is not a TCP port",
        ),
    ],
)
@pytest.mark.side_by_side(act=lambda _, __, args: run_cli(*args, "--dry-run"), target=None, seconds=1)
def test_distribution_flags_that_cannot_work_are_one_line_errors(ran: Ran, args: list[str], message: str) -> None:
    _, _, result = ran
    assert result.returncode == 2 and result.stderr.startswith(f"error: {message}"), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@cli_only("--workers", "2", "--test-type", "rest", "--scenario", "stress", "--tags", "health", "--dry-run")
def test_user_classes_are_not_swallowed_by_tags(ran: Ran) -> None:
    # Locust's --tags takes every word after it: classes placed after it became tags, and every class of
    # the locustfile ran (a master then sent RestUser to workers that only had RestStressUser).
    _, _, result = ran
    assert result.returncode == 0, result.stderr
    master = next(line for line in result.stdout.splitlines() if line.startswith("Locust: "))
    assert "scenario_shape.py RestStressUser --headless" in master
    assert master.split("--tags", 1)[1].split() == ["health"]


@cli_only("--workers", "3", "--test-type", "grpc", "--dry-run")
def test_dry_run_shows_the_master_and_worker_commands(ran: Ran) -> None:
    _, _, result = ran
    assert result.returncode == 0, result.stderr
    assert "--master" in result.stdout and "--expect-workers 3" in result.stdout
    assert "Locust workers (3):" in result.stdout and "--worker --master-host 127.0.0.1" in result.stdout


def _two_workers(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("--workers", "2", "--users", "8", "--spawn-rate", "8", "--duration", "10s",
                   "--host", target.http_url, "--grpc-target", target.grpc_target,
                   "--target-pid", str(target.pid), "--metrics-url", f"{target.http_url}/metrics",
                   "--output-dir", str(out))  # fmt: skip


def _kill_a_worker(out: Path) -> tuple[int, str, list[int], bool]:
    """Kill the second worker once both run users; returns the runner's exit code, its output, the workers'
    pids and whether the surviving worker had ended by the time the runner had."""
    cmd = [sys.executable, "run_load_tests.py", "--workers", "2", "--test-type", "rest,grpc", "--users", "6",
           "--spawn-rate", "6", "--duration", "16s", "--output-dir", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    pids, lines = [], []
    started = time.monotonic()
    for line in proc.stdout:
        lines.append(line)
        if "Locust worker" in line and "(pid " in line:
            pids.append(int(line.rsplit("(pid ", 1)[1].rstrip(")\n")))
        if len(pids) == 2 and "[00:05]" in line:  # both workers run users: kill one
            psutil.Process(pids[1]).send_signal(signal.SIGKILL)
            break
        assert time.monotonic() - started < 60, "".join(lines)
    output = "".join(lines) + proc.stdout.read()
    code = proc.wait(timeout=120)
    survivor_ended = not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE
    return code, output, pids, survivor_ended


@pytest.mark.slow
@pytest.mark.side_by_side(act=_two_workers, weight=2, seconds=20)
def test_two_workers_count_what_the_target_served_with_both_workers_figures(ran: Ran) -> None:
    target, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path)
    for protocol in ("http", "websocket", "socketio", "grpc"):
        counts, target_counts = sent(summary, protocol), served(target.http_url, protocol)
        assert counts == target_counts, (protocol, counts, target_counts)
    assert summary["total"]["requests"] > 40 and summary["total"]["failures"] == 0
    assert_rates_over_the_traffic_window(summary, target.http_url)  # TOTAL = the target's counters, all protocols
    assert {p for p in summary["protocols"]} == {"http", "websocket", "socketio", "grpc"}
    generators = {g["name"]: g for g in summary["resources"]["generators"]}
    assert set(generators) == {"master", "worker-1", "worker-2"}
    assert generators["master"]["requests"] == 0
    assert generators["worker-1"]["requests"] > 0 and generators["worker-2"]["requests"] > 0
    assert generators["worker-1"]["requests"] + generators["worker-2"]["requests"] == summary["total"]["requests"]
    assert len({g["pid"] for g in generators.values()}) == 3 and summary["workers"] == {"count": 2, "lost": []}
    series = summary["resources"]["series"]
    for name in ("worker-1", "worker-2", "master"):
        assert len(series[f"generator.{name}.cpu_percent"]) >= 3 and len(series[f"generator.{name}.rss_mb"]) >= 3
        assert len(series[f"generator.{name}.loop_lag_ms"]) >= 3  # each process's own timing error (workers ship it)
    assert set(summary["validity"]["timing"]["loop_lag_p99_ms"]) == {"worker-1", "worker-2"}  # the master times nothing
    assert len(series["target.cpu_percent"]) >= 3 and "metrics.target_db_pool_in_use" in series
    assert sum(p["requests"] for p in summary["timeline"]) == summary["total"]["requests"]  # late windows too
    html = next(tmp_path.glob("*/*/locust_report_*.html")).read_text()
    assert "worker-1" in html and "worker-2" in html and "Worker lost" not in html
    # Domain metrics recorded in two worker processes add up exactly on the master: every token the
    # target streamed or answered, every prediction the users checked.
    custom, rows = summary["custom"], {(r["request_type"], r["name"]): r["requests"] for r in summary["endpoints"]}
    streamed = sum(metric(target.http_url, "target_stream_messages_total", protocol=p, endpoint=e)
                   for p, e in (("websocket", "chat"), ("socketio", "chat"), ("http", "/v1/chat (stream)"),
                                ("grpc", "Inference/Generate")))  # fmt: skip
    answered = 16 * rows.get(("POST", "/v1/chat"), 0) + 32 * rows.get(("POST", "/v1/llm/generate"), 0)
    assert custom["tokens"]["value"] == streamed + answered > 0
    predictions = rows.get(("POST", "/predict"), 0) + rows.get(("gRPC unary", "Inference/Predict"), 0)
    classes = sum(v["value"] for k, v in custom.items() if k.startswith("predicted_class="))
    assert classes == predictions == custom["predict_accuracy"]["total"] > 0
    assert custom["predict_accuracy"]["rate"] == 1.0  # the target's model is deterministic
    # A domain counter's rate is over the same window as the requests: the target's predict calls
    # over the target's own first-to-last span, within the span's difference from the window.
    first, last = served_window(target.http_url)
    per_second = sum(v["per_second"] for k, v in custom.items() if k.startswith("predicted_class="))
    assert per_second == pytest.approx(predictions / summary["window_s"], rel=1e-9)
    assert per_second == pytest.approx(predictions / (last - first), rel=0.05)
    assert "Domain metrics" in html


@pytest.mark.slow
@pytest.mark.side_by_side(act=lambda _, out: _kill_a_worker(out), target=None, weight=2, seconds=25)
def test_killing_a_worker_mid_run_leaves_the_master_to_finish_and_report_it(ran: Ran) -> None:
    _, tmp_path, (code, output, pids, survivor_ended) = ran
    assert code == 0, output[-4000:]
    summary = load_summary(tmp_path)
    [lost] = summary["workers"]["lost"]
    assert lost["pid"] == pids[1] and 4 < lost["lost_at_s"] < 14
    assert f"pid {pids[1]}) was lost" in output
    survivor = next(g for g in summary["resources"]["generators"] if g["pid"] == pids[0])
    assert survivor["status"] == "ok" and survivor["requests"] > 0
    assert summary["total"]["requests"] > 20 and not summary["partial"]
    run_dir = next(tmp_path.glob("*/*"))
    assert "Worker lost" in next(run_dir.glob("locust_report_*.html")).read_text()
    assert "WORKER LOST" in (run_dir / "analysis" / "summary.txt").read_text()
    assert survivor_ended
