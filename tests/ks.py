"""A Kolmogorov-Smirnov goodness-of-fit test with numpy alone (scipy is not a dependency)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def ks_statistic(samples: list[float] | np.ndarray, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """D = sup |F_n(x) - F(x)| of the samples against a fully specified distribution."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = len(x)
    f = cdf(x)
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(0, n) / n)))


def ks_critical_5pct(n: int) -> float:
    """The 5 % critical value of D for n samples (Stephens' approximation, within 1 % for n >= 5)."""
    root = np.sqrt(n)
    return float(1.358 / (root + 0.12 + 0.11 / root))


def passes_ks_5pct(samples: list[float] | np.ndarray, cdf: Callable[[np.ndarray], np.ndarray]) -> bool:
    return ks_statistic(samples, cdf) <= ks_critical_5pct(len(samples))


def exponential_cdf(rate: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: 1.0 - np.exp(-rate * np.clip(x, 0.0, None))
