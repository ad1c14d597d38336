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
from locust.contrib.fasthttp import FastHttpUser, FastResponse

from load_tests.clients import fast_json
from load_tests.clients.sse import incremental_chunks, parse_events
from load_tests.core import domain
from load_tests.core.request_types import SSE_FIRST_TOKEN, SSE_STREAM
from load_tests.core.token_rule import TokenRule
from load_tests.engine.checked_http import Judge, checked
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


def _answer(resp: FastResponse) -> tuple[Any, str | None]:
    """The JSON body of a 200 answer, or (None, why it failed); (None, None) after a connection error,
    which Locust reports itself."""
    status = resp.status_code
    if status == 0:
        return None, None
    if status != 200:
        return None, f"HTTP {status}"
    try:  # from the bytes: Locust's resp.json() finds the charset, decodes, then parses with json (~5 us)
        return fast_json.loads(resp.content), None
    except ValueError:
        return None, "invalid JSON"


def _mismatch(what: str, expected: object, got: object) -> str | None:
    return None if expected == got else f"{what} mismatch: expected {expected}, got {got}"


def _healthy(resp: FastResponse, _ms: float) -> str | None:
    body, failure = _answer(resp)
    return failure if body is None else _mismatch("status", "ok", body.get("status"))


def _has_classes(resp: FastResponse, _ms: float) -> str | None:
    body, failure = _answer(resp)
    if body is None:
        return failure
    return None if body.get("classes") else "model-info without classes"


def _generated(expected_tokens: int) -> Judge:
    """A judge of a whole (non-streamed) generation: its token count, which also feeds the domain figures."""

    def judge(resp: FastResponse, ms: float) -> str | None:
        body, failure = _answer(resp)
        if body is None:
            return failure
        failure = _mismatch("tokens", expected_tokens, body.get("tokens"))
        domain.generated(int(body.get("tokens") or 0), ms / 1000)
        return failure

    return judge


def _speech(resp: FastResponse, ms: float) -> str | None:
    if resp.status_code == 0:
        return None
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}"
    if not (resp.content or b"").startswith(b"RIFF"):
        return "not a WAV file"
    pcm, rate = read_wav(resp.content)
    domain.speech("tts", len(pcm) / 2 / rate, ms / 1000)
    return None


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
        checked(self.client, "GET", "/health", _healthy)

    @tag("model_info")
    @task(1)
    def model_info(self) -> None:
        checked(self.client, "GET", "/model-info", _has_classes)

    @tag("predict")
    @task(10)
    def predict(self) -> None:
        row = random.choice(feature_rows())

        def judge(resp: FastResponse, _ms: float) -> str | None:
            body, failure = _answer(resp)
            if body is None:
                return failure
            failure = _mismatch("label", row.label, body.get("label"))
            domain.predicted(str(body.get("label")), row.label)
            return failure

        checked(self.client, "POST", "/predict", judge, json={"features": list(row.features)})

    @tag("predict", "audio")
    @task(2)
    def predict_audio(self) -> None:
        sample = random.choice(audio_samples())
        body_bytes, content_type = multipart("file", sample.name, sample.wav)
        headers = {"Content-Type": content_type}

        def judge(resp: FastResponse, _ms: float) -> str | None:
            body, failure = _answer(resp)
            return failure if body is None else _mismatch("label", sample.label, body.get("label"))

        checked(self.client, "POST", "/predict", judge, data=body_bytes, headers=headers, name="/predict (audio)")

    @tag("evaluate")
    @task(2)
    def evaluate(self) -> None:
        rows = random.sample(feature_rows(), k=min(8, len(feature_rows())))
        payload = {"rows": [{"features": list(r.features), "label": r.label} for r in rows]}

        def judge(resp: FastResponse, _ms: float) -> str | None:
            body, failure = _answer(resp)
            return failure if body is None else _mismatch("count", len(rows), body.get("count"))

        checked(self.client, "POST", "/evaluate", judge, json=payload)

    @tag("chat")
    @task(3)
    def chat(self) -> None:
        payload = {"messages": [{"role": "user", "content": f"hello {random.random()}"}], "max_tokens": CHAT_TOKENS}
        checked(self.client, "POST", "/v1/chat", _generated(CHAT_TOKENS), json=payload)

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
                mismatch = _mismatch("tokens", CHAT_TOKENS, tokens)
                if mismatch is not None:
                    resp.failure(mismatch)
                domain.generated(tokens, elapsed_ms(start) / 1000)

    @tag("llm")
    @task(2)
    def llm(self) -> None:
        payload = {"prompt": f"summarise {random.randint(0, 999)}", "max_tokens": LLM_TOKENS}
        checked(self.client, "POST", "/v1/llm/generate", _generated(LLM_TOKENS), json=payload)

    @tag("tts")
    @task(1)
    def tts(self) -> None:
        checked(self.client, "POST", "/v1/tts", _speech, json={"text": "hello from the load test"})

    @tag("stt")
    @task(1)
    def stt(self) -> None:
        sample = random.choice(audio_samples())
        body_bytes, content_type = multipart("file", sample.name, sample.wav)

        def judge(resp: FastResponse, ms: float) -> str | None:
            body, failure = _answer(resp)
            if body is None:
                return failure
            failure = _mismatch("transcript", sample.transcript, body.get("transcript"))
            pcm, rate = read_wav(sample.wav)
            domain.speech("stt", len(pcm) / 2 / rate, ms / 1000)
            return failure

        checked(self.client, "POST", "/v1/stt", judge, data=body_bytes, headers={"Content-Type": content_type})


class RestStressUser(RestUser):
    """The same calls with almost no think time: for stress scenarios."""

    wait_time = between(0.01, 0.05)
    weight = 1
