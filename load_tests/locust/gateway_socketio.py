"""Socket.IO users of the gateway: ``locust -f load_tests/locust/gateway_socketio.py --host http://127.0.0.1:8000``.

Rows: ``SIO connect`` (per transport: websocket and polling), ``SIO ack`` (ping, load_file, each
counted once), ``SIO first event`` + ``SIO stream`` (chat: ``token`` events then ``done``, with
TTFT, ITL and TPOT by each event's ``tokens`` count), ``SIO send`` (typing, no ack), ``SIO event``
(unexpected server events), ``SIO connection`` and ``SIO reconnect``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from locust import between, tag, task

from load_tests.core import domain
from load_tests.core.token_rule import TokenRule
from load_tests.engine.harness import install
from load_tests.engine.users import SocketIOUser

install()
CHAT_TOKENS = 16
TOKENS = TokenRule("count", "tokens")  # each token event says how many tokens it carries


def all_tokens(_end: Any, chunks: list[Any]) -> str | None:
    """A chat stream is whole when its events carry every token asked for (however they are chunked)."""
    got = TOKENS.total(chunks)
    return None if got == CHAT_TOKENS else f"token count mismatch: expected {CHAT_TOKENS}, got {got}"


MODEL_FILES = (("classifier.onnx", 4_000_000), ("tokenizer.json", 500_000), ("voice.bin", 12_000_000))


class SocketIOChatUser(SocketIOUser):
    """A real-time front end on the WebSocket transport."""

    wait_time = between(0.5, 2.0)
    weight = 3

    @tag("ping")
    @task(3)
    def ping(self) -> None:
        self.client.call("ping", {"id": random.randint(1, 10**9)}, name="ping", expect=("pong",))

    @tag("load_file")
    @task(1)
    def load_file(self) -> None:
        name, size = random.choice(MODEL_FILES)
        self.client.call("load_file", {"name": name, "size": size}, name="load_file", expect=("loaded",))

    @tag("chat")
    @task(3)
    def chat(self) -> None:
        start = time.perf_counter()
        chunks = self.client.stream("chat", {"message": "hello", "max_tokens": CHAT_TOKENS}, name="chat",
                                    check=all_tokens, tokens=TOKENS)  # fmt: skip
        domain.generated(TOKENS.total(chunks), time.perf_counter() - start)

    @tag("typing")
    @task(1)
    def typing(self) -> None:
        self.client.emit("typing", {"text": "..."}, name="typing")


class SocketIOPollingUser(SocketIOChatUser):
    """The same client on long-polling, as browsers behind strict proxies connect."""

    transport = "polling"
    weight = 1


class SocketIOStressUser(SocketIOChatUser):
    wait_time = between(0.01, 0.05)
    weight = 1  # the runner picks it alone for stress scenarios
