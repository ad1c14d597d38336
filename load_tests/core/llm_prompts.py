"""The raw material of LLM workloads: synthetic text of an exact length, and prompt files read once.

A synthetic "token" is one word of a small built-in vocabulary, joined by spaces, so a server that
counts whitespace words (the bundled reference service does) reports exactly the length asked for.
With a local ``tokenizer.json`` (the ``tokenizers`` library, no download), the text is cut and padded
until that tokenizer counts exactly the length asked for, as vLLM's random dataset does.

Prompt files: JSON Lines of ``{"prompt": "...", "max_tokens": 64}`` (``output_tokens`` may stand for
``max_tokens``), and ShareGPT (a JSON list of ``{"conversations": [{"from": "human", "value": ...},
{"from": "gpt", "value": ...}, ...]}``), where each human turn is a prompt and the gpt turn after it
gives the output length (its token count, as vLLM takes it). Every mistake is a one-line
:class:`ConfigError` naming the file, the line or entry, and the field.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from load_tests.core.errors import ConfigError

_WORDS = (
    "the of and to in is was for on that with as by at from his her are an be this have had not but they "
    "which one you were all we she there been their has more when will would who so no out up into about "
    "than them can only other new some could time these two may then do first any my now such like our "
    "over man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make world still own "
    "see men work long here get both between life being under never day same another know while last "
    "might us great old year off come since against go came right used take three house light water river "
    "stone cloud garden window paper music story answer number market system model token engine signal"
)
VOCABULARY = tuple(_WORDS.split())
_NUDGE_TRIES = 8  # re-encoding rounds before settling for the nearest length a tokenizer allows


class TokenCounter(Protocol):
    """What a workload needs of a tokenizer (``tokenizers.Tokenizer`` has both)."""

    def encode(self, text: str) -> Any: ...

    def decode(self, ids: list[int]) -> str: ...


def load_tokenizer(path: str, where: str) -> TokenCounter:
    """A local ``tokenizer.json`` (Hugging Face format); nothing is downloaded."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ConfigError(f"{where}: needs the tokenizers package (pip install tokenizers)") from None
    if not Path(path).is_file():
        raise ConfigError(f"{where}: no such file: {path}")
    try:
        return Tokenizer.from_file(path)  # type: ignore[no-any-return]
    except Exception as exc:  # the library raises plain Exceptions for a bad file
        raise ConfigError(f"{where}: {path} is not a tokenizer.json ({str(exc).splitlines()[0][:120]})") from None


def count_tokens(text: str, tokenizer: TokenCounter | None) -> int:
    """Tokens in ``text``: the tokenizer's count, or whitespace words without one."""
    if tokenizer is None:
        return len(text.split())
    return len(tokenizer.encode(text).ids)


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(n))


def synthetic_text(rng: random.Random, n: int, tokenizer: TokenCounter | None) -> tuple[str, int]:
    """Text of ``n`` tokens and its count (exact in words; in a tokenizer, exact unless it cannot be)."""
    if n <= 0:
        return "", 0
    text = words(rng, n)
    if tokenizer is None:
        return text, n
    for _ in range(_NUDGE_TRIES):
        ids = list(tokenizer.encode(text).ids)
        if len(ids) == n:
            return text, n
        text = tokenizer.decode(ids[:n]) if len(ids) > n else text + " " + words(rng, n - len(ids))
    return text, count_tokens(text, tokenizer)


@dataclass(frozen=True)
class PromptRow:
    """One prompt of a file: its text, and the output length it asks for (None: the workload's)."""

    text: str
    max_tokens: int | None


def _json_lines(path: str, where: str) -> list[tuple[int, Any]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read {path} ({exc.__class__.__name__})") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path} line {number}: not JSON ({exc.msg})") from None
    return records


def _length(record: dict[str, Any], names: tuple[str, ...], place: str) -> int | None:
    for name in names:
        if record.get(name) is not None:
            value = record[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{place}: {name} must be a whole number >= 1, not {value!r}")
            return value
    return None


def read_prompt_lines(path: str, where: str) -> list[PromptRow]:
    """``{"prompt": ..., "max_tokens": ...}`` per line."""
    rows = []
    for number, record in _json_lines(path, where):
        place = f"{path} line {number}"
        if not isinstance(record, dict) or not isinstance(record.get("prompt"), str) or not record["prompt"].strip():
            raise ConfigError(f"{place}: needs prompt (a non-empty string), as in {{\"prompt\": \"...\", "
                              "\"max_tokens\": 64}}")  # fmt: skip
        rows.append(PromptRow(record["prompt"], _length(record, ("max_tokens", "output_tokens"), place)))
    if not rows:
        raise ConfigError(f"{where}: {path} has no prompts")
    return rows


def _turns(entry: Any, place: str) -> list[tuple[str, str]]:
    """(human text, gpt text) of each exchange of one ShareGPT conversation, in order."""
    if not isinstance(entry, dict) or not isinstance(entry.get("conversations"), list):
        raise ConfigError(f"{place}: needs conversations (a list of {{from, value}} turns)")
    pairs, pending = [], None
    for i, turn in enumerate(entry["conversations"]):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise ConfigError(f"{place}: conversations[{i}].value must be a string")
        speaker = turn.get("from")
        if speaker in ("human", "user"):
            pending = turn["value"]
        elif speaker in ("gpt", "assistant", "chatgpt", "bard", "bing") and pending is not None:
            pairs.append((pending, turn["value"]))
            pending = None
        elif speaker not in ("gpt", "assistant", "chatgpt", "bard", "bing", "system"):
            raise ConfigError(f"{place}: conversations[{i}].from is {speaker!r} (use human, gpt or system)")
    return pairs


def read_sharegpt(path: str, where: str, tokenizer: TokenCounter | None) -> list[list[PromptRow]]:
    """Each usable conversation as its exchanges; the output length is the gpt turn's token count."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read {path} ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise ConfigError(f'{path}: a ShareGPT file is a JSON list of {{"conversations": [...]}} entries')
    conversations = []
    for index, entry in enumerate(data):
        pairs = _turns(entry, f"{path} entry {index}")
        rows = [PromptRow(h, max(count_tokens(g, tokenizer), 1)) for h, g in pairs if h.strip() and g.strip()]
        if rows:
            conversations.append(rows)
    if not conversations:
        raise ConfigError(f"{where}: {path} has no conversation with a human turn followed by a gpt turn")
    return conversations
