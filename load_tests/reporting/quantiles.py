"""Distribution-free confidence intervals for a quantile, from order statistics (binomial ranks).

Why not the bootstrap the compare used before: a bootstrap of a tail percentile resamples the few
values that sit in the tail. With one sample it "resamples" that one value and reports a zero-width
interval as 95 % confident (issue 19: one cold call at 38 ms against four before was REGRESSED). The
order-statistic interval makes no assumption about the latency distribution and is exact at every n:
the number of samples below the true q-quantile is Binomial(n, q), so the k-th and m-th smallest
samples bracket the quantile with a probability we can compute. When n is too small, no pair of ranks
reaches the confidence asked for, and we say so (``None``) instead of inventing an interval.
"""

from __future__ import annotations

import math

import numpy as np

SIGMAS = 12.0  # binomial mass beyond 12 standard deviations is below 1e-30: leave it out of the sums


def min_samples(q: float, level: float) -> int:
    """The smallest n for which a two-sided ``level`` interval of the ``q``-quantile exists.

    The widest interval is [smallest sample, largest sample]; it misses the quantile above with
    probability q**n. It must be at most (1 - level) / 2, so n >= log((1 - level) / 2) / log(q).
    For the p95 at 97.5 % (each run's share of a 95 % comparison) that is 86 samples.
    """
    return math.ceil(math.log((1.0 - level) / 2.0) / math.log(q) - 1e-9)


def _binomial_cdf(n: int, q: float) -> tuple[int, np.ndarray]:
    """(first k, P(B <= k) for k from first k) of B ~ Binomial(n, q), over the ranks that carry mass."""
    sd = math.sqrt(n * q * (1.0 - q))
    lo = max(0, math.floor(n * q - SIGMAS * sd - 1))
    hi = min(n, math.ceil(n * q + SIGMAS * sd + 1))
    ks = np.arange(lo, hi + 1)
    log_pmf = np.array([math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in ks.tolist()])
    log_pmf += ks * math.log(q) + (n - ks) * math.log1p(-q)
    cdf = np.cumsum(np.exp(log_pmf))
    if lo > 0:  # mass below the window is negligible but keep the cdf monotone and honest at the top
        cdf = np.minimum(cdf, 1.0)
    return lo, cdf


def rank_interval(n: int, q: float, level: float) -> tuple[int, int] | None:
    """1-based ranks (l, u) with P(X_(l) <= quantile_q <= X_(u)) >= ``level``; None when n is too small.

    With B the number of samples below the quantile, the interval covers it when l <= B < u:
    l is the largest rank with P(B < l) <= alpha/2, u the smallest with P(B < u) >= 1 - alpha/2.
    """
    if n < 1 or n < min_samples(q, level):
        return None
    alpha = 1.0 - level
    first, cdf = _binomial_cdf(n, q)
    low = max(1, first + int(np.searchsorted(cdf, alpha / 2.0, side="right")))  # P(B <= low-1) <= alpha/2
    high = first + int(np.searchsorted(cdf, 1.0 - alpha / 2.0, side="left")) + 1  # P(B <= high-1) >= 1-alpha/2
    if high > n:
        return None
    return low, high


def value_at_rank(values: np.ndarray, counts: np.ndarray, rank: int) -> float:
    """The ``rank``-th smallest sample (1-based) of a histogram given as sorted values and counts."""
    cumulative = np.cumsum(counts)
    return float(values[int(np.searchsorted(cumulative, rank, side="left"))])


def quantile_interval(values: np.ndarray, counts: np.ndarray, q: float, level: float) -> tuple[float, float] | None:
    """``level`` interval of the ``q``-quantile of the sample (values with counts), or None when too small."""
    ranks = rank_interval(int(counts.sum()), q, level)
    if ranks is None:
        return None
    return value_at_rank(values, counts, ranks[0]), value_at_rank(values, counts, ranks[1])
