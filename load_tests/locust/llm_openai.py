"""Token-timed LLM chat on an OpenAI-compatible server (the reference service's ``/v1/chat/completions``):
``locust -f load_tests/locust/llm_openai.py --host http://127.0.0.1:8000``.

The bundled ``llm`` test type. Its users are ``openai`` fleet users (engine/fleet_openai.py) described by
the :data:`SERVICE` below, so they time every token the same way (rows ``LLM stream``, named ``POST
/v1/chat/completions``, with TTFT, ITL, TPOT and token counts from the server's ``usage``): streamed,
``include_usage``, two-turn conversations (the second turn carries the first reply) of 32-128 input words
asking for exactly 32 tokens (``ignore_eos``). The host is Locust's ``--host`` (``/v1`` is added when it
has no path); the runner passes the REST service's URL, where the reference service serves the API.
``LlmChatUser`` thinks between requests; ``LlmStressUser`` barely waits.
"""

from __future__ import annotations

import itertools
import ssl
from typing import Any

from locust import between

from load_tests.clients.openai_client import TokenCounter
from load_tests.core.fleet import OpenAIService
from load_tests.core.llm_request import api_base
from load_tests.core.llm_workloads import Workload, WorkloadSource
from load_tests.engine.fleet_openai import FleetOpenAIUser
from load_tests.engine.harness import install
from load_tests.engine.plan_source import current_plan

install()

PLAN = current_plan()
DEFAULT_HOST = "http://127.0.0.1:8000"
WORKLOAD = Workload(input_tokens={"dist": "uniform", "min": 32, "max": 128}, output_tokens=32, turns=2)  # type: ignore[arg-type]
SERVICE = OpenAIService(protocol="openai", base_url=f"{DEFAULT_HOST}/v1", model="reference-llm", workload=WORKLOAD,
                        ignore_eos=True, timeout=PLAN.services.timeout_s)  # fmt: skip


class _ReferenceLlmUser(FleetOpenAIUser):
    """The address and key are the run's (Locust's --host, the services' API key), known only at start."""

    abstract = True
    service = SERVICE
    workload = WorkloadSource(WORKLOAD, "llm workload")
    counter = TokenCounter()
    network_timeout = connection_timeout = PLAN.services.timeout_s

    def __init__(self, environment: Any) -> None:
        self.api_host, self.path_prefix = api_base(environment.host or PLAN.services.rest_url or DEFAULT_HOST)
        key = PLAN.api_key()
        self.api_headers = {"X-API-Key": key} if key else {}
        ca_file = PLAN.services.ca_file
        if ca_file:
            self.ssl_context_factory = lambda *_a, **_k: ssl.create_default_context(cafile=ca_file)
        super().__init__(environment)


class LlmChatUser(_ReferenceLlmUser):
    """A chat client that thinks between turns."""

    wait_time = between(0.5, 2.0)
    weight = 4
    user_ids = itertools.count()


class LlmStressUser(_ReferenceLlmUser):
    """Back-to-back requests (the runner picks it alone for stress scenarios)."""

    wait_time = between(0.0, 0.1)
    weight = 1
    user_ids = itertools.count(500_000)  # other sessions than the chat users'
