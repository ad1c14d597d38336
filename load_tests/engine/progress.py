"""The progress line printed every few seconds while a run goes on."""

from __future__ import annotations

import sys
from typing import Any

from load_tests.core.scenarios import Scenario


def progress_line(
    t: float, scenario: Scenario | None, users: int, workers: int | None, totals: dict[str, Any],
    latest: dict[str, Any] | None,
) -> str:  # fmt: skip
    """``[00:12] stage 2/3  users 10  rps 41.0  requests 480  failures 0 (0.00%)  p95 12.3 ms``."""
    latest = latest or {}
    stages = len(scenario.stages) if scenario else 0
    found = scenario.stage_at(t) if scenario else None
    stage = f"stage {found[0] + 1}/{stages}" if found else "stage -"
    pct = 100.0 * totals["failures"] / totals["requests"] if totals["requests"] else 0.0
    p95 = f"{latest['p95_ms']:.1f} ms" if latest.get("p95_ms") is not None else "-"
    minutes, seconds = divmod(int(t), 60)
    worker_text = f"  workers {workers}" if workers is not None else ""
    return (
        f"[{minutes:02d}:{seconds:02d}] {stage}  users {users}{worker_text}  rps {latest.get('rps', 0.0):.1f}  "
        f"requests {totals['requests']}  failures {totals['failures']} ({pct:.2f}%)  p95 {p95}"
    )


def say(line: str) -> None:
    """One line on stdout at once (the launcher relays Locust's output as it comes)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
