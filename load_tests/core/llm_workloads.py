"""LLM workloads: what each simulated user asks an OpenAI-compatible server, turn after turn.

A :class:`Workload` is the config (the ``workload:`` of an ``openai`` fleet service). Kinds:

- ``synthetic``: prompts of ``input_tokens`` tokens asking for ``output_tokens``, each length fixed
  (``128``), ``{dist: uniform, min: 64, max: 512}`` or ``{dist: normal, mean: 256, std: 64}`` (clipped to
  ``min``/``max``, at least 1);
- ``jsonl``: prompts from a file of ``{"prompt": ..., "max_tokens": ...}`` lines;
- ``sharegpt``: conversations of a ShareGPT file; each human turn is a prompt and the gpt turn after it
  sets the output length;
- ``trace``: the lengths of row ``k`` of a trace (core/arrivals.py), for the iteration ``k`` that the
  trace's schedule started (``current_iteration()`` in the user; without it, rows in turn).

Common settings: ``turns`` (a session holds a conversation of that many turns, carrying the history
and the replies given to :meth:`Session.add_reply`, then starts another; ShareGPT sessions follow
their conversation's own turns), ``think_time`` between turns, ``shared_prefix_tokens`` (every prompt
of every user starts with the same P tokens, then its own ``input_tokens``: for prefix caching),
``system_prompt``, ``tokenizer`` (a local tokenizer.json: lengths exact in that tokenizer) and
``seed``. Draws are reproducible: user ``u`` of seed ``s`` always gets the same prompts.

Pure: :class:`WorkloadSource` reads the files once (a bad file fails when the config is read) and
hands out a :class:`Session` per user; sessions share nothing, so no lock is ever needed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from load_tests.core.arrivals import TraceRow, load_trace
from load_tests.core.errors import ConfigError
from load_tests.core.llm_prompts import (
    PromptRow,
    TokenCounter,
    count_tokens,
    load_tokenizer,
    read_prompt_lines,
    read_sharegpt,
    synthetic_text,
)
from load_tests.core.scenarios import parse_duration

MAX_TOKENS = 1_000_000


def _length_shorthand(value: Any) -> Any:
    return {"dist": "fixed", "value": value} if isinstance(value, int) and not isinstance(value, bool) else value


class Length(BaseModel):
    """A token length: ``fixed`` (``value``), ``uniform`` (``min``..``max``) or ``normal`` (``mean``, ``std``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dist: Literal["fixed", "uniform", "normal"] = "fixed"
    value: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    min: int | None = Field(default=None, ge=0, le=MAX_TOKENS)
    max: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    mean: float | None = Field(default=None, ge=0, le=MAX_TOKENS)
    std: float | None = Field(default=None, ge=0, le=MAX_TOKENS)

    @model_validator(mode="after")
    def _complete(self) -> Length:
        needs = {"fixed": ("value",), "uniform": ("min", "max"), "normal": ("mean", "std")}[self.dist]
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"dist {self.dist} needs {' and '.join(missing)}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def draw(self, rng: random.Random) -> int:
        if self.dist == "fixed":
            return int(self.value or 0)
        if self.dist == "uniform":
            return rng.randint(int(self.min or 0), int(self.max or 0))
        value = round(rng.gauss(float(self.mean or 0), float(self.std or 0)))
        return int(min(max(value, self.min if self.min is not None else 1), self.max or MAX_TOKENS))


TokenLength = Annotated[Length, BeforeValidator(_length_shorthand)]


def _seconds_or_zero(value: Any) -> float:
    return 0.0 if value in (0, 0.0, "0", "0s") else parse_duration(value)


class Workload(BaseModel):
    """The ``workload:`` of an ``openai`` service (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["synthetic", "jsonl", "sharegpt", "trace"] = "synthetic"
    input_tokens: TokenLength = Length(value=128)
    output_tokens: TokenLength | None = Length(value=128)  # None: no max_tokens (the server decides)
    file: str | None = None  # jsonl, sharegpt, trace: relative to the config file
    turns: int = Field(default=1, ge=1, le=1000)
    think_time: Annotated[float, BeforeValidator(_seconds_or_zero)] = 0.0
    shared_prefix_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    system_prompt: str | None = None
    tokenizer: str | None = None  # a local tokenizer.json
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _file_when_needed(self) -> Workload:
        if self.kind != "synthetic" and not self.file:
            raise ValueError(f"kind {self.kind} needs file")
        if self.kind == "synthetic" and self.file:
            raise ValueError("file is for kind jsonl, sharegpt or trace")
        return self

    def with_base(self, base: Path) -> Workload:
        """The same workload with ``file`` and ``tokenizer`` made absolute from the config's folder."""

        def absolute(path: str | None) -> str | None:
            return str((base / Path(path).expanduser()).resolve()) if path else None

        return self.model_copy(update={"file": absolute(self.file), "tokenizer": absolute(self.tokenizer)})


@dataclass(frozen=True)
class LlmPrompt:
    """One request's content: chat ``messages`` (history included) and the same as one ``prompt_text``
    for ``/v1/completions``; ``input_tokens`` counts the tokens of every message's content (a tokenizer's
    count with one, whitespace words without; a chat template adds a few), ``row`` the file or trace row."""

    messages: list[dict[str, str]]
    prompt_text: str
    max_tokens: int | None
    input_tokens: int | None
    row: int | None


class WorkloadSource:
    """A workload with its files read: hands out one :class:`Session` per user."""

    def __init__(self, workload: Workload, where: str = "workload") -> None:
        self.workload, self.where = workload, where
        self.tokenizer: TokenCounter | None = None
        if workload.tokenizer:
            self.tokenizer = load_tokenizer(workload.tokenizer, f"{where}.tokenizer")
        self.prompts: list[PromptRow] = []
        self.conversations: list[list[PromptRow]] = []
        self.trace: tuple[TraceRow, ...] = ()
        file = workload.file or ""
        if workload.kind == "jsonl":
            self.prompts = read_prompt_lines(file, f"{where}.file")
        elif workload.kind == "sharegpt":
            self.conversations = read_sharegpt(file, f"{where}.file", self.tokenizer)
        elif workload.kind == "trace":
            try:
                self.trace = load_trace(file)
            except ConfigError as exc:
                raise ConfigError(f"{where}.file: {exc}") from None
        prefix_rng = random.Random(f"{workload.seed}:prefix")
        self.prefix, self.prefix_tokens = synthetic_text(prefix_rng, workload.shared_prefix_tokens, self.tokenizer)

    def session(self, user_index: int) -> Session:
        return Session(self, user_index)


class Session:
    """One user's conversation: :meth:`next_prompt` for each request, :meth:`add_reply` with its answer."""

    def __init__(self, source: WorkloadSource, user_index: int) -> None:
        self.source, self.workload = source, source.workload
        self.user_index = user_index
        self.rng = random.Random(f"{self.workload.seed}:user:{user_index}")
        self.think_s = self.workload.think_time  # between two turns of one conversation
        self.history: list[dict[str, str]] = []
        self.turn = 0  # turns taken in the current conversation
        self.asked = 0  # prompts handed out by this session
        self.conversation: list[PromptRow] = []
        self.conversation_row: int | None = None

    def _new_conversation(self) -> None:
        self.history, self.turn = [], 0
        if self.source.conversations:
            self.conversation_row = self.rng.randrange(len(self.source.conversations))
            self.conversation = self.source.conversations[self.conversation_row]

    @property
    def _turns(self) -> int:
        if self.source.conversations:
            return min(self.workload.turns, len(self.conversation))
        return self.workload.turns

    def next_prompt(self, row: int | None = None) -> LlmPrompt:
        """The next request; ``row`` is the trace row of a paced iteration (``current_iteration()``)."""
        if self.turn == 0 or self.turn >= self._turns:
            self._new_conversation()
        text, tokens, max_tokens, used_row = self._content(row)
        if self.turn == 0 and self.source.prefix:
            tokens = tokens + self.source.prefix_tokens if tokens is not None else None
            text = f"{self.source.prefix} {text}"
        self.turn += 1
        self.asked += 1
        self.history.append({"role": "user", "content": text})
        system = [{"role": "system", "content": self.workload.system_prompt}] if self.workload.system_prompt else []
        messages = [*system, *self.history]
        prompt_text = "\n".join(m["content"] for m in messages)
        counter = self.source.tokenizer
        counted = [count_tokens(m["content"], counter) for m in messages[:-1]]
        input_tokens = sum(counted) + (tokens if tokens is not None else count_tokens(text, counter))
        return LlmPrompt(messages, prompt_text, max_tokens, input_tokens, used_row)

    @property
    def more_turns(self) -> bool:
        """True while the current conversation has turns left (the user thinks before the next one)."""
        return 0 < self.turn < self._turns

    def add_reply(self, text: str) -> None:
        """The server's answer to the last prompt: the next turn of this conversation carries it."""
        self.history.append({"role": "assistant", "content": text})

    def _output(self) -> int | None:
        return self.workload.output_tokens.draw(self.rng) if self.workload.output_tokens is not None else None

    def _content(self, row: int | None) -> tuple[str, int | None, int | None, int | None]:
        """(text, its tokens when known, max_tokens, row) of the next user turn."""
        source = self.source
        if source.conversations:
            exchange = self.conversation[self.turn]
            return exchange.text, None, exchange.max_tokens, self.conversation_row
        if source.prompts:
            index = self.rng.randrange(len(source.prompts))
            prompt = source.prompts[index]
            return prompt.text, None, prompt.max_tokens or self._output(), index
        inputs, outputs, used = self.workload.input_tokens.draw(self.rng), self._output(), None
        if source.trace:
            used = row if row is not None else (self.user_index + self.asked) % len(source.trace)
            if not 0 <= used < len(source.trace):
                raise ConfigError(f"{self.source.where}.file: iteration {used} has no row (the trace has "
                                  f"{len(source.trace)})")  # fmt: skip
            entry = source.trace[used]
            inputs = entry.input_tokens if entry.input_tokens is not None else inputs
            outputs = entry.output_tokens if entry.output_tokens is not None else outputs
        text, tokens = synthetic_text(self.rng, inputs, source.tokenizer)
        return text, tokens, outputs, used
