"""gRPC services of the fleet: one channel per user, one call per operation, of any of the four kinds.

Methods come from the service's ``proto`` (compiled at start with grpcio-tools, so a wrong ``call``
stops the run before anything is sent) or from the server's ``reflection`` (asked once per process
when the first user starts; the reflection call carries no metadata). ``call: package.Service/Method``;
requests are written as JSON templates and turned into protobuf with ``json_format``:

- unary and server-streaming take ``request`` (one message; none: the empty message);
- client-streaming and bidi take ``messages`` (templates, sent in order) or ``messages_from_data:
  true`` (one message per row of the service's feed, every row, in the file's order).

Every call goes through :class:`GrpcClient`'s timed channel, which times it (streams per message: the
``gRPC first message`` facet, gaps, count) under the operation's ``name`` (default ``Service/Method``,
the name the bundled users and the reference service use) and runs the step's checks before its one
report, so a failed check fails that row. Checks see ``Reply(status=<status code name, "OK">,
headers=<trailing metadata>, body=<the response as JSON, field names as in the .proto; of a stream:
a JSON list>, messages=<a response stream's messages as objects; None for a single response>)``.
Without a ``status`` check a status other than OK is the failure (named by the code); with one, the
checks alone decide. ``metadata`` (the service's, then the operation's) is rendered per call, and
``timeout`` is the call's deadline (default: the service's ``timeout``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import grpc
from gevent.lock import BoundedSemaphore
from google.protobuf import descriptor_pool, json_format, message_factory
from locust.exception import StopUser

from load_tests.clients.grpc_client import CallCheck, GrpcClient, call_scope, consume
from load_tests.core.checks import Reply
from load_tests.core.errors import ConfigError
from load_tests.core.fleet import GrpcOperation, GrpcService
from load_tests.core.request_types import (
    GRPC_BIDI_STREAM,
    GRPC_CLIENT_STREAM,
    GRPC_SERVER_STREAM,
    GRPC_UNARY,
    grpc_method_name,
)
from load_tests.core.scripted import pool_from_proto, pool_from_reflection
from load_tests.core.templates import Template, TemplateError
from load_tests.engine.fleet_users import CompiledStep, FleetUser, ServiceRuntime, runtime_for, user_class
from load_tests.engine.fleet_websocket import connection_template
from load_tests.engine.request_hook import report

JSON_STYLE = {"preserving_proto_field_name": True}


@dataclass(frozen=True)
class Method:
    """A method resolved from descriptors: enough to call it through the channel's generic callables."""

    path: str  # /package.Service/Method
    request_class: Any
    response_class: Any
    client_streaming: bool
    server_streaming: bool

    @property
    def kind(self) -> str:
        if self.client_streaming:
            return GRPC_BIDI_STREAM if self.server_streaming else GRPC_CLIENT_STREAM
        return GRPC_SERVER_STREAM if self.server_streaming else GRPC_UNARY

    def message(self, value: Any) -> Any:
        return json_format.ParseDict(value if value is not None else {}, self.request_class())


def step_fields(step: Any) -> tuple[str, dict[str, Any]]:
    """The row name and the template fields of a gRPC operation."""
    op: GrpcOperation = step
    name = op.name or grpc_method_name(op.call)
    return name, {"request": op.request, "messages": op.messages, "metadata": op.metadata or None}


def resolve(pool: descriptor_pool.DescriptorPool, op: GrpcOperation, where: str) -> Method:
    """The method ``op.call`` names, with the fields its kind needs; else a ConfigError saying what is valid."""
    service_name, _, method_name = op.call.partition("/")
    if not service_name or not method_name:
        raise ConfigError(f"{where}.call: {op.call!r} is not package.Service/Method")
    try:
        service = pool.FindServiceByName(service_name)
    except KeyError:
        raise ConfigError(f"{where}.call: service {service_name!r} not found") from None
    found = service.methods_by_name.get(method_name)
    if found is None:
        raise ConfigError(f"{where}.call: {service_name} has no method {method_name!r} "
                          f"(it has {', '.join(sorted(service.methods_by_name))})")  # fmt: skip
    method = Method(f"/{service.full_name}/{found.name}", message_factory.GetMessageClass(found.input_type),
                    message_factory.GetMessageClass(found.output_type), found.client_streaming,
                    found.server_streaming)  # fmt: skip
    streams_in = "messages or messages_from_data: true"
    if method.client_streaming and op.request is not None:
        raise ConfigError(f"{where}.request: {method_name} is {method.kind[5:]}: give {streams_in}")
    if method.client_streaming and (op.messages is None) == (not op.messages_from_data):
        raise ConfigError(f"{where}: {method_name} is {method.kind[5:]}: give one of {streams_in}")
    if not method.client_streaming and (op.messages is not None or op.messages_from_data):
        raise ConfigError(f"{where}: {method_name} takes one request: give request, not {streams_in}")
    return method


@cache
def _proto_pool(path: str, where: str) -> descriptor_pool.DescriptorPool:
    try:
        return pool_from_proto(Path(path))
    except ConfigError as exc:  # its text names the scripted section; say where this one is
        raise ConfigError(f"{where}: {str(exc).partition(': ')[2]}") from None


def resolve_all(pool: descriptor_pool.DescriptorPool, config: GrpcService, name: str) -> dict[int, Method]:
    """Every operation's method, by ``id()`` of its config (the runtime's steps hold the same objects)."""
    section = "flow" if config.flow else "operations"
    return {
        id(op): resolve(pool, op, f"fleet.{name}.{section}[{i}]")
        for i, op in enumerate(config.operations or config.flow)
    }


class FleetGrpcUser(FleetUser):
    abstract = True
    connection: Template  # target
    service_metadata: Template
    methods: dict[int, Method]  # filled at build (proto) or by the first user of the process (reflection)
    resolving: BoundedSemaphore
    row_messages: dict[str, list[Any]]  # messages_from_data: the feed's rows as messages, by method
    client: GrpcClient | None = None
    unresolved: str | None = None  # why reflection gave no methods: every call of this user fails with it

    def on_start(self) -> None:
        config: GrpcService = self.runtime.config
        try:
            context = {"row": None, "vars": self.vars, "id": f"{self.runtime.name}-{next(self.runtime.ids)}"}
            target = str(self.connection.render(context)["target"])
        except TemplateError as exc:
            raise StopUser(f"fleet.{self.runtime.name}.target: {exc}") from None
        roots = Path(config.ca_file).read_bytes() if config.ca_file else None
        self.client = GrpcClient(target, self.environment.events.request, timeout=config.timeout,
                                 root_certificates=roots, tls=config.tls)  # fmt: skip
        self._callables: dict[str, Any] = {}
        if not self.methods:
            with self.resolving:  # one reflection conversation per process, not one per user
                if not self.methods:
                    self._reflect(target, roots)

    def on_stop(self) -> None:
        if self.client is not None:
            self.client.close()

    def _reflect(self, target: str, roots: bytes | None) -> None:
        """Ask the server for the methods; when it cannot say, this user's calls fail saying why (the next
        user to start asks again: the server may be back)."""
        config: GrpcService = self.runtime.config
        if config.tls or roots is not None:
            channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=roots))
        else:
            channel = grpc.insecure_channel(target)
        with channel:
            try:
                self.methods.update(resolve_all(pool_from_reflection(channel), config, self.runtime.name))
            except grpc.RpcError as exc:  # the server is down or serves no reflection
                code = exc.code() if hasattr(exc, "code") else None
                self.unresolved = f"reflection failed: {code.name if code is not None else type(exc).__name__}"
            except ConfigError as exc:  # the server has no such method
                self.unresolved = f"reflection: {str(exc).partition(': ')[2]}"

    def send(self, step: CompiledStep, context: dict[str, Any]) -> bool:
        op: GrpcOperation = step.config  # type: ignore[assignment]
        method = self.methods.get(id(op))
        if method is None:  # reflection could not say what this method is
            report(self.environment.events.request, GRPC_UNARY, step.name, None,
                   exception=self.unresolved or "reflection failed")  # fmt: skip
            return False
        try:
            request = self._request(step, op, method, context)
            metadata = self._metadata(step, context)
        except (TemplateError, json_format.ParseError) as exc:  # a row that does not fit: this call fails
            report(self.environment.events.request, method.kind, step.name, None, exception=f"request: {exc}")
            return False
        passed: list[bool] = []
        tokens = op.tokens.rule() if op.tokens is not None else None
        with call_scope(step.name, self._verdict(step, method, context, passed), tokens):
            try:
                call = self._callable(method)(request, timeout=op.timeout, metadata=metadata)
                if method.server_streaming:
                    consume(call)
            except grpc.RpcError:
                pass  # already reported by the client, with its status
        return bool(passed)

    def _request(self, step: CompiledStep, op: GrpcOperation, method: Method, context: dict[str, Any]) -> Any:
        """One message, or for a request stream an iterator over its messages."""
        if not method.client_streaming:
            return method.message(step.render("request", context))
        if op.messages_from_data:
            if method.path not in self.row_messages:  # converted once per process: the rows never change
                self.row_messages[method.path] = [method.message(row) for row in self.runtime.rows or []]
            return iter(self.row_messages[method.path])
        return iter([method.message(value) for value in step.render("messages", context)])

    def _metadata(self, step: CompiledStep, context: dict[str, Any]) -> list[tuple[str, str]] | None:
        merged = {**(self.service_metadata.render(context) or {}), **(step.render("metadata", context) or {})}
        return [(str(key).lower(), str(value)) for key, value in merged.items()] or None

    def _callable(self, method: Method) -> Any:
        found = self._callables.get(method.path)
        if found is None:
            assert self.client is not None  # on_start made it
            kind = ("stream" if method.client_streaming else "unary") + "_" + (
                "stream" if method.server_streaming else "unary")  # fmt: skip
            found = getattr(self.client.channel, kind)(
                method.path, request_serializer=method.request_class.SerializeToString,
                response_deserializer=method.response_class.FromString,
            )  # fmt: skip
            self._callables[method.path] = found
        return found

    def _verdict(self, step: CompiledStep, method: Method, context: dict[str, Any], passed: list[bool]) -> CallCheck:
        """The client's judge of a finished call: the step's checks, then (without a status check) the status."""

        def check(code: str, trailing: Any, responses: list[Any]) -> str | None:
            messages = [json_format.MessageToDict(r, **JSON_STYLE) for r in responses]
            if method.server_streaming:
                body, streamed = json.dumps(messages), messages
            else:
                body = json_format.MessageToJson(responses[0], **JSON_STYLE) if responses else ""
                streamed = None
            failure = self.judge(step, Reply(code, dict(trailing or ()), body, streamed), context)
            if failure is None and code != "OK" and not step.has_status_check:
                failure = code
            if failure is None:
                passed.append(True)
            return failure

        return check


def grpc_user(name: str, class_name: str, config: GrpcService, worker_count: int) -> type:
    """The Locust user class of one gRPC service of the fleet (methods from its .proto resolved now)."""
    if not config.proto and not config.reflection:
        raise ConfigError(f"fleet.{name}: give proto: PATH or reflection: true")
    if config.proto and config.reflection:
        raise ConfigError(f"fleet.{name}: give proto: PATH or reflection: true, not both")
    for op in config.operations or config.flow:
        if op.messages_from_data and config.data is None:
            raise ConfigError(f"fleet.{name}: messages_from_data needs a data: feed on the service")
    runtime: ServiceRuntime = runtime_for(name, config, step_fields, worker_count)
    methods = resolve_all(_proto_pool(config.proto, f"fleet.{name}.proto"), config, name) if config.proto else {}
    where = f"fleet.{name}.metadata"
    metadata = Template.compile(dict(config.metadata), where).with_env(os.environ, where)
    connection = connection_template(config, ("target",), name)
    return user_class(FleetGrpcUser, class_name, runtime, connection=connection, service_metadata=metadata,
                      methods=methods, resolving=BoundedSemaphore(), row_messages={})  # fmt: skip
