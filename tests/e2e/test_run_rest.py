"""End to end: ``run_load_tests.py`` and ``locust -f`` with the REST users against a real target."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import REPO_ROOT, Ran, harness_counts, load_summary, run_cli, served

pytestmark = pytest.mark.slow
SHORT = ("--test-type", "rest", "--users", "10", "--spawn-rate", "10")


def _smoke(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    # The stress profile barely waits, so even the rarest task (weight 1 of 25) is all but certain to run.
    return run_cli(*SHORT, "--scenario", "stress", "--duration", "8s", "--host", target.http_url,
                   "--output-dir", str(out))  # fmt: skip


def _error_rate(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*SHORT, "--duration", "6s", "--host", target.http_url, "--output-dir", str(out))


def _wrong_label(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    data = out / "wrong.csv"
    data.write_text("temperature,vibration,pressure,flow,label\n55.0,2.0,5.0,70.0,warning\n")  # model says normal
    config = out / "cfg.yaml"
    config.write_text(f"data:\n  features_csv: {data}\n")
    return run_cli(*SHORT, "--duration", "5s", "--host", target.http_url, "--output-dir", str(out / "out"),
                   "--config", str(config), "--tags", "predict", "--exclude-tags", "audio")  # fmt: skip


def _three_stages(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    config = out / "cfg.yaml"
    config.write_text(
        "scenarios:\n  steps:\n    stages:\n"
        "      - {duration: 4s, users: 2, spawn_rate: 10}\n"
        "      - {duration: 4s, users: 6, spawn_rate: 10}\n"
        "      - {duration: 4s, users: 3, spawn_rate: 10}\n"
    )
    return run_cli("--scenario", "steps", "--test-type", "rest", "--config", str(config), "--host", target.http_url,
                   "--output-dir", str(out / "out"), "--tags", "health")  # fmt: skip


def _locustfile_alone(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "load_tests/locust/gateway_rest.py"), "--headless",
         "-u", "5", "-r", "5", "-t", "5s", "--stop-timeout", "5", "--host", target.http_url, "RestUser"],
        cwd=out, capture_output=True, text=True, timeout=120, env={**os.environ, "LOADTEST_OUTPUT_DIR": "out"},
    )  # fmt: skip


def _hopeless(target: TargetInfo, out: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    config = out / "cfg.yaml"
    config.write_text("thresholds:\n  abort: {after_s: 3s, error_rate_pct: 50}\n")
    start = time.monotonic()
    result = run_cli(*SHORT, "--duration", "60s", "--host", target.http_url, "--config", str(config),
                     "--output-dir", str(out / "out"))  # fmt: skip
    return result, time.monotonic() - start


@pytest.mark.side_by_side(act=_smoke, weight=2)
def test_smoke_run_counts_what_the_target_served(ran: Ran) -> None:
    target, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path)
    assert summary["total"]["requests"] >= 300 and summary["total"]["failures"] == 0
    assert harness_counts(summary) == served(target.http_url, "http")
    names = {r["name"] for r in summary["endpoints"]}
    assert {"/health", "/model-info", "/predict", "/predict (audio)", "/evaluate", "/v1/chat", "/v1/chat (stream)",
            "/v1/llm/generate", "/v1/tts", "/v1/stt"} <= names  # fmt: skip
    rows = {(r["request_type"], r["name"]): r for r in summary["endpoints"]}
    first, whole = rows[("SSE first token", "/v1/chat (stream)")], rows[("SSE stream", "/v1/chat (stream)")]
    assert first["p50_ms"] < whole["p50_ms"]  # the first token comes before the end of a 16-token stream
    llm = whole["llm"]  # the bundled streamed chat counts tokens too: TTFT, ITL and TPOT on plain SSE
    assert llm["output_tokens"] == 16 * whole["requests"] and 0 < llm["ttft_ms"]["p50"] < llm["e2e_ms"]["p50"]
    assert summary["thresholds"]["passed"] and summary["partial"] is False
    predict = rows[("POST", "/predict")]
    assert predict["requests"] == max(r["requests"] for r in summary["endpoints"])  # heaviest task
    run_dir = next(tmp_path.glob("stress/*"))
    files = {p.name for p in run_dir.iterdir()}
    ts = run_dir.name
    assert {f"locust_builtin_{ts}.html", f"locust_{ts}_stats.csv", f"locust_{ts}_stats_history.csv",
            f"locust_report_{ts}.json", f"locust_report_{ts}.html", f"locust_report_{ts}_stats.csv",
            "run_plan.json"} <= files  # fmt: skip
    analysis = {p.name for p in (run_dir / "analysis").iterdir()}
    assert {"metrics.csv", "summary.txt", "response_time_by_endpoint.png", "p95_response_time.png",
            "error_rate_by_endpoint.png", "latency_over_time.png", "rps_users_over_time.png"} <= analysis  # fmt: skip
    assert "Result: PASSED" in (run_dir / "analysis" / "summary.txt").read_text()
    windows = summary["endpoint_timeline"]
    assert len(windows) >= 2 and all(b["t_s"] - a["t_s"] <= 5.5 for a, b in itertools.pairwise(windows))
    predict_p95 = [w["endpoints"]["POST /predict"]["p95_ms"] for w in windows if "POST /predict" in w["endpoints"]]
    assert predict_p95 and all(p is None or p > 0 for p in predict_p95)
    assert "Result: PASSED" in result.stdout and "[00:05] stage 1/1" in result.stdout


@pytest.mark.side_by_side(act=_error_rate, target=("--error-rate", "0.5", "--seed", "2"))
def test_target_error_rate_fails_the_thresholds_with_exit_1(ran: Ran) -> None:
    target, tmp_path, result = ran
    counts = served(target.http_url, "http")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path)
    assert harness_counts(summary) == counts
    assert 30 <= summary["total"]["error_rate_pct"] <= 70
    failed = [v for v in summary["thresholds"]["verdicts"] if not v["passed"]]
    assert [(v["scope"], v["metric"]) for v in failed] == [("global", "error_rate_pct")]
    assert summary["total"]["failures_by_type"]["HTTP 500"] == summary["total"]["failures"]
    assert "FAIL  global" in result.stdout and "Result: FAILED" in result.stdout


@pytest.mark.side_by_side(act=_wrong_label)
def test_a_wrong_label_is_a_failure_with_its_reason(ran: Ran) -> None:
    _, tmp_path, result = ran
    assert result.returncode == 1
    summary = load_summary(tmp_path / "out")
    [row] = summary["endpoints"]
    assert (row["request_type"], row["name"]) == ("POST", "/predict")
    assert row["requests"] > 5 and row["failures"] == row["requests"]
    assert row["failures_by_type"] == {"label mismatch: expected warning, got normal": row["requests"]}


@pytest.mark.side_by_side(act=_three_stages, seconds=16)
def test_every_stage_of_a_three_stage_scenario_is_reached(ran: Ran) -> None:
    _, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    timeline = load_summary(tmp_path / "out")["timeline"]
    users_by_stage: dict[int, set[int]] = {}
    for point in timeline:
        if point["stage"]:
            users_by_stage.setdefault(point["stage"], set()).add(point["users"])
    assert 2 in users_by_stage[1] and 6 in users_by_stage[2] and 3 in users_by_stage[3], users_by_stage
    assert 11 <= timeline[-1]["t_s"] <= 16


def _sigint_mid_run(out: Path) -> tuple[int, str, str, bool, list[psutil.Process]]:
    """SIGINT five seconds in; returns the exit code, the output before and after it, and, half a second
    after the runner's exit, whether its bundled target had ended and which of its children still ran."""
    process = subprocess.Popen(
        [sys.executable, "run_load_tests.py", *SHORT, "--duration", "2m", "--output-dir", str(out)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    target_pid, lines = None, []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Target ready:"):
            target_pid = int(line.rsplit("pid ", 1)[1].rstrip(")\n"))
        if line.startswith("[00:05]"):
            break
    assert target_pid is not None, "".join(lines)
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    time.sleep(0.5)
    target_ended = not psutil.pid_exists(target_pid) or psutil.Process(target_pid).status() == psutil.STATUS_ZOMBIE
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    return process.returncode, "".join(lines), rest, target_ended, alive


@pytest.mark.side_by_side(act=lambda _, out: _sigint_mid_run(out), target=None)
def test_sigint_mid_run_keeps_the_reports_and_stops_the_target(ran: Ran) -> None:
    _, tmp_path, (code, lines, rest, target_ended, alive) = ran
    assert code == 130, lines + rest
    summary = load_summary(tmp_path)
    assert summary["partial"] is True and summary["total"]["requests"] > 0
    assert "PARTIAL" in rest and "Interrupted by SIGINT" in rest
    run_dir = next(tmp_path.glob("smoke/*"))
    assert any(p.name.startswith("locust_builtin_") for p in run_dir.iterdir())  # Locust's HTML too
    assert target_ended
    assert alive == [], alive


@pytest.mark.side_by_side(act=_locustfile_alone, seconds=6)
def test_locustfile_runs_alone_with_locust(ran: Ran) -> None:
    target, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    assert summary["total"]["requests"] > 5 and summary["total"]["failures"] == 0
    assert harness_counts(summary) == served(target.http_url, "http")
    assert "Result: PASSED" in result.stdout


@pytest.mark.side_by_side(act=_hopeless, target=("--error-rate", "1.0"), seconds=6)
def test_a_hopeless_run_is_aborted_early_with_every_report(ran: Ran) -> None:
    _, tmp_path, (result, seconds) = ran
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert seconds < 30
    summary = load_summary(tmp_path / "out")
    assert summary["aborted"].startswith("error rate 100.0% > 50% after") and summary["partial"] is True
    assert summary["duration_s"] < 15
    assert any(v["metric"] == "abort" and not v["passed"] for v in summary["thresholds"]["verdicts"])
    run_dir = next((tmp_path / "out").glob("smoke/*"))
    assert (run_dir / "analysis" / "latency_over_time.png").exists()
    assert "Aborted: error rate" in next(run_dir.glob("locust_report_*.html")).read_text()
