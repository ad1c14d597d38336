"""``validate_results(results_dir, scenario)``: the verdict of a saved run, for CI scripts and notebooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from load_tests.core.run_folder import latest_summary


def validate_results(results_dir: str | Path, scenario: str) -> dict[str, Any]:
    """``{"passed": bool, "failures": [str, ...], "summary": path}`` of the newest run of ``scenario``.

    A failure is a broken threshold (``"global p95_ms: 2300.00 > 2000"``), or an interrupted run.
    """
    path = latest_summary(Path(results_dir), scenario)
    summary = json.loads(path.read_text(encoding="utf-8"))
    failures = [
        f"{v['scope']} {v['metric']}: {v['reason']}" for v in summary["thresholds"]["verdicts"] if not v["passed"]
    ]
    if summary.get("partial"):
        failures.append("the run was interrupted before the end of its scenario (partial)")
    return {"passed": not failures, "failures": failures, "summary": str(path)}
