"""Random arrival processes and timestamped traces: the open model's schedule beyond a constant rate.

A Poisson or gamma schedule must be the same in every Locust process, or the split of iterations
between workers (worker ``i`` of ``N`` takes every ``k`` with ``k % N == i``) would lose or repeat
some. So the randomness is a pure function of a seed: :func:`unit_arrival` gives ``S_k``, the
``k``-th arrival of a *unit-rate* renewal process (``S_0 = 0``, then iid gaps of mean 1: exponential
for Poisson, gamma of shape ``burstiness`` and scale ``1/burstiness`` for gamma, vLLM's
``--burstiness``). The scenario maps it through the inverse of its scheduled count ``Λ(t)`` (the
integral of the rate): iteration ``k`` is due at ``Λ⁻¹(S_k)``. At a constant rate ``r`` the gaps are
then exponential (or gamma) with mean ``1/r``; on a ramp the process is the matching inhomogeneous one.

Gaps are drawn in chunks, each from its own generator seeded with ``[seed, chunk]``, so ``S_k`` never
depends on how far a process has looked ahead. A burstiness below 1 is burstier than Poisson (the
gaps' coefficient of variation is ``1/sqrt(burstiness)``), above 1 more regular.

A trace is a JSON Lines file, one request per line, in the order they arrive:
``{"offset_s": 0.25, "input_tokens": 512, "output_tokens": 128}``. ``timestamp`` (milliseconds, as in
the Mooncake traces) may stand for ``offset_s``: offsets are then counted from the first row's
timestamp. ``input_length``/``output_length`` are accepted for the token counts. :func:`load_trace`
reads it once per process (cached) and names the file, line and field of any mistake.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from load_tests.core.errors import ConfigError

PROCESSES = ("constant", "poisson", "gamma")
CHUNK = 4096  # gaps drawn per chunk


class _Sequence:
    """The unit-rate arrivals of one (process, burstiness, seed), generated chunk by chunk on demand."""

    def __init__(self, process: str, burstiness: float, seed: int) -> None:
        self.process, self.burstiness, self.seed = process, burstiness, seed
        self.times: list[np.ndarray] = []
        self.end = 0.0  # sum of every gap drawn so far

    def _grow(self) -> None:
        rng = np.random.default_rng([self.seed, len(self.times)])
        if self.process == "poisson":
            gaps = rng.exponential(1.0, CHUNK)
        else:
            gaps = rng.gamma(self.burstiness, 1.0 / self.burstiness, CHUNK)
        cumulative = np.cumsum(gaps)
        self.times.append(self.end + np.concatenate(([0.0], cumulative[:-1])))
        self.end += float(cumulative[-1])

    def at(self, k: int) -> float:
        chunk, index = divmod(k, CHUNK)
        while len(self.times) <= chunk:
            self._grow()
        return float(self.times[chunk][index])

    def count_below(self, s: float) -> int:
        """How many arrivals come before unit time ``s``."""
        while self.end < s:
            self._grow()
        for chunk, times in enumerate(self.times):
            if times[-1] >= s or chunk == len(self.times) - 1:
                return chunk * CHUNK + int(np.searchsorted(times, s, side="left"))
        return 0


@functools.lru_cache(maxsize=32)
def _sequence(process: str, burstiness: float, seed: int) -> _Sequence:
    return _Sequence(process, burstiness, seed)


def unit_arrival(process: str, burstiness: float, seed: int, k: int) -> float:
    """``S_k``: the ``k``-th arrival (from 0) of the unit-rate renewal process; ``k`` itself when constant."""
    if process == "constant":
        return float(k)
    return _sequence(process, burstiness, seed).at(k)


def unit_count_below(process: str, burstiness: float, seed: int, s: float) -> int:
    """How many ``k`` have ``S_k < s``."""
    if s <= 0:
        return 0
    if process == "constant":
        return math.ceil(s - 1e-9)
    return _sequence(process, burstiness, seed).count_below(s)


@dataclass(frozen=True)
class TraceRow:
    offset_s: float
    input_tokens: int | None
    output_tokens: int | None


def _count(record: dict, names: tuple[str, ...], where: str) -> int | None:
    for name in names:
        if name in record:
            value = record[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{where}: {name} must be a whole number >= 0, not {value!r}")
            return value
    return None


def _offset(record: dict, first_ms: float | None, where: str) -> tuple[float, float | None]:
    """The row's offset in seconds (and the first timestamp, for ``timestamp`` traces)."""
    if "offset_s" in record:
        value, scale = record["offset_s"], 1.0
    elif "timestamp" in record:
        value, scale = record["timestamp"], 0.001
    else:
        raise ConfigError(f"{where}: needs offset_s (seconds from the start) or timestamp (milliseconds)")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: the offset must be a number >= 0, not {value!r}")
    if "offset_s" in record:
        return float(value), first_ms
    first_ms = float(value) if first_ms is None else first_ms
    return (float(value) - first_ms) * scale, first_ms


def parse_trace(lines: list[str], name: str) -> tuple[TraceRow, ...]:
    """The rows of a trace file's text; ``name`` (the file) is named in every error."""
    rows: list[TraceRow] = []
    first_ms: float | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ConfigError(f'{where}: each line must be a JSON object such as {{"offset_s": 0.5}}')
        offset, first_ms = _offset(record, first_ms, where)
        if rows and offset < rows[-1].offset_s:
            raise ConfigError(f"{where}: offset {offset:g}s comes before the previous row's; sort the trace by time")
        rows.append(TraceRow(offset, _count(record, ("input_tokens", "input_length"), where),
                             _count(record, ("output_tokens", "output_length"), where)))  # fmt: skip
    if not rows:
        raise ConfigError(f"{name}: the trace has no rows")
    return tuple(rows)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> tuple[TraceRow, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the trace ({exc.__class__.__name__}: {exc})") from None
    return parse_trace(text.splitlines(), path)


def load_trace(path: str) -> tuple[TraceRow, ...]:
    """The rows of the trace at ``path`` (read once per process and cached)."""
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        raise ConfigError(f"{path}: no such trace file") from None
    return _load(path, mtime)


@functools.lru_cache(maxsize=8)
def trace_offsets(path: str) -> tuple[float, ...]:
    """The trace's offsets, kept for the pacer's every look-up (read once per process)."""
    return tuple(row.offset_s for row in load_trace(path))


def count_before(offsets: tuple[float, ...], t: float) -> int:
    return bisect.bisect_left(offsets, t)


def busiest_second(offsets: tuple[float, ...]) -> int:
    """The most rows in any one-second window: sizes a trace's default pool."""
    best, start = 0, 0
    for end, t in enumerate(offsets):
        while offsets[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best
