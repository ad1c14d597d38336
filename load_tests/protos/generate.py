"""Regenerate the committed gRPC stubs.

Run ``python -m load_tests.protos.generate`` after editing a ``.proto`` file. The test suite calls
:func:`generate` into a temporary folder and fails when the committed stubs differ, so a stale stub
cannot land.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROTO_DIR.parents[1]


def proto_files() -> list[Path]:
    """The ``.proto`` sources, relative to the repository root as protoc must see them."""
    return sorted(p.relative_to(REPO_ROOT) for p in PROTO_DIR.glob("*.proto"))


def generate(out_root: Path) -> list[Path]:
    """Compile every proto into ``out_root/load_tests/protos`` and return the files written."""
    from grpc_tools import protoc  # imported here: grpcio-tools is heavy and only needed for this

    out_root.mkdir(parents=True, exist_ok=True)
    sources = [str(p) for p in proto_files()]
    args = [
        "grpc_tools.protoc",
        f"-I{REPO_ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {', '.join(sources)}")
    return sorted((out_root / "load_tests" / "protos").glob("*_pb2*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT, help="output root (default: the repository root)")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
