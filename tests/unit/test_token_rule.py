"""Token rules of WebSocket, Socket.IO and gRPC streams: what one message carries, and the fleet's YAML form."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from load_tests.core.fleet import GrpcOperation, SocketIOOperation, WebSocketOperation
from load_tests.core.token_rule import TokenRule
from load_tests.protos import inference_pb2


def test_one_per_message_is_the_default_and_counts_every_message() -> None:
    rule = TokenRule()
    assert rule.count_source == "messages"
    assert rule.tokens({"type": "token"}) == (1, "")
    assert TokenRule("message", "token").tokens({"token": "hi there"}) == (1, "hi there")  # text kept for chars


def test_a_text_field_counts_its_words_and_an_empty_one_is_no_chunk() -> None:
    rule = TokenRule("field", "delta.text")
    assert rule.count_source == "field"
    assert rule.tokens({"delta": {"text": " two words"}}) == (2, " two words")
    for message in ({"delta": {"text": ""}}, {"delta": {}}, {"other": 1}, {"delta": "flat"}, "text frame"):
        assert rule.tokens(message)[0] == 0, message


def test_a_count_field_says_how_many_tokens_and_bad_values_carry_none() -> None:
    rule = TokenRule("count", "tokens")
    assert rule.tokens({"tokens": 3}) == (3, "")
    for value in (0, -1, True, "3", 2.5, None):
        assert rule.tokens({"tokens": value})[0] == 0, value
    assert rule.total([{"tokens": 1}, {"tokens": 3}, {"type": "keep-alive"}]) == 4


def test_protobuf_messages_are_read_by_field_name() -> None:
    token = inference_pb2.Token(text="the model answers", tokens=3, index=1)
    assert TokenRule("count", "tokens").tokens(token) == (3, "")
    assert TokenRule("field", "text").tokens(token) == (3, "the model answers")
    assert TokenRule("field", "missing").tokens(token) == (0, "")


def test_every_stream_operation_takes_a_rule_in_the_fleet_yaml() -> None:
    ws = WebSocketOperation.model_validate({"send": {"type": "chat"}, "tokens": {"per": "count", "field": "tokens"}})
    assert ws.tokens is not None and ws.tokens.rule() == TokenRule("count", "tokens")
    sio = SocketIOOperation.model_validate({"emit": "chat", "stream_event": "token", "tokens": {}})
    assert sio.tokens is not None and sio.tokens.rule() == TokenRule()
    grpc_op = GrpcOperation.model_validate({"call": "a.B/C"})
    assert grpc_op.tokens is None  # no rule: the stream reports as it always did
    with pytest.raises(ValidationError, match="per field needs 'field'"):
        WebSocketOperation.model_validate({"send": {}, "tokens": {"per": "field"}})
    with pytest.raises(ValidationError, match="per"):
        WebSocketOperation.model_validate({"send": {}, "tokens": {"per": "word"}})
    with pytest.raises(ValidationError, match="extra"):
        WebSocketOperation.model_validate({"send": {}, "tokens": {"per": "count", "field": "n", "unit": "x"}})
