"""Locust glue: listeners that record every request exactly, show progress, and finish the run.

Each locustfile calls :func:`install` at import; it registers one :class:`HarnessListener` per
process however many locustfiles are loaded. What a process does depends on its Locust role:

- alone (``LocalRunner``) or ``--master``: keeps the run's recorder, timeline and resource monitor,
  prints progress, and at ``quitting`` (also after Ctrl-C) stops the users, builds the summary,
  checks the thresholds, writes the reports and sets ``environment.process_exit_code`` (0 passed,
  1 thresholds failed), the documented way to decide Locust's exit code;
- ``--worker``: records its requests and ships them to the master (:mod:`load_tests.engine.distributed`).

Imports Locust: only locustfiles import this module.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import gevent
import locust.runners
from locust import events
from locust.env import Environment
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner

from load_tests.core import domain
from load_tests.core.capacity import CapacityFinder, capacity_verdicts
from load_tests.core.plan import RunPlan, current_plan
from load_tests.core.recorder import ENDPOINT_BUCKET_S, Recorder
from load_tests.core.scenarios import ARRIVAL_WARMUP_S
from load_tests.core.summary import build_summary, render_text, with_verdicts, write_summary
from load_tests.core.thresholds import beyond_hope, evaluate
from load_tests.core.timeline import Timeline
from load_tests.core.validity import EXIT_INVALID, check_validity
from load_tests.engine.distributed import MASTER_LAG_S, SETTLE_TIMEOUT_S, WorkerReporter, WorkerTracker
from load_tests.engine.pacing import Pacer, PacingCounts, current_lateness_ms, pace_user_classes
from load_tests.engine.resources import Generator, ResourceMonitor
from load_tests.reporting import write_reports

logger = logging.getLogger("load_tests")
SAMPLE_INTERVAL_S = 1.0
_installed = False


class HarnessListener:
    """Per-process state of one run: the recorder, the timeline and the end-of-run work."""

    def __init__(self, plan: RunPlan) -> None:
        self.plan = plan
        self.scenario = plan.scenario_object()
        self.recorder = Recorder()
        self.timeline: Timeline | None = None
        self.monitor: ResourceMonitor | None = None
        self.tracker: WorkerTracker | None = None
        self.started_wall: datetime | None = None
        self.started: float | None = None
        self.sampler: gevent.Greenlet | None = None
        self.aborted: str | None = None
        self.lag_s = 0
        self.pacer: Pacer | None = None
        self.pacing_start: float | None = None
        self.me = Generator("local", "local", os.getpid(), socket.gethostname())
        self.interrupts: Interrupts | None = None
        self.capacity: CapacityFinder | None = None
        self.capacity_stopped_at: float | None = None

    def register(self, environment: Environment) -> None:
        restart_usage_monitor(environment, float(self.plan.resources.get("interval_s") or 2.0))
        environment.events.request.add_listener(self.recorder.record)
        arrival = self.scenario.arrival if self.scenario else None
        if arrival is not None and not isinstance(environment.runner, MasterRunner):
            self.pacer = Pacer(arrival, float(self.plan.validity.get("late_ms", 10.0)))
            self.recorder.lateness = current_lateness_ms
            pace_user_classes(environment.user_classes, self.pacer)
        if isinstance(environment.runner, WorkerRunner):
            WorkerReporter(self.recorder, self.pacer).register(environment)
            return
        if isinstance(environment.runner, MasterRunner):
            self.tracker = WorkerTracker(self.recorder, self)
            self.tracker.runner = environment.runner
            self.tracker.register(environment)
            self.lag_s = MASTER_LAG_S
            self.me = Generator("master", "master", os.getpid(), socket.gethostname())
        if self.scenario is not None and self.scenario.capacity_settle_s is not None:
            max_cpu = float(self.plan.validity.get("max_generator_cpu_pct", 90.0))
            pacer = self.pacer
            started = (lambda: pacer.counts.started) if pacer is not None else None
            tolerance = float(self.plan.validity.get("rate_tolerance_pct", 10.0))
            shape = environment.shape_class
            # Steps of users are the shape's stages: judge them on the shape's own clock, or a step's
            # window would take in the first moments of the next (seen: 0.5 s apart). Steps of rate
            # follow the pacing schedule, which starts with this listener's run.
            run_time = shape.get_run_time if self.scenario.arrival is None and shape is not None else self._run_time
            self.capacity = CapacityFinder(self.scenario, self.plan.thresholds, max_cpu, run_time,
                                           iterations_started=started, rate_tolerance_pct=tolerance)  # fmt: skip
            environment.events.request.add_listener(self.capacity.record)
        environment.events.usage_monitor.add_listener(self.on_usage)
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.quitting.add_listener(self.on_quitting)

    def on_usage(self, environment: Environment, cpu_usage: float, memory_usage: int, **_: Any) -> None:
        if self.monitor is not None and not is_first_usage(environment):
            self.monitor.add_generator_sample(self.me, time.time(), cpu_usage, memory_usage)

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if self.started is not None:
            return
        self._start()
        if self.scenario is not None and self.scenario.arrival is not None:
            self.pacing_start = time.time() + ARRIVAL_WARMUP_S  # the pool is spawned first
            if self.tracker is not None:
                self.tracker.assign_pacing(self.pacing_start)
            elif self.pacer is not None:
                self.pacer.start(self.pacing_start)
        self.sampler = gevent.spawn(self._sample_forever, environment)

    def _start(self) -> None:
        self.started, self.started_wall = time.perf_counter(), datetime.now().astimezone()
        epoch = time.time()
        self.timeline = Timeline(epoch, self.scenario)
        self.monitor = ResourceMonitor.from_config(epoch, self.plan.resources)
        if self.tracker is not None:
            self.tracker.started_epoch = epoch

    def _drain(self, final: bool = False) -> None:
        """Turn finished windows into timeline points (a master waits ``lag_s`` for its workers')."""
        assert self.timeline is not None
        now = time.time()
        before = int(now) + 1 if final else int(now) - self.lag_s
        self.timeline.add_seconds(self.recorder.drain_seconds(before), now)
        bucket_before = int(now // ENDPOINT_BUCKET_S) + 1 if final else int((now - self.lag_s) // ENDPOINT_BUCKET_S)
        self.timeline.add_endpoint_buckets(self.recorder.drain_endpoint_buckets(bucket_before), now)

    def _sample_forever(self, environment: Environment) -> None:
        assert self.timeline is not None and self.monitor is not None and self.started is not None
        next_progress = self.plan.progress_interval_s
        while True:
            gevent.sleep(SAMPLE_INTERVAL_S)
            now = time.time()
            self.timeline.note_users(now, environment.runner.user_count if environment.runner else 0)
            self._drain()
            if self.tracker is not None:
                self.tracker.check_lost()
            if self.monitor.due(now):
                self.monitor.sample(now)
            t = time.perf_counter() - self.started
            if t >= next_progress:
                next_progress += self.plan.progress_interval_s
                self._print_progress(t, environment)
            if self._abort_if_hopeless(environment, t):
                return
            if self.capacity is not None:
                self._judge_capacity(environment)

    def _run_time(self) -> float:
        return time.perf_counter() - self.started if self.started is not None else 0.0

    def _judge_capacity(self, environment: Environment) -> None:
        """Close finished steps; at the first broken one, end the run (the shape drains the users)."""
        assert self.capacity is not None and self.monitor is not None
        t = self.capacity.run_time()
        cpu = self.monitor.series.get(f"generator.{self.me.name}.cpu_percent", [])
        before = len(self.capacity.results)
        reason = self.capacity.tick(t, cpu)
        for result in self.capacity.results[before:]:
            state = "held" if result["held"] else "BROKE: " + "; ".join(result["reasons"])
            p95, errors = result["p95_ms"] or 0.0, result["error_rate_pct"]
            figures = f"{result['rps']:.1f} req/s, p95 {p95:.1f} ms, errors {errors:.2f}%"
            load = f"{result['load']:g} {self.capacity.unit}"
            sys.stdout.write(f"Capacity step {result['step']}: {load}, {figures}: {state}\n")
        if reason is not None:
            self.capacity_stopped_at = time.time()
            sys.stdout.write(f"Capacity found: {reason}; ending the run\n")
            shape = environment.shape_class
            if shape is not None:
                shape.stop_requested = True  # type: ignore[attr-defined]
        sys.stdout.flush()

    def _abort_if_hopeless(self, environment: Environment, t: float) -> bool:
        """Stop the run (gracefully: reports are still written) when the abort rule says it cannot pass."""
        rule = self.plan.thresholds.get("abort")
        if not rule or environment.runner is None or self.timeline is None:
            return False
        latest = self.timeline.latest()
        reason = beyond_hope(self.recorder.totals(), latest["p95_ms"] if latest else None, rule, t)
        if reason is None:
            return False
        self.aborted = reason
        sys.stdout.write(f"Aborting the run: {reason} (thresholds.abort); writing reports...\n")
        sys.stdout.flush()
        environment.runner.stop()
        return True

    def _print_progress(self, t: float, environment: Environment) -> None:
        assert self.timeline is not None
        totals = self.recorder.totals()
        latest = self.timeline.latest() or {}
        stages = len(self.scenario.stages) if self.scenario else 0
        found = self.scenario.stage_at(t) if self.scenario else None
        stage = f"stage {found[0] + 1}/{stages}" if found else "stage -"
        pct = 100.0 * totals["failures"] / totals["requests"] if totals["requests"] else 0.0
        p95 = f"{latest['p95_ms']:.1f} ms" if latest.get("p95_ms") is not None else "-"
        users = environment.runner.user_count if environment.runner else 0
        workers = f"  workers {environment.runner.worker_count}" if isinstance(environment.runner, MasterRunner) else ""
        minutes, seconds = divmod(int(t), 60)
        sys.stdout.write(
            f"[{minutes:02d}:{seconds:02d}] {stage}  users {users}{workers}  rps {latest.get('rps', 0.0):.1f}  "
            f"requests {totals['requests']}  failures {totals['failures']} ({pct:.2f}%)  p95 {p95}\n"
        )
        sys.stdout.flush()

    def _protocols_seen(self) -> list[str]:
        """For a plain ``locust -f`` run: the protocols that actually sent requests."""
        return sorted({r.protocol for r in self.recorder.endpoints.values()})

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if runner is None:
            return
        if self.interrupts is not None:
            self.interrupts.finishing = True
        sys.stdout.write("Writing the summary and reports...\n")
        sys.stdout.flush()
        if runner.state not in (STATE_STOPPED, STATE_STOPPING, STATE_CLEANUP):
            runner.stop()  # Ctrl-C arrives while users run: freeze the figures before summarising
        if self.tracker is not None:
            self.wait_for_workers(time.monotonic())
        if self.sampler is not None:
            self.sampler.kill(block=False)
        try:
            self.finish(environment)
        except Exception:  # never lose the run's exit status to a reporting bug; log it loudly
            logger.exception("writing the run summary failed")
            environment.process_exit_code = 3

    def wait_for_workers(self, since: float) -> None:
        """Give live workers time to ship their last delta (reports come every 3 s)."""
        assert self.tracker is not None
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while not self.tracker.settled(since) and time.monotonic() < deadline:
            gevent.sleep(0.2)

    def finish(self, environment: Environment) -> None:
        if self.started is None:  # quit before any user started
            self._start()
        assert self.timeline is not None and self.monitor is not None and self.started is not None
        self.timeline.note_users(time.time(), environment.runner.user_count if environment.runner else 0)
        self._drain(final=True)
        if self.tracker is not None:
            self.tracker.check_lost()
        self.monitor.sample()
        self.monitor.close()
        if self.capacity is not None:
            self._judge_capacity(environment)  # the last step ends with the run
        duration = time.perf_counter() - self.started
        shape = environment.shape_class
        partial = bool(self.aborted) or (shape is not None and not getattr(shape, "finished", True))
        timeline, endpoint_timeline = self.timeline.as_lists()
        if self.tracker is None:  # alone, this process made every request
            totals = self.recorder.totals()
            self.me.requests, self.me.failures = totals["requests"], totals["failures"]
        self.monitor.generators.setdefault(self.me.name, self.me)
        if self.tracker is not None:
            for worker in self.tracker.workers.values():
                self.monitor.generators.setdefault(worker.name, worker)
        meta = {
            "partial": partial,
            "started_at": self.started_wall.isoformat(timespec="seconds") if self.started_wall else None,
            "ended_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "scenario": self.plan.scenario or {"name": "locust", "profile": "normal", "stages": []},
            "test_types": self.plan.test_types if self.plan.from_runner else self._protocols_seen(),
            "services": {k: v for k, v in self.plan.services.items() if k != "api_key_env"},
            "timeline": timeline,
            "endpoint_timeline": endpoint_timeline,
            "aborted": self.aborted,
            "resources": self.monitor.as_summary(),
            "workers": self._workers_meta(),
        }
        meta["pacing"] = self._pacing_meta()
        summary = build_summary(self.recorder, meta, duration)
        summary["custom"] = domain.REGISTRY.summary(duration)  # on a master: every worker's, merged
        summary["validity"] = check_validity(summary, self.plan.validity)
        verdicts = evaluate(summary, self.plan.thresholds)
        if self.capacity is not None:  # judged step by step: the whole run broke them by design
            summary["capacity"] = self.capacity.summary()
            verdicts = capacity_verdicts(summary["capacity"])
            validity = summary["validity"]  # a rate falling short is how a rate step breaks: judged per step
            validity["reasons"] = [r for r in validity["reasons"] if "rate not achieved" not in r]
            validity["valid"] = not validity["reasons"]
            if summary["capacity"]["saturated"]:
                summary["validity"]["valid"] = False
                summary["validity"]["reasons"].append(summary["capacity"]["verdict"])
        summary = with_verdicts(summary, verdicts)
        write_summary(summary, Path(self.plan.run_dir), self.plan.timestamp)
        passed = summary["thresholds"]["passed"]
        environment.process_exit_code = EXIT_INVALID if not summary["validity"]["valid"] else 0 if passed else 1
        write_reports(summary, Path(self.plan.run_dir), self.plan.timestamp)
        if not self.plan.from_runner:  # the runner prints it after Locust's own tables
            sys.stdout.write("\n" + render_text(summary) + f"Reports: {self.plan.run_dir}\n")
            sys.stdout.flush()

    def _pacing_meta(self) -> dict[str, Any] | None:
        """The arrival schedule against what the generators did with it (None for closed-model load)."""
        arrival = self.scenario.arrival if self.scenario else None
        if arrival is None:
            return None
        counts = (
            self.tracker.pacing if self.tracker is not None else (self.pacer.counts if self.pacer else PacingCounts())
        )
        until = self.capacity_stopped_at or time.time()  # a capacity run scheduled nothing after its stop
        ran_s = min(max(until - (self.pacing_start or time.time()), 0.0), arrival.duration_s)
        planned = arrival.scheduled_between(0.0, ran_s)
        return {
            **asdict(arrival),
            "schedule_s": arrival.duration_s,
            "ran_s": round(ran_s, 3),
            "planned": planned,
            "planned_rate": planned / ran_s if ran_s else 0.0,
            "achieved_rate": counts.started / ran_s if ran_s else 0.0,
            **asdict(counts),
            "late_ms": float(self.plan.validity.get("late_ms", 10.0)),
        }

    def _workers_meta(self) -> dict[str, Any] | None:
        if self.tracker is None:
            return None
        return {"count": len(self.tracker.workers), "lost": self.tracker.lost()}


class Interrupts:
    """SIGINT (the runner's stop, or Ctrl-C): raise KeyboardInterrupt in Locust's main greenlet only.

    Python's own handler raises it in whatever greenlet runs at that instant: inside a user's gRPC
    call or a lock, which it can leave broken (we saw the run hang and lose its summary). A gevent
    signal handler runs in the hub instead and throws into the main greenlet, which Locust's
    headless code expects. Once the run is finishing, the signal is only noted: the measurement has
    ended, and cutting the summary or reports short would lose it (the runner kills on a second one).
    """

    def __init__(self) -> None:
        self.main = gevent.get_hub().parent
        self.finishing = False
        self.noted = 0

    def install(self) -> None:
        gevent.signal_handler(signal.SIGINT, self.on_signal)

    def on_signal(self) -> None:
        if self.finishing:
            self.noted += 1
            if self.noted >= 2:  # a person pressing Ctrl-C again and again wants out now
                os._exit(128 + signal.SIGINT)
            sys.stdout.write("SIGINT while writing the reports: finishing them first (again to quit at once)\n")
            sys.stdout.flush()
            return
        self.finishing = True
        self.main.throw(KeyboardInterrupt)


def restart_usage_monitor(environment: Environment, interval_s: float) -> None:
    """Make Locust's ``usage_monitor`` fire every ``interval_s`` from now on.

    Locust samples its process every ``CPU_MONITOR_INTERVAL`` (10 s, first after 10 s), from a greenlet
    started before any listener can change the interval: a 30 s smoke run would get two samples. We
    set the interval and restart that greenlet, so CPU/RSS come from Locust's own event at our pace.
    """
    runner = environment.runner
    if runner is None:
        return
    locust.runners.CPU_MONITOR_INTERVAL = interval_s
    for greenlet in list(runner.greenlet):
        if getattr(greenlet, "_run", None) == runner.monitor_cpu_and_memory:
            greenlet.kill(block=False)
    runner.greenlet.spawn(runner.monitor_cpu_and_memory)


def is_first_usage(environment: Environment) -> bool:
    """Locust's first CPU figure of a process is always 0 (psutil's first call only starts measuring)."""
    seen = getattr(environment, "_load_tests_usage_seen", False)
    environment._load_tests_usage_seen = True  # type: ignore[attr-defined]
    return not seen


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
        if not isinstance(environment.runner, WorkerRunner):  # workers are stopped by their master
            listener.interrupts = Interrupts()
            listener.interrupts.install()
        environment.harness = listener  # type: ignore[attr-defined]
