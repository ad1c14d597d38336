"""The token side of a stream client: a stream given a token rule is timed by ``TokenTimer``.

WebSocket, Socket.IO and gRPC streams share these three steps, so a rule means the same on each:
the timer (a plain ``StreamTimer`` without a rule, so other streams report what they always did),
each message noted as a content chunk when the rule finds tokens in it, and the end (completed, or
cut before its end marker).
"""

from __future__ import annotations

from typing import Any

from load_tests.core.token_rule import TokenRule
from load_tests.engine.request_hook import StreamTimer, TokenTimer


def stream_timer(rule: TokenRule | None) -> StreamTimer:
    """A TokenTimer when the stream counts tokens, else the plain StreamTimer."""
    return TokenTimer(rule.count_source) if rule is not None else StreamTimer()


def note_tokens(timer: StreamTimer, rule: TokenRule | None, message: Any) -> None:
    """Note ``message`` as a content chunk when the rule finds tokens in it (empty messages are not chunks)."""
    if rule is not None and isinstance(timer, TokenTimer):
        tokens, text = rule.tokens(message)
        if tokens > 0:
            timer.chunk(tokens, text=text)


def finish_tokens(timer: StreamTimer, completed: bool) -> None:
    """The stream ended: ``completed`` False when it broke off before its end marker."""
    if isinstance(timer, TokenTimer):
        timer.finish(completed)
