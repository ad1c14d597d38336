"""WebSocket services of the fleet: one connection per user, one message (or stream) per operation.

Each user opens one connection in ``on_start`` (the service's ``url`` with its ``query`` appended,
``headers``, ``subprotocols``, ``ca_file``) through :class:`WebSocketClient`, which times every
message and reconnects by itself. An operation renders its ``send`` template (an object is sent as
JSON, a string as text) and, by ``reply``:

- ``id`` (the default): waits for the reply carrying the message's id (``WS reply``). The id is the
  ``id_field`` of the message: the template may set it (``id: "{{ id }}"``); a message object
  without that field gets the call's fresh ``{{ id }}`` added, so checks can compare with it;
- ``next``: waits for the next message no id claims (``WS reply``), for services without ids;
  nothing is added to the message;
- ``none``: fire-and-forget (``WS send``, counted, never timed);
- ``stream_end`` (whatever ``reply`` says): collects the messages carrying the id until the end one
  (``WS stream`` with message count and gaps, and the ``WS first message`` facet).

Checks and captures see ``Reply(status=None, headers={}, body=<reply text>, messages=<the stream's
messages, or [reply]>)``; a stream's body is its end message. A failed check fails the same row
(the client takes the check), so one call is always one event. Rows are named by the operation's
``name``, by default the message's ``type`` as written (templates and all), else ``message``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from locust.exception import StopUser

from load_tests.clients.websocket_client import WebSocketClient
from load_tests.core.checks import JsonPath, Reply, same
from load_tests.core.errors import ConfigError
from load_tests.core.fleet import StreamEnd, WebSocketOperation, WebSocketService
from load_tests.core.request_types import WS_CONNECT, WS_REPLY, WS_SEND, WS_STREAM
from load_tests.core.templates import Template, TemplateError
from load_tests.engine.fleet_users import CompiledStep, FleetUser, ServiceRuntime, runtime_for, user_class
from load_tests.engine.request_hook import report

ReplyCheck = Callable[[Any, list[Any]], str | None]


def step_fields(step: Any) -> tuple[str, dict[str, Any]]:
    """The row name and the template fields of a WebSocket operation."""
    op: WebSocketOperation = step
    kind = op.send.get("type") if isinstance(op.send, dict) else None
    return op.name or (kind if isinstance(kind, str) and kind else "message"), {"send": op.send}


def connection_template(config: Any, keys: tuple[str, ...], name: str) -> Template:
    """A service's connection settings (``url``, ``headers``...) as one template, ``${NAME}`` filled in.

    Rendered per user at connect time, where there is no feed row yet: ``{{ id }}`` works, ``{{ row }}``
    does not (it fails that user's connect, saying so)."""
    where = f"fleet.{name}"
    return Template.compile({key: getattr(config, key) for key in keys}, where).with_env(os.environ, where)


def with_query(url: str, query: Mapping[str, Any] | None) -> str:
    """``url`` with the rendered ``query`` appended (after any query the URL already has)."""
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(query, doseq=True)


def end_test(stream_end: StreamEnd, where: str) -> Callable[[Any], bool]:
    """``{json: $.type, equals: done}`` -> a test of one message: is it the stream's end?"""
    path = JsonPath.compile(stream_end.json_path, f"{where}.stream_end.json")

    def is_end(message: Any) -> bool:
        found, value = path.find(message)
        return found and same(stream_end.equals, value)

    return is_end


def one_id_field(config: Any, name: str, streams: Callable[[Any], bool]) -> str:
    """The one field a connection matches replies by: every operation that matches by id must agree."""
    fields = {step.id_field for step in config.operations or config.flow if streams(step)}
    if len(fields) > 1:
        raise ConfigError(f"fleet.{name}: operations match replies by different id_field values "
                          f"({', '.join(sorted(fields))}); one connection reads one")  # fmt: skip
    return fields.pop() if fields else "id"


def reply_verdict(user: FleetUser, step: CompiledStep, context: dict[str, Any], passed: list[bool]) -> ReplyCheck:
    """The check a WebSocket or Socket.IO client runs on a reply it accepted (so a failure fails that row);
    ``passed`` gets True when the step's checks pass: the client calls it only then, so an empty
    ``passed`` afterwards means the call failed, for whatever reason."""

    def check(reply: Any, messages: list[Any]) -> str | None:
        body = reply if isinstance(reply, str) else json.dumps(reply, default=str)
        failure = user.judge(step, Reply(None, {}, body, messages), context)
        if failure is None:
            passed.append(True)
        return failure

    return check


class FleetWebSocketUser(FleetUser):
    abstract = True
    connection: Template  # url, headers, query, subprotocols
    ends: dict[int, Callable[[Any], bool]]  # id(operation config) -> its stream's end test
    id_field: str
    client: WebSocketClient | None = None

    def on_start(self) -> None:
        config: WebSocketService = self.runtime.config
        try:
            settings = self.connection.render({"row": None, "vars": self.vars, "id": self.fresh_id()})
        except TemplateError as exc:
            report(self.environment.events.request, WS_CONNECT, self.runtime.name, None, exception=f"template: {exc}")
            raise StopUser(f"fleet.{self.runtime.name}: {exc}") from None
        url = with_query(str(settings["url"]), settings["query"])
        self.client = WebSocketClient(
            url, self.environment.events.request, name=urlsplit(url).path or url, headers=settings["headers"],
            timeout=config.timeout, ca_file=config.ca_file, id_field=self.id_field,
            subprotocols=settings["subprotocols"] or None,
        )  # fmt: skip
        self.client.connect()

    def on_stop(self) -> None:
        if self.client is not None:
            self.client.close()

    def fresh_id(self) -> str:
        return f"{self.runtime.name}-{next(self.runtime.ids)}"

    def send(self, step: CompiledStep, context: dict[str, Any]) -> bool:
        op: WebSocketOperation = step.config  # type: ignore[assignment]
        by_id = op.stream_end is not None or op.reply == "id"
        request_type = WS_STREAM if op.stream_end is not None else (WS_SEND if op.reply == "none" else WS_REPLY)
        try:
            message = step.render("send", context)
            if by_id and not isinstance(message, dict):
                raise TemplateError(f"reply: id needs a JSON object to carry {op.id_field!r}; use reply: next")
        except TemplateError as exc:  # a row without the column a template names: this call fails
            report(self.environment.events.request, request_type, step.name, None, exception=f"template: {exc}")
            return False
        assert self.client is not None  # on_start made it
        if op.reply == "none" and op.stream_end is None:
            return self.client.send(message, name=step.name)
        if by_id and message.get(op.id_field) is None:
            message = {**message, op.id_field: context["id"]}
        passed: list[bool] = []
        check = reply_verdict(self, step, context, passed)
        if op.stream_end is not None:
            tokens = op.tokens.rule() if op.tokens is not None else None
            self.client.stream(message, name=step.name, is_end=self.ends[id(op)], check=check, timeout=op.timeout,
                               tokens=tokens)  # fmt: skip
        elif op.reply == "id":
            self.client.request(message, name=step.name, check=check, timeout=op.timeout)
        else:
            self.client.request_next(message, name=step.name, check=check, timeout=op.timeout)
        return bool(passed)


def websocket_user(name: str, class_name: str, config: WebSocketService, worker_count: int) -> type:
    """The Locust user class of one WebSocket service of the fleet."""
    runtime: ServiceRuntime = runtime_for(name, config, step_fields, worker_count)
    section = "flow" if config.flow else "operations"
    ends = {id(op): end_test(op.stream_end, f"fleet.{name}.{section}[{i}]")
            for i, op in enumerate(config.operations or config.flow) if op.stream_end is not None}  # fmt: skip
    id_field = one_id_field(config, name, lambda op: op.stream_end is not None or op.reply == "id")
    connection = connection_template(config, ("url", "headers", "query", "subprotocols"), name)
    return user_class(FleetWebSocketUser, class_name, runtime, connection=connection, ends=ends, id_field=id_field)
