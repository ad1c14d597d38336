"""Start the reference target as a child process on free ports, and always stop it again.

Used by the runner (when no host is given) and by the tests. The child runs in its own session so a
Ctrl-C in the terminal reaches the runner first, which then ends the load test before the target; on
Linux the child also dies with its parent (PR_SET_PDEATHSIG), so a killed runner leaves no orphan.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from load_tests.core.errors import TargetUnavailable
from load_tests.reference_service.llm_timing import knob_flags, parse_timing

_PR_SET_PDEATHSIG = 1
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds load_tests/


def die_with_parent() -> Callable[[], None] | None:
    """The ``preexec_fn`` for children that must not outlive us (None where prctl is missing).

    libc's prctl is loaded here, in the parent: a dlopen between fork and exec could wait forever on a
    loader lock that another thread of the parent held at the fork (the test suite forks beside tests)."""
    prctl = _libc_prctl()
    if prctl is None:
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@functools.cache
def _libc_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:  # not glibc
        return None


@dataclass(frozen=True)
class TargetInfo:
    """Where a started target listens (the fields of its ready line)."""

    pid: int
    host: str
    http_port: int
    grpc_port: int
    tls: bool = False

    @property
    def http_url(self) -> str:
        return f"http{'s' if self.tls else ''}://{self.host}:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws{'s' if self.tls else ''}://{self.host}:{self.http_port}/ws/chat"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"


class TargetProcess:
    """Context manager around ``python -m load_tests.reference_service``; ``args`` are extra target flags.

    ``llm`` sets the reference LLM's knobs by name (``{"ttft_ms": 50, "token_ms": 10}``, the fields of
    ``llm_timing.LlmTiming``), checked here so a typo fails in the test, not in the child.
    """

    def __init__(
        self, *args: str, api_key: str | None = None, startup_timeout: float = 20.0, llm: dict[str, Any] | None = None
    ) -> None:
        self.args = [*args, *knob_flags(parse_timing(llm or {}))]
        self.api_key = api_key
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.info: TargetInfo | None = None

    def start(self) -> TargetInfo:
        env = dict(os.environ)
        # The child must import load_tests wherever the user's current folder is.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
        if self.api_key:
            env["LOAD_TARGET_API_KEY"] = self.api_key  # by environment: never on a command line
        cmd = [sys.executable, "-m", "load_tests.reference_service", "--http-port", "0", "--grpc-port", "0", *self.args]
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            start_new_session=True, preexec_fn=die_with_parent(),
        )  # fmt: skip
        try:
            ready = self._read_ready_line()
        except BaseException:
            self.stop()
            raise
        self.info = TargetInfo(
            ready["pid"], ready["host"], ready["http_port"], ready["grpc_port"], ready.get("tls", False)
        )
        return self.info

    def _read_ready_line(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=0.2):
                    line = self.process.stdout.readline()
                    if line:
                        data = json.loads(line)
                        if data.get("event") == "ready":
                            return dict(data)
                if self.process.poll() is not None:
                    err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace").strip()
                    last = err.splitlines()[-1] if err else f"exit code {self.process.returncode}"
                    raise TargetUnavailable(f"the bundled target did not start: {last}")
        raise TargetUnavailable(f"the bundled target did not report ready within {self.startup_timeout:.0f}s")

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        process = self.process
        if process is None or process.poll() is not None:
            return process.returncode if process else None
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
        return process.returncode

    def __enter__(self) -> TargetInfo:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def set_faults(http_url: str, **faults: Any) -> dict[str, Any]:
    """Change the running target's faults (``POST /admin/faults``) and return the new state."""
    request = urllib.request.Request(
        f"{http_url}/admin/faults", data=json.dumps(faults).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))


def wait_until_reachable(url: str, timeout: float = 5.0) -> None:
    """Wait until something accepts TCP connections at ``url``'s host and port, or raise TargetUnavailable.

    A TCP probe rather than ``GET /health`` so that checking a target does not change what it counts.
    """
    parts = urllib.parse.urlsplit(url if "://" in url else f"tcp://{url}")
    default = 443 if parts.scheme in ("https", "wss") else 80
    host, port = parts.hostname or "127.0.0.1", parts.port or default
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TargetUnavailable(f"target not reachable at {url}: {exc.strerror or exc}") from None
        time.sleep(0.2)
