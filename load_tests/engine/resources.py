"""What the generator and the target were doing while the run measured latency.

Series (one flat name each, sampled every ``resources.interval`` seconds, default 2):

- ``generator.<process>.cpu_percent`` / ``.rss_mb``: every Locust process (``local``, or ``master``
  and ``worker-<n>``), from Locust's own ``usage_monitor`` event; workers ship theirs to the master;
- ``generator.<process>.loop_lag_ms``: the p99, over each interval, of how late that process's gevent
  loop woke a greenlet that asked to sleep :data:`LAG_PROBE_S` (:class:`LoopLagProbe`). A reply that
  lands while the loop is busy waits just as long before its greenlet reads the clock, so this is the
  error the generator adds to every message's, chunk's and token's time (core/validity.py judges it);
- ``target.cpu_percent`` / ``target.rss_mb``: the target's process (psutil), when the runner started
  it or ``--target-pid`` names it;
- ``metrics.<name>``: figures scraped from a Prometheus ``/metrics`` endpoint (gauges as they are,
  counters as a rate per second, each summed over its label sets), for example the DB pool gauges;
- ``gpu<i>.utilization_pct`` / ``gpu<i>.memory_used_mb``: NVIDIA GPUs of this host via nvidia-ml-py.
  Without a GPU (or the driver) the report says "no GPU" and nothing fails.

Sampling never raises into the run: a scrape that fails is counted and the run goes on.
"""

from __future__ import annotations

import contextlib
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import gevent
import psutil

from load_tests.core.plan import ResourcesPlan

MAX_SCRAPED_SERIES = 50
LAG_PROBE_S = 0.01  # 100 wake-ups a second: a few µs of CPU each, and 200 samples per 2 s interval
_SKIPPED_PREFIXES = ("python_gc", "python_info")


class ProcessSampler:
    """CPU (% of one core, like Locust's) and RSS of one process, by PID."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.gone_reason: str | None = None
        try:
            self.process: psutil.Process | None = psutil.Process(pid)
            self.process.cpu_percent(None)  # the first call only starts the measurement
        except (psutil.Error, ValueError) as exc:
            self.process, self.gone_reason = None, f"cannot watch pid {pid}: {type(exc).__name__}"

    def sample(self) -> tuple[float, float] | None:
        if self.process is None:
            return None
        try:
            with self.process.oneshot():
                return self.process.cpu_percent(None), self.process.memory_info().rss / 1e6
        except psutil.Error as exc:
            self.process, self.gone_reason = None, f"pid {self.pid} ended ({type(exc).__name__})"
            return None


class LoopLagProbe:
    """How late this process's event loop runs a greenlet that is due: a greenlet sleeps ``interval_s`` again
    and again and keeps each overshoot (ms). :meth:`take` gives the p99 of those since the last take.

    Why a timer, not a CPU figure: a process at 60 % CPU can still hold a ready greenlet for 20 ms (one
    long callback, 5,000 streams woken at once), and at 100 % CPU its lag may stay small. The overshoot is
    measured the way a stream's chunk is timed, by a greenlet reading the clock once the loop lets it run.
    It runs in the process that starts it (:meth:`start`, or the first :meth:`take`, which gives None).
    """

    def __init__(self, interval_s: float = LAG_PROBE_S) -> None:
        self.interval_s = interval_s
        self._lags_ms: list[float] = []
        self._greenlet: gevent.Greenlet | None = None

    def _run(self) -> None:
        interval = self.interval_s
        while True:
            before = time.perf_counter()
            gevent.sleep(interval)
            self._lags_ms.append(max((time.perf_counter() - before - interval) * 1000.0, 0.0))

    def start(self) -> None:
        """Start sampling in this process (once; later calls do nothing)."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def take(self) -> float | None:
        """The p99 overshoot (ms) since the last call; None when nothing was sampled (or not yet started)."""
        if self._greenlet is None:
            self.start()
            return None
        lags, self._lags_ms = self._lags_ms, []
        if not lags:
            return None
        lags.sort()
        return lags[min(len(lags) - 1, int(0.99 * len(lags)))]

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)


class PrometheusScraper:
    """Reads a Prometheus text endpoint: gauges as they are, counters as rates between two scrapes."""

    def __init__(self, url: str, names: list[str] | None, timeout_s: float = 2.0) -> None:
        self.url, self.names, self.timeout_s = url, set(names) if names else None, timeout_s
        self.errors = 0
        self.last_error: str | None = None
        self.kinds: dict[str, str] = {}
        self._previous: dict[str, tuple[float, float]] = {}
        self._last_ok: float | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy

    def _fetch(self) -> str:
        with self._opener.open(self.url, timeout=self.timeout_s) as response:
            return response.read().decode("utf-8", "replace")

    def _sums(self, text: str) -> dict[str, tuple[str, float]]:
        from prometheus_client.parser import text_string_to_metric_families

        sums: dict[str, tuple[str, float]] = {}
        for family in text_string_to_metric_families(text):
            if family.type not in ("gauge", "counter") or family.name.startswith(_SKIPPED_PREFIXES):
                continue
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                if self.names is not None and sample.name not in self.names and family.name not in self.names:
                    continue
                kind, total = sums.get(sample.name, (family.type, 0.0))
                sums[sample.name] = (kind, total + float(sample.value))
        return sums

    def scrape(self, epoch: float) -> dict[str, float]:
        try:
            sums = self._sums(self._fetch())
        except Exception as exc:  # unreachable, HTTP error, bad text: count it, keep the run going
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {str(exc)[:120]}"
            return {}
        out: dict[str, float] = {}
        for name, (kind, value) in sorted(sums.items())[:MAX_SCRAPED_SERIES]:
            if kind == "counter":
                self.kinds[name] = "rate"
                # a labelled counter appears at its first increment: absent last time means it was 0
                before = self._previous.get(name) or ((self._last_ok, 0.0) if self._last_ok is not None else None)
                self._previous[name] = (epoch, value)
                if before is not None and epoch > before[0]:
                    out[name] = max(value - before[1], 0.0) / (epoch - before[0])
            else:
                self.kinds[name] = "gauge"
                out[name] = value
        self._last_ok = epoch
        return out


class GpuSampler:
    """NVIDIA GPUs of this host through NVML (nvidia-ml-py); ``available`` False says why not."""

    def __init__(self, enabled: bool = True) -> None:
        self.available, self.reason, self.devices = False, "no GPU: GPU sampling disabled in the config", []
        self._handles: list[Any] = []
        if not enabled:
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
        except Exception as exc:  # no library, no driver, no device: all mean "no GPU here"
            self.reason = f"no GPU: NVML unavailable ({type(exc).__name__}: {str(exc)[:100]})"
            return
        if count == 0:
            self.reason = "no GPU: NVML found no device"
            return
        self._nvml = pynvml
        for i in range(count):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            self._handles.append(handle)
            self.devices.append({"index": i, "name": name if isinstance(name, str) else name.decode(),
                                 "memory_total_mb": memory.total / 1e6})  # fmt: skip
        self.available, self.reason = True, f"{count} GPU(s)"

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, handle in enumerate(self._handles):
            try:
                out[f"gpu{i}.utilization_pct"] = float(self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                out[f"gpu{i}.memory_used_mb"] = self._nvml.nvmlDeviceGetMemoryInfo(handle).used / 1e6
            except Exception:  # a device that stops answering mid-run: skip this sample
                continue
        return out

    def close(self) -> None:
        if self._handles:
            with contextlib.suppress(Exception):  # closing is best effort
                self._nvml.nvmlShutdown()


@dataclass
class Generator:
    """One Locust process: where it runs and, for workers, what it measured and whether it was lost."""

    name: str
    role: str
    pid: int | None = None
    host: str | None = None
    requests: int = 0
    failures: int = 0
    lost_at_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        status = f"lost at {self.lost_at_s:.1f}s" if self.lost_at_s is not None else "ok"
        return {"name": self.name, "role": self.role, "pid": self.pid, "host": self.host, "requests": self.requests,
                "failures": self.failures, "status": status, "lost_at_s": self.lost_at_s}  # fmt: skip


@dataclass
class ResourceMonitor:
    """Collects every series of a run; ``sample`` is called by the harness every ``interval_s``."""

    started_epoch: float
    interval_s: float = 2.0
    target_pid: int | None = None
    metrics_url: str | None = None
    metrics: list[str] | None = None
    gpu: bool = True
    series: dict[str, list[list[float]]] = field(default_factory=dict)
    generators: dict[str, Generator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._target = ProcessSampler(self.target_pid) if self.target_pid else None
        self._scraper = PrometheusScraper(self.metrics_url, self.metrics) if self.metrics_url else None
        self._gpu = GpuSampler(self.gpu)
        self._last_sample = 0.0

    @classmethod
    def from_plan(cls, started_epoch: float, plan: ResourcesPlan) -> ResourceMonitor:
        metrics = list(plan.metrics) if plan.metrics is not None else None
        return cls(started_epoch, plan.interval_s, plan.target_pid, plan.metrics_url, metrics, plan.gpu)

    def _add(self, name: str, epoch: float, value: float) -> None:
        self.series.setdefault(name, []).append([round(epoch - self.started_epoch, 3), round(value, 3)])

    def add_generator_sample(self, process: Generator, epoch: float, cpu_percent: float, rss_bytes: float,
                             loop_lag_ms: float | None = None) -> None:  # fmt: skip
        """One ``usage_monitor`` sample of a Locust process; ``loop_lag_ms`` from its :class:`LoopLagProbe`."""
        self.generators.setdefault(process.name, process)
        self._add(f"generator.{process.name}.cpu_percent", epoch, cpu_percent)
        self._add(f"generator.{process.name}.rss_mb", epoch, rss_bytes / 1e6)
        if loop_lag_ms is not None:
            self._add(f"generator.{process.name}.loop_lag_ms", epoch, loop_lag_ms)

    def due(self, epoch: float) -> bool:
        return epoch - self._last_sample >= self.interval_s

    def sample(self, epoch: float | None = None) -> None:
        """One sample of the target process, the scraped metrics and the GPUs."""
        epoch = time.time() if epoch is None else epoch
        self._last_sample = epoch
        if self._target is not None:
            figures = self._target.sample()
            if figures is not None:
                self._add("target.cpu_percent", epoch, figures[0])
                self._add("target.rss_mb", epoch, figures[1])
        if self._scraper is not None:
            for name, value in self._scraper.scrape(epoch).items():
                self._add(f"metrics.{name}", epoch, value)
        for name, value in self._gpu.sample().items():
            self._add(name, epoch, value)

    def close(self) -> None:
        self._gpu.close()

    def as_summary(self) -> dict[str, Any]:
        stats = {}
        for name, points in sorted(self.series.items()):
            values = [v for _, v in points]
            stats[name] = {"min": min(values), "avg": sum(values) / len(values), "max": max(values),
                           "last": values[-1], "samples": len(values)}  # fmt: skip
        target: dict[str, Any] | None = None
        if self._target is not None:
            target = {"pid": self.target_pid, "status": self._target.gone_reason or "sampled"}
        metrics: dict[str, Any] | None = None
        if self._scraper is not None:
            metrics = {"url": self.metrics_url, "kinds": dict(sorted(self._scraper.kinds.items())),
                       "errors": self._scraper.errors, "last_error": self._scraper.last_error}  # fmt: skip
        return {
            "interval_s": self.interval_s,
            "series": dict(sorted(self.series.items())),
            "stats": stats,
            "generators": [g.as_dict() for g in sorted(self.generators.values(), key=_generator_order)],
            "target": target,
            "metrics": metrics,
            "gpu": {"available": self._gpu.available, "reason": self._gpu.reason, "devices": self._gpu.devices},
        }


def _generator_order(g: Generator) -> tuple[int, int, str]:
    return ({"local": 0, "master": 0}.get(g.role, 1), len(g.name), g.name)  # worker-2 before worker-10
