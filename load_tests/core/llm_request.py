"""What an ``openai`` fleet service sends: the request of one iteration, as data (pure, testable anywhere).

:func:`next_request` is the one place that decides what is sent: the service's fixed ``prompt``, or,
with a ``workload:``, the next prompt of the user's :class:`~load_tests.core.llm_workloads.Session`
(its messages carry a multi-turn conversation's history; its ``max_tokens`` is the drawn output length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from load_tests.core.fleet import OpenAIService
from load_tests.core.llm_workloads import LlmPrompt, Session

ENDPOINT_PATHS = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}


@dataclass(frozen=True)
class LlmRequest:
    """One request: the path under the host, the JSON body, the row name, the prompt text, streamed or not."""

    path: str  # "/v1/chat/completions"
    body: dict[str, Any]
    name: str  # "POST /v1/chat/completions"
    prompt_text: str  # what input tokens are counted from when the server sends no usage
    stream: bool = True
    prompt: LlmPrompt | None = None  # the workload's prompt (its row, its intended input tokens)


def api_base(url: str) -> tuple[str, str]:
    """``http://h:8000/v1`` -> (``http://h:8000``, ``/v1``); a URL without a path gets ``/v1``."""
    parts = urlsplit(url.rstrip("/"))
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/v1"


def request_body(config: OpenAIService, prompt: str, prompt_of: LlmPrompt | None = None) -> dict[str, Any]:
    """The JSON body of one request of ``config`` for ``prompt`` (or the workload's ``prompt_of``: its
    messages and ``max_tokens``); ``extra_body`` is laid over it."""
    body: dict[str, Any] = {"model": config.model}
    if config.endpoint == "embeddings":
        return {**body, "input": prompt, **config.extra_body}
    if config.endpoint == "chat":
        system = [{"role": "system", "content": config.system}] if config.system else []
        if prompt_of is not None:
            has_system = any(m["role"] == "system" for m in prompt_of.messages)
            body["messages"] = [*([] if has_system else system), *prompt_of.messages]
        else:
            body["messages"] = [*system, {"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    max_tokens = prompt_of.max_tokens if prompt_of is not None and prompt_of.max_tokens else config.max_tokens
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
        if config.ignore_eos:
            body["ignore_eos"], body["min_tokens"] = True, max_tokens
    body["stream"] = config.streamed
    if config.streamed and config.include_usage:
        body["stream_options"] = {"include_usage": True}
    return {**body, **config.extra_body}


def next_request(config: OpenAIService, path_prefix: str, session: Session | None = None,
                 row: int | None = None) -> LlmRequest:  # fmt: skip
    """What to send next: the fixed ``prompt``, or the next prompt of the user's workload ``session``
    (``row``: the trace row of this paced iteration, ``current_iteration()``)."""
    path = path_prefix + ENDPOINT_PATHS[config.endpoint]
    name = config.name or f"POST {path}"
    if session is not None:
        prompt = session.next_prompt(row=row)
        text = prompt.prompt_text
        if config.system and config.endpoint == "chat" and not any(m["role"] == "system" for m in prompt.messages):
            text = f"{config.system}\n{text}"
        return LlmRequest(path, request_body(config, prompt.prompt_text, prompt), name, text, config.streamed, prompt)
    prompt_text = config.prompt
    counted = f"{config.system}\n{prompt_text}" if config.system and config.endpoint == "chat" else prompt_text
    return LlmRequest(path, request_body(config, prompt_text), name, counted, config.streamed)
