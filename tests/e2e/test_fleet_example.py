"""The README's fleet, as shipped in load_tests/config/fleet_example.yaml: the reference service's calls
written as config over four protocols. Run as written (only the ports changed), every row's count
equals what the service itself counted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import (
    REPO_ROOT,
    SENT_TYPES,
    Ran,
    assert_rates_over_the_traffic_window,
    load_summary,
    run_cli,
    served,
)

pytestmark = pytest.mark.slow
EXAMPLE = REPO_ROOT / "load_tests" / "config" / "fleet_example.yaml"


def _example(target: TargetInfo, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    text = EXAMPLE.read_text().replace("127.0.0.1:8000", f"127.0.0.1:{target.http_port}")
    config = EXAMPLE.with_name(f".test-{tmp_path.name}.yaml")  # beside the original: its relative paths hold
    config.write_text(text.replace("127.0.0.1:50051", target.grpc_target))
    try:
        return run_cli("--config", str(config), "--users", "8", "--spawn-rate", "8", "--duration", "6s",
                       "--output-dir", str(tmp_path / "out"))  # fmt: skip
    finally:
        config.unlink()


@pytest.mark.side_by_side(act=_example)
def test_the_example_fleet_counts_what_the_service_served(ran: Ran) -> None:
    target, tmp_path, result = ran
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    assert summary["test_types"] == ["gateway", "chat", "realtime", "speech"]
    assert summary["total"]["failures"] == 0 and set(summary["protocols"]) == {"http", "websocket", "socketio", "grpc"}
    for protocol in ("http", "websocket", "socketio", "grpc"):
        kinds = SENT_TYPES.get(protocol)
        rows = {r["name"]: r["requests"] for r in summary["endpoints"]
                if r["protocol"] == protocol and (kinds is None or r["request_type"] in kinds)}  # fmt: skip
        assert rows == served(target.http_url, protocol), protocol
        assert all(n > 0 for n in rows.values()), rows
    streams = {r["name"]: r["stream"]["messages"] for r in summary["endpoints"] if r["request_type"].endswith("stream")}
    assert streams["chat"] > 0 and streams["Inference/Generate"] > 0
    assert_rates_over_the_traffic_window(summary, target.http_url)
