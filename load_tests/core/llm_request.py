"""What an ``openai`` fleet service sends: the request of one iteration, as data (pure, testable anywhere).

:func:`next_request` is the one place that decides what is sent; today every request carries the
service's fixed ``prompt``. Workloads (prompt files, synthetic input/output lengths, multi-turn sessions)
plug in here by choosing the prompt and ``max_tokens`` of each request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from load_tests.core.fleet import OpenAIService

ENDPOINT_PATHS = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}


@dataclass(frozen=True)
class LlmRequest:
    """One request: the path under the host, the JSON body, the row name, the prompt text, streamed or not."""

    path: str  # "/v1/chat/completions"
    body: dict[str, Any]
    name: str  # "POST /v1/chat/completions"
    prompt_text: str  # what input tokens are counted from when the server sends no usage
    stream: bool = True


def api_base(url: str) -> tuple[str, str]:
    """``http://h:8000/v1`` -> (``http://h:8000``, ``/v1``); a URL without a path gets ``/v1``."""
    parts = urlsplit(url.rstrip("/"))
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/v1"


def request_body(config: OpenAIService, prompt: str) -> dict[str, Any]:
    """The JSON body of one request of ``config`` for ``prompt``; ``extra_body`` is laid over it."""
    body: dict[str, Any] = {"model": config.model}
    if config.endpoint == "embeddings":
        return {**body, "input": prompt, **config.extra_body}
    if config.endpoint == "chat":
        system = [{"role": "system", "content": config.system}] if config.system else []
        body["messages"] = [*system, {"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if config.max_tokens is not None:
        body["max_tokens"] = config.max_tokens
    body["stream"] = config.streamed
    if config.streamed and config.include_usage:
        body["stream_options"] = {"include_usage": True}
    return {**body, **config.extra_body}


def next_request(config: OpenAIService, path_prefix: str) -> LlmRequest:
    """What to send next (the place a ``workload:`` will choose prompts and lengths)."""
    path = path_prefix + ENDPOINT_PATHS[config.endpoint]
    prompt = config.prompt
    counted = f"{config.system}\n{prompt}" if config.system and config.endpoint == "chat" else prompt
    return LlmRequest(path, request_body(config, prompt), config.name or f"POST {path}", counted, config.streamed)
