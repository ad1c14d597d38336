"""Locust as child processes: start it, forward the user's signals, wait, and start local workers.

The launcher never imports locust (that would monkey-patch it with gevent): Locust runs as
``python -m locust`` in a process group of its own, which dies with the launcher.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TextIO

from load_tests.core.errors import Interrupted
from load_tests.core.plan import PLAN_ENV
from load_tests.reference_service.launcher import die_with_parent

INTERRUPT_GRACE_S = 60.0
WORKER_EXIT_GRACE_S = 15.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds load_tests/


class RunnerSignals:
    """Who handles SIGINT/SIGTERM in the runner, phase by phase (Locust's phase: LocustProcess).

    Before Locust starts a signal is noted, and :meth:`check` turns it into Interrupted (one line,
    exit 130/143) at the next safe point; the ExitStack then stops a bundled target that is starting
    or ready. (Raising from the handler itself is not safe: it can land inside the fork of a child
    process, where Python swallows it, and the run went on as if nothing happened.) After Locust has
    ended the reports are written and only the target's stop is left, so signals are ignored.
    """

    STOPPING = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.previous = {s: signal.getsignal(s) for s in self.STOPPING}
        self.pending: int | None = None

    def __enter__(self) -> RunnerSignals:
        for s in self.STOPPING:
            signal.signal(s, self._note)
        return self

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        if self.pending is None:
            self.pending = signum

    def check(self) -> None:
        if self.pending is not None:
            raise Interrupted(self.pending)

    def ignore(self) -> None:
        for s in self.STOPPING:
            signal.signal(s, signal.SIG_IGN)

    def __exit__(self, *_: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


class LocustProcess:
    """The Locust child, with SIGINT/SIGTERM forwarded as SIGINT (second signal: kill)."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.cmd, self.env = cmd, env
        self.signals: list[int] = []
        self.signalled_at = 0.0
        self.process: subprocess.Popen[bytes] | None = None

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self.signals.append(signum)
        if len(self.signals) == 1:
            self.signalled_at = time.monotonic()
            print(f"\nStopping the load test ({signal.Signals(signum).name}); writing reports...", flush=True)
        self._pass_on()

    def _pass_on(self) -> None:
        """First signal: SIGINT to Locust (it stops and reports); a second one kills it."""
        if self.process is None or not self.signals:
            return
        with contextlib.suppress(ProcessLookupError):
            if len(self.signals) == 1:
                self.process.send_signal(signal.SIGINT)
            else:
                self.process.kill()

    def run(self, on_start: Callable[[], None] | None = None) -> int:
        self.process = None
        previous = {s: signal.signal(s, self._forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.process = subprocess.Popen(
                self.cmd, env=self.env, start_new_session=True, preexec_fn=die_with_parent()
            )
            self._pass_on()  # a signal that came while it was being started
            if on_start is not None:
                on_start()
            while True:
                try:
                    return self.process.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    if self.signals and time.monotonic() - self.signalled_at > INTERRUPT_GRACE_S:
                        self.process.kill()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class LocalWorkers:
    """The N ``--worker`` processes of ``--workers N``; stopped (at worst killed) when the run ends."""

    def __init__(self, cmd: list[str], env: dict[str, str], count: int, out: TextIO) -> None:
        self.cmd, self.env, self.count, self.out = cmd, env, count, out
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for n in range(1, self.count + 1):
            process = subprocess.Popen(self.cmd, env=self.env, start_new_session=True, preexec_fn=die_with_parent())
            self.processes.append(process)
            print(f"Locust worker {n} of {self.count} started (pid {process.pid})", file=self.out, flush=True)

    def __enter__(self) -> LocalWorkers:
        return self

    def kill(self) -> None:
        """Now: their master refused the run before it began, so none of them has anything to finish."""
        for process in self.processes:
            process.kill()

    def __exit__(self, *_: object) -> None:
        deadline = time.monotonic() + WORKER_EXIT_GRACE_S  # the master tells them to quit; wait for that
        for process in self.processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def child_env(plan_path: Path) -> dict[str, str]:
    """Locust's environment: the plan to read, and this project on the path even when it is not
    installed and the run starts from another folder (locustfiles import ``load_tests``)."""
    paths = [str(PROJECT_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, PLAN_ENV: str(plan_path), "PYTHONPATH": os.pathsep.join(paths)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
