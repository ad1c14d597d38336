"""Services described in YAML alone (test type ``scripted``): WebSocket messages, Socket.IO events and gRPC calls.

No Python to write: each entry names what to send, how a reply is matched and a weight. gRPC methods
come from a ``.proto`` compiled at run time with grpcio-tools (into a temporary folder) or from the
server's reflection, and requests are written as JSON. This module validates the YAML and resolves
gRPC methods; ``load_tests/locust/scripted_services.py`` turns the entries into Locust tasks.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from pydantic import BaseModel, ConfigDict, Field, model_validator

from load_tests.core.errors import ConfigError


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    weight: int = Field(default=1, ge=1)


class ScriptedWebSocket(_Entry):
    url: str | None = None  # default: services.websocket.url / derived from --host
    message: dict[str, Any]  # JSON template; "{id}" in a string value becomes the request id
    id_field: str = "id"  # the field of the message and of its replies that carries the request id
    stream_end: dict[str, Any] | None = None  # {field: type, value: done}: collect replies until it
    expect_messages: int | None = Field(default=None, ge=0)


class ScriptedSocketIO(_Entry):
    url: str | None = None
    namespace: str = "/"
    event: str
    payload: Any = None
    ack: bool = True  # wait for the ack; false = fire-and-forget
    response_event: str | None = None  # events carrying the stream's items (matched by id_field)
    end_event: str = "done"
    id_field: str = "id"
    expect_messages: int | None = Field(default=None, ge=0)


class ScriptedGrpc(_Entry):
    target: str | None = None  # host:port; default services.grpc.target
    proto: str | None = None  # path relative to the config file
    reflection: bool = False
    service: str  # fully qualified, e.g. loadtests.inference.v1.Inference
    method: str
    request: dict[str, Any] = {}

    @model_validator(mode="after")
    def _one_source(self) -> ScriptedGrpc:
        if bool(self.proto) == bool(self.reflection):
            raise ValueError("give either proto: PATH or reflection: true")
        return self


class ScriptedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    websocket: list[ScriptedWebSocket] = []
    socketio: list[ScriptedSocketIO] = []
    grpc: list[ScriptedGrpc] = []

    @property
    def empty(self) -> bool:
        return not (self.websocket or self.socketio or self.grpc)


def fill_template(value: Any, request_id: str) -> Any:
    """Replace ``{id}`` in every string of a JSON template."""
    if isinstance(value, str):
        return value.replace("{id}", request_id)
    if isinstance(value, dict):
        return {k: fill_template(v, request_id) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_template(v, request_id) for v in value]
    return value


@dataclass(frozen=True)
class GrpcMethod:
    """A method resolved from a descriptor pool: enough to call it through a generic channel method."""

    path: str  # /package.Service/Method
    request_class: Any
    response_class: Any
    server_streaming: bool

    def request(self, data: dict[str, Any]) -> Any:
        return json_format.ParseDict(data, self.request_class())


def pool_from_proto(proto: Path) -> descriptor_pool.DescriptorPool:
    """Compile ``proto`` (and its imports) with grpcio-tools into a temporary folder; return its pool."""
    from grpc_tools import protoc

    if not proto.is_file():
        raise ConfigError(f"scripted.grpc proto: file not found: {proto}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "descriptors.pb"
        args = ["protoc", f"-I{proto.parent}", f"-I{files('grpc_tools') / '_proto'}", f"--descriptor_set_out={out}",
                "--include_imports", str(proto)]  # fmt: skip
        if protoc.main(args) != 0 or not out.exists():
            raise ConfigError(f"scripted.grpc proto: {proto} does not compile (run protoc on it to see why)")
        descriptors = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file_proto in descriptors.file:
        pool.Add(file_proto)
    return pool


def pool_from_reflection(channel: Any) -> descriptor_pool.DescriptorPool:
    """A pool that asks the server's reflection service for descriptors as they are needed."""
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    return descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))


def resolve_method(pool: descriptor_pool.DescriptorPool, entry: ScriptedGrpc) -> GrpcMethod:
    """The method ``entry`` names, checked to be unary or server-streaming, with a valid JSON request."""
    where = f"scripted.grpc {entry.name!r}"
    try:
        service = pool.FindServiceByName(entry.service)
    except KeyError:
        raise ConfigError(f"{where}: service {entry.service!r} not found") from None
    method = service.methods_by_name.get(entry.method)
    if method is None:
        raise ConfigError(f"{where}: {entry.service} has no method {entry.method!r} "
                          f"(it has {', '.join(sorted(service.methods_by_name))})")  # fmt: skip
    if method.client_streaming:
        raise ConfigError(f"{where}: {entry.method} is client-streaming; YAML calls may be unary or server-streaming")
    resolved = GrpcMethod(
        path=f"/{service.full_name}/{method.name}",
        request_class=message_factory.GetMessageClass(method.input_type),
        response_class=message_factory.GetMessageClass(method.output_type),
        server_streaming=method.server_streaming,
    )
    try:
        resolved.request(entry.request)
    except json_format.ParseError as exc:
        raise ConfigError(f"{where}: request does not fit {method.input_type.full_name}: {exc}") from None
    return resolved


def check_protos(config: ScriptedConfig, base: Path) -> None:
    """Fail before a run starts when a ``.proto`` entry does not compile or name a real method."""
    for entry in config.grpc:
        if entry.proto:
            resolve_method(pool_from_proto(proto_path(entry, base)), entry)


def proto_path(entry: ScriptedGrpc, base: Path) -> Path:
    path = Path(entry.proto or "").expanduser()
    return path if path.is_absolute() else (base / path).resolve()
