"""The CLI's one-line errors with exit code 2, --list-scenarios and --dry-run, as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import Ran, run_cli
from tests.unit.test_settings import _yaml

BAD_INPUTS = [
    (["--scenario", "nope"], None, "--scenario: unknown scenario 'nope' (choose from"),
    (["--test-type", "carrier-pigeon"], None, "test type 'carrier-pigeon' is unknown"),
    (["--duration", "5x"], None, "--duration: '5x' is not a duration"),
    (["--users", "-3"], None, "--users: must be at least 1, got -3"),
    (["--users", "many"], None, "--users: 'many' is not a whole number"),
    (["--host", "localhost:8000"], None, "--host: 'localhost:8000' is not an http(s) URL"),
    (["--bogus"], None, "unrecognized arguments: --bogus"),
    (["--config", "/nonexistent/cfg.yaml"], None, "config file not found: /nonexistent/cfg.yaml"),
    ([], "run:\n  scenaro: smoke\n", "run.scenaro: unknown key"),
    ([], "run: [unclosed\n", "malformed YAML"),
    ([], "scenarios:\n  x:\n    stages:\n      - {duration: 5x, users: 1, spawn_rate: 1}\n",
     "scenarios.x.stages[0].duration: '5x' is not a duration"),
    ([], "scenarios:\n  x:\n    users: -1\n    spawn_rate: 1\n    duration: 1m\n",
     "scenarios.x.users: Input should be"),
    ([], "thresholds:\n  p95_ms: fast\n", "thresholds.p95_ms:"),
    ([], "data:\n  features_csv: missing.csv\n", "data.features_csv: file not found"),
]  # fmt: skip


def _dry_run(_: None, tmp_path: Path, flags: list[str], yaml_text: str | None) -> subprocess.CompletedProcess[str]:
    args = list(flags)
    if yaml_text is not None:
        args += ["--config", _yaml(tmp_path, yaml_text)]
    return run_cli(*args, "--dry-run", timeout=60)


def _listing_and_spike(_: None, __: Path) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    return run_cli("--list-scenarios", timeout=60), run_cli("--scenario", "spike", "--dry-run", timeout=60)


# Every call below starts no load: they run side by side with the load runs (see Lane in tests/conftest.py).


@pytest.mark.parametrize(("flags", "yaml_text", "words"), BAD_INPUTS)
@pytest.mark.side_by_side(act=_dry_run, target=None, seconds=1)
def test_bad_input_exits_2_with_one_line(ran: Ran, flags: list[str], yaml_text: str | None, words: str) -> None:
    _, _, result = ran
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert words in lines[0]


@pytest.mark.side_by_side(act=_listing_and_spike, target=None, seconds=2)
def test_list_scenarios_and_dry_run(ran: Ran) -> None:
    _, _, (listing, dry) = ran
    assert listing.returncode == 0
    names = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    builtin = ["smoke", "light", "medium", "heavy", "baseline", "target", "ramp_up", "spike", "sustained", "stress",
               "endurance"]  # fmt: skip
    assert names[: len(builtin)] == builtin
    assert dry.returncode == 0
    assert "stage 2: 50 -> 500 users at 50/s, 1m30s" in dry.stdout and "--headless" in dry.stdout
