"""What a token is in a WebSocket, Socket.IO or gRPC stream: the rule a stream operation gives.

An OpenAI stream says its tokens itself (``usage``); other chat streams do not, so the user says how
to count them, per message of the stream (the end message is never counted):

- ``per: message`` (the default): every message is one token, one chunk (``count_source: messages``);
- ``per: field, field: token``: the words (whitespace-separated) of the message's text field are its
  tokens; a message whose field is empty or missing carries none and is not a content chunk, so it
  neither sets TTFT nor makes a gap (``count_source: field``);
- ``per: count, field: tokens``: a whole-number field says how many tokens the message carries
  (``count_source: field``).

``field`` is a dotted path (``delta.text``) into a JSON message, or a field name of a protobuf message.
With ``per: message`` a ``field`` is optional: its text is only kept for the character count.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

Per = Literal["message", "field", "count"]


@dataclass(frozen=True)
class TokenRule:
    """The counting rule of one stream operation (see the module docstring)."""

    per: Per = "message"
    field: str | None = None
    # the field's path, split once here rather than for every message of every stream
    steps: tuple[str, ...] = dataclass_field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.field.split(".")) if self.field else ())

    @property
    def count_source(self) -> str:
        """The ``count_source`` a token stream counted by this rule reports (``core/llm_metrics.py``)."""
        return "messages" if self.per == "message" else "field"

    def tokens(self, message: Any) -> tuple[int, str]:
        """``(tokens, text)`` that one stream message carries; 0 tokens: not a content chunk."""
        value = _lookup(message, self.steps) if self.steps else None
        text = value if isinstance(value, str) else ""
        if self.per == "message":
            return 1, text
        if self.per == "count":
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value, ""
            return 0, ""
        return len(text.split()), text

    def total(self, messages: list[Any]) -> int:
        """Tokens in a whole stream's messages."""
        return sum(self.tokens(m)[0] for m in messages)


def _lookup(message: Any, steps: tuple[str, ...]) -> Any:
    """The value at a dotted path (its ``steps``) in a JSON object, or an attribute path of any other
    object (protobuf), which is why templates' ``follow`` (JSON only) is not used here."""
    value = message
    for key in steps:
        if isinstance(value, dict):
            value = value.get(key)
        elif value is None or isinstance(value, (str, int, float, list)):
            return None
        else:
            value = getattr(value, key, None)
    return value


class Tokens(BaseModel):
    """The fleet YAML form of a token rule: ``tokens: {per: field, field: token}``."""

    model_config = ConfigDict(extra="forbid")

    per: Per = "message"
    field: str | None = None

    @model_validator(mode="after")
    def _field_when_needed(self) -> Tokens:
        if self.per != "message" and not self.field:
            raise ValueError(f"tokens: per {self.per} needs 'field' (the message field to read)")
        return self

    def rule(self) -> TokenRule:
        return TokenRule(self.per, self.field)
