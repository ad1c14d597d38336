"""The target's Socket.IO events through python-socketio's client."""

from __future__ import annotations

import threading

import pytest
import socketio

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import served

pytestmark = pytest.mark.beside_the_lane  # counts and contents only: run beside the lane (tests/conftest.py)


@pytest.mark.parametrize("namespace", ["/", "/chat"])
def test_ping_load_file_and_chat(target: TargetInfo, namespace: str) -> None:
    client = socketio.Client(reconnection=False)
    tokens: list[dict] = []
    done = threading.Event()
    client.on("token", lambda data: tokens.append(data), namespace=namespace)
    client.on("done", lambda data: done.set(), namespace=namespace)
    client.connect(target.http_url, namespaces=[namespace], transports=["websocket"], wait_timeout=5)
    try:
        assert client.call("ping", {"id": 5}, namespace=namespace, timeout=5) == {"id": 5, "pong": True}
        meta = client.call("load_file", {"name": "model.onnx", "size": 1024}, namespace=namespace, timeout=5)
        assert meta == {"name": "model.onnx", "size": 1024, "loaded": True, "format": "onnx"}
        ack = client.call("chat", {"id": "c1", "message": "hi", "max_tokens": 3}, namespace=namespace, timeout=5)
        assert ack == {"id": "c1", "accepted": True}
        assert done.wait(5)
        assert [t["index"] for t in tokens] == [0, 1, 2] and {t["id"] for t in tokens} == {"c1"}
    finally:
        client.disconnect()
    assert served(target.http_url, "socketio") == {"ping": 1, "load_file": 1, "chat": 1}


def test_polling_transport_connects(target: TargetInfo) -> None:
    client = socketio.Client(reconnection=False)
    client.connect(target.http_url, transports=["polling"], wait_timeout=5)
    try:
        assert client.transport() == "polling"
        assert client.call("ping", {"id": 1}, timeout=5)["pong"] is True
    finally:
        # A polite disconnect on long-polling waits for the pending poll, which python-engineio's
        # server releases only at its 25 s ping interval (our SocketIOClient.close aborts the same way).
        client.eio.disconnect(abort=True)
