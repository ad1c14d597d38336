"""End to end: WebSocket, Socket.IO and gRPC services described in the YAML's ``fleet:``, against a real target.

One run drives every kind of operation the three protocols have (replies by id and by order,
fire-and-forget, streams, acks, the four gRPC call kinds, methods from a .proto and from reflection),
and the target's own counters confirm that every call was reported once, under the operation's name.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import REPO_ROOT, SENT_TYPES, Ran, load_summary, metric, run_cli, served

pytestmark = pytest.mark.slow

CHUNK = base64.b64encode(bytes(64)).decode()  # silence: 32 samples of PCM16
WRONG = 'check failed: $.payload == "goodbye" (got "hello")'
# row name -> the target's endpoint, per protocol (two rows may land on one endpoint)
ENDPOINTS = {
    "websocket": {"ws-ping": "ping", "ws-next": "ping", "ws-chat": "chat", "ws-notify": "notify", "ws-echo": "echo"},
    "socketio": {"sio-ping": "ping", "sio-chat": "chat", "sio-typing": "typing"},
    "grpc": {"predict": "Inference/Predict", "generate": "Inference/Generate", "upload": "Inference/Upload",
             "recognize": "SpeechToText/StreamingRecognize"},
}  # fmt: skip
ROWS = {
    ("WS reply", "ws-ping"), ("WS reply", "ws-next"), ("WS stream", "ws-chat"), ("WS send", "ws-notify"),
    ("WS reply", "ws-echo"), ("SIO ack", "sio-ping"), ("SIO stream", "sio-chat"), ("SIO send", "sio-typing"),
    ("gRPC unary", "predict"), ("gRPC server-stream", "generate"), ("gRPC client-stream", "upload"),
    ("gRPC bidi-stream", "recognize"),
}  # fmt: skip
# stream row -> (messages per call, the facet row's type or None, the target's endpoint that counts them)
STREAMS = {
    "ws-chat": (8, "WS first message", ("websocket", "chat")),
    "sio-chat": (8, "SIO first event", ("socketio", "chat")),
    "generate": (8, "gRPC first message", ("grpc", "Inference/Generate")),
    "recognize": (4, "gRPC first message", ("grpc", "SpeechToText/StreamingRecognize")),
    "upload": (3, None, None),  # client-streaming: the messages it sent
}


def _fleet(target: TargetInfo) -> dict:
    think = [0.05, 0.15]
    chunks = [{"pcm16": CHUNK, "sample_rate": 16000}] * 3
    return {
        "websocket-chat": {"protocol": "websocket", "url": target.ws_url, "think_time": think, "operations": [
            {"name": "ws-ping", "send": {"type": "ping"},
             "checks": [{"json": "$.type", "equals": "pong"}, {"json": "$.id", "equals": "{{ id }}"}]},
            {"name": "ws-next", "send": {"type": "ping"}, "reply": "next",
             "checks": [{"json": "$.type", "equals": "pong"}]},
            {"name": "ws-chat", "send": {"type": "chat", "message": "hello", "max_tokens": 8},
             "stream_end": {"json": "$.type", "equals": "done"},
             "checks": [{"messages": 8}, {"final": "$.type", "equals": "token"}]},
            {"name": "ws-notify", "send": {"type": "notify"}, "reply": "none"},
            {"name": "ws-echo", "send": {"type": "echo", "payload": "hello"},
             "checks": [{"json": "$.payload", "equals": "goodbye"}]},  # deliberately wrong
        ]},
        "socketio-chat": {"protocol": "socketio", "url": target.http_url, "think_time": think, "operations": [
            {"name": "sio-ping", "emit": "ping", "payload": {"id": "{{ id }}"},
             "checks": [{"json": "$.pong", "equals": True}, {"json": "$.id", "equals": "{{ id }}"}]},
            {"name": "sio-chat", "emit": "chat", "payload": {"message": "hi", "max_tokens": 8}, "stream_event": "token",
             "end_event": "done", "checks": [{"messages": 8}, {"json": "$.token", "matches": "^[a-z]+$"}]},
            {"name": "sio-typing", "emit": "typing", "ack": False},
        ]},
        "inference": {"protocol": "grpc", "target": target.grpc_target, "think_time": think,
                      "proto": str(REPO_ROOT / "load_tests/protos/inference.proto"), "operations": [
            {"name": "predict", "call": "loadtests.inference.v1.Inference/Predict",
             "request": {"features": [70, 5, 5, 55], "request_id": "{{ id }}"},
             "checks": [{"json": "$.label", "in": ["normal", "warning", "abnormal"]},
                        {"json": "$.request_id", "equals": "{{ id }}"}]},
            {"name": "generate", "call": "loadtests.inference.v1.Inference/Generate",
             "request": {"prompt": "hello", "max_tokens": 8}, "metadata": {"x-trace": "{{ id }}"},
             "checks": [{"status": "OK"}, {"messages": 8}, {"final": "$.last", "equals": True}]},
            {"name": "upload", "call": "loadtests.inference.v1.Inference/Upload",
             "messages": [{"name": "batch.bin", "data": CHUNK}] * 3,
             "checks": [{"json": "$.chunks", "equals": 3}, {"json": "$.total_bytes", "equals": 192}]},
        ]},
        "speech": {"protocol": "grpc", "target": target.grpc_target, "reflection": True, "think_time": think,
                   "operations": [
            {"name": "recognize", "call": "loadtests.stt.v1.SpeechToText/StreamingRecognize", "messages": chunks,
             "checks": [{"messages": 4}, {"final": "$.is_final", "equals": True},
                        {"final": "$.transcript", "matches": "^silence"}]},
        ]},
    }  # fmt: skip


def _every_protocol(target: TargetInfo, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "fleet.yaml"
    config.write_text(json.dumps({"thresholds": {"error_rate_pct": 100}, "fleet": _fleet(target)}))  # JSON is YAML
    return run_cli("--config", str(config), "--test-type", "all", "--users", "6", "--spawn-rate", "6",
                   "--duration", "6s", "--output-dir", str(tmp_path / "out"))  # fmt: skip


@pytest.mark.side_by_side(act=_every_protocol)
def test_fleet_services_of_every_protocol_count_and_check_what_they_send(ran: Ran) -> None:
    target, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    rows = {(r["request_type"], r["name"]): r for r in summary["endpoints"]}
    requests = {key: r for key, r in rows.items() if any(key[0] in types for types in SENT_TYPES.values())}
    assert set(requests) == ROWS, sorted(requests)  # every operation ran, named by its name
    for protocol, endpoints in ENDPOINTS.items():
        sent: dict[str, int] = {}
        for (_, name), row in requests.items():
            if name in endpoints:
                sent[endpoints[name]] = sent.get(endpoints[name], 0) + row["requests"]
        counted = served(target.http_url, protocol)
        if protocol == "grpc":
            assert counted.pop("ServerReflection/ServerReflectionInfo") >= 1  # the harness asking for the method
        assert sent == counted, (protocol, sent, counted)
    by_name = {name: row for (_, name), row in requests.items()}
    for name, (per_call, facet, endpoint) in STREAMS.items():
        row = by_name[name]
        assert row["stream"]["messages"] == per_call * row["requests"], name
        if facet is not None:
            assert rows[(facet, name)]["requests"] == row["requests"], name
            assert metric(target.http_url, "target_stream_messages_total", protocol=endpoint[0],
                          endpoint=endpoint[1]) == row["stream"]["messages"]  # fmt: skip
    assert rows[("WS send", "ws-notify")]["avg_ms"] is None  # fire-and-forget: counted, never timed
    failing = {name: row["failures_by_type"] for (_, name), row in rows.items() if row["failures"]}
    assert failing == {"ws-echo": {WRONG: by_name["ws-echo"]["requests"]}}, failing
