"""engine/checked_http.checked reports every request as ``catch_response=True`` did: the same Locust stats
rows, error rows (the web UI's failures table), response lengths, event fields and recorder failures, for
answers that pass, wrong answers, error statuses, accepted statuses, a name override, a refused connection
and a timeout, against a real server on 127.0.0.1 that counts what it was sent."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CountingHTTPServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.beside_the_lane
SLOW_S = 1.5  # the driver's timeout is 0.5 s

ANSWERS = {  # path -> (status, body)
    "/ok": (200, b'{"status": "ok"}'),
    "/wrong": (200, b'{"status": "down"}'),
    "/boom": (500, b"oops"),
    "/notjson": (200, b"hello"),
    "/missing": (404, b"not here"),
    "/slow": (200, b'{"status": "ok"}'),
}


class _Counting(CountingHTTPServer):
    def __init__(self) -> None:
        super().__init__(_Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _count(self) -> None:
        server: _Counting = self.server  # type: ignore[assignment]
        with server.lock:
            server.paths[f"{self.command} {self.path}"] += 1

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # /slow: the client gave up first, as it should
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._count()
        if self.path == "/slow":
            time.sleep(SLOW_S)
        self._answer(*ANSWERS[self.path])

    def do_POST(self) -> None:
        self._count()
        sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._answer(200, json.dumps({"got": sent, "type": self.headers["Content-Type"]}).encode())

    def log_message(self, *_args: object) -> None:
        pass


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def phases() -> tuple[dict[str, Any], dict[str, Any], Counter[str]]:
    server = _Counting()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        refused = f"http://127.0.0.1:{_closed_port()}/gone"
        done = subprocess.run([sys.executable, str(ROOT / "tests" / "e2e" / "checked_http_driver.py"), url, refused],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr[-3000:]
    both = json.loads(done.stdout.strip().splitlines()[-1])
    return both["old"], both["new"], server.paths


def test_the_same_rows_errors_and_events_as_catch_response(phases: tuple[dict, dict, Counter]) -> None:
    old, new, _ = phases
    assert new["rows"] == old["rows"]
    assert new["total"] == old["total"]
    assert new["errors"] == old["errors"]
    assert new["recorder"] == old["recorder"]
    assert new["events"] == old["events"]  # names, URLs, lengths, outcomes and the event's field names


def test_the_figures_are_right_and_the_server_saw_every_request(phases: tuple[dict, dict, Counter]) -> None:
    _, new, paths = phases
    rows = new["rows"]
    assert rows["GET /ok"] == [3, 0, 3 * 16]
    assert rows["GET renamed"] == [1, 0, 16]
    assert rows["GET /wrong"][:2] == [2, 2]
    assert rows["GET /boom"][:2] == [2, 2]
    assert rows["GET /notjson"][:2] == [2, 2]
    assert rows["GET /missing (accepted)"][:2] == [2, 0]  # the judge accepted a 404
    assert rows["GET /missing"][:2] == [2, 2]  # Locust's own verdict on a 404
    assert rows["POST /echo"][:2] == [2, 0]  # the JSON body arrived as JSON
    refused = next(name for name in rows if name.endswith("/gone"))
    assert rows[refused] == [2, 2, 0]
    assert rows["GET /slow"] == [1, 1, 0]
    assert new["total"] == [19, 11]
    errors = {(name, error): n for _method, name, error, n in new["errors"]}
    assert errors[("/wrong", "CatchResponseError('status mismatch: expected ok, got down')")] == 2
    assert errors[("/boom", "CatchResponseError('HTTP 500')")] == 2
    assert errors[("/notjson", "CatchResponseError('invalid JSON')")] == 2
    assert [n for (name, error), n in errors.items() if name == "/missing" and "404" in error] == [2]
    assert [n for (name, error), n in errors.items() if name.endswith("/gone") and "ConnectionRefused" in error] == [2]
    assert new["recorder"]["GET /wrong"] == {"status mismatch: expected ok, got down": 2}
    assert new["recorder"]["GET /slow"] == {"timeout": 1}
    for path, sent in {"GET /ok": 8, "GET /wrong": 4, "GET /boom": 4, "GET /notjson": 4, "GET /missing": 8,
                       "POST /echo": 4, "GET /slow": 2}.items():  # fmt: skip
        assert paths[path] == sent, path  # both phases: the server's own count
