"""gRPC side of the target: Inference, SpeechToText and TextToSpeech on ``grpc.aio``, plus health and reflection.

It shares the asyncio loop of the HTTP server, so the work model, telemetry and DB pool are the same
objects for all four protocols. One server interceptor counts every RPC under ``Service/Method``
(the name the harness reports) and enforces the API key from the ``x-api-key`` metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from load_tests.core.request_types import grpc_method_name
from load_tests.protos import inference_pb2, inference_pb2_grpc, stt_pb2, stt_pb2_grpc, tts_pb2, tts_pb2_grpc
from load_tests.reference_service import model
from load_tests.reference_service.faults import InjectedFault
from load_tests.reference_service.service import Service

PROTOCOL = "grpc"
MAX_TOKENS = 2048
OPEN_SERVICES = frozenset({health.SERVICE_NAME})  # health checks stay open, as for HTTP /health
FAULTY_SERVICES = frozenset(  # malformed replies: the application services, never health or reflection
    {
        inference_pb2.DESCRIPTOR.services_by_name["Inference"].full_name,
        stt_pb2.DESCRIPTOR.services_by_name["SpeechToText"].full_name,
        tts_pb2.DESCRIPTOR.services_by_name["TextToSpeech"].full_name,
    }
)
SERVICE_NAMES = (
    inference_pb2.DESCRIPTOR.services_by_name["Inference"].full_name,
    stt_pb2.DESCRIPTOR.services_by_name["SpeechToText"].full_name,
    tts_pb2.DESCRIPTOR.services_by_name["TextToSpeech"].full_name,
    health.SERVICE_NAME,
    reflection.SERVICE_NAME,
)


class _CountingAuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        name = grpc_method_name(details.method)
        service_name = details.method.lstrip("/").partition("/")[0]
        handler = await continuation(details)
        if self.service.api_key and service_name not in OPEN_SERVICES:
            metadata = dict(details.invocation_metadata or ())
            if not self.service.authorized(metadata.get("x-api-key")):
                self.service.telemetry.error(PROTOCOL, name, "unauthorized")
                return _denying_handler(handler)
        self.service.telemetry.request(PROTOCOL, name)
        if handler is not None and service_name in FAULTY_SERVICES and self.service.work.should_malform(PROTOCOL):
            self.service.telemetry.wire_fault(PROTOCOL, "malformed")
            return handler._replace(response_serializer=_undecodable)
        return handler


def _undecodable(_message: Any) -> bytes:
    """A reply no protobuf parser accepts (field 1, length-delimited, with a length varint that never
    ends): the client's stub fails to deserialise it, as with a server built from another .proto."""
    return b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"


def _denying_handler(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler:
    async def deny(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid API key")

    kwargs = {}
    if handler is not None:
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
    if handler is None or handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(deny, **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny, **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(deny, **kwargs)
    return grpc.stream_stream_rpc_method_handler(deny, **kwargs)


async def _serve(
    service: Service,
    context: grpc.aio.ServicerContext,
    endpoint: str,
    operation: str,
    db: bool = False,
    timed: bool = True,
) -> None:
    """Spend the RPC's service time (the interceptor already counted it); a fault aborts it with UNAVAILABLE."""
    try:
        await service.call(PROTOCOL, endpoint, operation, db=db, count=False, timed=timed)
    except InjectedFault:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "injected fault")


async def _bad_request(service: Service, context: grpc.aio.ServicerContext, endpoint: str, message: str) -> None:
    service.telemetry.error(PROTOCOL, endpoint, "bad_request")
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)


class InferenceServicer(inference_pb2_grpc.InferenceServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def Predict(
        self, request: inference_pb2.PredictRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.PredictResponse:
        await _serve(self.service, context, "Inference/Predict", "predict", db=True)
        try:
            label, probabilities = model.classify(list(request.features))
        except model.BadInput as exc:
            await _bad_request(self.service, context, "Inference/Predict", str(exc))
        return inference_pb2.PredictResponse(label=label, probabilities=probabilities, request_id=request.request_id)

    async def Generate(
        self, request: inference_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[inference_pb2.Token]:
        received = time.time()
        await _serve(self.service, context, "Inference/Generate", "llm", timed=False)
        max_tokens = max(1, min(request.max_tokens or 16, MAX_TOKENS))
        sent = 0
        stream = self.service.llm.messages(PROTOCOL, "Inference/Generate", request.prompt, max_tokens, received)
        async with contextlib.aclosing(stream):
            async for m in stream:
                yield inference_pb2.Token(
                    text=m.text, index=m.index, last=m.last, request_id=request.request_id, tokens=m.tokens,
                    x_server_time=m.stamp,
                )  # fmt: skip
                sent += 1
        self.service.telemetry.stream_messages(PROTOCOL, "Inference/Generate", sent)

    async def Upload(
        self, request_iterator: AsyncIterator[inference_pb2.UploadChunk], context: grpc.aio.ServicerContext
    ) -> inference_pb2.UploadSummary:
        digest, total, chunks, name = hashlib.sha256(), 0, 0, ""
        async for chunk in request_iterator:
            digest.update(chunk.data)
            total += len(chunk.data)
            chunks += 1
            name = name or chunk.name
        await _serve(self.service, context, "Inference/Upload", "upload", db=True)
        return inference_pb2.UploadSummary(name=name, total_bytes=total, chunks=chunks, sha256=digest.hexdigest())


class SpeechToTextServicer(stt_pb2_grpc.SpeechToTextServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def Transcribe(
        self, request: stt_pb2.TranscribeRequest, context: grpc.aio.ServicerContext
    ) -> stt_pb2.TranscribeResponse:
        await _serve(self.service, context, "SpeechToText/Transcribe", "stt")
        try:
            pcm, rate = model.read_wav(request.wav)
        except model.BadInput as exc:
            await _bad_request(self.service, context, "SpeechToText/Transcribe", str(exc))
        transcript, duration = model.transcribe(pcm, rate)
        return stt_pb2.TranscribeResponse(
            transcript=transcript, duration_s=duration, confidence=0.99, request_id=request.request_id
        )

    async def StreamingRecognize(
        self, request_iterator: AsyncIterator[stt_pb2.AudioChunk], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[stt_pb2.RecognitionResult]:
        await _serve(self.service, context, "SpeechToText/StreamingRecognize", "stt")
        audio, rate, index = bytearray(), model.SAMPLE_RATE, 0
        async for chunk in request_iterator:
            rate = chunk.sample_rate or rate
            audio.extend(chunk.pcm16)
            partial, seconds = model.transcribe(bytes(audio[: rate // 2]), rate)
            yield stt_pb2.RecognitionResult(
                transcript=partial, is_final=False, chunk_index=index, audio_seconds=len(audio) / 2 / rate
            )
            index += 1
        transcript, seconds = model.transcribe(bytes(audio), rate)
        yield stt_pb2.RecognitionResult(transcript=transcript, is_final=True, chunk_index=index, audio_seconds=seconds)
        self.service.telemetry.stream_messages(PROTOCOL, "SpeechToText/StreamingRecognize", index + 1)


class TextToSpeechServicer(tts_pb2_grpc.TextToSpeechServicer):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def Synthesize(
        self, request: tts_pb2.SynthesizeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[tts_pb2.AudioChunk]:
        await _serve(self.service, context, "TextToSpeech/Synthesize", "tts")
        pcm = model.synthesize_pcm(request.text)
        step = max(2, model.SAMPLE_RATE * 2 * (request.chunk_ms or 100) // 1000)
        chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)] or [b""]
        for i, piece in enumerate(chunks):
            if i:
                await self.service.work.token_gap()
            yield tts_pb2.AudioChunk(pcm16=piece, index=i, sample_rate=model.SAMPLE_RATE, last=i == len(chunks) - 1)
        self.service.telemetry.stream_messages(PROTOCOL, "TextToSpeech/Synthesize", len(chunks))


async def start_grpc_server(
    service: Service, host: str, port: int, tls: tuple[bytes, bytes] | None = None
) -> tuple[grpc.aio.Server, int]:
    """Start the gRPC server on ``host:port`` (0 = a free port; TLS with (key, cert) PEM) and return it and the port."""
    server = grpc.aio.server(interceptors=[_CountingAuthInterceptor(service)])
    inference_pb2_grpc.add_InferenceServicer_to_server(InferenceServicer(service), server)
    stt_pb2_grpc.add_SpeechToTextServicer_to_server(SpeechToTextServicer(service), server)
    tts_pb2_grpc.add_TextToSpeechServicer_to_server(TextToSpeechServicer(service), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(SERVICE_NAMES, server)
    address = f"{host}:{port}"
    bound = (
        server.add_secure_port(address, grpc.ssl_server_credentials([tls]))
        if tls
        else server.add_insecure_port(address)
    )
    if bound == 0:
        raise OSError(f"cannot bind gRPC to {host}:{port}")
    await server.start()
    for name in SERVICE_NAMES[:3]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, bound
