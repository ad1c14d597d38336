"""OpenAI-compatible services of the fleet (``protocol: openai``): one request per iteration, every token timed.

The user is a FastHttpUser whose one task asks ``core/llm_request.next_request`` for the request to
send and hands it to :class:`~load_tests.clients.openai_client.OpenAIClient`. With a ``workload:`` each
user holds its own session (``user_index``: unique over the workers, so users never repeat each other's
draws): the prompt comes from it, the iteration's trace row (``current_iteration()``) picks a trace
workload's lengths, the reply goes back into its history, and ``think_s`` is slept between two turns.
"""

from __future__ import annotations

import itertools
import os
import ssl
from typing import Any, ClassVar

import gevent
from locust import between, constant, tag, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import WorkerRunner

from load_tests.clients.openai_client import OpenAIClient, TokenCounter
from load_tests.core.fleet import OpenAIService
from load_tests.core.llm_request import api_base, next_request
from load_tests.core.llm_workloads import Session, WorkloadSource
from load_tests.engine.fleet_http import runtime_headers
from load_tests.engine.pacing import current_iteration

USERS_PER_WORKER = 1_000_000  # user indices of worker w start at w * this: no two users share a session seed


class FleetOpenAIUser(FastHttpUser):
    abstract = True
    insecure = False  # verify TLS certificates (FastHttpUser's default skips it)
    service: OpenAIService
    api_host = ""  # the service's own scheme://host:port (Locust's --host would replace a class's host)
    path_prefix = "/v1"
    counter: TokenCounter
    api_headers: dict[str, str] = {}  # noqa: RUF012  (set once per class; the key is read at class build)
    workload: WorkloadSource | None = None  # read once per class (per process)
    user_ids: ClassVar[itertools.count[int]]

    def __init__(self, environment: Any) -> None:
        self.host = self.api_host  # Locust sets every user class's host to --host: this service keeps its own
        super().__init__(environment)
        self.llm = OpenAIClient(self.client, self.counter, self.api_headers, self.service.ttft_timeout)
        self.session: Session | None = None
        if self.workload is not None:
            runner = environment.runner
            worker = runner.worker_index if isinstance(runner, WorkerRunner) else 0
            self.session = self.workload.session(worker * USERS_PER_WORKER + next(self.user_ids))

    @tag("llm")
    @task
    def ask(self) -> None:
        session = self.session
        self.llm.send(next_request(self.service, self.path_prefix, session, current_iteration()))
        if session is not None:
            session.add_reply(self.llm.reply_text)
            if session.think_s and session.more_turns:
                gevent.sleep(session.think_s)


def _headers(name: str, config: OpenAIService) -> dict[str, str]:
    """The service's headers (``${NAME}`` filled) plus the bearer key read from ``api_key_env``."""
    headers = runtime_headers(config, name) if config.headers else {}
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise RuntimeError(f"fleet.{name}.api_key_env: the environment variable {config.api_key_env} is not set")
        headers["Authorization"] = f"Bearer {key}"
    return headers


def openai_user(name: str, class_name: str, config: OpenAIService, worker_count: int) -> type:
    """The Locust user class of one ``openai`` service (``worker_count`` is unused: sessions are per user)."""
    host, prefix = api_base(config.url)
    value = config.think_time
    workload = WorkloadSource(config.workload, f"fleet.{name}.workload") if config.workload is not None else None
    attributes: dict[str, Any] = {
        "host": host, "api_host": host, "path_prefix": prefix, "service": config,
        "workload": workload, "user_ids": itertools.count(),
        "counter": TokenCounter(config.tokenizer), "api_headers": _headers(name, config),
        "network_timeout": config.timeout, "connection_timeout": config.timeout, "weight": config.weight,
        "abstract": False,
        "wait_time": between(*value) if isinstance(value, tuple) else constant(value),
    }  # fmt: skip
    if config.ca_file:
        ca_file = config.ca_file
        attributes["ssl_context_factory"] = lambda: ssl.create_default_context(cafile=ca_file)
    return type(class_name, (FleetOpenAIUser,), attributes)
