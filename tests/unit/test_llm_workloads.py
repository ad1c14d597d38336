"""LLM workloads: synthetic lengths, prompt files, ShareGPT, multi-turn, shared prefix, trace rows, tokenizers."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from pydantic import ValidationError

from load_tests.core.errors import ConfigError
from load_tests.core.llm_workloads import Workload, WorkloadSource


def _source(tmp_path: Path | None = None, **config: object) -> WorkloadSource:
    workload = Workload.model_validate(config)
    return WorkloadSource(workload.with_base(tmp_path) if tmp_path else workload)


def _words(prompt_text: str) -> int:
    return len(prompt_text.split())


def test_synthetic_prompts_have_exactly_the_lengths_drawn_and_are_reproducible() -> None:
    source = _source(input_tokens=50, output_tokens={"dist": "uniform", "min": 10, "max": 20}, seed=3)
    prompts = [source.session(0).next_prompt() for _ in range(3)]
    assert all(p.input_tokens == 50 == _words(p.prompt_text) for p in prompts)
    assert prompts[0] == prompts[1]  # user 0 of seed 3: always the same first prompt
    session = source.session(0)
    drawn = [session.next_prompt() for _ in range(200)]
    assert {p.max_tokens for p in drawn} == set(range(10, 21))
    assert source.session(1).next_prompt().prompt_text != prompts[0].prompt_text
    assert drawn[0].messages == [{"role": "user", "content": drawn[0].prompt_text}] and drawn[0].row is None
    normal = _source(input_tokens={"dist": "normal", "mean": 100, "std": 10, "max": 115}).session(0)
    lengths = [normal.next_prompt().input_tokens or 0 for _ in range(400)]
    assert statistics.mean(lengths) == pytest.approx(100, abs=2.5) and max(lengths) == 115
    assert _source(output_tokens=None).session(0).next_prompt().max_tokens is None


def test_a_shared_prefix_starts_every_users_prompt_then_each_its_own() -> None:
    source = _source(input_tokens=20, shared_prefix_tokens=30, system_prompt="Be brief.")
    first, second = source.session(0).next_prompt(), source.session(7).next_prompt()
    assert first.messages[0] == {"role": "system", "content": "Be brief."}
    a, b = first.messages[1]["content"].split(), second.messages[1]["content"].split()
    assert a[:30] == b[:30] and a[30:] != b[30:] and len(a) == len(b) == 50
    assert first.input_tokens == 52  # prefix, own part and the system prompt's two words


def test_multi_turn_sessions_carry_the_history_and_then_start_again() -> None:
    source = _source(input_tokens=5, turns=3, think_time="2s")
    session = source.session(0)
    assert session.think_s == 2.0
    one = session.next_prompt()
    session.add_reply("first answer here")
    two = session.next_prompt()
    session.add_reply("second")
    three = session.next_prompt()
    session.add_reply("third")
    again = session.next_prompt()
    assert [len(p.messages) for p in (one, two, three, again)] == [1, 3, 5, 1]
    assert two.messages[:2] == [one.messages[0], {"role": "assistant", "content": "first answer here"}]
    assert two.input_tokens == 5 + 3 + 5 and three.input_tokens == 5 + 3 + 5 + 1 + 5
    assert two.input_tokens == _words(two.prompt_text)


def test_prompt_files_and_sharegpt_conversations(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "tell me a story", "max_tokens": 64}\n\n{"prompt": "hi"}\n')
    session = _source(tmp_path, kind="jsonl", file="p.jsonl", output_tokens=9).session(0)
    seen = {(p.prompt_text, p.max_tokens, p.row, p.input_tokens) for p in (session.next_prompt() for _ in range(40))}
    assert seen == {("tell me a story", 64, 0, 4), ("hi", 9, 1, 1)}
    conversations = [
        {"conversations": [{"from": "human", "value": "what is two plus two"}, {"from": "gpt", "value": "it is four"},
                           {"from": "human", "value": "and three"}, {"from": "gpt", "value": "six"}]},
        {"conversations": [{"from": "gpt", "value": "an answer alone is skipped"}]},
    ]  # fmt: skip
    (tmp_path / "s.json").write_text(json.dumps(conversations))
    session = _source(tmp_path, kind="sharegpt", file="s.json", turns=5).session(0)
    first = session.next_prompt()
    session.add_reply("four")
    second = session.next_prompt()
    third = session.next_prompt()  # the conversation had two exchanges: a new one starts
    assert (first.prompt_text, first.max_tokens, first.row) == ("what is two plus two", 3, 0)
    assert second.max_tokens == 1 and [m["content"] for m in second.messages] == [
        "what is two plus two", "four", "and three"]  # fmt: skip
    assert third.messages == first.messages


def test_trace_rows_set_each_iterations_lengths(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text('{"offset_s": 0, "input_tokens": 12, "output_tokens": 3}\n'
                                      '{"offset_s": 0.5, "input_tokens": 40}\n')  # fmt: skip
    session = _source(tmp_path, kind="trace", file="t.jsonl", output_tokens=7).session(0)
    second, first = session.next_prompt(row=1), session.next_prompt(row=0)
    assert (first.input_tokens, first.max_tokens, first.row) == (12, 3, 0)
    assert (second.input_tokens, second.max_tokens, second.row) == (40, 7, 1)
    assert _words(second.prompt_text) == 40
    with pytest.raises(ConfigError, match=r"workload\.file: iteration 5 has no row"):
        session.next_prompt(row=5)


def _tokenizer_file(tmp_path: Path, kind: str) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from load_tests.core.llm_prompts import VOCABULARY

    path = tmp_path / f"{kind}.json"
    if kind == "wordlevel":
        vocab = {w: i for i, w in enumerate(["[UNK]", *VOCABULARY])}
        tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    else:  # a small BPE that splits most words into several tokens
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(vocab_size=60, special_tokens=["[UNK]"])
        tokenizer.train_from_iterator([" ".join(VOCABULARY)] * 3, trainer)
    tokenizer.save(str(path))
    return str(path)


@pytest.mark.parametrize("kind", ["wordlevel", "bpe"])
def test_with_a_local_tokenizer_the_lengths_are_exact_in_its_tokens(tmp_path: Path, kind: str) -> None:
    from tokenizers import Tokenizer

    path = _tokenizer_file(tmp_path, kind)
    tokenizer = Tokenizer.from_file(path)
    source = _source(tokenizer=path, input_tokens={"dist": "uniform", "min": 20, "max": 200}, shared_prefix_tokens=16)
    session = source.session(2)
    for _ in range(20):
        prompt = session.next_prompt()
        assert prompt.input_tokens == len(tokenizer.encode(prompt.prompt_text).ids)
    assert len(tokenizer.encode(source.prefix).ids) == 16


@pytest.mark.parametrize(
    ("config", "files", "message"),
    [
        ({"kind": "jsonl", "file": "p.jsonl"}, {"p.jsonl": '{"prompt": "a"}\n{"text": "b"}\n'},
         "p.jsonl line 2: needs prompt (a non-empty string)"),
        ({"kind": "jsonl", "file": "p.jsonl"}, {"p.jsonl": '{"prompt": "a", "max_tokens": 0}\n'},
         "p.jsonl line 1: max_tokens must be a whole number >= 1, not 0"),
        ({"kind": "jsonl", "file": "p.jsonl"}, {"p.jsonl": "{nope\n"}, "p.jsonl line 1: not JSON"),
        ({"kind": "jsonl", "file": "none.jsonl"}, {}, "workload.file: cannot read"),
        ({"kind": "sharegpt", "file": "s.json"}, {"s.json": '[{"conversations": [{"from": "human", "value": 3}]}]'},
         "s.json entry 0: conversations[0].value must be a string"),
        ({"kind": "sharegpt", "file": "s.json"}, {"s.json": '[{"turns": []}]'},
         "s.json entry 0: needs conversations"),
        ({"kind": "sharegpt", "file": "s.json"}, {"s.json": '{"conversations": []}'}, "s.json: a ShareGPT file is"),
        ({"kind": "sharegpt", "file": "s.json"}, {"s.json": "[]"}, "has no conversation with a human turn"),
        ({"kind": "trace", "file": "t.jsonl"}, {"t.jsonl": '{"offset_s": 1}\n{"offset_s": 0}\n'},
         "workload.file: " ),
        ({"tokenizer": "tok.json"}, {"tok.json": "{}"}, "workload.tokenizer: "),
    ],
)  # fmt: skip
def test_bad_files_are_one_line_errors(tmp_path: Path, config: dict, files: dict, message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as info:
        _source(tmp_path, **config)
    assert message in str(info.value) and "\n" not in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kind": "jsonl"}, "kind jsonl needs file"),
        ({"file": "x.jsonl"}, "file is for kind jsonl, sharegpt or trace"),
        ({"input_tokens": {"dist": "uniform", "min": 5}}, "dist uniform needs max"),
        ({"input_tokens": {"dist": "uniform", "min": 9, "max": 5}}, "min 9 is above max 5"),
        ({"kind": "shakespeare"}, "kind"),
        ({"turns": 0}, "turns"),
    ],
)
def test_bad_workload_settings_are_refused(config: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Workload.model_validate(config)
