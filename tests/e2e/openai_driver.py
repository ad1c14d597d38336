"""Child process of tests/e2e/test_openai_client.py (the pytest process never imports Locust): sends one
request per case through the real OpenAIClient to bench/llm_sse_server.py and prints, per case, what the
request event carried, plus the server's log. ``python tests/e2e/openai_driver.py URL [TOKENIZER]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.llm_accuracy import chat_request, run_requests, server_log  # noqa: E402
from load_tests.core.llm_request import LlmRequest  # noqa: E402

CASES = {
    "plain": {},
    "multi": {"x_tokens_per_chunk": 4},
    "reasoning": {"x_reasoning": 3},
    "too_many": {"x_fault": "429"},
    "broken": {"x_fault": "500"},
    "error_event": {"x_fault": "error_event"},
    "cut": {"x_fault": "cut"},
    "slow_first": {"x_fault": "slow_first"},
    "no_usage": {"x_fault": "no_usage"},
    "json_error": {"x_fault": "json_error"},
}


def main() -> None:
    url, tokenizer = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    plans = [[chat_request(case, 10, **extra)] for case, extra in CASES.items()]
    whole = {"model": "m", "prompt": "hi", "max_tokens": 5, "stream": False, "user": "whole"}
    plans.append([LlmRequest("/v1/completions", whole, "POST /v1/completions", "hi", stream=False)])
    embed = {"model": "m", "input": "hi", "user": "embed"}
    plans.append([LlmRequest("/v1/embeddings", embed, "POST /v1/embeddings", "hi", stream=False)])
    results = run_requests(url, plans, ttft_timeout_s=0.5, tokenizer=tokenizer)
    out = {}
    for key, event in results:
        exception = event["exception"]
        out[key] = {"request_type": event["request_type"], "name": event["name"],
                    "response_time": event["response_time"], "exception": None if exception is None else str(exception),
                    "llm": event["context"].get("llm")}  # fmt: skip
    print(json.dumps({"results": out, "log": server_log(url)}))


if __name__ == "__main__":
    main()
