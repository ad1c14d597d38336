"""Where a contender's CPU per request goes, stage by stage: ``python bench/hot_path.py websocket_ours [...]``.

Starts the reference target (zero service times, core 0), runs each named contender of
``bench/contenders.py`` (``<protocol>_<contender>``: ``websocket_ours``, ``http_fasthttp``...) for
``--seconds`` at concurrency 16 on core 1 under py-spy (``record --gil --format raw``: only samples
that hold the GIL, so a gevent hub asleep in epoll is not counted), and prints a Markdown table: each
stage's share of the samples times the contender's own CPU microseconds per request. A sample belongs to
the deepest frame that names a stage (``STAGES``), so Locust's stats under our request hook count as
Locust's stats, not as the hook. System time is shared out in proportion to the samples: a stage's
figure is an estimate; compare shares within one run. The evidence in bench/results/hot_path.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import OPERATIONS, _env  # noqa: E402
from load_tests.reference_service.launcher import TargetProcess  # noqa: E402

STAGES = [  # (text in a frame "function (file)", stage): the deepest frame that matches one decides
    ("Recorder.record", "our recorder"),
    ("on_request (runners.py)", "Locust stats"),
    ("EventHook.fire", "event dispatch"),
    ("report (request_hook", "report()"),
    ("dumps_bytes (", "JSON encode"),
    ("dumps (", "JSON encode"),
    ("loads (", "JSON decode"),
    ("FastResponse.json", "JSON decode"),
    ("send_text (ws_frames", "ws send (frame+socket)"),
    ("FrameReader.", "ws recv (frame+socket)"),
    ("WebSocket.send", "ws send (frame+socket)"),
    ("WebSocket.recv", "ws recv (frame+socket)"),
    ("_read_loop_websocket", "engine.io read loop (recv, decode, ack)"),
    ("_write_loop", "engine.io write loop (send)"),
    ("Client.call", "socketio call (emit, wait for ack)"),
    ("_route", "route reply to waiter"),
    ("_next", "wait for reply"),
    ("Queue.", "wait for reply"),
    ("OneReply", "wait for reply"),
    ("Event.wait", "wait for reply"),
    ("_answer (gateway_rest", "JSON check"),
    ("_healthy (gateway_rest", "JSON check"),
    ("_outcome (checked_http", "checked_http (judge, outcome, one report)"),
    ("checked (checked_http", "checked_http (judge, outcome, one report)"),
    ("ResponseContextManager", "catch_response + its report"),
    ("HTTPClient", "geventhttpclient (build, send, parse)"),
    ("FastHttpSession.", "Locust's FastHttpSession around it"),
    ("_exchange", "client's own code"),
    ("Client.request", "client's own code"),
    ("WebSocketClient._receive", "receiver loop (own code)"),
    ("Thread.", "a threading.Thread per Socket.IO message"),
    ("TaskSet", "Locust task loop (incl. wait_time sleep(0))"),
    ("User.run", "Locust task loop (incl. wait_time sleep(0))"),
    ("Hub.run", "gevent hub (switches, polling)"),
    ("sleep (hub", "gevent hub (switches, polling)"),
]
SETUP = ("_find_and_load", "create_connection", "start_users", "patch_all")  # not the measured loop
FRAME = re.compile(r"\((?:.*/)?([^/:]*):\d+\)$")


def stages(raw: str) -> tuple[int, collections.Counter[str]]:
    """Samples per stage from py-spy's raw output (``frame;frame;... count`` per line, root first)."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit() or any(s in stack for s in SETUP):
            continue
        frames = [FRAME.sub(r"(\1)", f) for f in reversed(stack.split(";"))]
        stage = next((s for f in frames for text, s in STAGES if text in f), "other")
        counts[stage] += int(n)
        total += int(n)
    return total, counts


def profile(name: str, seconds: float, env: dict[str, str], rate: int) -> str:
    """One contender under py-spy; the Markdown table of its stages."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "raw.txt"
        pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
        cmd = [str(Path(sys.executable).with_name("py-spy")), "record", "-r", str(rate), "--gil", "--nonblocking",
               "--format", "raw", "-o", str(out), "--", *pin, sys.executable, str(ROOT / "bench" / "contenders.py"),
               name, str(seconds), "16"]  # fmt: skip
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines or not out.exists():
            return f"{name}: failed: {(done.stderr or done.stdout)[-400:]}"
        us = json.loads(lines[-1])["cpu_us_per_request"]
        total, counts = stages(out.read_text())
    rows = [f"{name}: {us:.1f} CPU us/request, {total} samples", "", "| stage | share | us/request |", "|---|---|---|"]
    rows += [f"| {stage} | {100 * n / total:.1f}% | {us * n / total:.1f} |" for stage, n in counts.most_common()]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contenders", nargs="+", help="<protocol>_<contender>, e.g. websocket_ours http_fasthttp")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=400, help="py-spy samples per second")
    args = parser.parse_args(argv)
    zero = [arg for op in sorted(OPERATIONS) for arg in ("--service-time", f"{op}=0")]
    zero += ["--llm-ttft-ms", "0", "--llm-token-ms", "0"]
    with TargetProcess(*zero) as info, tempfile.TemporaryDirectory() as tmp:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(info.pid, {0})
        env = _env(info, Path(tmp))
        for name in args.contenders:
            print(profile(name, args.seconds, env, args.rate), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
