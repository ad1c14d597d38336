"""Our gRPC client's timed channel, call kind by call kind, against the reference target's own counters.

The channel times around the stubs' multi-callables (no grpcio interceptor): each call kind must still
fire exactly one event per call (plus one per stream's first message), under the right row name and
type, with the client's deadline and API key, and failures named by their status.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from load_tests.core.request_types import (
    GRPC_BIDI_STREAM,
    GRPC_CLIENT_STREAM,
    GRPC_FIRST,
    GRPC_SERVER_STREAM,
    GRPC_UNARY,
)
from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import served

pytestmark = pytest.mark.beside_the_lane  # counts and names only: run beside the lane (tests/conftest.py)
DRIVER = Path(__file__).with_name("grpc_driver.py")


def _rows(case: dict) -> list[tuple[str, str, str | None]]:
    return [(e["type"], e["name"], e["failure"]) for e in case["events"]]


def test_every_call_kind_is_timed_once_under_its_row(target: TargetInfo) -> None:
    with socket.socket() as held:  # bound, never listening: nothing answers there during the run
        held.bind(("127.0.0.1", 0))
        before = served(target.http_url, "grpc")
        done = subprocess.run([sys.executable, str(DRIVER), target.grpc_target, str(held.getsockname()[1])],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.splitlines()[-1])
    after = served(target.http_url, "grpc")
    sent = {k: after.get(k, 0) - before.get(k, 0) for k in after}

    predict = (GRPC_UNARY, "Inference/Predict", None)
    for case in ("unary", "with_call", "future"):
        assert out[case]["label"] == "abnormal" and _rows(out[case]) == [predict], case
    assert out["with_call"]["code"] == "OK"
    assert out["server_stream"]["messages"] == 6
    assert _rows(out["server_stream"]) == [(GRPC_FIRST, "Inference/Generate", None),
                                           (GRPC_SERVER_STREAM, "Inference/Generate", None)]  # fmt: skip
    assert out["server_stream"]["events"][1]["messages"] == 6
    assert out["client_stream_scoped"]["chunks"] == 3
    assert _rows(out["client_stream_scoped"]) == [(GRPC_CLIENT_STREAM, "upload three", None)]
    assert out["client_stream_scoped"]["events"][0]["messages"] == 3  # counted as gRPC pulled them
    assert out["bidi"]["messages"] == 3  # one per chunk and the final
    assert _rows(out["bidi"])[-1] == (GRPC_BIDI_STREAM, "SpeechToText/StreamingRecognize", None)
    assert _rows(out["check_fails"]) == [(GRPC_UNARY, "wrong label", "got abnormal")]
    assert out["default_deadline"]["raised"] == "DEADLINE_EXCEEDED"
    assert _rows(out["default_deadline"]) == [(GRPC_UNARY, "Inference/Predict", "DEADLINE_EXCEEDED"), predict]
    assert out["unavailable"]["raised"] == "UNAVAILABLE"
    assert _rows(out["unavailable"]) == [(GRPC_UNARY, "Inference/Predict", "UNAVAILABLE")]
    assert out["user_interceptor"]["seen"] == ["/loadtests.inference.v1.Inference/Predict"]
    assert out["user_interceptor"]["label"] == "abnormal" and _rows(out["user_interceptor"]) == [predict]
    assert out["healthy"] is True and _rows({"events": out["health_events"]}) == [(GRPC_UNARY, "Health/Check", None)]
    for events in (out[c]["events"] for c in ("unary", "server_stream", "bidi")):
        assert all(e["ms"] is not None and e["ms"] >= 0 for e in events)
    # the target counted what the events say reached it (the hasty call may or may not have arrived)
    assert sent["Inference/Generate"] == 1 and sent["Inference/Upload"] == 1
    assert sent["SpeechToText/StreamingRecognize"] == 1 and sent["Health/Check"] == 1
    assert sent["Inference/Predict"] in (6, 7)
