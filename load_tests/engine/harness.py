"""Locust glue: one listener per process that records, shows progress, and ends the run.

Each locustfile calls :func:`install` at import; it registers one :class:`HarnessListener` per
process however many locustfiles are loaded. The listener only wires small parts together:

- :class:`~load_tests.engine.recording.RunRecording`: the exact recorder, timeline and resources;
- :func:`~load_tests.engine.progress.progress_line`: the progress printed every few seconds;
- :class:`~load_tests.engine.capacity_driver.CapacityDriver`: a capacity run's step judging;
- :func:`~load_tests.core.conclusion.conclude`: the pure end (summary, verdicts, exit code).

What a process does depends on its Locust role: alone (``LocalRunner``) or ``--master`` it keeps
the run's figures and, at ``quitting`` (also after Ctrl-C), stops the users, concludes, writes the
reports and sets ``environment.process_exit_code``, the documented way to decide Locust's exit
code; a ``--worker`` records its requests and ships them to the master (:mod:`~load_tests.engine.distributed`).

Imports Locust: only locustfiles import this module.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import STATE_CLEANUP, STATE_RUNNING, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner

from load_tests.core import domain
from load_tests.core.conclusion import RunRecord, conclude, pacing_record
from load_tests.core.plan import RunPlan, scenario_record
from load_tests.core.run_folder import EXIT_NO_SUMMARY
from load_tests.core.saturation import Counts, SaturationWatch
from load_tests.core.scenarios import ARRIVAL_WARMUP_S
from load_tests.core.thresholds import beyond_hope
from load_tests.engine.capacity_driver import CapacityDriver
from load_tests.engine.distributed import MASTER_LAG_S, SETTLE_TIMEOUT_S, WorkerReporter, WorkerTracker
from load_tests.engine.fleet_users import unique_rows_left
from load_tests.engine.interrupts import Interrupts, restart_usage_monitor
from load_tests.engine.pacing import Pacer, PacingCounts, current_lateness_ms, pace_user_classes
from load_tests.engine.plan_source import current_plan
from load_tests.engine.progress import progress_line, say
from load_tests.engine.recording import RunRecording
from load_tests.engine.shapes import ScenarioShape
from load_tests.engine.tag_filter import apply_tag_filter
from load_tests.reporting import write_reports, write_summary
from load_tests.reporting.text import render_text

logger = logging.getLogger("load_tests")
SAMPLE_INTERVAL_S = 1.0
_installed = False


def _calm_the_collector() -> None:
    """What exists at start (modules, classes, the plan) lives as long as the process: freeze it out of the
    cycle collector's scans, and collect young objects less often. Every request makes short-lived
    objects, and the collector's passes over everything else cost 5 to 8 % of the CPU per streamed token
    at 256 streams (bench/sse_floor.py); cycles among young objects still die young."""
    gc.freeze()
    gc.set_threshold(10_000, 50, 1_000)


class HarnessListener:
    """Per-process state of one run and the Locust events that drive it."""

    def __init__(self, plan: RunPlan) -> None:
        self.plan = plan
        self.scenario = plan.scenario
        self.recording = RunRecording(plan)  # replaced in register() once the role is known
        self.tracker: WorkerTracker | None = None
        self.sampler: gevent.Greenlet | None = None
        self.aborted: str | None = None
        self.pacer: Pacer | None = None
        self.pacing_start: float | None = None
        self.interrupts: Interrupts | None = None
        self.capacity: CapacityDriver | None = None
        self.shape: ScenarioShape | None = None
        self.saturation: SaturationWatch | None = None  # the scenario's stop_when, judged where figures merge
        self.saturated: str | None = None
        self.stopped_at: float | None = None  # epoch of an early stop: nothing counts as scheduled after it
        self.finished_early: str | None = None  # why the run ended before its scenario did, with nothing lost

    def register(self, environment: Environment) -> None:
        _calm_the_collector()
        restart_usage_monitor(environment, self.plan.resources.interval_s)
        self.recording = RunRecording(self.plan, "master" if isinstance(environment.runner, MasterRunner) else "local")
        environment.events.request.add_listener(self.recording.recorder.record)
        shape = environment.shape_class
        self.shape = shape if isinstance(shape, ScenarioShape) else None
        arrival = self.scenario.arrival if self.scenario else None
        if arrival is not None and not isinstance(environment.runner, MasterRunner):
            self.pacer = Pacer(arrival, self.plan.validity.late_ms)
            self.recording.recorder.lateness = current_lateness_ms
            pace_user_classes(environment.user_classes, self.pacer)
        if isinstance(environment.runner, WorkerRunner):
            rows_left = functools.partial(_rows_left, environment)
            WorkerReporter(self.recording.recorder, self.pacer, rows_left).register(environment)
            return
        if isinstance(environment.runner, MasterRunner):
            self._become_master(environment)
        if self.scenario is not None and self.scenario.capacity_settle_s is not None:
            self.capacity = CapacityDriver(self.scenario, self.plan, self.pacer, self.recording.run_time, self.shape)
            self.capacity.register(environment)
        if self.scenario is not None and self.scenario.stop_when:
            self.saturation = SaturationWatch(dict(self.scenario.stop_when))
        environment.events.usage_monitor.add_listener(self.on_usage)
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.quitting.add_listener(self.on_quitting)

    def _become_master(self, environment: Environment) -> None:
        self.recording.lag_s = MASTER_LAG_S
        self.tracker = WorkerTracker(self.recording.recorder, lambda: self.recording.monitor)
        self.tracker.runner = environment.runner
        self.tracker.register(environment)
        if self.shape is not None:
            self.shape.settle_with(self.tracker.settled)

    def on_usage(self, environment: Environment, cpu_usage: float, memory_usage: int, **_: Any) -> None:
        self.recording.on_usage(cpu_usage, memory_usage)

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        if self.recording.running:
            return
        self.recording.start()
        if self.tracker is not None:
            self.tracker.started_epoch = self.recording.started_epoch
        if self.scenario is not None and self.scenario.arrival is not None:
            self.pacing_start = time.time() + ARRIVAL_WARMUP_S  # the pool is spawned first
            if self.tracker is not None:
                self.tracker.assign_pacing(self.pacing_start)
            elif self.pacer is not None:
                self.pacer.start(self.pacing_start)
        self.sampler = gevent.spawn(self._sample_forever, environment)

    def _sample_forever(self, environment: Environment) -> None:
        next_progress = self.plan.progress_interval_s
        while True:
            gevent.sleep(SAMPLE_INTERVAL_S)
            self.recording.tick(_users(environment))
            if self.tracker is not None:
                self.tracker.check_lost()
            t = self.recording.run_time()
            if t >= next_progress:
                next_progress += self.plan.progress_interval_s
                self._print_progress(t, environment)
            if self._abort_if_hopeless(environment, t):
                return
            self._stop_if_saturated(environment, t)
            self._finish_when_used_up(environment)
            if self.capacity is not None:
                self.capacity.judge(self.recording.cpu_series(), time.time())

    def _abort_if_hopeless(self, environment: Environment, t: float) -> bool:
        """Stop the run (gracefully: reports are still written) when the abort rule says it cannot pass."""
        rule = self.plan.thresholds.get("abort")
        if not rule or self.finished_early or environment.runner is None:
            return False
        latest = self.recording.latest()
        reason = beyond_hope(self.recording.recorder.totals(), latest["p95_ms"] if latest else None, rule, t)
        if reason is None:
            return False
        self.aborted = reason
        say(f"Aborting the run: {reason} (thresholds.abort); writing reports...")
        environment.runner.stop()
        return True

    def _stop_if_saturated(self, environment: Environment, t: float) -> None:
        """End the run early (reports still written) when the scenario's stop_when says the service saturated."""
        if self.saturation is None or self.saturated or self.finished_early or environment.runner is None:
            return
        totals = self.recording.recorder.totals()
        pacing = self.tracker.pacing if self.tracker is not None else self.pacer.counts if self.pacer else None
        pacing = pacing or PacingCounts()
        counts = Counts(t, totals["requests"], totals["failures"], pacing.scheduled, pacing.dropped, pacing.late)
        reason = self.saturation.observe(counts)
        if reason is None:
            return
        self.saturated = self.aborted = reason
        say(f"Stopping early: {reason}; writing reports...")
        self._end_early(environment)

    def _finish_when_used_up(self, environment: Environment) -> None:
        """End the run, complete, once every unique row of every service was handed out (k6's shared
        iterations): the users would only idle until the scenario's end, which is then a cap. Closed-model
        runs only: an arrival-rate schedule (and a capacity search) keeps its own length."""
        if self.finished_early or self.aborted or environment.runner is None or self.scenario is None:
            return
        if self.scenario.arrival is not None or self.capacity is not None:
            return
        if self.tracker is not None:
            if not self.tracker.all_rows_sent():
                return
            services = "on every worker"
        else:
            if environment.runner.state != STATE_RUNNING:
                return
            left = unique_rows_left(environment, environment.user_classes)
            if left is None or left[0] > 0:
                return
            services = ", ".join(left[1])
        self.finished_early = "every row of the unique feeds was sent"
        say(f"Every row of the unique feeds was sent ({services}): ending the run; writing reports...")
        self._end_early(environment)

    def _end_early(self, environment: Environment) -> None:
        """Stop scheduling now and let users finish the call in hand; reports are written as at the end."""
        assert environment.runner is not None
        self.stopped_at = time.time()
        if self.pacer is not None:
            self.pacer.stop()
        if self.shape is not None:
            self.shape.request_stop()  # drain: users finish the call in hand
        else:
            environment.runner.stop()

    def _print_progress(self, t: float, environment: Environment) -> None:
        runner = environment.runner
        workers = runner.worker_count if isinstance(runner, MasterRunner) else None
        totals = self.recording.recorder.totals()
        say(progress_line(t, self.scenario, _users(environment), workers, totals, self.recording.latest()))

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if runner is None:
            return
        if self.interrupts is not None:
            self.interrupts.finishing = True
        say("Writing the summary and reports...")
        if runner.state not in (STATE_STOPPED, STATE_STOPPING, STATE_CLEANUP):
            runner.stop()  # Ctrl-C arrives while users run: freeze the figures before summarising
        if self.tracker is not None:
            self._wait_for_workers(time.monotonic())
        if self.sampler is not None:
            self.sampler.kill(block=False)
        try:
            self.finish(environment)
        except Exception:  # never lose the run's exit status to a reporting bug; log it loudly
            logger.exception("writing the run summary failed")
            environment.process_exit_code = EXIT_NO_SUMMARY

    def _wait_for_workers(self, since: float) -> None:
        """Give live workers time to ship their last delta (reports come every 3 s)."""
        assert self.tracker is not None
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while not self.tracker.settled(since) and time.monotonic() < deadline:
            gevent.sleep(0.2)

    def finish(self, environment: Environment) -> None:
        """Close the recording, conclude, write the summary first and then every report."""
        self.recording.close(_users(environment))
        if self.tracker is not None:
            self.tracker.check_lost()
        if self.capacity is not None:
            self.capacity.judge(self.recording.cpu_series(), time.time())  # the last step ends with the run
        record = self._record()
        summary, code = conclude(record, self.plan.thresholds, self.plan.validity)
        write_summary(summary, Path(self.plan.run_dir), self.plan.timestamp)
        environment.process_exit_code = code
        write_reports(summary, Path(self.plan.run_dir), self.plan.timestamp)
        if not self.plan.from_runner:  # the runner prints it after Locust's own tables
            say("\n" + render_text(summary) + f"Reports: {self.plan.run_dir}")

    def _record(self) -> RunRecord:
        """Everything recorded, with the run's facts, as plain data for :func:`conclude`."""
        rec = self.recording
        assert rec.started is not None and rec.timeline is not None and rec.monitor is not None
        duration = time.perf_counter() - rec.started
        partial = bool(self.aborted) or (self.shape is not None and not self.shape.finished and not self.finished_early)
        timeline, endpoint_timeline = rec.timeline.as_lists()
        if self.tracker is None:  # alone, this process made every request
            totals = rec.recorder.totals()
            rec.me.requests, rec.me.failures = totals["requests"], totals["failures"]
        rec.monitor.generators.setdefault(rec.me.name, rec.me)
        for worker in self.tracker.workers.values() if self.tracker is not None else ():
            rec.monitor.generators.setdefault(worker.name, worker)
        meta = {
            "partial": partial,
            "started_at": rec.started_wall.isoformat(timespec="seconds") if rec.started_wall else None,
            "ended_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "scenario": scenario_record(self.scenario),
            "test_types": list(self.plan.test_types) if self.plan.from_runner else self._protocols_seen(),
            "services": self.plan.services.public(),
            "timeline": timeline,
            "endpoint_timeline": endpoint_timeline,
            "aborted": self.aborted,
            "saturated": self.saturated,
            "finished_early": self.finished_early,
            "resources": rec.monitor.as_summary(),
            "workers": {"count": len(self.tracker.workers), "lost": self.tracker.lost()} if self.tracker else None,
            "pacing": self._pacing(),
        }
        capacity = self.capacity.summary() if self.capacity is not None else None
        counts = self._pacing_counts()
        not_started = counts.not_started if counts is not None else None
        return RunRecord(rec.recorder, meta, duration, domain.REGISTRY, capacity, not_started)

    def _protocols_seen(self) -> list[str]:
        """For a plain ``locust -f`` run: the protocols that actually sent requests."""
        return sorted({r.protocol for r in self.recording.recorder.endpoints.values()})

    def _pacing_counts(self) -> PacingCounts | None:
        """What the generators did with the schedule: the master's merge, or this process's own."""
        if self.tracker is not None:
            return self.tracker.pacing
        if self.pacer is not None:
            self.pacer.flush_waiting()  # the run is over: what still waits for a user never started
            return self.pacer.counts
        return None

    def _pacing(self) -> dict[str, Any] | None:
        """The arrival schedule against what the generators did with it (None for closed-model load)."""
        arrival = self.scenario.arrival if self.scenario else None
        if arrival is None:
            return None
        counts = self._pacing_counts() or PacingCounts()
        stopped = self.capacity.stopped_at if self.capacity is not None else self.stopped_at
        until = stopped or time.time()  # a capacity run scheduled nothing after its stop
        ran_s = until - (self.pacing_start or time.time())
        record = pacing_record(arrival, asdict(counts), ran_s, self.plan.validity.late_ms)
        return {**record, "start_epoch": self.pacing_start}  # time_of(k) is relative to this (epoch seconds)


def _rows_left(environment: Environment) -> int | None:
    """A worker's unique rows still to hand out, for its master (None: its users go on regardless)."""
    left = unique_rows_left(environment, environment.user_classes)
    return left[0] if left is not None else None


def _users(environment: Environment) -> int:
    return environment.runner.user_count if environment.runner else 0


def install() -> None:
    """Register the harness listeners once per process (several locustfiles may call this)."""
    global _installed
    if _installed:
        return
    _installed = True

    @events.init.add_listener
    def _on_init(environment: Environment, **_: Any) -> None:
        # Locust's --run-time timer (gevent.spawn_later, set just after this event) counts from the event
        # loop's cached clock, last read when the loop was made, before the locustfiles were imported: on a
        # busy machine that import time was taken off the run (a 4 s run once lasted 0.2 s). Read it now.
        gevent.get_hub().loop.update_now()
        if not isinstance(environment.runner, WorkerRunner):  # a worker spawns only what its master sends
            apply_tag_filter(environment)
        listener = HarnessListener(current_plan())
        listener.register(environment)
        if not isinstance(environment.runner, WorkerRunner):  # workers are stopped by their master
            listener.interrupts = Interrupts()
            listener.interrupts.install()
