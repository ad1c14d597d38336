"""The run folder's names and the exit codes, from their one definition."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from load_tests.core import run_folder
from load_tests.core.run_folder import RunFolder, exit_code, latest_summary, timestamp_of, unique_run_dir


def test_exit_codes_say_invalid_before_failed() -> None:
    assert (exit_code(True, True), exit_code(True, False), exit_code(False, True), exit_code(False, False)) == (
        0, 1, 4, 4,
    )  # fmt: skip
    assert (run_folder.EXIT_USAGE, run_folder.EXIT_NO_SUMMARY) == (2, 3)


def test_file_names_of_a_run() -> None:
    folder = RunFolder(Path("/r/smoke/20260101-000000"), "20260101-000000")
    assert folder.summary_json.name == "locust_report_20260101-000000.json"
    assert folder.html.name == "locust_report_20260101-000000.html"
    assert folder.stats_csv.name == "locust_report_20260101-000000_stats.csv"
    assert folder.summary_text == Path("/r/smoke/20260101-000000/analysis/summary.txt")
    assert folder.plan.name == "run_plan.json" and folder.metrics_csv.name == "metrics.csv"
    assert timestamp_of(folder.summary_json) == "20260101-000000"


def test_two_runs_in_the_same_second_get_two_folders_and_none_escapes(tmp_path: Path) -> None:
    first = unique_run_dir(tmp_path, "smoke", "t")
    first.mkdir(parents=True)
    second = unique_run_dir(tmp_path, "smoke", "t")
    assert second.name == "t-2" and second.parent == first.parent
    with pytest.raises(ValueError, match="outside the output folder"):
        unique_run_dir(tmp_path, "../x", "t")


def test_the_newest_summary_of_a_scenario_is_found(tmp_path: Path) -> None:
    old, new = tmp_path / "smoke/a/locust_report_a.json", tmp_path / "smoke/b/locust_report_b.json"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    past = time.time() - 100
    os.utime(old, (past, past))
    assert latest_summary(tmp_path, "smoke") == new
    with pytest.raises(FileNotFoundError, match="no run summary of scenario 'spike'"):
        latest_summary(tmp_path, "spike")
