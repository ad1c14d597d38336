"""The OpenAI client against a real SSE server on 127.0.0.1 (bench/llm_sse_server.py), in child processes:
token figures against the server's own stamps, counts against usage, and every failure by its name."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sse_server() -> Iterator[str]:
    command = [sys.executable, str(ROOT / "bench" / "llm_sse_server.py"), "--ttft-ms", "30", "--delay-ms", "5"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.kill()
        proc.wait()


def _tokenizer(path: Path) -> Path:
    """A tiny word-level tokenizer.json, built here with the tokenizers library itself (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "there": 2, **{f"w{i}": 3 + i for i in range(40)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))
    return path


def test_every_case_is_reported_as_it_happened(sse_server: str, tmp_path: Path) -> None:
    driver = subprocess.run([sys.executable, str(ROOT / "tests" / "e2e" / "openai_driver.py"), sse_server,
                             str(_tokenizer(tmp_path / "tokenizer.json"))], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)  # fmt: skip
    assert driver.returncode == 0, driver.stderr[-3000:]
    data = json.loads(driver.stdout)
    results, log = data["results"], data["log"]
    plain = results["plain"]
    assert (plain["request_type"], plain["name"], plain["exception"]) == ("LLM stream", "POST /v1/chat/completions",
                                                                          None)  # fmt: skip
    llm = plain["llm"]
    assert len(llm["chunk_ms"]) == 10  # the role-only first chunk and the usage chunk are not tokens
    assert (llm["output_tokens"], llm["input_tokens"], llm["count_source"], llm["completed"]) == (10, 7, "usage", True)
    server_ttft = (log["plain"]["chunks"][0] - log["plain"]["received"]) * 1000
    assert 0 <= llm["chunk_ms"][0] - server_ttft < 100 and llm["chunk_ms"][0] >= 30  # tight bounds: the next test
    multi = results["multi"]["llm"]  # 10 tokens in chunks of 4, 4, 2: three chunks, 10 tokens
    assert len(multi["chunk_ms"]) == 3 and multi["output_tokens"] == 10
    assert results["reasoning"]["llm"]["reasoning_tokens"] == 3 and results["reasoning"]["llm"]["output_tokens"] == 10
    assert results["too_many"]["exception"] == "HTTP 429" and results["broken"]["exception"] == "HTTP 500"
    assert results["too_many"]["llm"]["completed"] is False  # counted among LLM requests, never met an SLO
    assert results["error_event"]["exception"] == "stream error: overloaded_error"
    assert results["json_error"]["exception"] == "stream error: gateway_error"  # 200, but JSON, not a stream
    cut = results["cut"]
    assert cut["exception"] == "stream cut before [DONE]" and len(cut["llm"]["chunk_ms"]) == 3
    assert (cut["llm"]["output_tokens"], cut["llm"]["count_source"]) == (3, "tokenizer")  # partial tokens count
    slow = results["slow_first"]
    assert slow["exception"] == "first token timeout" and 450 <= slow["response_time"] < 1500
    no_usage = results["no_usage"]["llm"]
    assert (no_usage["output_tokens"], no_usage["input_tokens"], no_usage["count_source"]) == (10, 2, "tokenizer")
    whole = results["whole"]
    assert (whole["request_type"], whole["exception"], whole["llm"]["output_tokens"]) == ("LLM request", None, 5)
    assert len(whole["llm"]["chunk_ms"]) == 1
    embed = results["embed"]
    assert (embed["request_type"], embed["name"], embed["exception"], embed["llm"]) == (
        "LLM request", "POST /v1/embeddings", None, None)  # fmt: skip
    assert "sk-secret" not in driver.stdout + driver.stderr


@pytest.mark.parametrize("per_chunk", [1, 3])
def test_token_figures_match_the_server_stamps(per_chunk: int) -> None:
    """20 concurrent streams against the reference service: client TTFT, ITL (per chunk) and TPOT (per token)
    minus its stamps, with bounds loose enough for a shared 2-core machine (bench/llm_accuracy.py: the tight
    ones). Its first token leaves alone, then chunks of ``per_chunk``: ITL has one sample per chunk gap."""
    bench = subprocess.run([sys.executable, str(ROOT / "bench" / "llm_accuracy.py"), "--streams", "20", "--requests",
                            "2", "--tokens", "12", "--tokens-per-chunk", str(per_chunk), "--ttft-ms", "30",
                            "--delay-ms", "10", "--ramp-s", "0.2"], capture_output=True, text=True, timeout=90,
                           cwd=ROOT)  # fmt: skip
    assert bench.returncode == 0, bench.stderr[-3000:]
    report = json.loads(bench.stdout)["difference_ms"]
    assert report["requests"] == report["completed"] == report["counts_equal_usage"] == 20
    chunks = 1 + -(-(12 - 1) // per_chunk)
    assert report["itl_ms"]["n"] == 20 * (chunks - 1) and report["unmatched"] == 0  # one sample per gap
    for figure in ("ttft_ms", "itl_ms", "tpot_ms"):
        stats = report[figure]
        assert abs(stats["p50"]) <= 3.0 and abs(stats["p99"]) <= 15.0 and abs(stats["p1"]) <= 15.0, (figure, stats)
