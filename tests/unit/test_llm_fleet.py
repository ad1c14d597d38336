"""The ``openai`` fleet service kind: the YAML checked before anything is sent, and the requests it makes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from load_tests.core.errors import ConfigError
from load_tests.core.fleet import OpenAIService, Service
from load_tests.core.llm_request import api_base, next_request
from load_tests.launch.plan_writer import plan_from_settings
from load_tests.launch.settings import load_settings

YAML = """
fleet:
  chat:
    protocol: openai
    base_url: http://127.0.0.1:8000/v1
    model: reference-llm
    api_key_env: LLM_KEY
    max_tokens: 64
    prompt: Tell me a story.
    system: Be brief.
    extra_body: {temperature: 0, ignore_eos: true, min_tokens: 64}
    ttft_timeout: 2s
"""


def _settings(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> object:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return load_settings({"config": str(path)}, env=env if env is not None else {"LLM_KEY": "sk-test"})


def test_an_openai_service_reaches_the_plan(tmp_path: Path) -> None:
    settings = _settings(tmp_path, YAML)
    assert [t.name for t in settings.test_types] == ["chat"]  # type: ignore[attr-defined]
    plan = plan_from_settings(settings, tmp_path, "t", with_scenario=True, from_runner=True)  # type: ignore[arg-type]
    assert "sk-test" not in plan.to_json()  # only the variable's name travels
    service = TypeAdapter(dict[str, Service]).validate_python(plan.fleet)["chat"]
    assert isinstance(service, OpenAIService) and service.ttft_timeout == 2.0 and service.streamed
    request = next_request(service, api_base(service.url)[1])
    assert (request.path, request.name, request.stream) == ("/v1/chat/completions", "POST /v1/chat/completions", True)
    assert request.body == {
        "model": "reference-llm", "max_tokens": 64, "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me a story."}],
        "temperature": 0, "ignore_eos": True, "min_tokens": 64,
    }  # fmt: skip
    assert request.prompt_text == "Be brief.\nTell me a story."


def test_endpoints_and_addresses() -> None:
    assert api_base("http://h:8000") == ("http://h:8000", "/v1")
    assert api_base("https://gw.example/openai/v1/") == ("https://gw.example", "/openai/v1")
    adapter = TypeAdapter(Service)
    completions = adapter.validate_python(
        {"protocol": "openai", "url": "http://h", "model": "m", "endpoint": "completions", "stream": False}
    )
    request = next_request(completions, "/v1")
    assert request.body == {"model": "m", "prompt": "Say hello.", "stream": False} and not request.stream
    embeddings = adapter.validate_python(
        {"protocol": "openai", "url": "http://h", "model": "e", "endpoint": "embeddings"}
    )
    request = next_request(embeddings, "/v1")
    assert (request.path, request.body, request.stream) == ("/v1/embeddings", {"model": "e", "input": "Say hello."},
                                                            False)  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        ("", {}, "fleet.chat.api_key_env: the environment variable LLM_KEY is not set"),
        ("    endpoint: images\n", None, "fleet.chat.endpoint"),
        ("    tokenizer: missing.json\n", None, "fleet.chat.tokenizer: file not found"),
        ("    tokenizer: bad.json\n", None, "fleet.chat.tokenizer: not a tokenizer.json"),
        ("    extra_body: {stream: false}\n", None, "set stream and model with their own fields"),
        ("    color: blue\n", None, "fleet.chat.color"),
    ],
)
def test_mistakes_are_one_line_and_keep_the_key_secret(tmp_path: Path, extra: str, env: dict | None,
                                                       message: str) -> None:  # fmt: skip
    (tmp_path / "bad.json").write_text("{not a tokenizer")
    text = YAML.replace("    extra_body: {temperature: 0, ignore_eos: true, min_tokens: 64}\n", "") + extra
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as error:
        _settings(tmp_path, text, env)
    assert "\n" not in str(error.value) and "sk-test" not in str(error.value)


def test_the_readme_config_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("### LLM serving", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    settings = _settings(tmp_path, block, {"OPENAI_API_KEY": "sk-x"})
    assert settings.llm_slo == {"ttft_ms": 500.0, "tpot_ms": 50.0, "e2e_ms": 10000.0}  # type: ignore[attr-defined]
