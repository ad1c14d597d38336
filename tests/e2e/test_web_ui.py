"""Locust's web UI listens on loopback only unless the user names another address: started by the
runner (``--web-ui``) and by plain ``locust -f`` in this folder (``locust.conf``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import REPO_ROOT, Ran, load_summary, run_cli

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening_on(port: int, timeout: float = 30) -> set[str]:
    """The addresses something listens on at ``port``, once it does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port}
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"nothing listened on port {port} within {timeout}s")


def _runner_with_web_ui(target: TargetInfo, out: Path) -> tuple[int, set[str], int, str, int | None]:
    """The port, where the UI listened and what its page answered while the run ran, the output, the exit code."""
    port = _free_port()
    run = subprocess.Popen(
        [sys.executable, "run_load_tests.py", "--test-type", "rest", "--users", "2", "--spawn-rate", "2",
         "--duration", "3s", "--host", target.http_url, "--web-ui", "--web-port", str(port),
         "--output-dir", str(out)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        listening = _listening_on(port)
        status = requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code
        output, _ = run.communicate(timeout=60)  # it starts by itself and quits by itself
    finally:
        run.kill()
    return port, listening, status, output, run.returncode


def _plain_locust(target: TargetInfo, out: Path) -> set[str]:
    port = _free_port()
    locust = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", "load_tests/locust/gateway_rest.py", "--host", target.http_url,
         "--web-port", str(port), "-u", "1", "-r", "1"],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return _listening_on(port)
    finally:
        locust.terminate()
        locust.wait(timeout=30)


@pytest.mark.side_by_side(act=_runner_with_web_ui, seconds=17)  # the UI stays up 10 s after the run: mostly waiting
def test_the_runner_web_ui_listens_on_loopback_only(ran: Ran) -> None:
    _, tmp_path, (port, listening, status, output, returncode) = ran
    assert listening == {"127.0.0.1"}
    assert status == 200
    assert returncode == 0, output[-3000:]
    assert f"Locust web UI: http://127.0.0.1:{port}/" in output
    assert load_summary(tmp_path)["total"]["requests"] > 0


@pytest.mark.side_by_side(act=_plain_locust, seconds=2)
def test_plain_locust_in_this_folder_listens_on_loopback_only(ran: Ran) -> None:
    _, _, listening = ran
    assert listening == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--web-host", "0.0.0.0"), "--web-host: only with --web-ui"),
        (("--web-ui", "--web-port", "70000"), "--web-port: must be at most 65535"),
        (("--web-ui", "--web-host", "a b"), "is not a host name or address"),
    ],
)
@pytest.mark.side_by_side(act=lambda _, __, args: run_cli("--dry-run", *args), target=None, seconds=1)
def test_bad_web_ui_flags_are_one_line(ran: Ran, args: tuple[str, ...], words: str) -> None:
    _, _, result = ran
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _chosen_and_default(_: None, __: Path) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    chosen = run_cli("--dry-run", "--web-ui", "--web-host", "0.0.0.0", "--web-port", "9000")
    return chosen, run_cli("--dry-run", "--web-ui")


@pytest.mark.side_by_side(act=_chosen_and_default, target=None, seconds=2)
def test_the_web_ui_host_is_the_users_choice(ran: Ran) -> None:
    _, _, (result, default) = ran
    assert result.returncode == 0, result.stderr
    command = next(line for line in result.stdout.splitlines() if line.startswith("Locust: "))
    assert "--web-host 0.0.0.0 --web-port 9000" in command and "--headless" not in command
    assert "--web-host 127.0.0.1 --web-port 8089" in default.stdout
