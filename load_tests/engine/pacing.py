"""Open-model load on Locust users: iterations start on a schedule, not when the last reply came.

Each Locust process that runs users has one :class:`Pacer`. Its greenlet walks the schedule of the
scenario's :class:`~load_tests.core.scenarios.Arrival` (iteration ``k`` is due at ``time_of(k)``; with N
workers, worker ``i`` takes every ``k`` with ``k % N == i``, so the split is exact and interleaved)
and hands each due iteration to an idle user of the pool. With no user idle the iteration waits in a
backlog, bounded by the pool size; beyond that it is **dropped** (counted, never silently delayed).
Dropped iterations, and those still waiting when the run stops, keep their intended start times
(``not_started``, in 10 ms buckets) so the corrected figures can count them at a lower bound.

A user of the pool waits for its next iteration in ``wait_time`` (so Locust stops an idle user at
once), then runs one task. The iteration's lateness (actual start minus intended start) is kept on
the user's greenlet; the recorder adds it to every response time of the iteration, giving the
**corrected** response time (from the intended start, as wrk2 measures) beside the service time
(send to reply). Coordinated omission shows as the gap between the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.queue import Queue
from locust import User

from load_tests.core.scenarios import Arrival

_LATENESS_ATTR = "load_tests_lateness_ms"
_ITERATION_ATTR = "load_tests_iteration"


def current_lateness_ms() -> float | None:
    """The lateness of the iteration the calling greenlet runs, or None outside a paced iteration."""
    return getattr(gevent.getcurrent(), _LATENESS_ATTR, None)


def current_iteration() -> int | None:
    """The schedule's index ``k`` of the iteration the calling greenlet runs (the same in every process:
    with a trace, its row), or None outside a paced iteration."""
    return getattr(gevent.getcurrent(), _ITERATION_ATTR, None)


@dataclass
class PacingCounts:
    """What one process did with its share of the schedule (shipped to the master as deltas)."""

    scheduled: int = 0
    started: int = 0
    dropped: int = 0
    late: int = 0
    lateness_max_ms: float = 0.0
    # intended start (epoch, in 10 ms units, as a string: it travels in msgpack) -> iterations never started
    not_started: dict[str, int] = field(default_factory=dict)

    def note_not_started(self, intended_epoch: float) -> None:
        key = str(int(intended_epoch * 100))
        self.not_started[key] = self.not_started.get(key, 0) + 1

    def add(self, other: PacingCounts) -> None:
        self.scheduled += other.scheduled
        self.started += other.started
        self.dropped += other.dropped
        self.late += other.late
        self.lateness_max_ms = max(self.lateness_max_ms, other.lateness_max_ms)
        for key, n in other.not_started.items():
            self.not_started[key] = self.not_started.get(key, 0) + n

    def take(self) -> PacingCounts:
        delta = PacingCounts(self.scheduled, self.started, self.dropped, self.late, self.lateness_max_ms,
                             self.not_started)  # fmt: skip
        self.scheduled = self.started = self.dropped = self.late = 0
        self.lateness_max_ms = 0.0
        self.not_started = {}
        return delta


class Pacer:
    """Hands out this process's share of the schedule to the pool of users."""

    def __init__(self, arrival: Arrival, late_ms: float) -> None:
        self.arrival, self.late_ms = arrival, late_ms
        self.backlog: Queue[tuple[float, int]] = Queue()  # (intended start epoch, iteration k)
        self.counts = PacingCounts()
        self._greenlet: gevent.Greenlet | None = None

    def start(self, start_epoch: float, index: int = 0, count: int = 1) -> None:
        """Begin (or, after a change of workers, re-plan) this process's share from ``start_epoch``."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        self._greenlet = gevent.spawn(self._run, start_epoch, index, max(count, 1))

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def _run(self, start_epoch: float, index: int, count: int) -> None:
        # re-planned mid-run (a worker was lost): carry on from now, not from the schedule's start
        first = self.arrival.scheduled_until(max(time.time() - start_epoch, 0.0))
        k = first + (index - first) % count
        pool = self.arrival.max_users
        while True:
            due = self.arrival.time_of(k)
            if due is None:
                return
            delay = start_epoch + due - time.time()
            if delay > 0:
                gevent.sleep(delay)
            self.counts.scheduled += 1
            if self.backlog.qsize() >= pool:  # every user busy and as many iterations already waiting
                self.counts.dropped += 1
                self.counts.note_not_started(start_epoch + due)
            else:
                self.backlog.put((start_epoch + due, k))
            k += count

    def flush_waiting(self) -> None:
        """At the end: iterations still waiting for a user never started; note them and stop scheduling."""
        self.stop()
        while not self.backlog.empty():
            self.counts.note_not_started(self.backlog.get_nowait()[0])

    def next_iteration(self) -> None:
        """Block until an iteration is due for the calling user; note its lateness and index on the greenlet."""
        intended, k = self.backlog.get()
        lateness_ms = max((time.time() - intended) * 1000.0, 0.0)
        self.counts.started += 1
        if lateness_ms > self.late_ms:
            self.counts.late += 1
        self.counts.lateness_max_ms = max(self.counts.lateness_max_ms, lateness_ms)
        setattr(gevent.getcurrent(), _LATENESS_ATTR, lateness_ms)
        setattr(gevent.getcurrent(), _ITERATION_ATTR, k)


def pace_user_classes(user_classes: list[type[User]], pacer: Pacer) -> None:
    """Make every user class of this process take its iterations from ``pacer``.

    ``wait_time`` blocks until the next iteration (Locust counts a user in ``wait_time`` as waiting,
    so it stops it at once at the end); ``on_start`` ends with a wait too, so the first task of a
    user is paced like the others. Tasks and tags are left alone.
    """

    def paced_wait(self: User) -> float:
        pacer.next_iteration()
        return 0.0

    for cls in user_classes:
        original_on_start = getattr(cls.on_start, "__wrapped__", cls.on_start)  # a subclass of a paced class

        def on_start(self: User, _original: Any = original_on_start) -> None:
            _original(self)
            pacer.next_iteration()

        on_start.__wrapped__ = original_on_start  # type: ignore[attr-defined]
        cls.wait_time = paced_wait  # type: ignore[method-assign,assignment]
        cls.on_start = on_start  # type: ignore[method-assign]
