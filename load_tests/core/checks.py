"""Checks on a reply, and the values a flow captures from it: compiled once, judged on every reply.

A failed check fails its request with a text in the user's words (``check failed: $.label ==
row.label (got "normal")``), which becomes the failure's name in every report: so the text is short,
on one line, and shows what came back. Every protocol hands its reply over as a :class:`Reply`, so
one set of rules serves HTTP, WebSocket, Socket.IO and gRPC alike.

Comparisons read values the way a person reading JSON would: ``1`` equals ``1.0``, a feed's ``"3"``
equals ``3`` and ``"true"`` equals ``true`` (a CSV cell has no other way to say them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, TypeAlias

from load_tests.core.errors import ConfigError
from load_tests.core.fleet import Check, Count
from load_tests.core.templates import Template, TemplateError, as_text, follow, parse_steps

SHOWN_CHARS = 80  # a got-value longer than this is cut: failure texts name rows of reports
JSON_PATH_EXAMPLES = "$, $.a.b, $.items[0], $.items[-1] or $['a key']"
_NAME = re.compile(r"[A-Za-z_][\w-]*")
# The plain spellings only (as the feeds read CSV): "007" or "1_000" is an id, not a number.
_INT = re.compile(r"-?(?:0|[1-9]\d*)")
_FLOAT = re.compile(r"-?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


class _NotJson:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Any = _NotJson()  # Reply.json of a body that is not JSON (None would be JSON's null)
_UNPARSED: Any = object()
_NO_MESSAGES: Any = object()  # what a JSON path reads on a stream without messages


class Headers(Mapping[str, str]):
    """A reply's headers, found by name in any case (HTTP header names are case-insensitive)."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        items = headers.items() if isinstance(headers, Mapping) else headers
        self._items = {name.lower(): value for name, value in items}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass
class Reply:
    """What came back from one call, whatever the protocol: HTTP, a WebSocket or Socket.IO exchange, gRPC."""

    status: int | str | None  # HTTP status, or gRPC's status code name ("OK")
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str | None = None
    messages: list[Any] | None = None  # a stream's messages, each parsed JSON or text; None: not a stream
    _json: Any = field(default=_UNPARSED, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, once, on first use (most replies are never looked into); else NOT_JSON."""
        if self._json is _UNPARSED:
            self._json = _parse(self.body)
        return self._json


def _parse(body: bytes | str | None) -> Any:
    if not body:
        return NOT_JSON
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return NOT_JSON


class JsonPath:
    """A path into a JSON document, in the subset people write: ``$.a.b``, ``$.items[0]``, ``$['a key']``."""

    __slots__ = ("path", "steps")

    def __init__(self, path: str, steps: tuple[str | int, ...]) -> None:
        self.path = path
        self.steps = steps

    @classmethod
    def compile(cls, path: str, where: str) -> JsonPath:
        text = path.strip() if isinstance(path, str) else ""
        if not text.startswith("$"):
            raise ConfigError(f"{where}: {path!r} is not a JSON path: start it with $, as in {JSON_PATH_EXAMPLES}")
        try:
            steps = parse_steps(text[1:])
        except ValueError as exc:
            raise ConfigError(f"{where}: {path!r} is not a JSON path ({exc}); write {JSON_PATH_EXAMPLES}") from None
        return cls(text, steps)

    def find(self, doc: Any) -> tuple[bool, Any]:
        """``(True, value)``, or ``(False, None)`` when the path leads nowhere (or ``doc`` is NOT_JSON)."""
        if doc is NOT_JSON:
            return False, None
        taken, value = follow(doc, self.steps)
        return (True, value) if taken == len(self.steps) else (False, None)

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"JsonPath({self.path!r})"


# A subject reads one value of a reply: (None, value), or (why there is none, None).
Subject: TypeAlias = Callable[[Reply], tuple[str | None, Any]]
# A comparison judges that value against the request's context; None: the value only has to exist.
Compare: TypeAlias = Callable[[Any, Mapping[str, Any]], bool]


class CompiledCheck:
    """One check of a step, read once: :meth:`evaluate` on every reply is a few lookups and a comparison."""

    __slots__ = ("_compare", "_config", "_shows_value", "_subject", "_text", "_where", "env_names")

    def __init__(self, config: Check, where: str, env: Mapping[str, str] | None) -> None:
        self._config, self._where = config, where
        subject_text, self._subject = _subject(config, where)
        operand_text, self._compare, self.env_names = _comparison(config, where, env)
        self._text = f"{subject_text} {operand_text}"
        # A body differs from call to call (ids, timestamps): shown, it would split one failure into
        # as many failure types as calls. Other subjects show the value they got.
        self._shows_value = config.body_contains is None

    @classmethod
    def compile(cls, check: Check, where: str) -> CompiledCheck:
        """Read a check of the config; a bad path, regex or count is a ConfigError naming ``where``."""
        return cls(check, where, None)

    def with_env(self, env: Mapping[str, str], where: str) -> CompiledCheck:
        """This check with every ``${NAME}`` of its operands read from ``env`` (see Template.with_env)."""
        return self if not self.env_names else CompiledCheck(self._config, where, env)

    def describe(self) -> str:
        """The check in the user's words: ``$.label == row.label``, ``messages >= 1``."""
        return self._text

    def evaluate(self, reply: Reply, context: Mapping[str, Any]) -> str | None:
        """None when the reply passes; else why not, as the request's failure text."""
        problem, value = self._subject(reply)
        if problem is not None:
            return f"check failed: {self._text} ({problem})"
        if self._compare is None:
            return None
        try:
            if self._compare(value, context):
                return None
        except TemplateError as exc:
            return f"check failed: {self._text} ({exc})"
        return f"check failed: {self._text}" + (f" (got {shown(value)})" if self._shows_value else "")

    def __repr__(self) -> str:
        return f"CompiledCheck({self._text!r})"


def _subject(check: Check, where: str) -> tuple[str, Subject]:
    """What a check looks at, as text and as a function of the reply."""
    if check.json_path is not None:
        path = JsonPath.compile(check.json_path, f"{where}.json")
        return path.path, lambda reply: _at(path, _document(reply))
    if check.final is not None:
        path = JsonPath.compile(check.final, f"{where}.final")
        return f"final {path.path}", lambda reply: _at(path, _last_message(reply))
    if check.header is not None:
        name = check.header.lower()
        return f"header {check.header}", lambda reply: _present(reply.headers.get(name), "missing")
    if check.body_contains is not None:
        return "body", lambda reply: _present(reply.body, "no body")
    if check.messages is not None:
        return "messages", _message_count
    return "status", lambda reply: _present(reply.status, "no status")


def _comparison(check: Check, where: str, env: Mapping[str, str] | None) -> tuple[str, Compare | None, frozenset[str]]:
    """How a check judges its subject's value: its text, its function and the env names its operands need."""
    if check.status is not None:
        return _status(check.status)
    if check.messages is not None:
        return _count(check.messages, where)
    if check.body_contains is not None:
        return _contains(check.body_contains)
    if check.matches is not None:
        regex = re.compile(check.matches)
        return f"matches {check.matches}", lambda value, _ctx: regex.search(as_text(value)) is not None, frozenset()
    if check.between is not None:
        low, high = check.between
        return f"between [{_num(low)}, {_num(high)}]", lambda value, _ctx: _within(value, low, high), frozenset()
    if check.in_ is not None:
        options = [_operand(v, f"{where}.in[{i}]", env) for i, v in enumerate(check.in_)]
        text = "in [" + ", ".join(t.describe() for t in options) + "]"
        names = frozenset(name for t in options for name in t.env_names)
        return text, lambda value, ctx: any(same(t.render(ctx), value) for t in options), names
    if check.equals is not None:
        expected = _operand(check.equals, f"{where}.equals", env)
        return f"== {expected.describe()}", lambda value, ctx: same(expected.render(ctx), value), expected.env_names
    return "exists", None, frozenset()


def _operand(value: Any, where: str, env: Mapping[str, str] | None) -> Template:
    template = Template.compile(value, where)
    return template.with_env(env, where) if env is not None else template


def _status(expected: int | list[int] | str) -> tuple[str, Compare, frozenset[str]]:
    if isinstance(expected, list):
        codes = list(expected)
        return f"in {json.dumps(codes)}", lambda value, _ctx: any(same(c, value) for c in codes), frozenset()
    if isinstance(expected, str):
        name = expected.upper()
        text = f"== {json.dumps(expected)}"
        return text, lambda value, _ctx: same(name, value.upper() if isinstance(value, str) else value), frozenset()
    return f"== {expected}", lambda value, _ctx: same(expected, value), frozenset()


def _count(expected: int | Count, where: str) -> tuple[str, Compare, frozenset[str]]:
    if isinstance(expected, int):
        return f"== {expected}", lambda value, _ctx: value == expected, frozenset()
    low, high = expected.min, expected.max
    if low is None and high is None:
        raise ConfigError(f"{where}.messages: give min, max or both, as in {{min: 1, max: 64}}")
    if low is not None and high is not None and low > high:
        raise ConfigError(f"{where}.messages: min {low} is above max {high}")
    if high is None:
        return f">= {low}", lambda value, _ctx: value >= low, frozenset()
    if low is None:
        return f"<= {high}", lambda value, _ctx: value <= high, frozenset()
    return f"between [{low}, {high}]", lambda value, _ctx: low <= value <= high, frozenset()


def _contains(text: str) -> tuple[str, Compare, frozenset[str]]:
    encoded = text.encode("utf-8")

    def contains(body: Any, _ctx: Mapping[str, Any]) -> bool:
        return (encoded in body) if isinstance(body, bytes) else (text in body)

    return f"contains {json.dumps(text, ensure_ascii=False)}", contains, frozenset()


def _present(value: Any, problem: str) -> tuple[str | None, Any]:
    return (problem, None) if value is None else (None, value)


def _document(reply: Reply) -> Any:
    """What a JSON path reads: the body, or a stream's first message."""
    if reply.messages is None:
        return reply.json
    return reply.messages[0] if reply.messages else _NO_MESSAGES


def _last_message(reply: Reply) -> Any:
    return reply.messages[-1] if reply.messages else _NO_MESSAGES


def _at(path: JsonPath, doc: Any) -> tuple[str | None, Any]:
    if doc is NOT_JSON:
        return "not JSON", None
    if doc is _NO_MESSAGES:
        return "no messages", None
    found, value = path.find(doc)
    return (None, value) if found else ("missing", None)


def _message_count(reply: Reply) -> tuple[str | None, Any]:
    return ("not a stream", None) if reply.messages is None else (None, len(reply.messages))


def _within(value: Any, low: float, high: float) -> bool:
    number = _number(value)
    return number is not None and low <= number <= high


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _number(value: Any) -> int | float | None:
    """A number, or a string spelled plainly as one (a feed's or a header's "3"); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        if _INT.fullmatch(value):
            return int(value)
        return float(value) if _FLOAT.fullmatch(value) else None
    return float(value) if isinstance(value, Real) else None  # numpy's numbers from a Parquet feed


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(value) if isinstance(value, str) else None


def same(expected: Any, actual: Any) -> bool:
    """Equal as a reader of JSON would say: 1 == 1.0, "3" == 3, "true" == true, deep in lists and objects."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        wanted = _boolean(expected)
        return wanted is not None and wanted == _boolean(actual)
    if isinstance(expected, str) and isinstance(actual, str):
        return expected == actual
    if isinstance(expected, Real) or isinstance(actual, Real):
        number = _number(expected)
        return number is not None and number == _number(actual)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(same(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        return len(expected) == len(actual) and all(map(same, expected, actual))
    return bool(expected == actual)


def shown(value: Any) -> str:
    """A got-value in a failure text: JSON-style, on one line, cut to SHOWN_CHARS characters."""
    if isinstance(value, bytes):
        value = value[: SHOWN_CHARS * 4].decode("utf-8", "replace")
    if isinstance(value, str):
        value = value[:SHOWN_CHARS]
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def compile_captures(capture: dict[str, str], where: str) -> dict[str, JsonPath]:
    """A step's ``capture`` (variable -> JSON path of the reply), read once."""
    paths = {}
    for name, path in capture.items():
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: {name!r} cannot be read back as {{{{ vars.NAME }}}}: "
                              "use letters, digits, _ and -, starting with a letter or _")  # fmt: skip
        paths[name] = JsonPath.compile(path, f"{where}.{name}")
    return paths


def take_captures(paths: dict[str, JsonPath], reply: Reply) -> tuple[dict[str, Any], str | None]:
    """The values ``paths`` find in the reply (the body, or a stream's first message); on a miss, ``({}, why)``."""
    doc = _document(reply) if paths else None
    values = {}
    for name, path in paths.items():
        problem, value = _at(path, doc)
        if problem is not None:
            return {}, f"capture failed: {name} from {path.path} ({problem})"
        values[name] = value
    return values, None
