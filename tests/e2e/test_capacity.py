"""The capacity finder end to end: one-line errors for bad capacity scenarios, and real runs that stop at the
step where the bundled target overloads."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from load_tests.reference_service.launcher import TargetProcess
from tests.conftest import Ran, cli_only, load_summary, run_cli


def _dry_run(_: None, tmp_path: Path, scenario: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "cfg.yaml"
    config.write_text(f"scenarios:\n  peak: {scenario}\n")
    return run_cli("--config", str(config), "--scenario", "peak", "--dry-run")


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        ("{kind: capacity, start_users: 2, step_users: 2, step_duration: 4s}", "kind capacity needs max_users"),
        ("{kind: capacity, start_users: 2, step_users: 2, max_users: 8, step_duration: 4s, settle: 4s}",
         "leave under 2s to judge"),
        ("{kind: capacity, start_users: 9, step_users: 2, max_users: 8, step_duration: 4s}",
         "max_users >= start_users"),
    ],
)  # fmt: skip
@pytest.mark.side_by_side(act=_dry_run, target=None, seconds=1)
def test_bad_capacity_scenarios_are_one_line(ran: Ran, scenario: str, words: str) -> None:
    _, _, result = ran
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@cli_only("--scenario", "capacity", "--workers", "2", "--dry-run")
def test_capacity_runs_in_one_locust_process(ran: Ran) -> None:
    _, _, result = ran
    assert result.returncode == 2 and "run it without --workers" in result.stderr


def _find_capacity(
    tmp_path: Path, scenario: str, overload_above: int, predict_ms: int
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the capacity scenario ``find`` (YAML flow mapping, any error fails a step) with REST predict
    calls against a target that fails a call arriving while ``overload_above`` are served."""
    config = tmp_path / "cfg.yaml"
    config.write_text(f"scenarios:\n  find: {{{scenario}, thresholds: {{error_rate_pct: 0}}}}\n")
    with TargetProcess("--overload-above", str(overload_above), "--service-time", f"predict={predict_ms}:0") as target:
        result = run_cli("--config", str(config), "--scenario", "find", "--test-type", "rest", "--tags", "predict",
                         "--host", target.http_url, "--output-dir", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, load_summary(tmp_path / "out")


@pytest.mark.slow
def test_the_finder_stops_at_the_step_where_the_service_overloads(tmp_path: Path) -> None:
    # The target fails any call that arrives while 5 are being served: 4 users cannot overload it,
    # 6 users who barely wait do within a second. So 4 users is the capacity, within one step.
    scenario = ("kind: capacity, start_users: 2, step_users: 2, max_users: 16, step_duration: 4s, settle: 1s, "
                "spawn_rate: 20, profile: stress")  # fmt: skip
    result, summary = _find_capacity(tmp_path, scenario, overload_above=5, predict_ms=20)
    cap = summary["capacity"]
    assert cap["found"] and not cap["saturated"] and not cap["ceiling_reached"]
    assert cap["unit"] == "users" and cap["peak"]["load"] in (4, 6) and cap["broke"]["load"] == cap["peak"]["load"] + 2
    assert [s["held"] for s in cap["steps"]] == [True] * (len(cap["steps"]) - 1) + [False]
    assert cap["steps"][0]["load"] == 2 and cap["steps"][0]["error_rate_pct"] == 0 and cap["steps"][0]["requests"] > 20
    assert "HTTP 500" in " ".join(cap["broke"]["reasons"]) or "error_rate_pct" in " ".join(cap["broke"]["reasons"])
    assert cap["protocols"]["http"]["peak"]["load"] == cap["peak"]["load"]
    assert len(cap["steps"]) < 8  # it stopped: the ceiling (16 users) was never run
    assert summary["partial"] is False and summary["thresholds"]["passed"] is True
    run_dir = next((tmp_path / "out").glob("*/*/"))
    assert (run_dir / "analysis" / "capacity_curve.png").stat().st_size > 10_000
    html = next(run_dir.glob("locust_report_*.html")).read_text()
    peak = f"peak capacity {cap['peak']['load']:g} users"
    assert "<h2>Capacity</h2>" in html and peak in html
    assert f"Capacity: {peak}" in (run_dir / "analysis" / "summary.txt").read_text()
    assert "Capacity step 1: 2 users" in result.stdout


@pytest.mark.slow
def test_the_finder_by_arrival_rate_stops_where_the_service_overloads(tmp_path: Path) -> None:
    # Open model: 50 ms calls, evenly spaced. At 40/s two are in flight, at 80/s four: the target
    # (failing any call that arrives while 3 are served) breaks at 60 or 80 iterations/s.
    scenario = ("kind: capacity, start_rate: 20, step_rate: 20, max_rate: 160, max_users: 20, step_duration: 4s, "
                "settle: 1s")  # fmt: skip
    result, summary = _find_capacity(tmp_path, scenario, overload_above=3, predict_ms=50)
    cap = summary["capacity"]
    assert cap["unit"] == "iterations/s" and cap["found"]
    assert cap["peak"]["load"] in (40, 60) and cap["broke"]["load"] == cap["peak"]["load"] + 20, cap["verdict"]
    first = cap["steps"][0]
    assert first["iterations_planned"] == 60 and abs(first["iterations_started"] - 60) <= 3
    assert first["rps"] == pytest.approx(20, rel=0.15)
    assert summary["validity"]["valid"] is True and summary["thresholds"]["passed"] is True
    assert "Capacity step 1: 20 iterations/s" in result.stdout
