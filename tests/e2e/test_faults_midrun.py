"""Faults in the middle of a run, on all four protocols at once: the run reaches its planned end,
counts every failure by type, reconnects once the target is back, writes every report and exits 1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo, TargetProcess
from tests.conftest import (
    REPO_ROOT,
    Ran,
    assert_reports,
    failures_by_type,
    load_summary,
    run_cli,
    scrape,
    served,
)

pytestmark = pytest.mark.slow

PROTOCOLS = ("http", "websocket", "socketio", "grpc")


def _rows(summary: dict, protocol: str, request_type: str) -> list[dict]:
    return [r for r in summary["endpoints"] if r["protocol"] == protocol and r["request_type"] == request_type]


def _kill_and_restart(out: Path) -> tuple[int | None, str, dict[str, dict[str, float]]]:
    """A run whose target is killed 4 s in and restarted on the same ports 3 s later; returns the run's exit
    code and output, and what the new target served per protocol."""
    first = TargetProcess("--seed", "3")
    target = first.start()
    run = subprocess.Popen(
        [sys.executable, "run_load_tests.py", "--host", target.http_url, "--grpc-target", target.grpc_target,
         "--test-type", "all", "--users", "12", "--spawn-rate", "12", "--duration", "16s",
         "--output-dir", str(out)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    second = TargetProcess("--http-port", str(target.http_port), "--grpc-port", str(target.grpc_port), "--seed", "4")
    try:
        assert run.stdout is not None
        for line in run.stdout:
            if "All users spawned" in line:
                break
        time.sleep(4)
        first.process.kill()  # type: ignore[union-attr]  # SIGKILL: no goodbye to any client
        first.stop()
        time.sleep(3)
        back = second.start()  # the same ports: clients must find it again by themselves
        rest, _ = run.communicate(timeout=120)
        after = {protocol: served(back.http_url, protocol) for protocol in PROTOCOLS}
    finally:
        run.kill()
        first.stop()
        second.stop()
    return run.returncode, rest, after


@pytest.mark.side_by_side(act=lambda _, out: _kill_and_restart(out), target=None, seconds=23)
def test_target_killed_then_restarted_on_the_same_ports(ran: Ran) -> None:
    _, tmp_path, (returncode, rest, after) = ran
    assert returncode == 1, rest[-3000:]
    summary = load_summary(tmp_path)
    assert summary["partial"] is False and summary["timeline"][-1]["t_s"] >= 14
    assert summary["thresholds"]["passed"] is False
    # While it was down: refused HTTP connections, unavailable gRPC channels, dropped sockets.
    assert failures_by_type(summary, "http").get("ConnectionRefusedError", 0) > 0
    assert failures_by_type(summary, "grpc").get("UNAVAILABLE", 0) > 0
    for protocol, connection, reconnect in (("websocket", "WS connection", "WS reconnect"),
                                            ("socketio", "SIO connection", "SIO reconnect")):  # fmt: skip
        dropped = sum(r["failures_by_type"].get("connection dropped", 0) for r in _rows(summary, protocol, connection))
        reconnected = sum(r["requests"] for r in _rows(summary, protocol, reconnect))
        assert dropped > 0 and reconnected == dropped, (protocol, dropped, reconnected)
    # Once it was back, every protocol worked again against the new process: it served messages,
    # not only connections.
    for protocol in PROTOCOLS:
        assert sum(after[protocol].values()) >= 3, (protocol, after)
    assert after["websocket"].get("ping", 0) + after["websocket"].get("chat", 0) > 0
    assert (
        after["socketio"].get("ping", 0) + after["socketio"].get("load_file", 0) + after["socketio"].get("chat", 0) > 0
    )
    assert_reports(tmp_path)


def _malformed_and_reset(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    config = out / "cfg.yaml"
    config.write_text("services:\n" + "".join(f"  {s}: {{timeout_s: 1s}}\n" for s in ("rest", "websocket", "socketio",
                                                                                       "grpc")))  # fmt: skip
    # POST-only REST tasks: a client may retry an idempotent GET after a reset (RFC 9110), which
    # would hide the reset from the count. Stress users barely wait, so every protocol makes hundreds
    # of calls and draws its faults (with 8 s of thinking users, gRPC once drew none).
    return run_cli("--host", target.http_url, "--grpc-target", target.grpc_target, "--config", str(config),
                   "--output-dir", str(out / "out"), "--test-type", "all", "--scenario", "stress",
                   "--users", "12", "--spawn-rate", "12", "--duration", "8s",
                   "--tags", "predict", "evaluate", "ping", "echo", "chat", "load_file", "generate",
                   "stt")  # fmt: skip


def _unreachable(out: Path) -> tuple[str, subprocess.CompletedProcess[str]]:
    with socket.socket() as sock:  # bound, never listening: connections are refused, and no other process
        sock.bind(("127.0.0.1", 0))  # of the lane can take the port meanwhile (a closed one, it once did)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return url, run_cli("--host", url, "--test-type", "rest", "--output-dir", str(out))


@pytest.mark.side_by_side(act=_malformed_and_reset, weight=2, seconds=13,
                          target=("--malformed-rate", "0.1", "--reset-rate", "0.05", "--seed", "3"))  # fmt: skip
def test_malformed_replies_and_resets_are_failures_by_type(ran: Ran) -> None:
    target, tmp_path, result = ran
    faults = {
        (dict(labels)["protocol"], dict(labels)["kind"]): value
        for (name, labels), value in scrape(target.http_url).items()
        if name == "target_wire_faults_total"
    }
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    assert summary["partial"] is False
    users = 12  # a fault that lands while a user closes at the very end is not a failure of the run

    def between(counted: float, seen: int) -> bool:
        return counted - users <= seen <= counted

    http = failures_by_type(summary, "http")
    assert http.get("invalid JSON", 0) == faults.get(("http", "malformed"), 0) > 0, (http, faults)
    resets = sum(n for kind, n in http.items() if "Reset" in kind or "Closed" in kind)
    assert between(faults.get(("http", "reset"), 0), resets), (http, faults)
    ws = failures_by_type(summary, "websocket")
    assert between(faults.get(("websocket", "malformed"), 0), ws.get("malformed reply", 0)) and ws["malformed reply"]
    sio = failures_by_type(summary, "socketio")
    assert between(faults.get(("socketio", "malformed"), 0), sio.get("malformed reply", 0)), (sio, faults)
    grpc_failures = failures_by_type(summary, "grpc")
    assert grpc_failures.get("INTERNAL", 0) == faults.get(("grpc", "malformed"), 0) > 0, (grpc_failures, faults)
    ws_resets = faults.get(("websocket", "reset"), 0)
    ws_dropped = sum(r["failures_by_type"].get("connection dropped", 0) for r in _rows(summary, "websocket",
                                                                                          "WS connection"))  # fmt: skip
    assert between(ws_resets, ws_dropped), (ws_resets, ws_dropped)
    assert_reports(tmp_path / "out")


@pytest.mark.side_by_side(act=lambda _, out: _unreachable(out), target=None, seconds=6)
def test_a_target_unreachable_at_the_start_is_one_line_and_exit_2(ran: Ran) -> None:
    _, tmp_path, (url, result) = ran
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: target not reachable at {url}"), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []  # no run, no report folder
