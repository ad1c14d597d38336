"""Child process of tests/e2e/test_grpc_client.py (the pytest process never turns on grpcio's gevent mode):
makes every call kind through the real GrpcClient to the reference target and prints, per case, the
request events it fired. ``python tests/e2e/grpc_driver.py HOST:PORT UNUSED_PORT``."""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import grpc  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from load_tests.clients.grpc_client import GrpcClient, call_scope, consume  # noqa: E402
from load_tests.protos import inference_pb2, inference_pb2_grpc, stt_pb2, stt_pb2_grpc  # noqa: E402


class Events:
    """The request event as Locust fires it; keeps what each call reported."""

    def __init__(self) -> None:
        self.fired: list[dict[str, Any]] = []

    def fire(self, **kwargs: Any) -> None:
        context = kwargs["context"] or {}
        self.fired.append({"type": kwargs["request_type"], "name": kwargs["name"],
                           "failure": None if kwargs["exception"] is None else str(kwargs["exception"]),
                           "ms": kwargs["response_time"], "messages": context.get("messages")})  # fmt: skip

    def take(self) -> list[dict[str, Any]]:
        out, self.fired = self.fired, []
        return out


def cases(target: str, unused: str) -> dict[str, Any]:
    events = Events()
    client = GrpcClient(target, events, api_key="driver-key", timeout=5.0)
    inference = client.stub(inference_pb2_grpc.InferenceStub)
    predict = inference_pb2.PredictRequest(features=[95.0, 9.5, 4.0, 20.0], request_id="r1")
    out: dict[str, Any] = {}
    reply = inference.Predict(predict, metadata=(("x-trace", "1"),))
    out["unary"] = {"label": reply.label, "events": events.take()}
    reply, call = inference.Predict.with_call(predict, timeout=5)
    out["with_call"] = {"label": reply.label, "code": call.code().name, "events": events.take()}
    future = inference.Predict.future(predict)
    out["future"] = {"label": future.result().label, "events": events.take()}
    tokens = consume(inference.Generate(inference_pb2.GenerateRequest(prompt="hi", max_tokens=6)))
    out["server_stream"] = {"messages": len(tokens), "events": events.take()}
    chunks = (inference_pb2.UploadChunk(name="blob", data=b"x" * 100) for _ in range(3))
    with call_scope("upload three", check=lambda status, _t, replies: None if replies[0].chunks == 3 else "chunks"):
        summary = inference.Upload(chunks)
    out["client_stream_scoped"] = {"chunks": summary.chunks, "events": events.take()}
    audio = [stt_pb2.AudioChunk(pcm16=b"\0\0" * 4000, sample_rate=16000) for _ in range(2)]
    results = consume(client.stub(stt_pb2_grpc.SpeechToTextStub).StreamingRecognize(iter(audio)))
    out["bidi"] = {"messages": len(results), "events": events.take()}
    with call_scope("wrong label", check=lambda status, _t, replies: f"got {replies[0].label}"):
        inference.Predict(predict)
    out["check_fails"] = {"events": events.take()}
    hasty = GrpcClient(target, events, timeout=1e-6).stub(inference_pb2_grpc.InferenceStub)
    try:
        hasty.Predict(predict)
        out["default_deadline"] = {"raised": None}
    except grpc.RpcError as exc:
        out["default_deadline"] = {"raised": exc.code().name}
    hasty.Predict(predict, timeout=5)  # a call's own deadline wins over the client's
    out["default_deadline"]["events"] = events.take()
    down = GrpcClient(f"127.0.0.1:{unused}", events, timeout=0.5).stub(inference_pb2_grpc.InferenceStub)
    try:
        down.Predict(predict)
        out["unavailable"] = {"raised": None}
    except grpc.RpcError as exc:
        out["unavailable"] = {"raised": exc.code().name}
    out["unavailable"]["events"] = events.take()
    seen: list[str] = []

    class Tagging(grpc.UnaryUnaryClientInterceptor):  # a user's own interceptor over our timed channel
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            seen.append(details.method)
            return continuation(details, request)

    wrapped = inference_pb2_grpc.InferenceStub(grpc.intercept_channel(client.channel, Tagging()))
    out["user_interceptor"] = {"label": wrapped.Predict(predict).label, "seen": seen, "events": events.take()}
    out["healthy"] = client.health_check()
    out["health_events"] = events.take()
    client.close()
    return out


if __name__ == "__main__":
    print(json.dumps(cases(sys.argv[1], sys.argv[2])))
