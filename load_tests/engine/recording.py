"""What one Locust process records while the run goes on: requests, the timeline and resources.

:class:`RunRecording` owns the exact recorder (fed by Locust's request event), the per-second timeline
and the resource monitor. The harness calls :meth:`RunRecording.tick` once a second and
:meth:`RunRecording.close` at the end; a master's recorder also receives its workers' deltas.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any

from load_tests.core.llm_metrics import Slo
from load_tests.core.plan import RunPlan
from load_tests.core.recorder import ENDPOINT_BUCKET_S, Recorder
from load_tests.core.timeline import Timeline
from load_tests.engine.resources import Generator, LoopLagProbe, ResourceMonitor


class RunRecording:
    def __init__(self, plan: RunPlan, role: str = "local") -> None:
        self.plan = plan
        self.recorder = Recorder(include_connections=plan.count_connections, llm_slo=Slo.from_dict(plan.llm_slo))
        self.me = Generator(role, role, os.getpid(), socket.gethostname())
        self.lag_s = 0  # a master waits this long for its workers' windows before closing a second
        self.timeline: Timeline | None = None
        self.monitor: ResourceMonitor | None = None
        self.lag_probe = LoopLagProbe()  # this process's timing error, next to its CPU (engine/resources.py)
        self.started: float | None = None  # perf_counter at the test's start
        self.started_epoch: float | None = None
        self.started_wall: datetime | None = None
        self._seen_usage = False

    @property
    def running(self) -> bool:
        return self.started is not None

    def start(self) -> None:
        self.started, self.started_wall = time.perf_counter(), datetime.now().astimezone()
        self.started_epoch = time.time()
        self.timeline = Timeline(self.started_epoch, self.plan.scenario)
        self.monitor = ResourceMonitor.from_plan(self.started_epoch, self.plan.resources)
        self.lag_probe.start()

    def run_time(self) -> float:
        """Seconds since the test started (0 before)."""
        return time.perf_counter() - self.started if self.started is not None else 0.0

    def on_usage(self, cpu_usage: float, memory_usage: int) -> None:
        """Locust's CPU/RSS sample of this process; its first CPU figure is always 0 (psutil starts then)."""
        if self.monitor is None:
            return
        seen, self._seen_usage = self._seen_usage, True
        lag = self.lag_probe.take()
        if seen:
            self.monitor.add_generator_sample(self.me, time.time(), cpu_usage, memory_usage, lag)

    def tick(self, users: int) -> None:
        """Once a second: users, finished windows into the timeline, resources when due."""
        assert self.timeline is not None and self.monitor is not None
        now = time.time()
        self.timeline.note_users(now, users)
        self.drain()
        if self.monitor.due(now):
            self.monitor.sample(now)

    def drain(self, final: bool = False) -> None:
        """Turn finished windows into timeline points (a master waits ``lag_s`` for its workers')."""
        assert self.timeline is not None
        now = time.time()
        before = int(now) + 1 if final else int(now) - self.lag_s
        self.timeline.add_seconds(self.recorder.drain_seconds(before), now)
        bucket_before = int(now // ENDPOINT_BUCKET_S) + 1 if final else int((now - self.lag_s) // ENDPOINT_BUCKET_S)
        self.timeline.add_endpoint_buckets(self.recorder.drain_endpoint_buckets(bucket_before), now)

    def close(self, users: int) -> None:
        """The last sample of everything; the recording is complete after this."""
        if self.started is None:  # quit before any user started
            self.start()
        assert self.timeline is not None and self.monitor is not None
        self.timeline.note_users(time.time(), users)
        self.drain(final=True)
        self.monitor.sample()
        self.monitor.close()
        self.lag_probe.stop()

    def cpu_series(self) -> list[list[float]]:
        assert self.monitor is not None
        return self.monitor.series.get(f"generator.{self.me.name}.cpu_percent", [])

    def latest(self) -> dict[str, Any] | None:
        return self.timeline.latest() if self.timeline is not None else None
