"""The committed gRPC stubs are fresh and import as a package."""

from __future__ import annotations

import importlib
from pathlib import Path

from load_tests.protos import generate


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    written = generate.generate(tmp_path)
    assert len(written) == 9  # three protos x (pb2, pyi, pb2_grpc)
    for fresh in written:
        committed = generate.PROTO_DIR / fresh.name
        assert committed.exists(), f"{fresh.name} is not committed: run python -m load_tests.protos.generate"
        assert committed.read_text() == fresh.read_text(), (
            f"{fresh.name} is stale: run python -m load_tests.protos.generate"
        )


def test_stubs_import_as_load_tests_protos() -> None:
    for name in ("inference", "stt", "tts"):
        grpc_module = importlib.import_module(f"load_tests.protos.{name}_pb2_grpc")
        assert grpc_module.__name__.startswith("load_tests.protos.")
        source = Path(grpc_module.__file__).read_text()
        assert f"from load_tests.protos import {name}_pb2" in source
