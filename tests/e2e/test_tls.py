"""TLS on every protocol: https, wss, Socket.IO over TLS and gRPC with TLS, trusting a test CA from config."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from load_tests.reference_service.launcher import TargetInfo, TargetProcess
from tests.conftest import Ran, load_summary, run_cli

pytestmark = pytest.mark.slow


def _run(info: TargetInfo, ca_file: Path, out: Path, run: str = "{}") -> tuple[int, dict]:
    config = out.parent / f"{out.name}.yaml"
    config.write_text(f"services:\n  ca_file: {ca_file}\nrun: {run}\n")
    result = run_cli("--host", info.http_url, "--grpc-target", info.grpc_target, "--config", str(config),
                     "--test-type", "rest,websocket,socketio,grpc,llm", "--users", "8", "--spawn-rate", "8",
                     "--duration", "6s", "--output-dir", str(out))  # fmt: skip
    return result.returncode, load_summary(out)


def _against_a_tls_target(out: Path, wrong_ca: bool) -> tuple[TargetInfo, int, dict]:
    """A run against a target of its own with a certificate of a test CA, trusting that CA (or another)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = out / "cert.pem", out / "key.pem", out / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    with TargetProcess("--tls-cert", str(cert_file), "--tls-key", str(key_file)) as info:
        if not wrong_ca:
            return info, *_run(info, ca_file, out / "ok")
        wrong = out / "wrong-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(wrong))
        # Users that never connected wait out a 10 s reply timeout at the end ('not connected', a failure
        # like the others), so their last calls are cut after 2 s: every call counted still failed.
        return info, *_run(info, wrong, out / "bad", run="{stop_timeout: 2s}")


@pytest.mark.side_by_side(act=lambda _, out: _against_a_tls_target(out, wrong_ca=False), target=None)
def test_every_protocol_over_tls_with_the_ca_from_config(ran: Ran) -> None:
    _, _, (info, code, summary) = ran
    assert info.http_url.startswith("https://") and info.ws_url.startswith("wss://")
    assert code == 0, summary["total"]["failures_by_type"]
    assert set(summary["protocols"]) == {"http", "websocket", "socketio", "grpc"}
    assert summary["total"]["failures"] == 0
    assert all(row["requests"] > 0 for row in summary["protocols"].values())
    assert any(row["request_type"] == "LLM stream" and row["requests"] > 0 for row in summary["endpoints"])


@pytest.mark.side_by_side(act=lambda _, out: _against_a_tls_target(out, wrong_ca=True), target=None, seconds=12)
def test_a_wrong_ca_fails_every_protocol(ran: Ran) -> None:
    _, _, (_, code, summary) = ran
    assert code == 1
    for protocol, row in summary["protocols"].items():
        assert row["failures"] == row["requests"] > 0, protocol
