"""Soak benchmark: the ``sustained`` scenario for a bounded few minutes; does the generator leak?

    python bench/soak.py [--minutes 3] [--users N] [--test-type all] [--out bench/results/soak.json]

Runs ``run_load_tests.py --scenario sustained`` against the bundled target on 127.0.0.1 and reads
the generator's RSS series from the run's own summary (sampled every ``resources.interval``). The
start figure is the median RSS of the first ``WINDOW_S`` after the ramp-up has settled (imports,
connection pools and HDR histograms are all allocated by then); the end figure is the median of the
last ``WINDOW_S``. Growth above ``LIMIT_PCT`` fails the goal (exit 1). Medians, not single samples,
because one garbage-collection cycle moves RSS by a few MB either way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LIMIT_PCT = 10.0
WINDOW_S = 20.0
SETTLE_S = 10.0  # after the last user has spawned


def rss_growth(points: list[list[float]], settled_at: float, window_s: float = WINDOW_S) -> dict[str, Any]:
    """Start/end RSS (MB) and growth (%) from ``[[t_s, rss_mb], ...]`` (seconds from the run's start)."""
    after = [(t, v) for t, v in points if t >= settled_at]
    if len(after) < 4:
        raise ValueError(f"too few RSS samples after the ramp-up ({len(after)}): run longer")
    first_t, last_t = after[0][0], after[-1][0]
    window = min(window_s, (last_t - first_t) / 3)  # short runs: thirds, so start and end never overlap
    start = statistics.median(v for t, v in after if t <= first_t + window)
    end = statistics.median(v for t, v in after if t >= last_t - window)
    return {"start_mb": round(start, 1), "end_mb": round(end, 1), "growth_pct": round(100.0 * (end / start - 1), 2),
            "samples": len(after), "span_s": round(last_t - first_t, 1)}  # fmt: skip


def run_soak(minutes: float, users: int | None, test_type: str, output: Path) -> dict[str, Any]:
    cmd = [sys.executable, "run_load_tests.py", "--scenario", "sustained", "--duration", f"{minutes * 60:g}s",
           "--test-type", test_type, "--output-dir", str(output)]  # fmt: skip
    if users:
        cmd += ["--users", str(users)]
    began = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=minutes * 60 + 300)
    found = sorted(output.glob("*/*/locust_report_*.json"))
    if not found:
        raise SystemExit(f"soak: the run wrote no summary (exit {done.returncode}):\n{done.stdout[-2000:]}")
    summary = json.loads(found[0].read_text())
    series = summary["resources"]["series"]
    peak = max(p["users"] for p in summary["timeline"])
    spawned = next(p for p in summary["timeline"] if p["users"] >= peak)
    settled_at = spawned["t_s"] + SETTLE_S  # series and timeline share the run's clock (seconds from start)
    generator = rss_growth(series["generator.local.rss_mb"], settled_at)
    target = rss_growth(series["target.rss_mb"], settled_at) if "target.rss_mb" in series else None
    total = summary["total"]
    return {
        "scenario": "sustained", "minutes": minutes, "users": peak, "test_type": test_type,
        "exit_code": done.returncode, "wall_s": round(time.monotonic() - began, 1),
        "requests": total["requests"], "failures": total["failures"], "rps": total.get("rps"),
        "generator_rss": generator, "target_rss": target,
        "goal": {"generator_rss_growth_pct_max": LIMIT_PCT, "met": generator["growth_pct"] < LIMIT_PCT},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="run length (default 3; bounded to 1..60)")
    parser.add_argument("--users", type=int, help="peak users (default: the sustained scenario's)")
    parser.add_argument("--test-type", default="all", help="rest, websocket, socketio, grpc or all (default)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    args = parser.parse_args(argv)
    if not 1 <= args.minutes <= 60:
        parser.error("--minutes must be between 1 and 60")
    with tempfile.TemporaryDirectory(prefix="soak_") as tmp:
        result = run_soak(args.minutes, args.users, args.test_type, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["goal"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
