"""Child process of tests/e2e/test_checked_http.py (the pytest process never imports Locust).

Sends the same requests twice to the server at URL, each time into a fresh Locust environment with its
runner (Locust's own stats listener) and our recorder: once with ``catch_response=True`` and a ``with``
block, as gateway_rest.py checked its answers before, once through engine/checked_http.checked with the
user's real judges. Prints JSON: per phase, Locust's stats rows, its error rows as the web UI serializes
them, our recorder's failures by type and each request event's fields.
``python tests/e2e/checked_http_driver.py URL REFUSED_URL``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from locust.contrib.fasthttp import FastHttpSession, ResponseContextManager  # noqa: E402
from locust.env import Environment  # noqa: E402

from load_tests.core.recorder import Recorder  # noqa: E402
from load_tests.engine.checked_http import ACCEPTED, FastResponse, Verdict, checked  # noqa: E402
from load_tests.locust.gateway_rest import _healthy  # noqa: E402

TIMEOUT_S = 0.5  # /slow answers after 1.5 s


def _old_health(resp: ResponseContextManager) -> None:
    """gateway_rest.py's health check as it was: ``_json`` then ``_expect`` on the context manager."""
    if resp.status_code == 0:
        return
    if resp.status_code != 200:
        resp.failure(f"HTTP {resp.status_code}")
        return
    try:
        body = json.loads(resp.content)
    except ValueError:
        resp.failure("invalid JSON")
        return
    if body.get("status") != "ok":
        resp.failure(f"status mismatch: expected ok, got {body.get('status')}")


def _old_echo(resp: ResponseContextManager) -> None:
    if resp.status_code == 200 and json.loads(resp.content).get("got") != {"a": 1}:
        resp.failure("echo mismatch")


def _echo(resp: FastResponse, _ms: float) -> Verdict:
    if resp.status_code == 200 and json.loads(resp.content or b"{}").get("got") != {"a": 1}:
        return "echo mismatch"
    return None


# (method, path, name, check, times); check: health, accept (resp.success()), none (Locust decides), echo
CASES = [
    ("GET", "/ok", None, "health", 3),
    ("GET", "/wrong", None, "health", 2),
    ("GET", "/boom", None, "health", 2),
    ("GET", "/notjson", None, "health", 2),
    ("GET", "/missing", "/missing (accepted)", "accept", 2),
    ("GET", "/missing", None, "none", 2),
    ("GET", "/ok", "renamed", "health", 1),
    ("POST", "/echo", None, "echo", 2),
    ("GET", "REFUSED", None, "health", 2),
    ("GET", "/slow", None, "health", 1),
]


def _old(session: FastHttpSession, method: str, url: str, name: str | None, check: str) -> None:
    kwargs: dict[str, Any] = {"json": {"a": 1}} if method == "POST" else {}
    with session.request(method, url, name=name, catch_response=True, **kwargs) as resp:
        if check == "health":
            _old_health(resp)
        elif check == "accept":
            resp.success()
        elif check == "echo":
            _old_echo(resp)


def _new(session: FastHttpSession, method: str, url: str, name: str | None, check: str) -> None:
    judges = {"health": _healthy, "accept": lambda _r, _ms: ACCEPTED, "none": lambda _r, _ms: None, "echo": _echo}
    kwargs: dict[str, Any] = {"json": {"a": 1}} if method == "POST" else {}
    checked(session, method, url, judges[check], name=name, **kwargs)


def phase(base_url: str, refused_url: str, send: Any) -> dict[str, Any]:
    environment = Environment()
    runner = environment.create_local_runner()  # wires Locust's stats to the request event
    recorder = Recorder()
    events: list[dict[str, Any]] = []

    def note(**fields: Any) -> None:
        events.append({"keys": sorted(fields), "url": fields["url"], "name": fields["name"],
                       "length": fields["response_length"], "failed": fields["exception"] is not None})  # fmt: skip

    environment.events.request.add_listener(recorder.record)
    environment.events.request.add_listener(note)
    session = FastHttpSession(base_url=base_url, request_event=environment.events.request, user=None,
                              network_timeout=TIMEOUT_S, connection_timeout=TIMEOUT_S, max_retries=0)  # fmt: skip
    for method, path, name, check, times in CASES:
        url = refused_url if path == "REFUSED" else path
        for _ in range(times):
            send(session, method, url, name, check)
    stats = environment.stats
    rows = {f"{e.method} {e.name}": [e.num_requests, e.num_failures, e.total_content_length]
            for e in stats.entries.values()}  # fmt: skip
    errors = sorted((e["method"], e["name"], e["error"], e["occurrences"]) for e in stats.serialize_errors().values())
    failures = {r.key: r.failures_by_type for r in recorder.endpoints.values()}
    runner.quit()
    return {"rows": rows, "total": [stats.total.num_requests, stats.total.num_failures], "errors": errors,
            "recorder": failures, "events": events}  # fmt: skip


def main() -> None:
    base_url, refused_url = sys.argv[1], sys.argv[2]
    print(json.dumps({"old": phase(base_url, refused_url, _old), "new": phase(base_url, refused_url, _new)}))


if __name__ == "__main__":
    main()
