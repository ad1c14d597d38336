"""Property-based bad input: whatever the YAML config or the flags say, one line and exit 2, never a traceback."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from load_tests.launch.cli import main

SECTIONS = ["services", "run", "data", "thresholds", "scenarios", "scripted", "compare", "resources", "validity"]
KEYS = [
    "url",
    "timeout_s",
    "target",
    "scenario",
    "test_type",
    "output_dir",
    "tags",
    "users",
    "spawn_rate",
    "duration",
    "stages",
    "kind",
    "rate",
    "max_users",
    "p95_ms",
    "error_rate_pct",
    "recovery",
    "abort",
    "interval",
    "metrics_url",
    "features_csv",
    "audio_dir",
    "endpoints",
    "protocols",
    "latency_pct",
    "x",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["30s", "5m", "-1", "0", "all", "../..", "http://", "1e309"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=12,
)
configs = st.one_of(
    st.dictionaries(st.sampled_from(SECTIONS), values, max_size=4),
    st.dictionaries(st.sampled_from(SECTIONS), st.dictionaries(st.sampled_from(KEYS), values, max_size=4), max_size=4),
    values,
)
FLAGS = [
    "--scenario",
    "--test-type",
    "--host",
    "--grpc-target",
    "--users",
    "--spawn-rate",
    "--duration",
    "--rate",
    "--max-users",
    "--workers",
    "--master-port",
    "--target-pid",
    "--metrics-url",
    "--tags",
    "--output-dir",
]
flag_values = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["0", "-5", "1e400", "nan", "http://", "ws://x:1", "../../x", "host:99999", "all,rest", ""]),
)


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own exit (e.g. --help): still no traceback
            code = int(exc.code or 0)
    return code, err.getvalue()


def _assert_clean(code: int, stderr: str) -> None:
    assert "Traceback" not in stderr
    if code != 0:
        assert code == 2, (code, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_any_yaml_config_is_accepted_or_one_line_exit_2(config: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        code, stderr = _run(["--config", str(path), "--output-dir", tmp, "--dry-run"])
    _assert_clean(code, stderr)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FLAGS), flag_values), min_size=1, max_size=4))
def test_any_flags_are_accepted_or_one_line_exit_2(flags: list[tuple[str, str]]) -> None:
    argv = [part for flag, value in flags for part in (flag, value)]
    with tempfile.TemporaryDirectory() as tmp:
        code, stderr = _run([*argv, "--output-dir", tmp, "--dry-run"])
    _assert_clean(code, stderr)


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "a\\\\b", "x" * 65])
def test_scenario_names_cannot_leave_the_output_folder(tmp_path: Path, name: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"scenarios": {name: {"users": 1, "spawn_rate": 1, "duration": "5s"}}}))
    code, stderr = _run(["--config", str(config), "--scenario", name, "--output-dir", str(tmp_path / "out"),
                         "--dry-run"])  # fmt: skip
    assert code == 2 and "is not a valid scenario name" in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
