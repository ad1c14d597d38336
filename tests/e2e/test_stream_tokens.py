"""Token rules on WebSocket, Socket.IO and gRPC streams: one run, every protocol, against the server's stamps.

The target streams 10 tokens as chunks of 1, 3, 3, 3 (TTFT 40 ms, D 8 ms): ITL is one gap per chunk
(24 ms) and TPOT one per token (8 ms). Each protocol counts its tokens by another rule (a count field,
the words of a text field, one per message), and the figures each row reports must match the truth the
target logged (``/admin/llm/requests``: when each request arrived and each chunk left).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import requests

from load_tests.reference_service.launcher import TargetInfo, TargetProcess
from tests.conftest import REPO_ROOT, load_summary, run_cli

TOKENS, CHUNKS = 10, [1, 3, 3, 3]
LLM = {"ttft_ms": 40, "token_ms": 8, "tokens_per_chunk": 3}


def _fleet(target: TargetInfo) -> dict[str, Any]:
    chat = {"message": "three word prompt", "max_tokens": TOKENS}
    return {
        "ws": {"protocol": "websocket", "url": target.ws_url, "think_time": 0.05, "operations": [
            {"name": "ws-chat", "send": {"type": "chat", **chat}, "stream_end": {"json": "$.type", "equals": "done"},
             "tokens": {"per": "count", "field": "tokens"}},
        ]},
        "sio": {"protocol": "socketio", "url": target.http_url, "think_time": 0.05, "operations": [
            {"name": "sio-chat", "emit": "chat", "payload": chat, "stream_event": "token", "end_event": "done",
             "tokens": {"per": "field", "field": "token"}},
        ]},
        "inference": {"protocol": "grpc", "target": target.grpc_target, "think_time": 0.05,
                      "proto": str(REPO_ROOT / "load_tests/protos/inference.proto"), "operations": [
            {"name": "generate", "call": "loadtests.inference.v1.Inference/Generate",
             "request": {"prompt": chat["message"], "max_tokens": TOKENS}, "tokens": {"per": "message"}},
        ]},
    }  # fmt: skip


def _truth(records: list[dict[str, Any]]) -> dict[str, float]:
    """Median TTFT (arrival -> first chunk sent), ITL (one gap per chunk) and TPOT of the server's log."""
    ttft = [(r["first_token"] - r["received"]) * 1000 for r in records]
    gaps = [(b - a) * 1000 for r in records for a, b in zip(r["chunk_times"], r["chunk_times"][1:], strict=False)]
    tpot = [(r["last_token"] - r["first_token"]) * 1000 / (r["output_tokens"] - 1) for r in records]
    return {"ttft": statistics.median(ttft), "itl": statistics.median(gaps), "tpot": statistics.median(tpot)}


def test_every_stream_protocol_reports_token_figures_that_match_the_server(tmp_path: Path) -> None:
    with TargetProcess(llm=LLM) as target:
        config = tmp_path / "fleet.yaml"
        config.write_text(json.dumps({"fleet": _fleet(target)}))  # JSON is YAML
        result = run_cli("--config", str(config), "--test-type", "all", "--users", "6", "--spawn-rate", "6",
                         "--duration", "3s", "--output-dir", str(tmp_path / "out"))  # fmt: skip
        log = requests.get(f"{target.http_url}/admin/llm/requests", timeout=5).json()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {r["name"]: r for r in load_summary(tmp_path / "out")["endpoints"] if "llm" in r}
    expected = {"ws-chat": ("websocket", "field"), "sio-chat": ("socketio", "field"), "generate": ("grpc", "messages")}
    assert set(rows) == set(expected)
    for name, (protocol, source) in expected.items():
        llm, records = rows[name]["llm"], [r for r in log if r["protocol"] == protocol and r["completed"]]
        assert all(r["chunk_tokens"] == CHUNKS for r in records)
        assert llm["count_source"] == source and llm["requests"] == rows[name]["requests"] <= len(records)
        per_request = TOKENS if source == "field" else len(CHUNKS)  # one per message counts chunks, not tokens
        assert llm["output_tokens"] == per_request * llm["requests"], name
        truth = _truth(records)
        client_ttft = llm["ttft_ms"]["p50"]
        # the client also times the request's way in and its own library: a few ms more than the server sees
        assert truth["ttft"] <= client_ttft + 0.5 and client_ttft - truth["ttft"] < 6, (name, client_ttft, truth)
        assert abs(llm["itl_ms"]["p50"] - truth["itl"]) < 2, (name, llm["itl_ms"], truth)  # 24 ms: per chunk
        if source == "field":
            assert abs(llm["tpot_ms"]["p50"] - truth["tpot"]) < 1, (name, llm["tpot_ms"], truth)  # 8 ms: per token
