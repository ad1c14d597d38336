"""WebSocket users of the gateway's ``/ws/chat``: ``locust -f load_tests/locust/gateway_websocket.py --host http://127.0.0.1:8000``.

Rows: ``WS connect``, ``WS reply`` (ping, echo, subscribe), ``WS first message`` + ``WS stream`` (chat:
16 tokens then ``done``, with TTFT, ITL and TPOT by each message's ``tokens`` count), ``WS send``
(notify, no reply), ``WS ping`` (protocol ping/pong), ``WS push`` (server notifications),
``WS connection`` (drops) and ``WS reconnect``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from locust import between, tag, task

from load_tests.core import domain
from load_tests.core.token_rule import TokenRule
from load_tests.engine.harness import install
from load_tests.engine.users import WebSocketUser

install()
CHAT_TOKENS = 16
TOKENS = TokenRule("count", "tokens")  # each token message says how many tokens it carries


def all_tokens(_end: Any, chunks: list[Any]) -> str | None:
    """A chat stream is whole when its messages carry every token asked for (however they are chunked)."""
    got = TOKENS.total(chunks)
    return None if got == CHAT_TOKENS else f"token count mismatch: expected {CHAT_TOKENS}, got {got}"


class WebSocketChatUser(WebSocketUser):
    """A chat client on one long-lived WebSocket."""

    wait_time = between(0.5, 2.0)
    weight = 4

    @tag("ping")
    @task(3)
    def ping(self) -> None:
        self.client.request({"type": "ping"}, name="ping", expect="pong")

    @tag("echo")
    @task(2)
    def echo(self) -> None:
        self.client.request({"type": "echo", "payload": {"n": random.random()}}, name="echo", expect="echo")

    @tag("chat")
    @task(3)
    def chat(self) -> None:
        message = {"type": "chat", "message": "stream me a reply", "max_tokens": CHAT_TOKENS}
        start = time.perf_counter()
        chunks = self.client.stream(message, name="chat", check=all_tokens, tokens=TOKENS)
        domain.generated(TOKENS.total(chunks), time.perf_counter() - start)

    @tag("subscribe")
    @task(1)
    def subscribe(self) -> None:
        """The server then pushes 3 notifications, counted as ``WS push``."""
        self.client.request({"type": "subscribe", "count": 3}, name="subscribe", expect="subscribed")

    @tag("notify")
    @task(1)
    def notify(self) -> None:
        self.client.send({"type": "notify", "text": "typing"}, name="notify")

    @tag("protocol_ping")
    @task(1)
    def protocol_ping(self) -> None:
        self.client.ping()


class WebSocketStressUser(WebSocketChatUser):
    wait_time = between(0.01, 0.05)
    weight = 1  # the runner picks it alone for stress scenarios
