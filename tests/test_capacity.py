"""The capacity finder: stops at the step that breaks the thresholds, and says so honestly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from load_tests.capacity import conclude
from load_tests.target.launcher import TargetProcess
from tests.conftest import load_summary, run_cli

SLOW = ["global p95_ms 900.00 > 500"]


def _step(number: int, users: int, held: bool, cpu: float = 20.0, protocols: dict | None = None) -> dict[str, Any]:
    http = {"rps": 10.0 * users, "p95_ms": 20.0, "held": held, "reasons": [] if held else SLOW}
    return {"step": number, "users": users, "rps": 10.0 * users, "p95_ms": 20.0 if held else 900.0,
            "error_rate_pct": 0.0, "generator_cpu_pct": cpu, "saturated": cpu > 90, "held": held,
            "reasons": [] if held else SLOW, "protocols": protocols or {"http": http}}  # fmt: skip


def test_the_peak_is_the_last_step_that_held() -> None:
    result = conclude([_step(1, 10, True), _step(2, 20, True), _step(3, 30, False)], 10, 90)
    assert result["found"] and result["peak"]["users"] == 20 and result["broke"]["users"] == 30
    assert result["verdict"].startswith("peak capacity 20 users, 200.0 requests/s")
    assert "broke at 30 users: global p95_ms 900.00 > 500" in result["verdict"]


def test_a_saturated_generator_claims_no_capacity() -> None:
    result = conclude([_step(1, 10, True), _step(2, 20, True, cpu=97), _step(3, 30, False, cpu=99)], 10, 90)
    assert not result["found"] and result["peak"] is None and result["saturated"]
    assert "generator saturated at step 2 (20 users, CPU 97% > 90%)" in result["verdict"]
    assert "no capacity claimed" in result["verdict"]


def test_the_ceiling_and_the_first_step_breaking() -> None:
    ceiling = conclude([_step(1, 10, True), _step(2, 20, True)], 2, 90)
    assert ceiling["found"] and ceiling["ceiling_reached"] and "capacity is above it" in ceiling["verdict"]
    hopeless = conclude([_step(1, 10, False)], 5, 90)
    assert not hopeless["found"] and hopeless["verdict"].startswith("no step held")


def test_each_protocol_has_its_own_peak() -> None:
    def protocols(grpc_held: bool, http_held: bool) -> dict[str, Any]:
        return {name: {"rps": 5.0, "p95_ms": 10.0, "held": held, "reasons": [] if held else ["slow"]}
                for name, held in (("grpc", grpc_held), ("http", http_held))}  # fmt: skip

    steps = [_step(1, 10, True, protocols=protocols(True, True)), _step(2, 20, True, protocols=protocols(True, False)),
             _step(3, 30, False, protocols=protocols(False, False))]  # fmt: skip
    result = conclude(steps, 5, 90)
    assert result["protocols"]["grpc"]["peak"]["users"] == 20 and result["protocols"]["grpc"]["broke"]["users"] == 30
    assert result["protocols"]["http"]["peak"]["users"] == 10 and result["protocols"]["http"]["broke"]["users"] == 20


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
def test_bad_capacity_scenarios_are_one_line(tmp_path: Path, scenario: str, words: str) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text(f"scenarios:\n  peak: {scenario}\n")
    result = run_cli("--config", str(config), "--scenario", "peak", "--dry-run")
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_capacity_runs_in_one_locust_process() -> None:
    result = run_cli("--scenario", "capacity", "--workers", "2", "--dry-run")
    assert result.returncode == 2 and "run it without --workers" in result.stderr


@pytest.mark.slow
def test_the_finder_stops_at_the_step_where_the_service_overloads(tmp_path: Path) -> None:
    # The target fails any call that arrives while 5 are being served: 4 users cannot overload it,
    # 6 users who barely wait do within a second. So 4 users is the capacity, within one step.
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "scenarios:\n  find_peak:\n    kind: capacity\n    start_users: 2\n    step_users: 2\n    max_users: 16\n"
        "    step_duration: 4s\n    settle: 1s\n    spawn_rate: 20\n    profile: stress\n"
        "    thresholds: {error_rate_pct: 0}\n"
    )
    with TargetProcess("--overload-above", "5", "--service-time", "predict=20:0") as target:
        result = run_cli("--config", str(config), "--scenario", "find_peak", "--test-type", "rest", "--tags", "predict",
                         "--host", target.http_url, "--output-dir", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    cap = summary["capacity"]
    assert cap["found"] and not cap["saturated"] and not cap["ceiling_reached"]
    assert cap["peak"]["users"] in (4, 6) and cap["broke"]["users"] == cap["peak"]["users"] + 2
    assert [s["held"] for s in cap["steps"]] == [True] * (len(cap["steps"]) - 1) + [False]
    assert cap["steps"][0]["users"] == 2 and cap["steps"][0]["error_rate_pct"] == 0 and cap["steps"][0]["requests"] > 20
    assert "HTTP 500" in " ".join(cap["broke"]["reasons"]) or "error_rate_pct" in " ".join(cap["broke"]["reasons"])
    assert cap["protocols"]["http"]["peak"]["users"] == cap["peak"]["users"]
    assert len(cap["steps"]) < 8  # it stopped: the ceiling (16 users) was never run
    assert summary["partial"] is False and summary["thresholds"]["passed"] is True
    run_dir = next((tmp_path / "out").glob("*/*/"))
    assert (run_dir / "analysis" / "capacity_curve.png").stat().st_size > 10_000
    html = next(run_dir.glob("locust_report_*.html")).read_text()
    assert "<h2>Capacity</h2>" in html and f"peak capacity {cap['peak']['users']} users" in html
    assert f"Capacity: peak capacity {cap['peak']['users']} users" in (run_dir / "analysis" / "summary.txt").read_text()
    assert "Capacity step 1: 2 users" in result.stdout
