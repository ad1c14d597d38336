"""The API key from the environment reaches every protocol, and never a file the run writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetProcess
from tests.conftest import load_summary, run_cli

pytestmark = pytest.mark.slow
KEY = "sk-test-4f1c9a7e2b"


def _run(target_http: str, grpc_target: str, out: Path, env: dict[str, str]) -> tuple[int, dict, str]:
    types = "rest,websocket,socketio,grpc"
    result = run_cli("--host", target_http, "--grpc-target", grpc_target, "--test-type", types, "--users", "8",
                     "--spawn-rate", "8", "--duration", "5s", "--output-dir", str(out), env=env)  # fmt: skip
    return result.returncode, load_summary(out), result.stdout + result.stderr


def test_the_key_is_sent_on_every_protocol_and_never_written(tmp_path: Path) -> None:
    with TargetProcess(api_key=KEY) as target:
        code, summary, output = _run(target.http_url, target.grpc_target, tmp_path / "with", {"LOADTEST_API_KEY": KEY})
        assert code == 0, summary["total"]["failures_by_type"]
        assert set(summary["protocols"]) == {"http", "websocket", "socketio", "grpc"}
        assert summary["total"]["failures"] == 0
        assert KEY not in output
        for path in (tmp_path / "with").rglob("*"):
            if path.is_file():
                assert KEY not in path.read_text(errors="replace"), path

        code, summary, _ = _run(target.http_url, target.grpc_target, tmp_path / "without", {"LOADTEST_API_KEY": ""})
    assert code == 1
    rows = {(r["request_type"], r["name"]): r for r in summary["endpoints"]}
    kinds = {k for r in summary["endpoints"] for k in r["failures_by_type"]}
    assert {"HTTP 401", "UNAUTHENTICATED", "connect failed: unauthorized: missing or invalid API key"} <= kinds
    refused = rows[("WS connection", "/ws/chat")]
    # Refused once per WebSocket user, not a reconnect storm.
    assert refused["failures_by_type"] == {"refused: close 4401 unauthorized": refused["requests"]}
    assert refused["requests"] == rows[("WS connect", "/ws/chat")]["requests"] <= 8
    guarded = [r for r in summary["endpoints"] if r["protocol"] in ("http", "grpc") and "ealth" not in r["name"]]
    assert guarded and all(r["failures"] == r["requests"] for r in guarded)  # health checks stay open for probes
