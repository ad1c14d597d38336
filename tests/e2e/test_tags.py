"""``--tags`` across test types: the user classes it empties leave the run instead of idling in it (every
user spawned does tagged work, counted by the target), and a tag no task has is a one-line exit 2."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import Ran, harness_counts, load_summary, run_cli, served

pytestmark = pytest.mark.slow
TYPES = "rest,websocket,socketio,grpc,llm"


def _tagged(target: TargetInfo, out: Path, tags: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--host", target.http_url, "--grpc-target", target.grpc_target, "--test-type", TYPES,
                   "--scenario", "stress", "--users", "6", "--spawn-rate", "6", "--duration", "5s",
                   "--output-dir", str(out), "--tags", *tags.split())  # fmt: skip


@pytest.mark.parametrize("tags", ["predict"])
@pytest.mark.side_by_side(act=_tagged, weight=2, seconds=12)  # stress users barely wait: a heavy run
def test_users_without_a_tagged_task_are_left_out_not_idle(ran: Ran, tags: str) -> None:
    target, out, result = ran
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "No tasks defined" not in log and "Traceback" not in log and "had no tasks left" not in log
    left_out = re.search(r"--tags predict: (.+) left out, no task of theirs is left", log)
    assert left_out and left_out[1] == "LlmStressUser, SocketIOStressUser, WebSocketStressUser"
    spawned = re.findall(r"All users spawned: (\{.*?\}) \((\d+) total users\)", log)
    assert spawned and spawned[0][1] == "6"  # every user spawned has tagged work
    assert json.loads(spawned[0][0]) == {"GrpcStressUser": 3, "RestStressUser": 3}
    summary = load_summary(out)
    assert summary["total"]["failures"] == 0 and summary["total"]["requests"] >= 100
    assert {r["name"] for r in summary["endpoints"]} <= {"/predict", "/predict (audio)", "Inference/Predict"}
    http = {k: v for k, v in harness_counts(summary).items() if k.startswith("/")}
    assert http == served(target.http_url, "http") and set(http) == {"/predict"}
    assert harness_counts(summary)["Inference/Predict"] == served(target.http_url, "grpc")["Inference/Predict"]


@pytest.mark.parametrize("tags", ["predcit", "predict chat --exclude-tags predict chat"])
@pytest.mark.side_by_side(act=_tagged, seconds=4)
def test_a_filter_that_leaves_no_task_is_one_line_and_exit_2(ran: Ran, tags: str) -> None:
    target, _, result = ran
    assert result.returncode == 2, (result.stdout + result.stderr)[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "WARNING" not in result.stderr  # Locust's "had no tasks left after filtering" is ours to say
    assert errors[0].startswith(f"error: --tags {tags.split(' --')[0]}")
    assert "their tags: " in errors[0] and "predict" in errors[0].split("their tags: ")[1]
    assert served(target.http_url) == {}  # no request was sent
