"""The user's fleet as data: named services, each with a protocol, an address and its operations.

The YAML's ``fleet:`` section (validated here, strictly: an unknown key is an error that names its
place) describes every service a team runs; ``--test-type NAME[,NAME]`` picks some, ``all`` takes
every one. No Python to write: each protocol turns a service into Locust users through the same few
pieces (:mod:`load_tests.engine.fleet_users`):

- a **template** (:mod:`load_tests.core.templates`): strings with ``{{ row.amount }}`` (the data
  feed's row), ``{{ vars.token }}`` (a value a flow captured) and ``{{ id }}`` (a fresh request id);
  a string that is only ``{{ row }}`` becomes the whole value (the row as a JSON body);
- a **data feed** (:mod:`load_tests.core.feeds`): rows from CSV, JSON Lines or Parquet, drawn in
  ``sequential``, ``random`` or ``unique`` order (each row once across all users and workers);
- **checks** (:mod:`load_tests.core.checks`) on each reply: a failed one is a failure named by it;
- either independent weighted **operations**, or a **flow**: ordered steps run in turn by each
  user, where ``capture`` keeps a value of a reply in the user's ``vars`` for later steps.

Secrets are never written in the file: ``${NAME}`` in any string is read from the environment when
the users start (the plan on disk keeps ``${NAME}``), and a missing variable is a config error.
Service kinds: ``http``, ``websocket``, ``socketio``, ``grpc``, ``openai`` (an OpenAI-compatible LLM
server: token metrics, see :class:`OpenAIService`), and ``locustfile`` (a team's own user classes run
with everything the harness gives).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from load_tests.core.llm_workloads import Workload
from load_tests.core.scenarios import parse_duration
from load_tests.core.token_rule import Tokens

Seconds = Annotated[float, BeforeValidator(parse_duration)]


def _pause(value: Any) -> float:
    """A think time: a duration, or 0 for none (a duration elsewhere must be positive)."""
    return 0.0 if value in (0, "0", "0s") else parse_duration(value)


Pause = Annotated[float, BeforeValidator(_pause)]
SERVICE_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
PROTOCOLS = ("http", "websocket", "socketio", "grpc", "openai", "locustfile")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Feed(_Model):
    """Rows for the templates: ``{{ row.COLUMN }}``."""

    file: str  # .csv, .jsonl / .ndjson or .parquet; relative to the config file
    order: Literal["sequential", "random", "unique"] = "sequential"
    # unique: each row once across every user and worker, then "stop" (users go idle) or "wrap"
    when_done: Literal["stop", "wrap"] = "stop"
    seed: int | None = None  # random order: the same sequence every run


class Count(_Model):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class Check(_Model):
    """One check on a reply, with exactly one subject:

    - ``status: 200`` or ``status: [200, 201]``: the HTTP status (gRPC: the status code name, ``OK``);
    - ``json: $.label``: a JSON path of the reply (of a stream: its first message) that must exist
      and, with one comparison, hold: ``equals: "{{ row.label }}"``, ``in: [a, b]``,
      ``matches: REGEX``, ``between: [0, 1]``;
    - ``header: content-type`` with a comparison (``matches: json``);
    - ``body_contains: TEXT``;
    - ``messages: 8`` or ``messages: {min: 1, max: 64}``: a stream's message count;
    - ``final: $.type`` with a comparison: a JSON path of a stream's last message.
    """

    status: int | list[int] | str | None = None
    json_path: str | None = Field(default=None, alias="json")
    final: str | None = None
    header: str | None = None
    body_contains: str | None = None
    messages: int | Count | None = None
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    matches: str | None = None
    between: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> Check:
        subjects = [k for k in ("status", "json_path", "final", "header", "body_contains", "messages")
                    if getattr(self, k) is not None]  # fmt: skip
        if len(subjects) != 1:
            raise ValueError("a check takes exactly one of status, json, final, header, body_contains, messages")
        comparisons = [k for k in ("equals", "in_", "matches", "between") if getattr(self, k) is not None]
        if len(comparisons) > 1:
            raise ValueError("a check takes at most one of equals, in, matches, between")
        if comparisons and subjects[0] not in ("json_path", "final", "header"):
            raise ValueError(f"{comparisons[0].rstrip('_')} compares a json, final or header value")
        if subjects[0] == "header" and not comparisons:
            raise ValueError("a header check needs equals, in, matches or between")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"matches: {self.matches!r} is not a regular expression ({exc})") from None
        return self


class Step(_Model):
    """What every protocol's operation shares: its row name, weight, tags, checks and captures."""

    name: str | None = None  # the row name in every report (default: METHOD path, the event, the method)
    weight: int = Field(default=1, ge=1)
    tags: list[str] = []
    timeout: Seconds | None = None
    checks: list[Check] = []
    capture: dict[str, str] = {}  # variable -> JSON path of the reply: {{ vars.NAME }} in later steps


class HttpOperation(Step):
    method: str = "GET"
    path: str = "/"
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    json_body: Any = Field(default=None, alias="json")
    form: dict[str, Any] | None = None
    multipart: dict[str, Any] | None = None  # field: "text", or {file: PATH, content_type: ...}
    parquet: Any = None  # a row (or a list of rows) sent as a Parquet file: parquet: "{{ row }}"
    body: str | None = None
    content_type: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> HttpOperation:
        if self.method.upper() not in HTTP_METHODS:
            raise ValueError(f"method {self.method!r} is not one of {', '.join(HTTP_METHODS)}")
        bodies = [k for k in ("json_body", "form", "multipart", "parquet", "body") if getattr(self, k) is not None]
        if len(bodies) > 1:
            raise ValueError("give one body: json, form, multipart, parquet or body")
        return self


class StreamEnd(_Model):
    """The message that ends a stream: ``{json: $.type, equals: done}``."""

    json_path: str = Field(alias="json")
    equals: Any


class WebSocketOperation(Step):
    send: Any  # the message (a JSON template; a string is sent as text)
    reply: Literal["id", "next", "none"] = "id"  # matched by id_field; the next message; fire-and-forget
    id_field: str = "id"
    stream_end: StreamEnd | None = None  # collect messages until this one
    tokens: Tokens | None = None  # a stream's token rule: TTFT, ITL, TPOT (core/token_rule.py)


class SocketIOOperation(Step):
    emit: str  # the event
    payload: Any = None
    ack: bool = True
    stream_event: str | None = None  # events carrying the stream's items, matched by id_field
    end_event: str = "done"
    id_field: str = "id"
    tokens: Tokens | None = None  # a stream's token rule: TTFT, ITL, TPOT (core/token_rule.py)


class GrpcOperation(Step):
    call: str  # package.Service/Method
    request: Any = None  # unary and server-streaming: one message (a JSON template)
    messages: list[Any] | None = None  # client-streaming and bidi: the messages, in order
    messages_from_data: bool = False  # client-streaming and bidi: one message per feed row (all rows)
    metadata: dict[str, str] = {}
    tokens: Tokens | None = None  # a server stream's token rule: TTFT, ITL, TPOT (core/token_rule.py)


class _Service(_Model):
    think_time: Pause | tuple[Pause, Pause] = 0.0
    weight: int = Field(default=1, ge=1)  # this service's share of the users
    data: Feed | None = None
    timeout: Seconds = 10.0

    @model_validator(mode="after")
    def _operations_or_flow(self) -> _Service:
        operations, flow = getattr(self, "operations", []), getattr(self, "flow", [])
        if bool(operations) == bool(flow):
            raise ValueError("give either operations (independent, weighted) or flow (ordered steps), not both")
        return self


class HttpService(_Service):
    protocol: Literal["http"]
    url: str
    headers: dict[str, str] = {}
    ca_file: str | None = None
    operations: list[HttpOperation] = []
    flow: list[HttpOperation] = []


class WebSocketService(_Service):
    protocol: Literal["websocket"]
    url: str
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    subprotocols: list[str] = []
    ca_file: str | None = None
    operations: list[WebSocketOperation] = []
    flow: list[WebSocketOperation] = []


class SocketIOService(_Service):
    protocol: Literal["socketio"]
    url: str
    namespace: str = "/"
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    auth: dict[str, Any] | None = None
    transports: list[Literal["websocket", "polling"]] = ["websocket"]
    ca_file: str | None = None
    operations: list[SocketIOOperation] = []
    flow: list[SocketIOOperation] = []


class GrpcService(_Service):
    protocol: Literal["grpc"]
    target: str  # host:port
    proto: str | None = None  # relative to the config file; or reflection: true
    reflection: bool = False
    metadata: dict[str, str] = {}
    tls: bool = False
    ca_file: str | None = None
    operations: list[GrpcOperation] = []
    flow: list[GrpcOperation] = []


class OpenAIService(_Model):
    """An OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, Ollama, a LiteLLM gateway).

    Each iteration sends one request to ``{url}/chat/completions`` (``endpoint: chat``), ``/completions``
    or ``/embeddings``; ``url`` is the API's base (``http://host:8000/v1``; a URL without a path gets
    ``/v1``). The key is read from the environment variable ``api_key_env`` when users start and sent as
    a bearer token; it is never written anywhere. Streams are timed token by token (TTFT, ITL, TPOT:
    core/llm_metrics.py). Token counts: the server's ``usage`` (asked for with ``include_usage``), else
    ``tokenizer`` (a local ``tokenizer.json``), else an estimate of 4 characters per token, labelled so.
    The request's content is ``prompt``, or with a ``workload:`` (core/llm_workloads.py: synthetic
    lengths, prompt files, multi-turn sessions, trace rows) each user's session's next prompt and its
    ``max_tokens``. ``ignore_eos: true`` adds ``ignore_eos`` and ``min_tokens`` = ``max_tokens`` to each
    request, so a vLLM-style server generates exactly the length asked for, not its natural reply.
    """

    protocol: Literal["openai"]
    url: str = Field(alias="base_url")  # also accepted as url:
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    endpoint: Literal["chat", "completions", "embeddings"] = "chat"
    stream: bool | None = None  # default: true, except for embeddings (never streamed)
    include_usage: bool = True  # stream_options.include_usage: the server's own token counts
    max_tokens: int | None = Field(default=None, ge=1)
    prompt: str = Field(default="Say hello.", min_length=1)
    workload: Workload | None = None  # replaces prompt and max_tokens (max_tokens stays the fallback)
    ignore_eos: bool = False  # each request also asks for exactly max_tokens (ignore_eos + min_tokens)
    system: str | None = None  # chat: a system message before the prompt
    extra_body: dict[str, Any] = {}  # merged into every request body: temperature, ignore_eos, min_tokens...
    headers: dict[str, str] = {}
    tokenizer: str | None = None  # a tokenizer.json (Hugging Face tokenizers), relative to the config file
    name: str | None = None  # the row name (default: POST /v1/chat/completions)
    think_time: Pause | tuple[Pause, Pause] = 0.0
    weight: int = Field(default=1, ge=1)
    timeout: Seconds = 60.0  # connect, and each read of the reply
    ttft_timeout: Seconds | None = None  # a stream whose first token takes longer fails ("first token timeout")
    ca_file: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> OpenAIService:
        if self.endpoint == "embeddings" and self.stream:
            raise ValueError("stream: embeddings are never streamed")
        if "stream" in self.extra_body or "model" in self.extra_body:
            raise ValueError("extra_body: set stream and model with their own fields")
        return self

    @property
    def streamed(self) -> bool:
        return self.stream if self.stream is not None else self.endpoint != "embeddings"


class LocustfileService(_Model):
    protocol: Literal["locustfile"]
    file: str  # relative to the config file
    users: list[str] = []  # user class names; default: every non-abstract User class of the file
    url: str | None = None  # Locust's --host for these users


Service = Annotated[
    HttpService | WebSocketService | SocketIOService | GrpcService | OpenAIService | LocustfileService,
    Field(discriminator="protocol"),
]


def class_name_of(service: str) -> str:
    """``pumps-api`` -> ``Fleet_pumps_api``: the Locust user class of a fleet service."""
    return "Fleet_" + service.replace("-", "_")


def steps_of(service: Any) -> list[Step]:
    """A service's operations, or its flow's steps (a service has one or the other, not both)."""
    return list(service.operations or service.flow)
