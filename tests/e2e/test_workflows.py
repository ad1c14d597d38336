"""The GitHub workflow files match GitHub's schema (check-jsonschema in a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_workflows import WORKFLOWS

pytestmark = pytest.mark.beside_the_lane  # counts and contents only: run beside the lane (tests/conftest.py)


def test_workflows_match_githubs_schema() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", *files],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
