"""TLS on every protocol: https, wss, Socket.IO over TLS and gRPC with TLS, trusting a test CA from config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from load_tests.reference_service.launcher import TargetInfo, TargetProcess
from tests.conftest import load_summary, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def tls_target(tmp_path: Path) -> Iterator[tuple[TargetInfo, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    with TargetProcess("--tls-cert", str(cert_file), "--tls-key", str(key_file)) as info:
        yield info, ca_file


def _run(info: TargetInfo, ca_file: Path, out: Path) -> tuple[int, dict]:
    config = out.parent / f"{out.name}.yaml"
    config.write_text(f"services:\n  ca_file: {ca_file}\n")
    result = run_cli("--host", info.http_url, "--grpc-target", info.grpc_target, "--config", str(config),
                     "--test-type", "rest,websocket,socketio,grpc", "--users", "8", "--spawn-rate", "8",
                     "--duration", "6s", "--output-dir", str(out))  # fmt: skip
    return result.returncode, load_summary(out)


def test_every_protocol_over_tls_with_the_ca_from_config(tls_target: tuple[TargetInfo, Path], tmp_path: Path) -> None:
    info, ca_file = tls_target
    assert info.http_url.startswith("https://") and info.ws_url.startswith("wss://")
    code, summary = _run(info, ca_file, tmp_path / "ok")
    assert code == 0, summary["total"]["failures_by_type"]
    assert set(summary["protocols"]) == {"http", "websocket", "socketio", "grpc"}
    assert summary["total"]["failures"] == 0
    assert all(row["requests"] > 0 for row in summary["protocols"].values())


def test_a_wrong_ca_fails_every_protocol(tls_target: tuple[TargetInfo, Path], tmp_path: Path) -> None:
    info, _ = tls_target
    wrong = tmp_path / "wrong-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(wrong))
    code, summary = _run(info, wrong, tmp_path / "bad")
    assert code == 1
    for protocol, row in summary["protocols"].items():
        assert row["failures"] == row["requests"] > 0, protocol
