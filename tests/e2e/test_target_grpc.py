"""The target's gRPC services through grpcio stubs: every RPC kind, health and reflection."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from load_tests.protos import inference_pb2, inference_pb2_grpc, stt_pb2, stt_pb2_grpc, tts_pb2, tts_pb2_grpc
from load_tests.reference_service import model
from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import served

pytestmark = pytest.mark.beside_the_lane  # counts and contents only: run beside the lane (tests/conftest.py)


def test_every_rpc(target: TargetInfo) -> None:
    with grpc.insecure_channel(target.grpc_target) as channel:
        inference = inference_pb2_grpc.InferenceStub(channel)
        reply = inference.Predict(
            inference_pb2.PredictRequest(features=[95.0, 9.5, 4.0, 20.0], request_id="r1"), timeout=5
        )
        assert (reply.label, reply.request_id) == ("abnormal", "r1")

        tokens = list(inference.Generate(inference_pb2.GenerateRequest(prompt="hi", max_tokens=6), timeout=5))
        assert [t.index for t in tokens] == list(range(6)) and tokens[-1].last
        assert " ".join(t.text for t in tokens) == " ".join(model.tokens_for("hi", 6))

        chunks = [inference_pb2.UploadChunk(name="blob", data=b"x" * 100) for _ in range(3)]
        summary = inference.Upload(iter(chunks), timeout=5)
        assert (summary.name, summary.total_bytes, summary.chunks) == ("blob", 300, 3)

        stt = stt_pb2_grpc.SpeechToTextStub(channel)
        wav = model.tone_wav(440, 500)
        assert (
            stt.Transcribe(stt_pb2.TranscribeRequest(wav=wav), timeout=5).transcript
            == "tone at 440 hertz for 0.5 seconds"
        )
        pcm, _ = model.read_wav(wav)
        audio = [stt_pb2.AudioChunk(pcm16=pcm[i : i + 4000], sample_rate=16000) for i in range(0, len(pcm), 4000)]
        results = list(stt.StreamingRecognize(iter(audio), timeout=5))
        assert len(results) == len(audio) + 1 and results[-1].is_final and not results[0].is_final
        assert results[-1].transcript == "tone at 440 hertz for 0.5 seconds"

        tts = tts_pb2_grpc.TextToSpeechStub(channel)
        audio_chunks = list(tts.Synthesize(tts_pb2.SynthesizeRequest(text="a b c d", chunk_ms=100), timeout=5))
        assert len(audio_chunks) == 6 and audio_chunks[-1].last  # 4 words x 150 ms = 600 ms
        assert sum(len(c.pcm16) for c in audio_chunks) == 16000 * 2 * 600 // 1000

        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING

    assert served(target.http_url, "grpc") == {
        "Inference/Predict": 1, "Inference/Generate": 1, "Inference/Upload": 1, "SpeechToText/Transcribe": 1,
        "SpeechToText/StreamingRecognize": 1, "TextToSpeech/Synthesize": 1, "Health/Check": 1,
    }  # fmt: skip


def test_reflection_lists_the_services(target: TargetInfo) -> None:
    with grpc.insecure_channel(target.grpc_target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(stub.ServerReflectionInfo(iter([request]), timeout=5))
    names = {s.name for s in response.list_services_response.service}
    assert {
        "loadtests.inference.v1.Inference",
        "loadtests.stt.v1.SpeechToText",
        "loadtests.tts.v1.TextToSpeech",
    } <= names
    assert "grpc.health.v1.Health" in names
