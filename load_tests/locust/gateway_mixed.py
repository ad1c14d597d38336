"""A realistic front end: REST calls and a live Socket.IO session in one user.

``locust -f load_tests/locust/gateway_mixed.py --host http://127.0.0.1:8000``. The user loads model
info over HTTP, predicts over REST, and chats over its Socket.IO session, as a browser client of an AI
app does; rows of both protocols appear side by side in every table.
"""

from __future__ import annotations

import random
from typing import Any

from locust import between, tag, task
from locust.contrib.fasthttp import FastHttpUser

from load_tests.clients.socketio_client import SocketIOClient
from load_tests.engine.harness import install
from load_tests.engine.payloads import feature_rows
from load_tests.engine.plan_source import current_plan

install()


class FrontendUser(FastHttpUser):
    wait_time = between(0.5, 2.0)

    def __init__(self, environment: Any) -> None:
        plan = current_plan()
        key = plan.api_key()
        self.default_headers = {"X-API-Key": key} if key else None
        super().__init__(environment)
        self.sio = SocketIOClient(
            plan.services.socketio_url or self.host,
            environment.events.request,
            auth={"api_key": key} if key else None,
            timeout=plan.services.socketio_timeout_s,
        )

    def on_start(self) -> None:
        self.client.get("/model-info")
        self.sio.connect()

    def on_stop(self) -> None:
        self.sio.close()

    @tag("predict")
    @task(3)
    def predict(self) -> None:
        row = random.choice(feature_rows())
        with self.client.post("/predict", json={"features": list(row.features)}, catch_response=True) as resp:
            if resp.status_code == 200 and resp.json().get("label") != row.label:
                resp.failure(f"label mismatch: expected {row.label}, got {resp.json().get('label')}")

    @tag("chat")
    @task(2)
    def chat(self) -> None:
        self.sio.stream("chat", {"message": "hi", "max_tokens": 8}, name="chat", expect_messages=8)

    @tag("typing")
    @task(1)
    def typing(self) -> None:
        self.sio.emit("typing", {"text": "..."}, name="typing")
