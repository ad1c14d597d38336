"""The API key from the environment reaches every protocol, and never a file the run writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetProcess
from tests.conftest import Ran, load_summary, run_cli

pytestmark = pytest.mark.slow
KEY = "sk-test-4f1c9a7e2b"


def _run(target_http: str, grpc_target: str, out: Path, env: dict[str, str], *args: str) -> tuple[int, dict, str]:
    types = "rest,websocket,socketio,grpc,llm"
    result = run_cli("--host", target_http, "--grpc-target", grpc_target, "--test-type", types, "--users", "8",
                     "--spawn-rate", "8", "--duration", "5s", "--output-dir", str(out), *args, env=env)  # fmt: skip
    return result.returncode, load_summary(out), result.stdout + result.stderr


def _with_and_without_the_key(out: Path) -> tuple[tuple[int, dict, str], tuple[int, dict, str]]:
    # Refused WebSocket and Socket.IO users wait out a 10 s reply timeout at the end, which nothing here
    # checks, so the run without the key stops its users after 2 s (with the default config's thresholds).
    config = out / "refused.yaml"
    config.write_text("run: {stop_timeout: 2s}\nthresholds: {p95_ms: 2000, error_rate_pct: 1.0}\n")
    with TargetProcess(api_key=KEY) as target:
        with_key = _run(target.http_url, target.grpc_target, out / "with", {"LOADTEST_API_KEY": KEY})
        without_key = _run(target.http_url, target.grpc_target, out / "without", {"LOADTEST_API_KEY": ""},
                           "--config", str(config))  # fmt: skip
    return with_key, without_key


@pytest.mark.side_by_side(act=lambda _, out: _with_and_without_the_key(out), target=None, seconds=20)
def test_the_key_is_sent_on_every_protocol_and_never_written(ran: Ran) -> None:
    _, tmp_path, (with_key, without_key) = ran
    code, summary, output = with_key
    assert code == 0, summary["total"]["failures_by_type"]
    assert set(summary["protocols"]) == {"http", "websocket", "socketio", "grpc"}
    assert summary["total"]["failures"] == 0
    assert sum(r["requests"] for r in summary["endpoints"] if r["request_type"] == "LLM stream") > 0
    assert KEY not in output
    for path in (tmp_path / "with").rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path

    code, summary, _ = without_key
    assert code == 1
    rows = {(r["request_type"], r["name"]): r for r in summary["endpoints"]}
    kinds = {k for r in summary["endpoints"] for k in r["failures_by_type"]}
    llm = [r for r in summary["endpoints"] if r["request_type"] == "LLM stream"]
    assert llm and all(r["failures_by_type"] == {"HTTP 401": r["requests"]} for r in llm)
    assert {"HTTP 401", "UNAUTHENTICATED", "connect failed: unauthorized: missing or invalid API key"} <= kinds
    refused = rows[("WS connection", "/ws/chat")]
    # Refused once per WebSocket user, not a reconnect storm.
    assert refused["failures_by_type"] == {"refused: close 4401 unauthorized": refused["requests"]}
    assert refused["requests"] == rows[("WS connect", "/ws/chat")]["requests"] <= 8
    guarded = [r for r in summary["endpoints"] if r["protocol"] in ("http", "grpc") and "ealth" not in r["name"]]
    assert guarded and all(r["failures"] == r["requests"] for r in guarded)  # health checks stay open for probes
