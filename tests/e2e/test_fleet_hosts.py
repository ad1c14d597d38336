"""Two HTTP services of one fleet on two servers: each server sees only its own service's requests
(Locust's --host, the first service's URL, must not replace the other service's host)."""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import CountingHTTPServer, Ran, load_summary, run_cli

pytestmark = pytest.mark.slow


class _Counting(CountingHTTPServer):
    def __init__(self) -> None:
        super().__init__(_Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        server: _Counting = self.server  # type: ignore[assignment]
        with server.lock:
            server.paths[self.path] += 1
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def _two_servers_one_fleet(_: None, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path, list[Counter]]:
    """Both servers on threads of this process, the run beside them; what each server counted."""
    pair = (_Counting(), _Counting())
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in pair]
    for thread in threads:
        thread.start()
    try:
        first, second = pair
        config = tmp_path / "fleet.yaml"
        config.write_text(f"""
fleet:
  alpha:
    protocol: http
    url: {first.url}
    think_time: 0.05s
    operations: [{{method: GET, path: /alpha}}]
  beta:
    protocol: http
    url: {second.url}
    think_time: 0.05s
    operations: [{{method: GET, path: /beta}}]
""")
        out = tmp_path / "out"
        result = run_cli("--config", str(config), "--output-dir", str(out), "--users", "4", "--spawn-rate", "4",
                         "--duration", "3s")  # fmt: skip
        return result, out, [Counter(server.paths) for server in pair]
    finally:
        for server in pair:
            server.shutdown()
            server.server_close()


@pytest.mark.side_by_side(act=_two_servers_one_fleet, target=None, seconds=8)
def test_each_service_reaches_its_own_server(ran: Ran) -> None:
    result, out, (first, second) = ran[2]
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert set(first) == {"/alpha"} and set(second) == {"/beta"}, (first, second)
    rows = {r["name"]: r["requests"] for r in load_summary(out)["endpoints"]}
    assert rows["GET /alpha"] == first["/alpha"] > 10 and rows["GET /beta"] == second["/beta"] > 10
