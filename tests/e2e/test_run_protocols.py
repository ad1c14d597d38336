"""End to end: the WebSocket, Socket.IO and gRPC users against a real target, healthy and broken."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import (
    REPO_ROOT,
    SENT_TYPES,
    Ran,
    assert_rates_over_the_traffic_window,
    failures_by_type,
    load_summary,
    metric,
    run_cli,
    sent,
    served,
)

pytestmark = pytest.mark.slow

# Rows that are one message sent to the target each (connects, pushes, pings and facets are not).
STREAMS = {
    "websocket": [("WS stream", "chat", "chat")],
    "socketio": [("SIO stream", "chat", "chat")],
    "grpc": [("gRPC server-stream", "Inference/Generate", "Inference/Generate"),
             ("gRPC server-stream", "TextToSpeech/Synthesize", "TextToSpeech/Synthesize"),
             ("gRPC bidi-stream", "SpeechToText/StreamingRecognize", "SpeechToText/StreamingRecognize")],
}  # fmt: skip
FIRST = {"websocket": "WS first message", "socketio": "SIO first event", "grpc": "gRPC first message"}


def _run(target: TargetInfo, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--host", target.http_url, "--grpc-target", target.grpc_target, "--output-dir", str(out), *args)


def _locust(out: Path, locustfile: str, host: str, duration: str) -> subprocess.CompletedProcess[str]:
    """``locust -f`` alone, as a user runs it from the folder ``out``."""
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "load_tests/locust" / locustfile), "--headless",
         "-u", "4", "-r", "4", "-t", duration, "--stop-timeout", "5", "--host", host],
        cwd=out, capture_output=True, text=True, timeout=120, env={**os.environ, "LOADTEST_OUTPUT_DIR": "out"},
    )  # fmt: skip


def _healthy(target: TargetInfo, out: Path, protocol: str) -> subprocess.CompletedProcess[str]:
    # gRPC's upload and bidi tasks have weight 1 of 13: 8 users missed one in about 1 run of 20 (seen once);
    # 16 users run about twice the tasks, so all four call kinds show up
    users = "16" if protocol == "grpc" else "8"
    return _run(target, out, "--test-type", protocol, "--users", users, "--spawn-rate", users, "--duration", "7s")


def _error_rate_one(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    return _run(target, out, "--test-type", "websocket,socketio,grpc", "--users", "6", "--spawn-rate", "6",
                "--duration", "5s", "--exclude-tags", "notify", "typing", "protocol_ping", "health")  # fmt: skip


def _beyond_the_client_timeout(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    config = out / "cfg.yaml"
    config.write_text(
        "services:\n  rest: {timeout_s: 0.3s}\n  websocket: {timeout_s: 0.3s}\n  socketio: {timeout_s: 0.3s}\n"
        "  grpc: {timeout_s: 0.3s}\n"
    )
    return _run(target, out / "out", "--config", str(config), "--test-type", "all",
                "--users", "6", "--spawn-rate", "6", "--duration", "6s",
                "--tags", "ping", "chat", "predict", "generate")  # fmt: skip


def _dropping(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    return _run(target, out, "--test-type", "websocket,socketio", "--scenario", "stress", "--users", "6",
                "--spawn-rate", "6", "--duration", "6s", "--tags", "ping", "echo")  # fmt: skip


def _fifty_grpc_users(target: TargetInfo, out: Path) -> tuple[subprocess.CompletedProcess[str], datetime]:
    result = _run(target, out, "--test-type", "grpc", "--users", "50", "--spawn-rate", "50", "--duration", "30s")
    return result, datetime.now().astimezone()  # when it exited


def _locustfile_alone(target: TargetInfo, out: Path, locustfile: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = _locust(out, locustfile, f"grpc://{target.grpc_target}" if "grpc" in locustfile else target.http_url, "4s")
    return result, time.monotonic() - start


def _mixed_user(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    return _locust(out, "gateway_mixed.py", target.http_url, "5s")


def _services_in_yaml(target: TargetInfo, out: Path) -> subprocess.CompletedProcess[str]:
    example = REPO_ROOT / "load_tests/config/scripted_example.yaml"
    return _run(target, out, "--test-type", "scripted", "--config", str(example), "--users", "12",
                "--spawn-rate", "12", "--duration", "7s")  # fmt: skip


@pytest.mark.parametrize("protocol", ["websocket", "socketio", "grpc"])
@pytest.mark.side_by_side(act=_healthy)
def test_healthy_run_counts_match_the_target_and_streams_are_timed(ran: Ran, protocol: str) -> None:
    target, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path)
    assert summary["total"]["failures"] == 0 and summary["total"]["requests"] >= 20
    assert list(summary["protocols"]) == [protocol]
    harness, served_counts = sent(summary, protocol), served(target.http_url, protocol)
    assert harness == served_counts, (harness, served_counts)
    assert_rates_over_the_traffic_window(summary, target.http_url)
    rows = {(r["request_type"], r["name"]): r for r in summary["endpoints"]}
    for request_type, name, endpoint in STREAMS[protocol]:
        row = rows.get((request_type, name))
        if row is None:
            continue  # a rare stream may not have run in 7 s; Generate and chat (weight 3) always do
        first = rows[(FIRST[protocol], name)]
        assert first["requests"] == row["requests"]
        assert first["p50_ms"] < row["p50_ms"] <= row["max_ms"]
        streamed = metric(target.http_url, "target_stream_messages_total", protocol=protocol, endpoint=endpoint)
        assert row["stream"]["messages"] == streamed > 0
        assert row["stream"]["gap_p50_ms"] is not None and row["stream"]["gap_p50_ms"] < row["p50_ms"]
    chat = rows[(STREAMS[protocol][0][0], STREAMS[protocol][0][1])]
    llm = chat["llm"]  # the bundled chat users count tokens: 16 per reply, by the count each message carries
    assert llm["requests"] == chat["requests"] and llm["output_tokens"] == 16 * chat["requests"]
    assert llm["count_source"] == "field" and 0 < llm["ttft_ms"]["p50"] < llm["e2e_ms"]["p50"]
    assert llm["itl_ms"]["p50"] is not None and llm["tpot_ms"]["p50"] is not None
    if protocol == "websocket":
        assert rows[("WS connect", "/ws/chat")]["requests"] == 8
        notify = rows.get(("WS send", "notify"))  # weight 1 of 11: absent from about 1 run in 15 of 7 s
        assert notify is None or notify["avg_ms"] is None  # fire-and-forget: counted, never timed
    if protocol == "socketio":
        assert {"SIO connect websocket /", "SIO connect polling /"} <= {f"{t} {n}" for t, n in rows}
    if protocol == "grpc":
        kinds = {t for t, _ in rows}
        assert {"gRPC unary", "gRPC server-stream", "gRPC client-stream", "gRPC bidi-stream"} <= kinds


@pytest.mark.side_by_side(act=_error_rate_one, target=("--error-rate", "1.0"))
def test_error_rate_one_fails_every_protocol_by_type(ran: Ran) -> None:
    _, tmp_path, result = ran
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path)
    for protocol, kind in (("websocket", "error 500"), ("socketio", "error 500"), ("grpc", "UNAVAILABLE")):
        row = summary["protocols"][protocol]  # requests only: the connects, which succeed, are not in it
        connects = sum(
            r["requests"] for r in summary["endpoints"] if r["protocol"] == protocol and "connect" in r["request_type"]
        )
        assert row["failures"] == row["requests"] > 0 and (connects > 0) == (protocol != "grpc"), protocol
        assert set(failures_by_type(summary, protocol)) == {kind}, protocol


@pytest.mark.side_by_side(act=_beyond_the_client_timeout, target=("--extra-delay-ms", "700"))
def test_delay_beyond_the_client_timeout_is_a_timeout_failure(ran: Ran) -> None:
    _, tmp_path, result = ran
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    assert set(failures_by_type(summary, "http")) == {"timeout"}, failures_by_type(summary, "http")
    assert set(failures_by_type(summary, "websocket")) == {"timeout"}
    assert set(failures_by_type(summary, "socketio")) == {"timeout"}
    assert set(failures_by_type(summary, "grpc")) == {"DEADLINE_EXCEEDED"}


@pytest.mark.side_by_side(act=_dropping, target=("--drop-rate", "0.2", "--seed", "5"), weight=2)
def test_dropped_connections_are_failures_and_users_reconnect(ran: Ran) -> None:
    target, tmp_path, result = ran
    dropped_ws = metric(target.http_url, "target_connections_dropped_total", protocol="websocket")
    dropped_sio = metric(target.http_url, "target_connections_dropped_total", protocol="socketio")
    assert result.returncode == 1
    summary = load_summary(tmp_path)
    rows = {(r["request_type"], r["name"]): r for r in summary["endpoints"]}
    ws_drops = rows[("WS connection", "/ws/chat")]
    assert ws_drops["failures_by_type"] == {"connection dropped": ws_drops["requests"]}
    # A drop that lands while a user is already closing at the end of the run is not a failure of the
    # run: at most one per user (6) can go unreported.
    assert dropped_ws - 6 <= ws_drops["requests"] <= dropped_ws and ws_drops["requests"] > 0
    assert rows[("WS reconnect", "/ws/chat")]["requests"] >= ws_drops["requests"] - 6  # the last may still be down
    sio_drops = rows[("SIO connection", "websocket /")]
    assert dropped_sio - 6 <= sio_drops["requests"] <= dropped_sio and sio_drops["requests"] > 0
    assert rows[("SIO reconnect", "websocket /")]["requests"] >= sio_drops["requests"] - 6


@pytest.mark.side_by_side(act=_fifty_grpc_users, seconds=35)
def test_fifty_grpc_users_for_thirty_seconds_do_not_hang(ran: Ran) -> None:
    _, tmp_path, (result, exited) = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path)
    assert summary["total"]["failures"] == 0
    kinds = {r["request_type"]: r["requests"] for r in summary["endpoints"]}
    assert all(kinds.get(k, 0) > 10 for k in SENT_TYPES["grpc"]), kinds
    assert summary["total"]["requests"] >= 600  # 50 users waiting 0.5-2 s: about 1,200 in 30 s, never flat
    per_second = [p["rps"] for p in summary["timeline"] if 5 <= p["t_s"] <= 28]
    assert min(per_second) > 0.3 * max(per_second), per_second  # no stall mid-run
    assert 29 <= summary["duration_s"] <= 36
    # A gRPC channel that held the process up would show between the last report written and the exit.
    # (From ended_at, writing the reports alone took over 10 s once on a loaded machine.)
    last_write = max(f.stat().st_mtime for f in tmp_path.rglob("*") if f.is_file())
    assert 0 <= exited.timestamp() - last_write <= 5
    assert (exited - datetime.fromisoformat(summary["ended_at"])).total_seconds() <= 30


@pytest.mark.parametrize(
    "locustfile", ["gateway_websocket.py", "gateway_socketio.py", "grpc_services.py", "llm_openai.py"]
)
@pytest.mark.side_by_side(act=_locustfile_alone, seconds=6)
def test_each_locustfile_runs_alone(ran: Ran, locustfile: str) -> None:
    _, tmp_path, (result, seconds) = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    assert summary["total"]["requests"] > 5 and summary["total"]["failures"] == 0
    assert summary["duration_s"] >= 3.7  # -t 4s: the locustfile's import time is not taken off the run
    assert seconds < 20  # stopping users (closing sessions) does not hang


@pytest.mark.side_by_side(act=_services_in_yaml)
def test_services_described_in_yaml_alone(ran: Ran) -> None:
    target, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path)
    assert summary["total"]["failures"] == 0
    entries = {"predict": "Inference/Predict", "generate": "Inference/Generate"}  # gRPC rows: the entry's name
    for protocol in ("websocket", "socketio", "grpc"):
        target_counts = served(target.http_url, protocol)
        target_counts.pop("ServerReflection/ServerReflectionInfo", None)  # the harness looking up Generate
        counts = {entries.get(name, name) if protocol == "grpc" else name: n
                  for name, n in sent(summary, protocol).items()}  # fmt: skip
        assert counts == target_counts, protocol
    rows = {(r["request_type"], r["name"]): r for r in summary["endpoints"]}
    assert rows[("WS stream", "chat")]["stream"]["messages"] == 8 * rows[("WS stream", "chat")]["requests"]
    assert rows[("SIO stream", "chat")]["stream"]["messages"] == 8 * rows[("SIO stream", "chat")]["requests"]
    assert rows[("gRPC unary", "predict")]["requests"] > 0  # from the .proto, compiled at run time
    assert rows[("gRPC server-stream", "generate")]["stream"]["messages"] > 0  # from reflection


def _no_real_method(_: None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    proto = REPO_ROOT / "load_tests/protos/inference.proto"
    config = tmp_path / "cfg.yaml"
    entry = f"{{name: x, proto: {proto}, service: loadtests.inference.v1.Inference, method: Nope}}"
    config.write_text(f"scripted:\n  grpc:\n    - {entry}\n")
    return run_cli("--test-type", "scripted", "--config", str(config), "--dry-run")


@pytest.mark.side_by_side(act=_no_real_method, target=None, seconds=1)
def test_a_scripted_grpc_entry_that_names_no_real_method_exits_2(ran: Ran) -> None:
    _, _, result = ran
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: scripted.grpc 'x': loadtests.inference.v1.Inference has no method 'Nope' "
        "(it has Generate, Predict, Upload)"
    )


@pytest.mark.side_by_side(act=_mixed_user, seconds=6)
def test_mixed_user_speaks_http_and_socketio(ran: Ran) -> None:
    _, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    assert set(summary["protocols"]) == {"http", "socketio"} and summary["total"]["failures"] == 0
    assert summary["protocols"]["socketio"]["requests"] > 0 and summary["protocols"]["http"]["requests"] > 0
