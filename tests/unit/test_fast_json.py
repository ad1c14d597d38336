"""The clients' JSON (orjson first, the standard library for what orjson refuses) reads and writes what
``json`` does: the fallbacks are the cases where the two libraries differ."""

from __future__ import annotations

import json
import math

import pytest

from load_tests.clients import fast_json


def test_plain_messages_round_trip_as_compact_json() -> None:
    message = {"type": "ping", "id": 17, "text": "héllo", "items": [1, 2.5, None, True]}
    assert fast_json.dumps_bytes(message) == json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    assert fast_json.dumps(message, separators=(",", ":")) == fast_json.dumps_bytes(message).decode()
    assert fast_json.loads(fast_json.dumps_bytes(message)) == message
    assert fast_json.loads(json.dumps(message)) == message  # text with spaces, and str input


def test_what_orjson_refuses_is_written_and_read_as_the_standard_library_does() -> None:
    assert fast_json.loads(fast_json.dumps({1: "int key"})) == {"1": "int key"}
    assert fast_json.loads(fast_json.dumps({"big": 2**70})) == {"big": 2**70}
    assert math.isnan(fast_json.loads('{"x": NaN}')["x"])


def test_text_that_is_not_json_raises_value_error_as_json_loads_does() -> None:
    for text in (b'{"type": "pong", "id": 1', b"", b"\xff\xfe"):
        with pytest.raises(ValueError):
            fast_json.loads(text)
