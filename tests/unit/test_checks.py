"""Checks on replies and captures from them: each rule, its text in the user's words, and its failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from load_tests.core.checks import (
    NOT_JSON,
    CompiledCheck,
    JsonPath,
    Reply,
    compile_captures,
    same,
    take_captures,
)
from load_tests.core.errors import ConfigError
from load_tests.core.fleet import Check

WHERE = "fleet.scoring.operations[0].checks[0]"
CONTEXT: dict[str, Any] = {"row": {"label": "fraud", "n": 3, "n_text": "3", "zip": "007"}, "vars": {}, "id": "s-1"}
BODY = {"label": "normal", "score": 0.25, "count": 3, "ok": True, "items": [{"v": 1}, {"v": 2}], "a key": "k"}


def json_reply(doc: Any = BODY, status: int | str | None = 200, **headers: str) -> Reply:
    return Reply(status, {"Content-Type": "application/json", **headers}, json.dumps(doc).encode())


def check(**fields: Any) -> CompiledCheck:
    return CompiledCheck.compile(Check.model_validate(fields), WHERE)


def judge(reply: Reply, **fields: Any) -> str | None:
    return check(**fields).evaluate(reply, CONTEXT)


def test_reply_headers_are_found_in_any_case() -> None:
    reply = Reply(200, {"Content-Type": "text/plain", "X-Request-ID": "r1"}, b"hi")
    assert reply.headers["content-type"] == "text/plain"
    assert reply.headers["CONTENT-TYPE"] == "text/plain"
    assert reply.headers.get("x-request-id") == "r1"
    assert "X-REQUEST-ID" in reply.headers
    assert reply.headers.get("missing") is None
    assert sorted(reply.headers) == ["content-type", "x-request-id"]


def test_reply_json_is_parsed_once_and_a_non_json_body_gives_the_sentinel() -> None:
    reply = json_reply()
    first = reply.json
    assert first == BODY
    assert reply.json is first  # cached, not parsed again
    assert Reply(200, {}, '{"a": [1]}').json == {"a": [1]}
    assert Reply(200, {}, b"null").json is None
    for body in (b"<html>", "", b"", None, b"\xff\xfe{"):
        assert Reply(200, {}, body).json is NOT_JSON


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("$", (True, BODY)),
        ("$.label", (True, "normal")),
        ("$.items[0].v", (True, 1)),
        ("$.items[-1]", (True, {"v": 2})),
        ("$['a key']", (True, "k")),
        ('$["items"][1]["v"]', (True, 2)),
        ("$.items[2]", (False, None)),
        ("$.nope", (False, None)),
        ("$.label.x", (False, None)),
        ("$.label[0]", (False, None)),
    ],
)
def test_json_path_finds_the_subset_people_write(path: str, found: tuple[bool, Any]) -> None:
    assert JsonPath.compile(path, WHERE).find(BODY) == found


def test_json_path_on_a_body_that_is_not_json_finds_nothing() -> None:
    assert JsonPath.compile("$", WHERE).find(NOT_JSON) == (False, None)


@pytest.mark.parametrize("path", ["label", "$.items[*]", "$..label", "$.a b", "$[?(@.v)]", "$.", ""])
def test_a_bad_json_path_is_a_config_error_with_an_example(path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        JsonPath.compile(path, f"{WHERE}.json")
    message = str(caught.value)
    assert message.startswith(f"{WHERE}.json: {path!r} is not a JSON path")
    assert "$.items[0]" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"status": 200}, "status == 200"),
        ({"status": [200, 201]}, "status in [200, 201]"),
        ({"status": "OK"}, 'status == "OK"'),
        ({"json": "$.label", "equals": "{{ row.label }}"}, "$.label == row.label"),
        ({"json": "$.label", "equals": "normal"}, '$.label == "normal"'),
        ({"json": "$.label", "in": ["normal", "{{ row.label }}", 3]}, '$.label in ["normal", row.label, 3]'),
        ({"json": "$.score", "between": [0, 1]}, "$.score between [0, 1]"),
        ({"json": "$.score", "between": [0.5, 2.25]}, "$.score between [0.5, 2.25]"),
        ({"json": "$.label", "matches": "^n.*l$"}, "$.label matches ^n.*l$"),
        ({"header": "content-type", "matches": "json"}, "header content-type matches json"),
        ({"body_contains": "ok"}, 'body contains "ok"'),
        ({"messages": 8}, "messages == 8"),
        ({"messages": {"min": 1}}, "messages >= 1"),
        ({"messages": {"max": 64}}, "messages <= 64"),
        ({"messages": {"min": 1, "max": 64}}, "messages between [1, 64]"),
        ({"final": "$.type", "equals": "done"}, 'final $.type == "done"'),
        ({"json": "$.label"}, "$.label exists"),
    ],
)
def test_describe_says_the_check_in_the_users_words(fields: dict[str, Any], text: str) -> None:
    assert check(**fields).describe() == text


def test_status_is_an_int_a_list_or_a_grpc_code_name() -> None:
    assert judge(json_reply(status=200), status=200) is None
    assert judge(json_reply(status=500), status=200) == "check failed: status == 200 (got 500)"
    assert judge(json_reply(status=201), status=[200, 201]) is None
    assert judge(json_reply(status=404), status=[200, 201]) == "check failed: status in [200, 201] (got 404)"
    assert judge(Reply("OK"), status="OK") is None
    assert judge(Reply("ok"), status="OK") is None
    assert judge(Reply("UNAVAILABLE"), status="OK") == 'check failed: status == "OK" (got "UNAVAILABLE")'
    assert judge(Reply(None), status=200) == "check failed: status == 200 (no status)"


def test_equals_renders_its_template_with_the_requests_context() -> None:
    assert judge(json_reply(), json="$.label", equals="normal") is None
    failure = judge(json_reply(), json="$.label", equals="{{ row.label }}")
    assert failure == 'check failed: $.label == row.label (got "normal")'
    assert judge(json_reply({"label": "fraud"}), json="$.label", equals="{{ row.label }}") is None
    assert judge(json_reply(), json="$.items[1]", equals={"v": 2}) is None


def test_equals_compares_numbers_as_numbers() -> None:
    assert judge(json_reply({"v": 1.0}), json="$.v", equals=1) is None
    assert judge(json_reply({"v": 3}), json="$.v", equals="{{ row.n_text }}") is None  # a CSV cell "3"
    assert judge(json_reply({"v": "3"}), json="$.v", equals="{{ row.n }}") is None
    assert judge(json_reply({"v": 7}), json="$.v", equals="{{ row.zip }}") == "check failed: $.v == row.zip (got 7)"
    assert judge(json_reply({"v": 1}), json="$.v", equals=True) == "check failed: $.v == true (got 1)"
    assert judge(json_reply({"v": True}), json="$.v", equals="true") is None


def test_same_reads_values_as_json_does() -> None:
    assert same(1, 1.0)
    assert same("3", 3) and same(3, "3") and same("2.5", 2.5) and same("-1e2", -100)
    assert not same("007", 7)
    assert not same("1_000", 1000)
    assert not same(True, 1) and not same(0, False)
    assert same("false", False)
    assert same({"a": [1, "2"]}, {"a": [1.0, 2]})
    assert not same({"a": 1}, {"a": 1, "b": 2})
    assert not same([1, 2], [1])
    assert same(None, None) and not same(None, "null")
    assert not same("abc", 3)


def test_in_passes_when_any_rendered_option_equals() -> None:
    assert judge(json_reply(), json="$.label", **{"in": ["fraud", "normal"]}) is None
    assert judge(json_reply({"label": "fraud"}), json="$.label", **{"in": ["x", "{{ row.label }}"]}) is None
    assert judge(json_reply({"label": 2.0}), json="$.label", **{"in": [1, 2]}) is None
    failure = judge(json_reply(), json="$.label", **{"in": ["x", "{{ row.label }}"]})
    assert failure == 'check failed: $.label in ["x", row.label] (got "normal")'


def test_matches_searches_the_value_as_text() -> None:
    assert judge(json_reply(), json="$.label", matches="orm") is None
    assert judge(json_reply(), json="$.count", matches=r"^\d$") is None
    assert judge(json_reply(), json="$.label", matches="^orm") == 'check failed: $.label matches ^orm (got "normal")'


def test_between_is_inclusive_and_numeric() -> None:
    assert judge(json_reply({"s": 0}), json="$.s", between=[0, 1]) is None
    assert judge(json_reply({"s": 1}), json="$.s", between=[0, 1]) is None
    assert judge(json_reply({"s": 1.01}), json="$.s", between=[0, 1]) == "check failed: $.s between [0, 1] (got 1.01)"
    assert judge(json_reply({"s": "high"}), json="$.s", between=[0, 1]) == (
        'check failed: $.s between [0, 1] (got "high")'
    )
    assert judge(json_reply({"s": True}), json="$.s", between=[0, 1]) is not None
    assert judge(json_reply({"s": None}), json="$.s", between=[0, 1]) is not None


def test_header_checks_find_the_header_in_any_case() -> None:
    assert judge(json_reply(), header="content-type", matches="json") is None
    assert judge(json_reply(), header="CONTENT-TYPE", equals="application/json") is None
    assert judge(json_reply(**{"X-Count": "12"}), header="x-count", between=[10, 20]) is None
    failure = judge(Reply(200, {"Content-Type": "text/html"}, b"<p>"), header="content-type", matches="json")
    assert failure == 'check failed: header content-type matches json (got "text/html")'
    missing = judge(Reply(200, {}, b""), header="x-trace", matches=".")
    assert missing == "check failed: header x-trace matches . (missing)"


def test_body_contains_reads_bytes_or_text() -> None:
    assert judge(Reply(200, {}, b'{"status": "ok"}'), body_contains="ok") is None
    assert judge(Reply(200, {}, "naïve ok"), body_contains="ï") is None
    assert judge(Reply(200, {}, "naïve".encode()), body_contains="ï") is None
    # no "got": a body differs per call and would split one failure into a failure type per call
    assert judge(Reply(200, {}, b"fail"), body_contains="ok") == 'check failed: body contains "ok"'
    assert judge(Reply(200, {}, b"fail 2"), body_contains="ok") == 'check failed: body contains "ok"'
    assert judge(Reply(200, {}, None), body_contains="ok") == 'check failed: body contains "ok" (no body)'


def test_a_long_got_value_is_cut_to_80_characters() -> None:
    failure = judge(json_reply({"v": "x" * 500}), json="$.v", equals="ok")
    assert failure is not None
    got = failure.removeprefix('check failed: $.v == "ok" (got ').removesuffix(")")
    assert len(got) == 80
    assert got == '"' + "x" * 76 + "..."
    failure = judge(json_reply({"v": list(range(100))}), json="$.v", equals=1)
    assert failure is not None and failure.endswith("...)") and "\n" not in failure


def test_a_missing_path_and_a_body_that_is_not_json_say_so() -> None:
    assert judge(json_reply(), json="$.nope") == "check failed: $.nope exists (missing)"
    assert judge(json_reply(), json="$.nope", equals=1) == "check failed: $.nope == 1 (missing)"
    assert judge(Reply(200, {}, b"<html>"), json="$.label") == "check failed: $.label exists (not JSON)"
    assert judge(json_reply({"label": None}), json="$.label") is None  # null exists


def test_messages_count_exactly_or_within_bounds() -> None:
    stream = Reply(None, {}, None, [{"i": i} for i in range(8)])
    assert judge(stream, messages=8) is None
    assert judge(stream, messages=7) == "check failed: messages == 7 (got 8)"
    assert judge(stream, messages={"min": 1}) is None
    assert judge(stream, messages={"min": 9}) == "check failed: messages >= 9 (got 8)"
    assert judge(stream, messages={"max": 8}) is None
    assert judge(stream, messages={"max": 4}) == "check failed: messages <= 4 (got 8)"
    assert judge(stream, messages={"min": 1, "max": 7}) == "check failed: messages between [1, 7] (got 8)"
    assert judge(Reply(None, {}, None, []), messages={"min": 1}) == "check failed: messages >= 1 (got 0)"
    assert judge(json_reply(), messages=1) == "check failed: messages == 1 (not a stream)"


def test_message_bounds_must_say_something() -> None:
    with pytest.raises(ConfigError, match=r"^fleet\.scoring\.operations\[0\]\.checks\[0\]\.messages: give min, max"):
        check(messages={})
    with pytest.raises(ConfigError, match=r"messages: min 5 is above max 2$"):
        check(messages={"min": 5, "max": 2})


def test_final_reads_a_streams_last_message_and_json_its_first() -> None:
    stream = Reply(None, {}, None, [{"type": "start", "n": 1}, "plain text", {"type": "done"}])
    assert judge(stream, final="$.type", equals="done") is None
    assert judge(stream, json="$.type", equals="start") is None
    assert judge(stream, final="$.type", equals="start") == 'check failed: final $.type == "start" (got "done")'
    text_last = Reply(None, {}, None, [{"type": "start"}, "bye"])
    assert judge(text_last, final="$", equals="bye") is None
    assert judge(text_last, final="$.type") == "check failed: final $.type exists (missing)"
    empty = Reply(None, {}, None, [])
    assert judge(empty, final="$.type") == "check failed: final $.type exists (no messages)"
    assert judge(empty, json="$.type") == "check failed: $.type exists (no messages)"
    assert judge(json_reply(), final="$.type") == "check failed: final $.type exists (no messages)"


def test_a_check_whose_template_names_a_missing_column_fails_saying_so() -> None:
    failure = judge(json_reply(), json="$.label", equals="{{ row.expected }}")
    assert failure == "check failed: $.label == row.expected (row has no column 'expected')"


def test_a_bad_placeholder_in_a_check_is_a_config_error_naming_the_operand() -> None:
    with pytest.raises(ConfigError, match=r"^fleet\.scoring\.operations\[0\]\.checks\[0\]\.equals: \{\{ rows\.x \}\}"):
        check(json="$.label", equals="{{ rows.x }}")
    with pytest.raises(ConfigError, match=r"checks\[0\]\.in\[1\]: \{\{ nope \}\}"):
        check(json="$.label", **{"in": ["a", "{{ nope }}"]})
    with pytest.raises(ConfigError, match=r"checks\[0\]\.final: 'type' is not a JSON path"):
        check(final="type")


def test_env_names_in_a_check_are_filled_in_and_never_shown() -> None:
    compiled = check(header="x-tenant", equals="${TENANT}")
    assert compiled.env_names == {"TENANT"}
    filled = compiled.with_env({"TENANT": "acme-secret"}, WHERE)
    assert filled.env_names == frozenset()
    assert filled.evaluate(json_reply(**{"X-Tenant": "acme-secret"}), CONTEXT) is None
    assert filled.describe() == 'header x-tenant == "${TENANT}"'
    assert "acme" not in (filled.evaluate(json_reply(**{"X-Tenant": "other"}), CONTEXT) or "")
    with pytest.raises(ConfigError) as caught:
        check(json="$.a", **{"in": ["${A}", "${B}"]}).with_env({"A": "acme-secret"}, WHERE)
    assert str(caught.value) == f"{WHERE}.in[1]: ${{B}} is not set in the environment"
    plain = check(status=200)
    assert plain.with_env({}, WHERE) is plain


def test_captures_take_values_from_the_body_or_a_streams_first_message() -> None:
    paths = compile_captures({"label": "$.label", "first_v": "$.items[0].v", "whole": "$"}, "fleet.s.flow[0].capture")
    assert take_captures(paths, json_reply()) == ({"label": "normal", "first_v": 1, "whole": BODY}, None)
    stream = Reply(None, {}, None, [{"label": "s", "items": [{"v": 9}]}, {"label": "t"}])
    assert take_captures(paths, stream) == ({"label": "s", "first_v": 9, "whole": stream.messages[0]}, None)  # type: ignore[index]
    assert take_captures({}, Reply(200)) == ({}, None)


def test_a_capture_that_finds_nothing_fails_naming_the_variable_and_path() -> None:
    paths = compile_captures({"label": "$.label", "token": "$.token"}, "fleet.s.flow[0].capture")
    assert take_captures(paths, json_reply()) == ({}, "capture failed: token from $.token (missing)")
    assert take_captures(paths, Reply(200, {}, b"<html>")) == ({}, "capture failed: label from $.label (not JSON)")


def test_a_bad_capture_is_a_config_error_naming_its_place() -> None:
    with pytest.raises(ConfigError, match=r"^fleet\.s\.flow\[0\]\.capture\.token: '\$\.items\[\*\]' is not a JSON"):
        compile_captures({"token": "$.items[*]"}, "fleet.s.flow[0].capture")
    with pytest.raises(ConfigError, match=r"^fleet\.s\.flow\[0\]\.capture: 'my token' cannot be read back as"):
        compile_captures({"my token": "$.token"}, "fleet.s.flow[0].capture")
