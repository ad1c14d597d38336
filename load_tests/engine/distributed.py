"""Locust master/worker glue: workers ship exact deltas, the master merges them and watches for losses.

Locust's own engine distributes the users; its rounded stats are not what we report. Each worker adds
to every ``report_to_master`` (about every 3 s) the requests it recorded since the last report, as a
:mod:`load_tests.core.wire` delta with HDR histograms and wall-clock windows, plus its CPU/RSS samples
from Locust's ``usage_monitor``. The master merges the deltas into its recorder, so percentiles of the
merged run are exact. A worker that stops sending heartbeats (Locust marks it ``missing``) is reported
as lost, with the time; what it measured after its last report is gone with it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from locust.env import Environment
from locust.runners import STATE_MISSING, WORKER_REPORT_INTERVAL, MasterRunner

from load_tests.core import domain
from load_tests.core.recorder import Recorder
from load_tests.core.wire import encode_delta, merge_delta
from load_tests.engine.pacing import Pacer, PacingCounts
from load_tests.engine.resources import Generator, LoopLagProbe, ResourceMonitor

logger = logging.getLogger("load_tests")
PAYLOAD_KEY = "load_tests"
PACING_MESSAGE = "load_tests_pacing"  # master -> worker: your share of the arrival schedule
MASTER_LAG_S = int(WORKER_REPORT_INTERVAL) + 2  # windows younger than this may still be on their way
SETTLE_TIMEOUT_S = 2 * WORKER_REPORT_INTERVAL + 2


class WorkerReporter:
    """Worker side: everything recorded since the last report, shipped with the next one."""

    def __init__(
        self, recorder: Recorder, pacer: Pacer | None = None, rows_left: Callable[[], int | None] | None = None
    ) -> None:
        self.recorder = recorder
        self.pacer = pacer
        self.rows_left = rows_left  # unique rows this worker has still to send (None: its users go on anyway)
        self.usage: list[list[float | None]] = []  # [epoch, CPU %, RSS bytes, loop lag p99 ms]
        self.first_usage = True
        self.lag_probe = LoopLagProbe()
        self.environment: Environment | None = None

    def register(self, environment: Environment) -> None:
        self.environment = environment
        self.lag_probe.start()
        environment.events.usage_monitor.add_listener(self.on_usage)
        environment.events.report_to_master.add_listener(self.on_report)
        if self.pacer is not None and environment.runner is not None:
            environment.runner.register_message(PACING_MESSAGE, self.on_pacing)

    def on_pacing(self, environment: Environment, msg: Any, **_: Any) -> None:
        assert self.pacer is not None
        self.pacer.start(msg.data["start_epoch"], msg.data["index"], msg.data["count"])

    def on_usage(self, environment: Environment, cpu_usage: float, memory_usage: int, **_: Any) -> None:
        lag = self.lag_probe.take()
        if self.first_usage:  # psutil's first CPU figure is always 0: it only starts the measurement
            self.first_usage = False
            return
        self.usage.append([time.time(), cpu_usage, memory_usage, lag])

    def on_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        runner = self.environment.runner if self.environment else None
        if self.pacer is not None and runner is not None and runner.user_count == 0 and not self.pacer.backlog.empty():
            self.pacer.flush_waiting()  # the pool is gone: what still waits will never start
        usage, self.usage = self.usage, []
        data[PAYLOAD_KEY] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "users": runner.user_count if runner else 0,
            "usage": usage,
            "delta": encode_delta(self.recorder.take()),
            "pacing": asdict(self.pacer.counts.take()) if self.pacer else None,
            "custom": domain.REGISTRY.take().encode(),
            "rows_left": self.rows_left() if self.rows_left else None,
        }


class WorkerTracker:
    """Master side: merges worker deltas, keeps per-worker figures, notices lost workers."""

    def __init__(self, recorder: Recorder, monitor: Callable[[], ResourceMonitor | None]) -> None:
        self.recorder = recorder
        self.monitor = monitor  # the run's resource monitor, which exists only once the test starts
        self.workers: dict[str, Generator] = {}
        self.last_report: dict[str, tuple[float, int]] = {}  # client id -> (monotonic time, users)
        self.started_epoch: float | None = None
        self.runner: MasterRunner | None = None
        self.pacing = PacingCounts()
        self.pacing_start: float | None = None
        self.rows_left: dict[str, int | None] = {}  # client id -> unique rows it had left at its last report

    def register(self, environment: Environment) -> None:
        environment.events.worker_report.add_listener(self.on_worker_report)

    def _generator(self, client_id: str, payload: dict[str, Any]) -> Generator:
        worker = self.workers.get(client_id)
        if worker is None:
            index = self.runner.get_worker_index(client_id) + 1 if self.runner else len(self.workers) + 1
            worker = self.workers[client_id] = Generator(f"worker-{index}", "worker", payload.get("pid"),
                                                         payload.get("host"))  # fmt: skip
        return worker

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        payload = data.get(PAYLOAD_KEY)
        if not payload:
            return
        worker = self._generator(client_id, payload)
        totals = merge_delta(self.recorder, payload["delta"])  # straight into the run's recorder
        worker.requests += totals["requests"]
        worker.failures += totals["failures"]
        if payload.get("custom"):
            domain.REGISTRY.merge(domain.DomainMetrics.decode(payload["custom"]))
        self.last_report[client_id] = (time.monotonic(), int(payload.get("users") or 0))
        self.rows_left[client_id] = payload.get("rows_left")
        if payload.get("pacing"):
            self.pacing.add(PacingCounts(**payload["pacing"]))
        monitor = self.monitor()
        if monitor is not None:
            for epoch, cpu, rss, *lag in payload.get("usage", []):
                monitor.add_generator_sample(worker, epoch, cpu, rss, lag[0] if lag else None)

    def all_rows_sent(self) -> bool:
        """Every live worker has handed out all of its share of the unique rows, and none was lost (its
        unsent rows would be missing)."""
        live = [c.id for c in self.runner.clients.all if c.state != STATE_MISSING] if self.runner else []
        return bool(live) and not self.lost() and all(self.rows_left.get(client_id) == 0 for client_id in live)

    def assign_pacing(self, start_epoch: float) -> None:
        """Give each live worker its share of the arrival schedule (every N-th iteration, offset i)."""
        assert self.runner is not None
        self.pacing_start = start_epoch
        clients = sorted((c for c in self.runner.clients.all if c.state != STATE_MISSING), key=lambda c: c.id)
        for index, client in enumerate(clients):
            data = {"start_epoch": start_epoch, "index": index, "count": len(clients)}
            self.runner.send_message(PACING_MESSAGE, data, client_id=client.id)

    def check_lost(self) -> None:
        """Mark workers Locust considers missing (no heartbeat for about 3 s) as lost, once."""
        if self.runner is None:
            return
        for client in self.runner.clients.all:
            if client.state != STATE_MISSING:
                continue
            worker = self.workers.get(client.id) or self._generator(client.id, {})
            if worker.lost_at_s is None:
                worker.lost_at_s = time.time() - (self.started_epoch or time.time())
                message = (
                    f"worker {worker.name} (pid {worker.pid}) was lost at {worker.lost_at_s:.1f}s; the run goes "
                    "on without it, and what it measured since its last report is missing"
                )
                logger.warning(message)
                sys.stdout.write(f"WARNING: {message}\n")
                sys.stdout.flush()
                if self.pacing_start is not None:  # the others take over its share of the schedule
                    self.assign_pacing(self.pacing_start)

    def settled(self, since: float) -> bool:
        """Every live worker has reported, after ``since`` (monotonic), with no user left running."""
        if self.runner is None:
            return True
        for client in self.runner.clients.all:
            if client.state == STATE_MISSING:
                continue
            at, users = self.last_report.get(client.id, (0.0, 1))
            if at < since or users:
                return False
        return True

    def lost(self) -> list[dict[str, Any]]:
        return [w.as_dict() for w in self.workers.values() if w.lost_at_s is not None]
