"""The target's /ws/chat protocol through websocket-client."""

from __future__ import annotations

import json

import pytest
import websocket

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import metric, served

pytestmark = pytest.mark.beside_the_lane  # counts and contents only: run beside the lane (tests/conftest.py)


def _recv(ws: websocket.WebSocket) -> dict:
    return json.loads(ws.recv())


def test_ping_echo_chat_and_push(target: TargetInfo) -> None:
    ws = websocket.create_connection(target.ws_url, timeout=5)
    try:
        ws.send(json.dumps({"type": "ping", "id": 1}))
        assert _recv(ws) == {"type": "pong", "id": 1}
        ws.send(json.dumps({"type": "echo", "id": "e", "payload": {"a": [1, 2]}}))
        assert _recv(ws) == {"type": "echo", "id": "e", "payload": {"a": [1, 2]}}
        ws.send(json.dumps({"type": "chat", "id": 7, "message": "hi", "max_tokens": 4}))
        replies = [_recv(ws) for _ in range(5)]
        assert [r["type"] for r in replies] == ["token"] * 4 + ["done"]
        assert {r["id"] for r in replies} == {7} and replies[-1]["tokens"] == 4
        ws.send(json.dumps({"type": "subscribe", "id": 9, "count": 2}))
        assert [_recv(ws)["type"] for _ in range(3)] == ["subscribed", "notification", "notification"]
        assert metric(target.http_url, "target_connections_open", protocol="websocket") == 1
    finally:
        ws.close()
    assert served(target.http_url, "websocket") == {"ping": 1, "echo": 1, "chat": 1, "subscribe": 1}
    assert metric(target.http_url, "target_stream_messages_total", protocol="websocket", endpoint="chat") == 4


def test_malformed_json_gets_an_error_and_keeps_the_connection(target: TargetInfo) -> None:
    ws = websocket.create_connection(target.ws_url, timeout=5)
    try:
        ws.send("{not json")
        error = _recv(ws)
        assert error["type"] == "error" and error["code"] == 400
        ws.send(json.dumps({"type": "nope", "id": 3}))
        assert _recv(ws)["error"] == "unknown type 'nope'"
        ws.send(json.dumps({"type": "ping", "id": 2}))
        assert _recv(ws) == {"type": "pong", "id": 2}
    finally:
        ws.close()
