"""Signals and Locust's usage monitor: the two places where the harness bends Locust's process defaults."""

from __future__ import annotations

import os
import signal
import sys

import gevent
import locust.runners
from locust.env import Environment


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
