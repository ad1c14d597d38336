"""Starting and stopping ``python -m load_tests.reference_service`` as a user does."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import requests

from load_tests.reference_service.launcher import TargetProcess
from tests.conftest import Ran


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_target_within_two_seconds(sig: signal.Signals) -> None:
    target = TargetProcess()
    info = target.start()
    assert requests.get(f"{info.http_url}/health", timeout=5).ok
    assert target.process is not None and info.pid == target.process.pid
    start = time.monotonic()
    target.process.send_signal(sig)
    code = target.process.wait(timeout=5)
    assert time.monotonic() - start < 2.0
    assert code == 0


def _target_cli(flags: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "load_tests.reference_service", *flags], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--error-rate", "1.5"], "error_rate must be a number between 0 and 1"),
        (["--http-port", "70000"], "--http-port: 70000 is not a port"),
        (["--service-time", "bogus=5"], "service time 'bogus=5'"),
        (["--nope"], "unrecognized arguments: --nope"),
    ],
)
@pytest.mark.side_by_side(act=lambda _, __, flags: _target_cli(flags), target=None, seconds=1)
def test_bad_flags_give_one_line_and_exit_2(ran: Ran, flags: list[str], words: str) -> None:
    _, _, result = ran
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and words in result.stderr
    assert "Traceback" not in result.stderr
