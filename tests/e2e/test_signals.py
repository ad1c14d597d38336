"""SIGINT and SIGTERM at any moment of a run with the bundled target: before Locust starts, during
the ramp-up and while the reports are written. Each leaves a complete summary and its reports (when
anything was measured), stops the target and leaves no process behind. (Mid-run: test_run_rest.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO_ROOT, Ran, assert_reports, load_summary

pytestmark = pytest.mark.slow
MARK = "LOAD_TESTS_SIGNAL_TEST"
ALL = ("--test-type", "all")


class Run:
    """``run_load_tests.py`` as a user starts it, read line by line, with its process tree at hand."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.output = tmp_path
        self.mark = uuid.uuid4().hex  # inherited by every process of the run, orphans included
        self.process = subprocess.Popen(
            [sys.executable, "run_load_tests.py", *args, "--output-dir", str(tmp_path)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, MARK: self.mark},
        )  # fmt: skip
        self.lines: list[str] = []
        self.target_pid: int | None = None

    def wait_for(self, found: Callable[[str], bool]) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("Target ready:"):
                self.target_pid = int(line.rsplit("pid ", 1)[1].rstrip(")\n"))
            if found(line):
                return
        raise AssertionError("the run ended before the expected line:\n" + "".join(self.lines))

    def signal(self, signum: int) -> list[psutil.Process]:
        """Send ``signum`` to the runner; returns its process tree at that moment."""
        tree = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signum)
        return tree

    def finish(self) -> str:
        rest, _ = self.process.communicate(timeout=90)
        return "".join(self.lines) + rest

    def assert_no_orphans(self) -> None:
        """Once the runner has exited, no process of the run is left: found in the whole process
        table by the mark in their environment, wherever they were re-parented."""
        deadline = time.monotonic() + 5
        while True:
            alive = [p for p in psutil.process_iter() if _marked(p, self.mark)]
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert alive == [], [(p.pid, p.cmdline()) for p in alive]


def _users_in(line: str) -> int:
    """The user count of a progress line (``[00:04] stage 1/1  users 12  rps ...``); 0 for others."""
    found = re.match(r"\[\d\d:\d\d\] .*?  users (\d+)", line)
    return int(found.group(1)) if found else 0


def _marked(process: psutil.Process, mark: str) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE and process.environ().get(MARK) == mark
    except psutil.Error:
        return False


def _during_ramp_up(_: None, out: Path, signum: int) -> tuple[Run, list[psutil.Process], str]:
    run = Run(out, *ALL, "--users", "40", "--spawn-rate", "4", "--duration", "60s")
    # Ten users up means two of each of the five bundled classes (Locust spawns them round-robin):
    # every protocol has started; a second more gives the slowest its first reply. Still ramping.
    run.wait_for(lambda line: _users_in(line) >= 10)
    time.sleep(1)
    tree = run.signal(signum)
    output = run.finish()
    run.assert_no_orphans()  # right after the runner's exit, as a user would look
    return run, tree, output


def _while_the_reports_are_written(_: None, out: Path, signum: int) -> tuple[Run, str]:
    run = Run(out, *ALL, "--users", "8", "--spawn-rate", "8", "--duration", "4s")
    run.wait_for(lambda line: line.startswith("Writing the summary and reports"))
    run.signal(signum)  # the runner passes either on to Locust as SIGINT
    output = run.finish()
    run.assert_no_orphans()
    return run, output


def _before_the_load_test_starts(_: None, out: Path, signum: int) -> tuple[Run, str]:
    run = Run(out, *ALL, "--duration", "30s")
    run.wait_for(lambda line: line.startswith("Starting the bundled reference target"))
    run.signal(signum)
    output = run.finish()
    run.assert_no_orphans()
    return run, output


# Each run with the bundled target of its own, side by side with others (see Lane in tests/conftest.py):
# every signal is sent on a line of the run's own output, whatever the machine's speed.


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.side_by_side(act=_during_ramp_up, target=None)
def test_a_signal_during_ramp_up(ran: Ran, signum: int) -> None:
    _, tmp_path, (run, tree, output) = ran
    assert run.process.returncode == 128 + signum, output[-3000:]
    assert f"Interrupted by {signal.Signals(signum).name}" in output and "Traceback" not in output
    summary = load_summary(tmp_path)
    assert summary["partial"] is True and summary["total"]["requests"] > 0
    peak = max(point["users"] for point in summary["timeline"])
    assert 0 < peak < 40, peak  # it really was cut during the ramp
    assert len(summary["protocols"]) == 4
    assert_reports(tmp_path)
    assert run.target_pid is not None and run.target_pid in {p.pid for p in tree}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.side_by_side(act=_while_the_reports_are_written, target=None)
def test_a_signal_while_the_reports_are_written(ran: Ran, signum: int) -> None:
    _, tmp_path, (run, output) = ran
    assert run.process.returncode == 128 + signum, output[-3000:]
    assert "SIGINT while writing the reports: finishing them first" in output, output[-3000:]
    summary = load_summary(tmp_path)
    # The measurement had reached the planned end: the summary is whole, and says so.
    assert summary["partial"] is False and summary["total"]["requests"] > 0
    assert_reports(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.side_by_side(act=_before_the_load_test_starts, target=None, seconds=2)
def test_a_signal_before_the_load_test_starts(ran: Ran, signum: int) -> None:
    _, tmp_path, (run, output) = ran
    assert run.process.returncode == 128 + signum, output
    name = signal.Signals(signum).name
    assert f"error: interrupted by {name} before the load test started: nothing was measured" in output
    assert "Traceback" not in output and not list(tmp_path.glob("*/*/"))  # nothing ran: no report folder
