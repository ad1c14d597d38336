"""The WebSocket, Socket.IO and gRPC chat streams run on the reference LLM's clock and carry its stamps."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
import socketio
import websocket

from load_tests.protos import inference_pb2, inference_pb2_grpc
from load_tests.reference_service.launcher import TargetInfo, TargetProcess

PROMPT = "four words of prompt"


@pytest.fixture(scope="module")
def chat_target() -> Iterator[TargetInfo]:
    # the chat streams take their timing from these LLM knobs alone (no chat or llm service time on top)
    with TargetProcess(llm={"ttft_ms": 30, "token_ms": 5, "tokens_per_chunk": 2}) as info:
        yield info


def _record(info: TargetInfo, protocol: str) -> dict[str, Any]:
    (record,) = [
        r for r in requests.get(f"{info.http_url}/admin/llm/requests", timeout=5).json() if r["protocol"] == protocol
    ]
    return record


def _check(record: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    """5 tokens in chunks of 1, 2, 2 at TTFT 30 ms and D 5 ms: stamps are the log's, on schedule."""
    assert [m["tokens"] for m in messages] == [1, 2, 2] == record["chunk_tokens"]
    assert sum(len(m["text"].split()) for m in messages) == 5 == record["output_tokens"]
    assert record["input_tokens"] == 4 and record["completed"]
    stamps = [m["x_server_time"] for m in messages]
    assert stamps == pytest.approx(record["chunk_times"], abs=1e-6)
    offsets = [(s - record["admitted"]) * 1000 for s in stamps]
    for offset, planned in zip(offsets, (30, 40, 50), strict=True):
        assert planned <= offset < planned + 8, offsets


def test_websocket_chat(chat_target: TargetInfo) -> None:
    ws = websocket.create_connection(chat_target.ws_url, timeout=5)
    try:
        ws.send(json.dumps({"type": "chat", "id": 1, "message": PROMPT, "max_tokens": 5}))
        replies = [json.loads(ws.recv()) for _ in range(4)]
    finally:
        ws.close()
    assert [r["type"] for r in replies] == ["token"] * 3 + ["done"]
    _check(_record(chat_target, "websocket"), [{**r, "text": r["token"]} for r in replies[:3]])


def test_socketio_chat(chat_target: TargetInfo) -> None:
    client = socketio.Client()
    tokens: list[dict[str, Any]] = []
    done = threading.Event()
    client.on("token", tokens.append)
    client.on("done", lambda _data: done.set())
    client.connect(chat_target.http_url, transports=["websocket"])
    try:
        client.call("chat", {"id": 2, "message": PROMPT, "max_tokens": 5}, timeout=5)
        assert done.wait(5)
    finally:
        client.disconnect()
    _check(_record(chat_target, "socketio"), [{**t, "text": t["token"]} for t in tokens])


def test_grpc_generate(chat_target: TargetInfo) -> None:
    with grpc.insecure_channel(chat_target.grpc_target) as channel:
        stub = inference_pb2_grpc.InferenceStub(channel)
        replies = list(stub.Generate(inference_pb2.GenerateRequest(prompt=PROMPT, max_tokens=5), timeout=5))
    assert [r.last for r in replies] == [False, False, True]
    messages = [{"tokens": r.tokens, "text": r.text, "x_server_time": r.x_server_time} for r in replies]
    _check(_record(chat_target, "grpc"), messages)


def test_plain_http_sse_chat(chat_target: TargetInfo) -> None:
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 5, "stream": True}
    with requests.post(f"{chat_target.http_url}/v1/chat", json=body, stream=True, timeout=5) as reply:
        lines = [line for line in reply.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    events = [json.loads(line[6:]) for line in lines]
    assert events[-1] == {"id": events[0]["id"], "tokens": 5}  # the done event
    _check(_record(chat_target, "http"), [{**e, "text": e["token"]} for e in events[:-1]])
