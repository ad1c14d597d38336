"""A ``workload:`` on an ``openai`` service: what each request of a user's session carries (messages with the
growing history, max_tokens, ignore_eos/min_tokens, a trace row's lengths), and bad files refused at load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from load_tests.core.errors import ConfigError
from load_tests.core.fleet import OpenAIService, Service
from load_tests.core.llm_request import next_request
from load_tests.core.llm_workloads import WorkloadSource
from load_tests.launch.plan_writer import plan_from_settings
from load_tests.launch.settings import load_settings

YAML = """
fleet:
  chat:
    protocol: openai
    base_url: http://127.0.0.1:8000/v1
    model: reference-llm
    ignore_eos: true
    max_tokens: 99
    workload: {WORKLOAD}
"""


def _service(tmp_path: Path, workload: str, scenarios: str = "") -> OpenAIService:
    """The service as a worker gets it: through the config checks and the plan."""
    path = tmp_path / "cfg.yaml"
    path.write_text(YAML.replace("{WORKLOAD}", workload) + scenarios)
    settings = load_settings({"config": str(path)}, env={})
    plan = plan_from_settings(settings, tmp_path, "t", with_scenario=True, from_runner=True)
    service = TypeAdapter(dict[str, Service]).validate_python(plan.fleet)["chat"]
    assert isinstance(service, OpenAIService)
    return service


def test_each_turn_carries_the_history_and_its_lengths(tmp_path: Path) -> None:
    service = _service(tmp_path, "{input_tokens: 20, output_tokens: 5, turns: 3, system_prompt: Be brief.}")
    assert service.workload is not None
    session = WorkloadSource(service.workload).session(0)
    sizes = []
    for turn in range(4):
        request = next_request(service, "/v1", session)
        body = request.body
        assert (body["max_tokens"], body["min_tokens"], body["ignore_eos"]) == (5, 5, True)
        assert body["stream_options"] == {"include_usage": True} and body["stream"] is True
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert [m["role"] for m in body["messages"][1:]] == ["user", "assistant"] * (turn % 3) + ["user"]
        words = sum(len(m["content"].split()) for m in body["messages"])  # what the reference service counts
        assert request.prompt is not None and words == request.prompt.input_tokens
        assert request.prompt_text == "\n".join(m["content"] for m in body["messages"])
        sizes.append(words)
        session.add_reply(f"reply {turn} a b c")  # 5 words, as a 5-token reply would be
    assert sizes == [2 + 20, 2 + 45, 2 + 70, 2 + 20]  # the 4th request starts a new conversation


def test_without_a_drawn_length_the_service_max_tokens_stays(tmp_path: Path) -> None:
    service = _service(tmp_path, "{input_tokens: 3, output_tokens: null}")
    assert service.workload is not None
    request = next_request(service, "/v1", WorkloadSource(service.workload).session(1))
    assert (request.body["max_tokens"], request.body["min_tokens"]) == (99, 99)
    completions = service.model_copy(update={"endpoint": "completions", "ignore_eos": False, "system": "S"})
    request = next_request(completions, "/v1", WorkloadSource(service.workload).session(1))
    assert request.path == "/v1/completions" and len(request.body["prompt"].split()) == 3
    assert "ignore_eos" not in request.body and "min_tokens" not in request.body


def test_a_trace_scenario_gives_row_k_to_iteration_k(tmp_path: Path) -> None:
    rows = [(0.0, 11, 3), (0.1, 7, 9), (0.2, 30, 1)]
    (tmp_path / "day.jsonl").write_text(
        "".join(f'{{"offset_s": {t}, "input_tokens": {i}, "output_tokens": {o}}}\n' for t, i, o in rows)
    )
    service = _service(tmp_path, "{kind: trace, file: day.jsonl}",
                       "scenarios:\n  replay: {kind: trace, trace: day.jsonl}\n")  # fmt: skip
    assert service.workload is not None and service.workload.file == str(tmp_path / "day.jsonl")
    session = WorkloadSource(service.workload).session(5)
    for k in (2, 0, 1, 2):
        request = next_request(service, "/v1", session, row=k)
        assert request.prompt is not None and request.prompt.row == k
        assert len(request.body["messages"][-1]["content"].split()) == rows[k][1]
        assert request.body["max_tokens"] == request.body["min_tokens"] == rows[k][2]


@pytest.mark.parametrize(
    ("workload", "files", "message"),
    [
        ("{kind: jsonl, file: nope.jsonl}", {}, "cfg.yaml: fleet.chat.workload.file: cannot read"),
        ("{kind: jsonl, file: p.jsonl}", {"p.jsonl": '{"prompt": "hi"}\nnot json\n'}, "p.jsonl line 2: not JSON"),
        ("{kind: trace, file: t.jsonl}", {"t.jsonl": '{"offset_s": 1}\n{"offset_s": 0}\n'}, "fleet.chat.workload.file"),
        ("{input_tokens: -1}", {}, "fleet.chat.workload.input_tokens"),
    ],
)
def test_bad_workloads_fail_before_any_traffic(tmp_path: Path, workload: str, files: dict[str, str],
                                               message: str) -> None:  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as error:
        _service(tmp_path, workload)
    assert "\n" not in str(error.value)


def test_the_bundled_llm_test_type_is_part_of_all(tmp_path: Path) -> None:
    from load_tests.core.plan import Services
    from load_tests.launch.catalogue import resolve_test_types

    names = [t.name for t in resolve_test_types("all")]
    assert names == ["rest", "websocket", "socketio", "grpc", "llm"]
    (llm,) = resolve_test_types("llm")
    assert llm.path.is_file() and llm.users == {"normal": ("LlmChatUser",), "stress": ("LlmStressUser",)}
    assert Services(rest_url="http://h:1").address_of("llm") == "http://h:1"
    path = tmp_path / "cfg.yaml"
    path.write_text(YAML.replace("chat:", "llm:", 1).replace("{WORKLOAD}", "{}"))
    with pytest.raises(ConfigError, match=r"fleet\.llm: the name 'llm' is taken by the bundled test types"):
        load_settings({"config": str(path)}, env={})


def test_the_readme_workload_config_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("**What to send**", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces/day.jsonl").write_text('{"offset_s": 0, "input_tokens": 5, "output_tokens": 2}\n')
    path = tmp_path / "llm.yaml"
    path.write_text(block)
    settings = load_settings({"config": str(path), "scenario": "poisson_20"}, env={})
    service = settings.fleet["chat"]  # type: ignore[attr-defined]
    assert service.workload.turns == 3 and service.workload.think_time == 2.0 and service.ignore_eos
