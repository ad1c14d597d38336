"""Simulated service times and injectable faults, shared by every protocol of the target.

One :class:`WorkModel` decides, for each call, how long it takes and whether it fails. Tests and
users change it while the target runs (``POST /admin/faults``) to break the service mid-run and heal
it again, so everything here is read per call and never cached by the protocol handlers.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field, replace
from typing import Any

# Per operation: (base ms, jitter ms). Small on purpose: the target must not be the bottleneck.
DEFAULT_SERVICE_TIMES: dict[str, tuple[float, float]] = {
    "health": (0.0, 0.0),
    "model_info": (0.0, 0.0),
    "predict": (2.0, 1.0),
    "evaluate": (4.0, 2.0),
    "chat": (3.0, 1.0),
    "llm": (8.0, 4.0),
    "tts": (4.0, 2.0),
    "stt": (4.0, 2.0),
    "ping": (0.0, 0.0),
    "echo": (0.0, 0.0),
    "load_file": (5.0, 2.0),
    "upload": (2.0, 1.0),
    "session": (1.0, 0.0),  # log in, open or close a gateway session
    "token": (1.0, 0.0),  # gap between two streamed tokens, audio chunks or partial results
}
OPERATIONS = frozenset(DEFAULT_SERVICE_TIMES)
PROTOCOLS = frozenset({"http", "websocket", "socketio", "grpc"})


class InjectedFault(Exception):
    """Raised by :meth:`WorkModel.serve` when the fault knobs say this call fails."""


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and where. ``operations``/``protocols`` of None mean everywhere."""

    error_rate: float = 0.0
    extra_delay_ms: float = 0.0
    drop_rate: float = 0.0
    malformed_rate: float = 0.0  # replies cut short: bad JSON, truncated frames, undecodable protobuf
    reset_rate: float = 0.0  # connections aborted with a TCP reset (HTTP requests, WebSocket messages)
    overload_above: int = 0  # > 0: a call arriving while this many are being served fails (a saturated service)
    operations: frozenset[str] | None = None
    protocols: frozenset[str] | None = None

    def applies_to(self, protocol: str, operation: str | None) -> bool:
        """``operation`` None: a fault below the application, which only the protocol filter limits."""
        return (self.protocols is None or protocol in self.protocols) and (
            self.operations is None or operation is None or operation in self.operations
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "extra_delay_ms": self.extra_delay_ms,
            "drop_rate": self.drop_rate,
            "malformed_rate": self.malformed_rate,
            "reset_rate": self.reset_rate,
            "overload_above": self.overload_above,
            "operations": sorted(self.operations) if self.operations is not None else None,
            "protocols": sorted(self.protocols) if self.protocols is not None else None,
        }


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _subset(name: str, value: Any, valid: frozenset[str]) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v in valid for v in value):
        raise ValueError(f"{name} must be a list drawn from {', '.join(sorted(valid))}, or null for all")
    return frozenset(value)


def parse_faults(data: dict[str, Any], base: Faults | None = None) -> Faults:
    """Validate a ``/admin/faults`` body; keys left out keep their value in ``base``."""
    rates = ("error_rate", "drop_rate", "malformed_rate", "reset_rate")
    unknown = set(data) - {*rates, "extra_delay_ms", "overload_above", "operations", "protocols", "service_times"}
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    faults = base or Faults()
    changes: dict[str, Any] = {}
    for name in rates:
        if name in data:
            changes[name] = _rate(name, data[name])
    if "overload_above" in data:
        value = data["overload_above"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"overload_above must be a whole number >= 0 (0: off), got {value!r}")
        changes["overload_above"] = value
    if "extra_delay_ms" in data:
        changes["extra_delay_ms"] = _non_negative("extra_delay_ms", data["extra_delay_ms"])
    if "operations" in data:
        changes["operations"] = _subset("operations", data["operations"], OPERATIONS)
    if "protocols" in data:
        changes["protocols"] = _subset("protocols", data["protocols"], PROTOCOLS)
    return replace(faults, **changes)


def parse_service_time(spec: str) -> tuple[str, float, float]:
    """Parse ``OPERATION=BASE_MS[:JITTER_MS]`` (the ``--service-time`` flag)."""
    name, sep, value = spec.partition("=")
    if not sep or name not in OPERATIONS:
        raise ValueError(f"service time {spec!r}: use OPERATION=MS[:JITTER] with OPERATION one of {sorted(OPERATIONS)}")
    base, _, jitter = value.partition(":")
    try:
        return name, _non_negative("base", float(base)), _non_negative("jitter", float(jitter or 0))
    except ValueError as exc:
        raise ValueError(f"service time {spec!r}: {exc}") from exc


@dataclass
class WorkModel:
    """Service times plus the current faults; ``serve`` applies both to one call."""

    service_times: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_SERVICE_TIMES))
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=random.Random)

    def delay_s(self, protocol: str, operation: str) -> float:
        base, jitter = self.service_times[operation]
        ms = base + (self.rng.uniform(-jitter, jitter) if jitter else 0.0)
        if self.faults.extra_delay_ms and self.faults.applies_to(protocol, operation):
            ms += self.faults.extra_delay_ms
        return max(ms, 0.0) / 1000.0

    def should_fail(self, protocol: str, operation: str) -> bool:
        f = self.faults
        return f.error_rate > 0 and f.applies_to(protocol, operation) and self.rng.random() < f.error_rate

    def should_drop(self, protocol: str, operation: str) -> bool:
        return self._draw(self.faults.drop_rate, protocol, operation)

    def should_malform(self, protocol: str, operation: str | None = None) -> bool:
        return self._draw(self.faults.malformed_rate, protocol, operation)

    def should_reset(self, protocol: str, operation: str | None = None) -> bool:
        return self._draw(self.faults.reset_rate, protocol, operation)

    def _draw(self, rate: float, protocol: str, operation: str | None) -> bool:
        return rate > 0 and self.faults.applies_to(protocol, operation) and self.rng.random() < rate

    def fault_delay_s(self, protocol: str, operation: str) -> float:
        """The injected ``extra_delay_ms`` alone, for calls whose own timing lies elsewhere (the LLM clock)."""
        applies = self.faults.extra_delay_ms and self.faults.applies_to(protocol, operation)
        return self.faults.extra_delay_ms / 1000.0 if applies else 0.0

    async def serve(self, protocol: str, operation: str, timed: bool = True) -> None:
        """Spend the call's service time (if ``timed``; the injected extra delay in any case: chat streams keep
        their own clock but are still slowed by the fault), then raise InjectedFault if this call is chosen."""
        delay = self.delay_s(protocol, operation) if timed else self.fault_delay_s(protocol, operation)
        if delay:
            await asyncio.sleep(delay)
        if self.should_fail(protocol, operation):
            raise InjectedFault(f"injected fault in {protocol} {operation}")

    async def token_gap(self) -> None:
        """The pause between two messages of a stream (no faults: a stream fails at its start)."""
        base, jitter = self.service_times["token"]
        ms = base + (self.rng.uniform(-jitter, jitter) if jitter else 0.0)
        if ms > 0:
            await asyncio.sleep(ms / 1000.0)

    def update(self, data: dict[str, Any]) -> None:
        """Apply an admin update (faults and, optionally, service times) atomically or not at all."""
        faults = parse_faults(data, self.faults)
        times = dict(self.service_times)
        for name, value in (data.get("service_times") or {}).items():
            if name not in OPERATIONS or not isinstance(value, list) or len(value) != 2:
                raise ValueError(
                    f"service_times.{name}: use an operation from {sorted(OPERATIONS)} and [base_ms, jitter_ms]"
                )
            times[name] = (
                _non_negative(f"service_times.{name}", value[0]),
                _non_negative(f"service_times.{name}", value[1]),
            )
        self.faults, self.service_times = faults, times

    def as_dict(self) -> dict[str, Any]:
        return {**self.faults.as_dict(), "service_times": {k: list(v) for k, v in sorted(self.service_times.items())}}
