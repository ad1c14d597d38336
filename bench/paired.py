"""Two contenders at the same time on one core: ``python bench/paired.py http_ours http_fasthttp [--rounds N]``.

bench/run.py runs contenders one after another; on a shared machine three sequential rounds of HTTP
swung from 0.89 to 1.24 in one run. Here both contenders of a pair run at once, pinned together to core 1
(the target on core 0), each its own process measuring its own CPU per request: whatever else the
machine does then hits both alike, so the per-round ratio holds still (0.94-1.04 over 8 rounds where the
sequential rounds ran 0.61-1.71). Each gets about half the core, so the absolutes are not comparable
with bench/run.py's; the ratio is the figure. Prints one JSON line: each round's CPU µs per request of
both, the per-round ratios (first / second) and their median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import CONTENDERS, OPERATIONS, _env  # noqa: E402
from load_tests.reference_service.launcher import TargetProcess  # noqa: E402

SECONDS, CONCURRENCY = 2.5, 16


def _together(names: list[str], env: dict[str, str], pin: list[str]) -> dict[str, float | None]:
    """Both contenders started at once; each one's CPU µs per request over its own window."""

    def command(name: str) -> list[str]:  # the plain grpcio floor runs without gevent, in a script of its own
        script = ["grpc_floor.py"] if name == "grpc_sync" else ["contenders.py", name]
        return [*pin, sys.executable, str(ROOT / "bench" / script[0]), *script[1:], str(SECONDS), str(CONCURRENCY)]

    procs = {name: subprocess.Popen(command(name), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True) for name in names}  # fmt: skip
    out: dict[str, float | None] = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=SECONDS + 90)
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        out[name] = json.loads(lines[-1]).get("cpu_us_per_request") if lines else None
        if not lines:
            print(f"  {name} failed: {stderr[-300:]}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="<protocol>_<contender>, e.g. http_ours")
    parser.add_argument("second", help="<protocol>_<contender>, e.g. http_fasthttp")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    for name in (args.first, args.second):
        protocol, _, contender = name.partition("_")
        if contender not in CONTENDERS.get(protocol, []) or contender == "sync_channels":
            print(f"error: {name}: not a contender of bench/run.py (e.g. http_ours, http_fasthttp, websocket_raw, "
                  f"grpc_example, grpc_sync)", file=sys.stderr)  # fmt: skip
            return 2
    two_cores = hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1
    pin = ["taskset", "-c", "1"] if two_cores else []
    zero = [arg for op in sorted(OPERATIONS) for arg in ("--service-time", f"{op}=0")]
    rounds: list[dict[str, Any]] = []
    with TargetProcess(*zero) as info, tempfile.TemporaryDirectory() as tmp:
        if two_cores:
            os.sched_setaffinity(info.pid, {0})
        env = _env(info, Path(tmp))
        for r in range(args.rounds):
            got = _together([args.first, args.second], env, pin)
            a, b = got[args.first], got[args.second]
            rounds.append({**got, "ratio": a / b if a and b else None})
            print(f"  round {r + 1}: {args.first} {a or 0:.1f}, {args.second} {b or 0:.1f} us/request", file=sys.stderr)
    ratios = [r["ratio"] for r in rounds if r["ratio"] is not None]
    print(json.dumps({"first": args.first, "second": args.second, "rounds": rounds,
                      "median_ratio": round(statistics.median(ratios), 3) if ratios else None,
                      "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)] if ratios else None}))  # fmt: skip
    return 0 if ratios else 1


if __name__ == "__main__":
    sys.exit(main())
