"""HTTP services of the fleet: each operation is one request on Locust's FastHttpUser.

The row name is the operation's ``name`` (default ``METHOD path`` as written, templates and all, so
one row holds every row of the feed). Without a ``status`` check a reply of 400 or more is a failure
(``HTTP 404``), as everywhere else; with one, the check alone decides, so a test can expect a 404.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from locust.contrib.fasthttp import FastHttpSession, FastHttpUser, FastResponse
from urllib3.filepost import encode_multipart_formdata

from load_tests.core.checks import Reply
from load_tests.core.fleet import HttpOperation, HttpService
from load_tests.core.templates import Template, TemplateError
from load_tests.engine.checked_http import ACCEPTED, Verdict, checked
from load_tests.engine.fleet_users import CompiledStep, FleetUser, ServiceRuntime, runtime_for, user_class
from load_tests.engine.request_hook import report

PARQUET_TYPE = "application/vnd.apache.parquet"


def step_fields(step: Any) -> tuple[str, dict[str, Any]]:
    """The row name and the template fields of an HTTP operation."""
    op: HttpOperation = step
    name = op.name or f"{op.method.upper()} {op.path}"
    return name, {"path": op.path, "query": op.query or None, "headers": op.headers or None, "json": op.json_body,
                  "form": op.form, "multipart": op.multipart, "parquet": op.parquet, "body": op.body}  # fmt: skip


class FleetHttpUser(FleetUser, FastHttpUser):
    abstract = True
    insecure = False  # verify TLS certificates (FastHttpUser's default skips it)
    service_host = ""  # the service's own URL: Locust sets every user class's host to --host when it starts

    def __init__(self, environment: Any) -> None:
        self.host = self.service_host or self.host  # so two services on two hosts each reach their own
        super().__init__(environment)
        self._sessions: dict[float, FastHttpSession] = {}

    def session_for(self, timeout: float | None) -> FastHttpSession:
        """The user's client, or one of its own for an operation with another timeout: geventhttpclient
        sets timeouts per connection pool, and interrupting a call from outside could leak its socket."""
        if timeout is None or timeout == self.network_timeout:
            return self.client
        session = self._sessions.get(timeout)
        if session is None:
            session = self._sessions[timeout] = FastHttpSession(
                base_url=self.host, request_event=self.environment.events.request, user=self,
                network_timeout=timeout, connection_timeout=timeout, max_retries=self.max_retries,
                insecure=self.insecure, concurrency=self.concurrency, ssl_context_factory=self.ssl_context_factory,
                headers=self.default_headers,
            )  # fmt: skip
        return session

    def send(self, step: CompiledStep, context: dict[str, Any]) -> bool:
        op: HttpOperation = step.config  # type: ignore[assignment]
        method = op.method.upper()
        try:
            url, kwargs = _request(step, op, context)
        except TemplateError as exc:  # a row without the column a template names: this call fails
            report(self.environment.events.request, method, step.name, None, exception=f"template: {exc}")
            return False
        failed = False

        def judge(resp: FastResponse, _ms: float) -> Verdict:
            nonlocal failed
            headers: Any = resp.headers or {}  # geventhttpclient's Headers: a mapping, not typed as one
            reply = Reply(resp.status_code, dict(headers), resp.content, None)
            failure = self.judge(step, reply, context)
            if failure is not None:
                failed = True
                return failure
            return ACCEPTED if step.has_status_check else None  # a status check decides alone, 404 or not

        resp = checked(self.session_for(op.timeout), method, url, judge, name=step.name, **kwargs)
        return not failed and bool(step.has_status_check or (resp.status_code or 0) < 400)


def _request(step: CompiledStep, op: HttpOperation, context: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL and the keyword arguments of one request, rendered from the step's templates."""
    url = str(step.render("path", context))
    query = step.render("query", context)
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query, doseq=True)
    headers = dict(step.render("headers", context) or {})
    kwargs: dict[str, Any] = {}
    if "json" in step.templates:
        kwargs["json"] = step.render("json", context)
    elif "form" in step.templates:
        kwargs["data"] = urlencode(step.render("form", context), doseq=True)
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif "multipart" in step.templates:
        body, content_type = encode_multipart_formdata(_parts(step.render("multipart", context)))
        kwargs["data"] = body
        headers["Content-Type"] = content_type
    elif "parquet" in step.templates:
        kwargs["data"] = parquet_bytes(step.render("parquet", context))
        headers.setdefault("Content-Type", op.content_type or PARQUET_TYPE)
    elif "body" in step.templates:
        kwargs["data"] = str(step.render("body", context)).encode("utf-8")
        if op.content_type:
            headers.setdefault("Content-Type", op.content_type)
    if headers:
        kwargs["headers"] = headers
    return url, kwargs


def parquet_bytes(rows: Any) -> bytes:
    """A row (dict) or rows (list of dicts) as a Parquet file in memory, as a FastAPI model service reads it."""
    import pyarrow as pa  # only services with a parquet body pay for the import
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows if isinstance(rows, list) else [rows])
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def _parts(fields: dict[str, Any]) -> dict[str, Any]:
    """Multipart fields: ``name: text``, or ``name: {file: PATH, content_type: ...}`` read from disk."""
    parts: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, dict) and "file" in value:
            path = Path(str(value["file"]))
            parts[name] = (path.name, path.read_bytes(), value.get("content_type", "application/octet-stream"))
        else:
            parts[name] = str(value)
    return parts


def _trusting(ca_file: str) -> Any:
    def factory() -> ssl.SSLContext:
        return ssl.create_default_context(cafile=ca_file)

    return factory


def http_user(name: str, class_name: str, config: HttpService, worker_count: int) -> type:
    runtime: ServiceRuntime = runtime_for(name, config, step_fields, worker_count)
    host = config.url.rstrip("/")
    attributes: dict[str, Any] = {"host": host, "service_host": host, "network_timeout": config.timeout,
                                  "connection_timeout": config.timeout}  # fmt: skip
    if config.headers:
        attributes["default_headers"] = runtime_headers(config, name)
    if config.ca_file:
        attributes["ssl_context_factory"] = _trusting(config.ca_file)
    return user_class(FleetHttpUser, class_name, runtime, **attributes)


def runtime_headers(config: HttpService, name: str) -> dict[str, str]:
    """The service's headers with ``${NAME}`` filled from the environment (secrets stay out of the file)."""
    where = f"fleet.{name}.headers"
    return dict(Template.compile(dict(config.headers), where).with_env(os.environ, where).render({}))
