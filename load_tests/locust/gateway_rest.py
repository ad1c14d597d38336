"""REST users of the AI gateway: ``locust -f load_tests/locust/gateway_rest.py --host http://127.0.0.1:8000``.

Built on FastHttpUser (about 4x cheaper per request than HttpUser). Every answer is verified: a
prediction must match its label, a transcript its manifest, a stream must end with ``done`` and
the right token count; a wrong answer is a failure with its reason. Tasks are tagged per endpoint
(``--tags predict chat``). ``RestUser`` thinks between calls; ``RestStressUser`` barely waits.
"""

from __future__ import annotations

import json
import random
import ssl
from collections.abc import Callable
from typing import Any

from locust import between, tag, task
from locust.contrib.fasthttp import FastHttpUser, ResponseContextManager

from load_tests.clients import fast_json
from load_tests.clients.sse import incremental_chunks, parse_events
from load_tests.core import domain
from load_tests.core.request_types import SSE_FIRST_TOKEN, SSE_STREAM
from load_tests.core.token_rule import TokenRule
from load_tests.engine.harness import install
from load_tests.engine.payloads import audio_samples, feature_rows, multipart
from load_tests.engine.plan_source import current_plan
from load_tests.engine.request_hook import TokenTimer, elapsed_ms, report
from load_tests.reference_service.model import read_wav

install()

CHAT_TOKENS = 16
LLM_TOKENS = 32
TOKENS = TokenRule("count", "tokens")  # each /v1/chat stream event says how many tokens it carries


def _trusting(ca_file: str) -> Callable[..., ssl.SSLContext]:
    """An SSL context factory for the configured CA; geventhttpclient passes its own default ``cafile``,
    which must not replace ours."""

    def factory(*_args: Any, **_kwargs: Any) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=ca_file)

    return factory


def _json(resp: ResponseContextManager) -> Any:
    """The JSON body of a 200 answer, or None after marking the request failed with the reason."""
    if resp.status_code == 0:
        return None  # connection-level error: Locust reports the exception itself
    if resp.status_code != 200:
        resp.failure(f"HTTP {resp.status_code}")
        return None
    try:  # from the bytes: Locust's resp.json() finds the charset, decodes, then parses with json (~5 us)
        return fast_json.loads(resp.content)
    except ValueError:
        resp.failure("invalid JSON")
        return None


def _expect(resp: ResponseContextManager, what: str, expected: object, got: object) -> None:
    if expected != got:
        resp.failure(f"{what} mismatch: expected {expected}, got {got}")


class RestUser(FastHttpUser):
    """A client of the gateway that thinks between calls; predict is the heaviest task."""

    wait_time = between(0.5, 2.0)
    weight = 4
    insecure = False  # verify TLS certificates (FastHttpUser's default skips it)

    def __init__(self, environment: Any) -> None:
        plan = current_plan()
        key = plan.api_key()
        self.default_headers = {"X-API-Key": key} if key else None
        self.network_timeout = self.connection_timeout = plan.services.timeout_s
        ca_file = plan.services.ca_file
        if ca_file:
            self.ssl_context_factory = _trusting(ca_file)
        super().__init__(environment)

    @tag("health")
    @task(1)
    def health(self) -> None:
        with self.client.get("/health", catch_response=True) as resp:
            body = _json(resp)
            if body is not None:
                _expect(resp, "status", "ok", body.get("status"))

    @tag("model_info")
    @task(1)
    def model_info(self) -> None:
        with self.client.get("/model-info", catch_response=True) as resp:
            body = _json(resp)
            if body is not None and not body.get("classes"):
                resp.failure("model-info without classes")

    @tag("predict")
    @task(10)
    def predict(self) -> None:
        row = random.choice(feature_rows())
        with self.client.post("/predict", json={"features": list(row.features)}, catch_response=True) as resp:
            body = _json(resp)
            if body is not None:
                _expect(resp, "label", row.label, body.get("label"))
                domain.predicted(str(body.get("label")), row.label)

    @tag("predict", "audio")
    @task(2)
    def predict_audio(self) -> None:
        sample = random.choice(audio_samples())
        body_bytes, content_type = multipart("file", sample.name, sample.wav)
        headers = {"Content-Type": content_type}
        with self.client.post(
            "/predict", data=body_bytes, headers=headers, name="/predict (audio)", catch_response=True
        ) as resp:
            body = _json(resp)
            if body is not None:
                _expect(resp, "label", sample.label, body.get("label"))

    @tag("evaluate")
    @task(2)
    def evaluate(self) -> None:
        rows = random.sample(feature_rows(), k=min(8, len(feature_rows())))
        payload = {"rows": [{"features": list(r.features), "label": r.label} for r in rows]}
        with self.client.post("/evaluate", json=payload, catch_response=True) as resp:
            body = _json(resp)
            if body is not None:
                _expect(resp, "count", len(rows), body.get("count"))

    @tag("chat")
    @task(3)
    def chat(self) -> None:
        payload = {"messages": [{"role": "user", "content": f"hello {random.random()}"}], "max_tokens": CHAT_TOKENS}
        with self.client.post("/v1/chat", json=payload, catch_response=True) as resp:
            body = _json(resp)
            if body is not None:
                _expect(resp, "tokens", CHAT_TOKENS, body.get("tokens"))
                domain.generated(int(body.get("tokens") or 0), resp.request_meta["response_time"] / 1000)

    @tag("chat", "stream")
    @task(2)
    def chat_stream(self) -> None:
        """Streamed chat over SSE: one row for the whole stream, one for time to first token."""
        name = "/v1/chat (stream)"
        payload = {
            "messages": [{"role": "user", "content": "stream please"}],
            "max_tokens": CHAT_TOKENS,
            "stream": True,
        }
        timer = TokenTimer(TOKENS.count_source)  # TTFT, ITL and TPOT by the count each event carries
        start = timer.start
        with self.client.post("/v1/chat", json=payload, name=name, stream=True, catch_response=True) as resp:
            resp.request_meta["request_type"] = SSE_STREAM
            if resp.status_code != 200:
                if resp.status_code:
                    resp.failure(f"HTTP {resp.status_code}")
                return
            tokens, done, size = 0, False, 0
            try:
                for event in parse_events(incremental_chunks(resp)):
                    size += len(event.data)
                    if event.event == "done":
                        done = True
                        break
                    if tokens == 0:
                        report(self.environment.events.request, SSE_FIRST_TOKEN, name, elapsed_ms(start))
                    timer.message()
                    n, text = TOKENS.tokens(json.loads(event.data))
                    if n:
                        timer.chunk(n, text=text)
                    tokens += n
            except Exception as exc:  # a broken stream is a failure of this request, named by its cause
                resp.failure(f"stream broken: {type(exc).__name__}")
                return
            finally:
                timer.finish(done)
                resp.request_meta["response_time"] = elapsed_ms(start)
                resp.request_meta["response_length"] = size
                resp.request_meta["context"] = timer.context()
            if not done:
                resp.failure("stream ended without done event")
            else:
                _expect(resp, "tokens", CHAT_TOKENS, tokens)
                domain.generated(tokens, elapsed_ms(start) / 1000)

    @tag("llm")
    @task(2)
    def llm(self) -> None:
        payload = {"prompt": f"summarise {random.randint(0, 999)}", "max_tokens": LLM_TOKENS}
        with self.client.post("/v1/llm/generate", json=payload, catch_response=True) as resp:
            body = _json(resp)
            if body is not None:
                _expect(resp, "tokens", LLM_TOKENS, body.get("tokens"))
                domain.generated(int(body.get("tokens") or 0), resp.request_meta["response_time"] / 1000)

    @tag("tts")
    @task(1)
    def tts(self) -> None:
        with self.client.post("/v1/tts", json={"text": "hello from the load test"}, catch_response=True) as resp:
            if resp.status_code == 0:
                return
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
            elif not (resp.content or b"").startswith(b"RIFF"):
                resp.failure("not a WAV file")
            else:
                pcm, rate = read_wav(resp.content)
                domain.speech("tts", len(pcm) / 2 / rate, resp.request_meta["response_time"] / 1000)

    @tag("stt")
    @task(1)
    def stt(self) -> None:
        sample = random.choice(audio_samples())
        body_bytes, content_type = multipart("file", sample.name, sample.wav)
        with self.client.post(
            "/v1/stt", data=body_bytes, headers={"Content-Type": content_type}, catch_response=True
        ) as resp:
            body = _json(resp)
            if body is not None:
                _expect(resp, "transcript", sample.transcript, body.get("transcript"))
                pcm, rate = read_wav(sample.wav)
                domain.speech("stt", len(pcm) / 2 / rate, resp.request_meta["response_time"] / 1000)


class RestStressUser(RestUser):
    """The same calls with almost no think time: for stress scenarios."""

    wait_time = between(0.01, 0.05)
    weight = 1
