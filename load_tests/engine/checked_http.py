"""A checked HTTP request on Locust's FastHttpSession that reports itself once, without ``catch_response``.

``with client.get(..., catch_response=True) as resp`` copies the response into a context manager,
asks it for its status again on exit and then fires the request event: about 2.5 µs a request, the
largest share of what our checked users cost above a FastHttpUser that checks nothing (bench/results/
hot_path.md). :func:`checked` sends the request the way :meth:`FastHttpSession.request` does (same
headers, same URL, same JSON body bytes), hands the response to a *judge*, and fires Locust's
``request`` event exactly once with the same fields and the same outcome ``catch_response`` gives:

- the judge returns a reason (str): a failure, reported as ``CatchResponseError(reason)``, as
  ``resp.failure(reason)`` reports it;
- :data:`ACCEPTED`: a success whatever the status (``resp.success()``);
- None: Locust decides, as on leaving a ``with`` block untouched: a connection error, a timeout or a
  status Locust counts as an error fails with that exception, anything else passes.

The judge sees connection errors too (``status_code`` 0), as a ``with`` block does. One deliberate
difference: when the body cannot be read (the connection drops mid-body), the request is reported with
that error and the judge is not asked, where a ``with`` block would raise the same error again from
``resp.content`` and lose the report. Streaming requests keep ``catch_response``.
"""

from __future__ import annotations

import json as stdlib_json
import time
from collections.abc import Callable
from typing import Any, Final, Literal

from locust.contrib.fasthttp import FAILURE_EXCEPTIONS, FastHttpSession, FastResponse
from locust.exception import CatchResponseError, ResponseError

ACCEPTED: Final[Literal[True]] = True  # a judge's verdict: a success whatever the status, as ``resp.success()``
Verdict = str | Literal[True] | None
Judge = Callable[[FastResponse, float], Verdict]  # (response, response time in ms) -> verdict


def checked(
    session: FastHttpSession,
    method: str,
    url: str,
    judge: Judge,
    *,
    name: str | None = None,
    data: str | bytes | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> FastResponse:
    """Send one request, judge its response, fire the request event once; returns the response.

    The request is built as :meth:`FastHttpSession.request` builds it (its ``name``/``rename_request``
    row name, the user's ``context()``, default headers, ``Accept-Encoding``, JSON through the standard
    library), so Locust's rows, URLs and bodies are the same as with ``catch_response=True``.
    """
    name = name or session.request_name or url
    built_url = session._build_url(url)
    start_time = time.time()
    context = dict(session.user.context()) if session.user else {}  # a copy each, as Locust makes
    headers = dict(headers) if headers else {}
    if session.auth_header:
        headers["Authorization"] = session.auth_header
    if "Accept-Encoding" not in headers and "accept-encoding" not in headers:
        headers["Accept-Encoding"] = "gzip, deflate, br"
    if not data and json is not None:
        data = stdlib_json.dumps(json)
        if "Content-Type" not in headers and "content-type" not in headers:
            headers["Content-Type"] = "application/json"
        if "Accept" not in headers and "accept" not in headers:
            headers["Accept"] = "application/json"
    start = time.perf_counter()
    response = session._send_request_safe_mode(method, built_url, payload=data, headers=headers)
    exception: BaseException | None
    try:
        content = response.content
        length = len(content) if content else 0
    except FAILURE_EXCEPTIONS as exc:  # the body broke off: the request failed, there is nothing to judge
        length, exception = 0, exc
        response_time = (time.perf_counter() - start) * 1000
    else:
        response_time = (time.perf_counter() - start) * 1000
        exception = _outcome(response, judge, response_time)
    session.request_event.fire(
        request_type=method, name=name, context=context, response=response, exception=exception,
        start_time=start_time, url=built_url, response_length=length, response_time=response_time,
    )  # fmt: skip
    return response


def _outcome(response: FastResponse, judge: Judge, response_time: float) -> BaseException | None:
    """The exception to report: the judge's reason, or Locust's own (what ``raise_for_status`` raises)."""
    try:
        verdict = judge(response, response_time)
    except ResponseError as exc:  # a ``with`` block reports these and goes on; anything else propagates
        return exc
    if isinstance(verdict, str):
        return CatchResponseError(verdict)
    if verdict is ACCEPTED:
        return None
    return getattr(response, "error", None)
