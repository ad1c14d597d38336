"""Locust glue: listeners that record every request exactly, show progress, and finish the run.

Each locustfile calls :func:`install` at import; it registers one :class:`HarnessListener` per
process however many locustfiles are loaded. At ``quitting`` (also after Ctrl-C) it stops the users,
builds the summary from our exact histograms, checks the thresholds, writes ``locust_report_<ts>.json``
and ``summary.txt``, and sets ``environment.process_exit_code`` (0 passed, 1 thresholds failed), the
documented way to decide Locust's exit code. Imports Locust: only locustfiles import this module.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, WorkerRunner

from load_tests.plan import RunPlan, current_plan
from load_tests.recorder import Recorder
from load_tests.reporting import write_reports
from load_tests.summary import build_summary, render_text, with_verdicts, write_summary
from load_tests.thresholds import beyond_hope, evaluate

logger = logging.getLogger("load_tests")
SAMPLE_INTERVAL_S = 1.0
ENDPOINT_SAMPLE_EVERY = 5  # per-endpoint figures every 5 samples (5 s): enough for charts, cheap
_installed = False


class HarnessListener:
    """Per-process state of one run: the recorder, the timeline and the end-of-run work."""

    def __init__(self, plan: RunPlan) -> None:
        self.plan = plan
        self.scenario = plan.scenario_object()
        self.recorder = Recorder()
        self.timeline: list[dict[str, Any]] = []
        self.endpoint_timeline: list[dict[str, Any]] = []
        self.started_wall: datetime | None = None
        self.started: float | None = None
        self.sampler: gevent.Greenlet | None = None
        self.aborted: str | None = None

    def register(self, environment: Environment) -> None:
        environment.events.request.add_listener(self.recorder.record)
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.quitting.add_listener(self.on_quitting)

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner) or self.started is not None:
            return
        self.started, self.started_wall = time.perf_counter(), datetime.now().astimezone()
        self.sampler = gevent.spawn(self._sample_forever, environment)

    def _stage(self, t: float) -> int | None:
        found = self.scenario.stage_at(t) if self.scenario else None
        return found[0] + 1 if found else None

    def sample(self, environment: Environment, final: bool = False) -> dict[str, Any]:
        """One timeline point from the window since the previous one."""
        assert self.started is not None
        t = time.perf_counter() - self.started
        previous_t = self.timeline[-1]["t_s"] if self.timeline else 0.0
        span = max(t - previous_t, 1e-6)
        requests, failures, histogram = self.recorder.drain_window()
        point = {
            "t_s": round(t, 3),
            "stage": self._stage(t),
            "users": environment.runner.user_count if environment.runner else 0,
            "rps": requests / span,
            "failures_per_s": failures / span,
            "p50_ms": histogram.get_value_at_percentile(50) / 1000.0 if histogram.total_count else None,
            "p95_ms": histogram.get_value_at_percentile(95) / 1000.0 if histogram.total_count else None,
        }
        self.timeline.append(point)
        if len(self.timeline) % ENDPOINT_SAMPLE_EVERY == 0 or final:
            previous_e = self.endpoint_timeline[-1]["t_s"] if self.endpoint_timeline else 0.0
            endpoints = self.recorder.drain_endpoint_windows(max(t - previous_e, 1e-6))
            self.endpoint_timeline.append({"t_s": point["t_s"], "users": point["users"], "endpoints": endpoints})
        return point

    def _sample_forever(self, environment: Environment) -> None:
        next_progress = self.plan.progress_interval_s
        while True:
            gevent.sleep(SAMPLE_INTERVAL_S)
            point = self.sample(environment)
            if point["t_s"] >= next_progress:
                next_progress += self.plan.progress_interval_s
                self._print_progress(point)
            if self._abort_if_hopeless(environment, point):
                return

    def _abort_if_hopeless(self, environment: Environment, point: dict[str, Any]) -> bool:
        """Stop the run (gracefully: reports are still written) when the abort rule says it cannot pass."""
        rule = self.plan.thresholds.get("abort")
        if not rule or environment.runner is None:
            return False
        total = {"requests": sum(r.requests for r in self.recorder.endpoints.values()),
                 "failures": sum(r.failures for r in self.recorder.endpoints.values())}  # fmt: skip
        reason = beyond_hope(total, point["p95_ms"], rule, point["t_s"])
        if reason is None:
            return False
        self.aborted = reason
        sys.stdout.write(f"Aborting the run: {reason} (thresholds.abort); writing reports...\n")
        sys.stdout.flush()
        environment.runner.stop()
        return True

    def _print_progress(self, point: dict[str, Any]) -> None:
        total_requests = sum(r.requests for r in self.recorder.endpoints.values())
        total_failures = sum(r.failures for r in self.recorder.endpoints.values())
        stages = len(self.scenario.stages) if self.scenario else 0
        stage = f"stage {point['stage']}/{stages}" if point["stage"] else "stage -"
        pct = 100.0 * total_failures / total_requests if total_requests else 0.0
        p95 = f"{point['p95_ms']:.1f} ms" if point["p95_ms"] is not None else "-"
        minutes, seconds = divmod(int(point["t_s"]), 60)
        sys.stdout.write(
            f"[{minutes:02d}:{seconds:02d}] {stage}  users {point['users']}  rps {point['rps']:.1f}  "
            f"requests {total_requests}  failures {total_failures} ({pct:.2f}%)  p95 {p95}\n"
        )
        sys.stdout.flush()

    def _protocols_seen(self) -> list[str]:
        """For a plain ``locust -f`` run: the protocols that actually sent requests."""
        return sorted({r.protocol for r in self.recorder.endpoints.values()})

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, WorkerRunner) or runner is None:
            return
        if runner.state not in (STATE_STOPPED, STATE_STOPPING, STATE_CLEANUP):
            runner.stop()  # Ctrl-C arrives while users run: freeze the figures before summarising
        if self.sampler is not None:
            self.sampler.kill(block=False)
        try:
            self.finish(environment)
        except Exception:  # never lose the run's exit status to a reporting bug; log it loudly
            logger.exception("writing the run summary failed")
            environment.process_exit_code = 3

    def finish(self, environment: Environment) -> None:
        if self.started is None:  # quit before any user started
            self.started, self.started_wall = time.perf_counter(), datetime.now().astimezone()
        else:
            self.sample(environment, final=True)
        duration = time.perf_counter() - self.started
        shape = environment.shape_class
        partial = bool(self.aborted) or (shape is not None and not getattr(shape, "finished", True))
        meta = {
            "partial": partial,
            "started_at": self.started_wall.isoformat(timespec="seconds") if self.started_wall else None,
            "ended_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "scenario": self.plan.scenario or {"name": "locust", "profile": "normal", "stages": []},
            "test_types": self.plan.test_types if self.plan.from_runner else self._protocols_seen(),
            "services": {k: v for k, v in self.plan.services.items() if k != "api_key_env"},
            "timeline": self.timeline,
            "endpoint_timeline": self.endpoint_timeline,
            "aborted": self.aborted,
        }
        summary = build_summary(self.recorder, meta, duration)
        summary = with_verdicts(summary, evaluate(summary, self.plan.thresholds))
        write_summary(summary, Path(self.plan.run_dir), self.plan.timestamp)
        environment.process_exit_code = 0 if summary["thresholds"]["passed"] else 1
        write_reports(summary, Path(self.plan.run_dir), self.plan.timestamp)
        if not self.plan.from_runner:  # the runner prints it after Locust's own tables
            sys.stdout.write("\n" + render_text(summary) + f"Reports: {self.plan.run_dir}\n")
            sys.stdout.flush()


def install() -> None:
    """Register the harness listeners once per process (several locustfiles may call this)."""
    global _installed
    if _installed:
        return
    _installed = True

    @events.init.add_listener
    def _on_init(environment: Environment, **_: Any) -> None:
        listener = HarnessListener(current_plan())
        listener.register(environment)
        environment.harness = listener  # type: ignore[attr-defined]
