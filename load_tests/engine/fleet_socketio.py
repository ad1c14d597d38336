"""Socket.IO services of the fleet: one connection per user, one event (or stream) per operation.

Each user connects in ``on_start`` through :class:`SocketIOClient` (the service's ``url`` with its
``query`` appended, ``namespace``, ``headers``, ``auth``, ``transports``: several start on the first and
upgrade; ``${NAME}`` in any of them is read from the environment, so an API key stays out of the file).
An operation ``emit``\\ s its event with the rendered ``payload`` and then:

- with ``stream_event``: collects the events carrying the payload's ``id_field`` until ``end_event``
  (``SIO stream`` with message count and gaps, and the ``SIO first event`` facet); a payload object
  without that field gets the call's fresh ``{{ id }}``, which the service echoes in every event;
- else with ``ack: true`` (the default): waits for the ack (``SIO ack``: the time to it);
- else fire-and-forget (``SIO send``, counted, never timed).

Checks and captures see ``Reply(status=None, headers={}, body=<the ack, or the stream's end event, as
JSON>, messages=<the stream's events, or [ack]>)``; a failed check fails the same row (the client takes
the check). Rows are named by the operation's ``name``, by default the event.
"""

from __future__ import annotations

from typing import Any

from locust.exception import StopUser

from load_tests.clients.socketio_client import SocketIOClient
from load_tests.core.fleet import SocketIOOperation, SocketIOService
from load_tests.core.request_types import SIO_ACK, SIO_CONNECT, SIO_SEND, SIO_STREAM
from load_tests.core.templates import Template, TemplateError
from load_tests.engine.fleet_users import CompiledStep, FleetUser, ServiceRuntime, runtime_for, user_class
from load_tests.engine.fleet_websocket import connection_template, one_id_field, reply_verdict, with_query
from load_tests.engine.request_hook import report


def step_fields(step: Any) -> tuple[str, dict[str, Any]]:
    """The row name and the template fields of a Socket.IO operation."""
    op: SocketIOOperation = step
    return op.name or op.emit, {"payload": op.payload}


class FleetSocketIOUser(FleetUser):
    abstract = True
    connection: Template  # url, headers, query, auth
    id_field: str
    client: SocketIOClient | None = None

    def on_start(self) -> None:
        config: SocketIOService = self.runtime.config
        context = {"row": None, "vars": self.vars, "id": f"{self.runtime.name}-{next(self.runtime.ids)}"}
        try:
            settings = self.connection.render(context)
        except TemplateError as exc:
            report(self.environment.events.request, SIO_CONNECT, self.runtime.name, None, exception=f"template: {exc}")
            raise StopUser(f"fleet.{self.runtime.name}: {exc}") from None
        streams = [op for op in config.operations or config.flow if op.stream_event is not None]
        events = (streams[0].stream_event or "", streams[0].end_event) if streams else ("token", "done")
        self.client = SocketIOClient(
            with_query(str(settings["url"]), settings["query"]), self.environment.events.request,
            namespace=config.namespace, transport=config.transports[0], transports=list(config.transports),
            auth=settings["auth"], headers=settings["headers"], timeout=config.timeout, ca_file=config.ca_file,
            stream_events=(*events, "error"), id_field=self.id_field,
        )  # fmt: skip
        for op in streams:
            self.client.listen(op.stream_event or "", op.end_event)
        self.client.connect()

    def on_stop(self) -> None:
        if self.client is not None:
            self.client.close()

    def send(self, step: CompiledStep, context: dict[str, Any]) -> bool:
        op: SocketIOOperation = step.config  # type: ignore[assignment]
        request_type = SIO_STREAM if op.stream_event else (SIO_ACK if op.ack else SIO_SEND)
        try:
            payload = step.render("payload", context)
            if op.stream_event and not isinstance(payload, dict | None):
                raise TemplateError(f"a stream's payload must be a JSON object to carry {op.id_field!r}")
        except TemplateError as exc:  # a row without the column a template names: this call fails
            report(self.environment.events.request, request_type, step.name, None, exception=f"template: {exc}")
            return False
        assert self.client is not None  # on_start made it
        passed: list[bool] = []
        if op.stream_event:
            data = dict(payload or {})
            if data.get(op.id_field) is None:
                data[op.id_field] = context["id"]
            self.client.stream(op.emit, data, name=step.name, end_event=op.end_event,
                               check=reply_verdict(self, step, context, passed), timeout=op.timeout,
                               tokens=op.tokens.rule() if op.tokens is not None else None)  # fmt: skip
        elif op.ack:
            self.client.call(op.emit, payload, name=step.name, check=reply_verdict(self, step, context, passed),
                             timeout=op.timeout)  # fmt: skip
        else:
            return self.client.emit(op.emit, payload, name=step.name)
        return bool(passed)


def socketio_user(name: str, class_name: str, config: SocketIOService, worker_count: int) -> type:
    """The Locust user class of one Socket.IO service of the fleet."""
    runtime: ServiceRuntime = runtime_for(name, config, step_fields, worker_count)
    id_field = one_id_field(config, name, lambda op: op.stream_event is not None)
    connection = connection_template(config, ("url", "headers", "query", "auth"), name)
    return user_class(FleetSocketIOUser, class_name, runtime, connection=connection, id_field=id_field)
