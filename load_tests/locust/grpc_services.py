"""gRPC users of the Inference, SpeechToText and TextToSpeech services.

``locust -f load_tests/locust/grpc_services.py --host grpc://127.0.0.1:50051``. Every call kind:
unary (``Predict``, ``Transcribe``, health), server-streaming (``Generate``, ``Synthesize``),
client-streaming (``Upload``) and bidi (``StreamingRecognize``); rows are named ``Service/Method``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from load_tests.clients.grpc_client import call_scope, consume, init_gevent_once

init_gevent_once()  # before any channel exists, or grpcio hangs under gevent

import grpc  # noqa: E402
from locust import between, tag, task  # noqa: E402

from load_tests.core import domain  # noqa: E402
from load_tests.core.token_rule import TokenRule  # noqa: E402
from load_tests.engine.harness import install  # noqa: E402
from load_tests.engine.payloads import audio_samples, feature_rows  # noqa: E402
from load_tests.engine.users import GrpcUser  # noqa: E402
from load_tests.protos import inference_pb2, inference_pb2_grpc, stt_pb2, stt_pb2_grpc, tts_pb2, tts_pb2_grpc  # noqa: E402
from load_tests.reference_service.model import read_wav  # noqa: E402

install()
GENERATE_TOKENS = 16
TOKENS = TokenRule("count", "tokens")


def _unary(call: Callable[[], Any]) -> Any:
    """Make a unary call; a failure was already reported by the interceptor, so it is not re-raised."""
    try:
        return call()
    except grpc.RpcError:
        return None


class GrpcServicesUser(GrpcUser):
    wait_time = between(0.5, 2.0)
    weight = 4

    def on_start(self) -> None:
        self.inference = self.client.stub(inference_pb2_grpc.InferenceStub)
        self.stt = self.client.stub(stt_pb2_grpc.SpeechToTextStub)
        self.tts = self.client.stub(tts_pb2_grpc.TextToSpeechStub)

    @tag("predict")
    @task(5)
    def predict(self) -> None:
        row = random.choice(feature_rows())
        reply = _unary(lambda: self.inference.Predict(inference_pb2.PredictRequest(features=row.features)))
        if reply is not None:
            domain.predicted(reply.label, row.label)

    @tag("generate")
    @task(3)
    def generate(self) -> None:
        request = inference_pb2.GenerateRequest(prompt="tell me more", max_tokens=GENERATE_TOKENS)
        start = time.perf_counter()
        with call_scope("Inference/Generate", tokens=TOKENS):  # TTFT, ITL and TPOT by each message's count
            chunks = consume(self.inference.Generate(request))
        domain.generated(sum(c.tokens for c in chunks), time.perf_counter() - start)

    @tag("upload")
    @task(1)
    def upload(self) -> None:
        chunks = (inference_pb2.UploadChunk(name="batch.bin", data=b"\0" * 16_384) for _ in range(4))
        _unary(lambda: self.inference.Upload(chunks))

    @tag("transcribe")
    @task(1)
    def transcribe(self) -> None:
        sample = random.choice(audio_samples())
        start = time.perf_counter()
        reply = _unary(lambda: self.stt.Transcribe(stt_pb2.TranscribeRequest(wav=sample.wav)))
        if reply is not None:
            domain.speech("stt", reply.duration_s, time.perf_counter() - start)

    @tag("streaming_recognize")
    @task(1)
    def streaming_recognize(self) -> None:
        pcm, rate = read_wav(random.choice(audio_samples()).wav)
        consume(self.stt.StreamingRecognize(_audio_chunks(pcm, rate)))

    @tag("synthesize")
    @task(1)
    def synthesize(self) -> None:
        start = time.perf_counter()
        chunks = consume(self.tts.Synthesize(tts_pb2.SynthesizeRequest(text="hello from the load test", chunk_ms=100)))
        if chunks and chunks[-1].last:
            seconds = sum(len(c.pcm16) for c in chunks) / 2 / (chunks[0].sample_rate or 16_000)
            domain.speech("tts", seconds, time.perf_counter() - start)

    @tag("health")
    @task(1)
    def health(self) -> None:
        self.client.health_check()


def _audio_chunks(pcm: bytes, rate: int, chunk_ms: int = 100) -> Iterator[stt_pb2.AudioChunk]:
    step = rate * 2 * chunk_ms // 1000
    for i in range(0, len(pcm), step):
        yield stt_pb2.AudioChunk(pcm16=pcm[i : i + step], sample_rate=rate)


class GrpcStressUser(GrpcServicesUser):
    wait_time = between(0.01, 0.05)
    weight = 1  # the runner picks it alone for stress scenarios
