"""The target's fault knobs and API key, on every protocol, through the real clients."""

from __future__ import annotations

import json
import time

import grpc
import pytest
import requests
import socketio
import websocket

from load_tests.protos import inference_pb2, inference_pb2_grpc
from load_tests.reference_service.launcher import TargetInfo, TargetProcess, set_faults
from tests.conftest import metric

ROW = [55.0, 2.0, 5.0, 70.0]


def _grpc_predict(target: TargetInfo, metadata: tuple = ()) -> grpc.StatusCode:
    with grpc.insecure_channel(target.grpc_target) as channel:
        stub = inference_pb2_grpc.InferenceStub(channel)
        try:
            stub.Predict(inference_pb2.PredictRequest(features=ROW), timeout=5, metadata=metadata)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.beside_the_lane
def test_error_rate_one_fails_every_protocol_with_its_own_error(target: TargetInfo) -> None:
    set_faults(target.http_url, error_rate=1.0)
    for _ in range(5):
        r = requests.post(f"{target.http_url}/predict", json={"features": ROW}, timeout=5)
        assert (r.status_code, r.json()) == (500, {"error": "injected fault"})

    ws = websocket.create_connection(target.ws_url, timeout=5)
    ws.send(json.dumps({"type": "ping", "id": 1}))
    assert json.loads(ws.recv()) == {"type": "error", "id": 1, "code": 500, "error": "injected fault"}
    ws.close()

    client = socketio.Client(reconnection=False)
    client.connect(target.http_url, transports=["websocket"], wait_timeout=5)
    assert client.call("ping", {"id": 1}, timeout=5) == {"error": "injected fault", "status": 500}
    client.disconnect()

    assert _grpc_predict(target) == grpc.StatusCode.UNAVAILABLE
    assert metric(target.http_url, "target_errors_total", protocol="http", endpoint="/predict", kind="injected") == 5


@pytest.mark.beside_the_lane
def test_extra_delay_is_seen_by_the_caller(target: TargetInfo) -> None:
    def timed_health() -> float:
        start = time.perf_counter()
        requests.get(f"{target.http_url}/health", timeout=5)
        return time.perf_counter() - start

    before = min(timed_health() for _ in range(3))
    set_faults(target.http_url, extra_delay_ms=100)
    after = min(timed_health() for _ in range(3))
    assert before < 0.05 and 0.1 <= after < 0.3


@pytest.mark.beside_the_lane
def test_faults_can_be_scoped_to_operations(target: TargetInfo) -> None:
    set_faults(target.http_url, error_rate=1.0, operations=["predict"])
    assert requests.get(f"{target.http_url}/health", timeout=5).status_code == 200
    assert requests.post(f"{target.http_url}/predict", json={"features": ROW}, timeout=5).status_code == 500


@pytest.mark.beside_the_lane
def test_admin_changes_behaviour_mid_connection(target: TargetInfo) -> None:
    ws = websocket.create_connection(target.ws_url, timeout=5)
    try:
        ws.send(json.dumps({"type": "ping", "id": 1}))
        assert json.loads(ws.recv())["type"] == "pong"
        set_faults(target.http_url, error_rate=1.0)
        ws.send(json.dumps({"type": "ping", "id": 2}))
        assert json.loads(ws.recv())["type"] == "error"
        set_faults(target.http_url, error_rate=0.0)
        ws.send(json.dumps({"type": "ping", "id": 3}))
        assert json.loads(ws.recv()) == {"type": "pong", "id": 3}
    finally:
        ws.close()


@pytest.mark.beside_the_lane
def test_drop_rate_closes_websocket_and_socketio_connections(target: TargetInfo) -> None:
    set_faults(target.http_url, drop_rate=1.0)
    ws = websocket.create_connection(target.ws_url, timeout=5)
    ws.send(json.dumps({"type": "ping", "id": 1}))
    opcode, frame = ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(frame.data[:2], "big") == 1011
    ws.close()

    client = socketio.Client(reconnection=False)
    client.connect(target.http_url, transports=["websocket"], wait_timeout=5)
    with pytest.raises(socketio.exceptions.TimeoutError):
        client.call("ping", {"id": 1}, timeout=2)
    deadline = time.monotonic() + 5
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.connected
    assert metric(target.http_url, "target_connections_dropped_total", protocol="websocket") == 1
    assert metric(target.http_url, "target_connections_dropped_total", protocol="socketio") == 1


@pytest.mark.beside_the_lane
def test_admin_rejects_bad_fault_values(target: TargetInfo) -> None:
    for body, words in (({"error_rate": 2}, "between 0 and 1"), ({"bogus": 1}, "unknown fault field"),
                        ({"operations": ["nope"]}, "operations must be")):  # fmt: skip
        r = requests.post(f"{target.http_url}/admin/faults", json=body, timeout=5)
        assert r.status_code == 400 and words in r.json()["error"]


@pytest.mark.beside_the_lane
def test_api_key_is_enforced_on_all_four_protocols() -> None:
    key = "s3cret-key"
    with TargetProcess(api_key=key) as target:
        url = target.http_url
        assert requests.post(f"{url}/predict", json={"features": ROW}, timeout=5).status_code == 401
        assert requests.post(f"{url}/predict", json={"features": ROW}, headers={"X-API-Key": key}, timeout=5).ok
        bearer = {"Authorization": f"Bearer {key}"}
        assert requests.post(f"{url}/predict", json={"features": ROW}, headers=bearer, timeout=5).ok
        assert requests.get(f"{url}/health", timeout=5).ok  # liveness stays open

        ws = websocket.create_connection(target.ws_url, timeout=5)
        assert json.loads(ws.recv())["code"] == 401
        opcode, frame = ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(frame.data[:2], "big") == 4401
        ws.close()
        ws = websocket.create_connection(target.ws_url, header=[f"X-API-Key: {key}"], timeout=5)
        ws.send(json.dumps({"type": "ping", "id": 1}))
        assert json.loads(ws.recv())["type"] == "pong"
        ws.close()

        refused = socketio.Client(reconnection=False)
        reasons: list = []
        refused.on("connect_error", reasons.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect(url, transports=["websocket"], wait_timeout=5)
        assert "unauthorized" in str(reasons)
        allowed = socketio.Client(reconnection=False)
        allowed.connect(url, transports=["websocket"], auth={"api_key": key}, wait_timeout=5)
        assert allowed.call("ping", {"id": 1}, timeout=5)["pong"] is True
        allowed.disconnect()

        assert _grpc_predict(target) == grpc.StatusCode.UNAUTHENTICATED
        assert _grpc_predict(target, metadata=(("x-api-key", key),)) == grpc.StatusCode.OK


@pytest.mark.beside_the_lane
def test_malformed_replies_on_every_protocol(target: TargetInfo) -> None:
    set_faults(target.http_url, malformed_rate=1.0)
    r = requests.post(f"{target.http_url}/predict", json={"features": ROW}, timeout=5)
    assert r.status_code == 200 and r.content.startswith(b'{"label":')
    assert int(r.headers["content-length"]) == len(r.content)
    with pytest.raises(ValueError):
        r.json()
    assert requests.get(f"{target.http_url}/metrics", timeout=5).ok  # scraping is never broken on purpose

    ws = websocket.create_connection(target.ws_url, timeout=5)
    ws.send(json.dumps({"type": "ping", "id": 1}))
    frame = ws.recv()
    assert frame == '{"type": "po'  # the pong cut in half
    ws.close()

    client = socketio.Client(reconnection=False)
    client.connect(target.http_url, transports=["websocket"], wait_timeout=5)
    ack = client.call("ping", {"id": 1}, timeout=5)
    client.disconnect()
    assert isinstance(ack, str)
    with pytest.raises(ValueError):
        json.loads(ack)

    with grpc.insecure_channel(target.grpc_target) as channel:
        stub = inference_pb2_grpc.InferenceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(inference_pb2.PredictRequest(features=ROW), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    counted = {p: metric(target.http_url, "target_wire_faults_total", protocol=p, kind="malformed")
               for p in ("http", "websocket", "socketio", "grpc")}  # fmt: skip
    assert counted == {"http": 1, "websocket": 1, "socketio": 1, "grpc": 1}


def test_resets_abort_http_requests_and_websockets(target: TargetInfo) -> None:
    set_faults(target.http_url, reset_rate=1.0, protocols=["http", "websocket"])
    with pytest.raises(requests.ConnectionError) as caught:
        requests.post(f"{target.http_url}/predict", json={"features": ROW}, timeout=5)
    assert "reset" in str(caught.value).lower()
    assert requests.get(f"{target.http_url}/metrics", timeout=5).ok

    ws = websocket.create_connection(target.ws_url, timeout=5)
    ws.send(json.dumps({"type": "ping", "id": 1}))
    with pytest.raises((ConnectionResetError, websocket.WebSocketConnectionClosedException)):
        ws.recv()
    ws.close()
    assert metric(target.http_url, "target_wire_faults_total", protocol="http", kind="reset") == 1
    assert metric(target.http_url, "target_wire_faults_total", protocol="websocket", kind="reset") == 1
