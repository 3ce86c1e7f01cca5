"""Confidence intervals for evaluation figures, so that a difference can be read against the noise
of the set's size."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

Z95 = 1.959964  # the standard normal's 97.5th percentile


def ratio_interval(numerators: np.ndarray, denominators: np.ndarray, z: float = Z95) -> Optional[tuple[float, float]]:
    """A 95% interval of Σx/Σy over sampled units (documents), by the ratio estimator's linearised
    standard error (Cochran 1977, Sampling Techniques, section 6.4); None for fewer than two units."""
    n = len(numerators)
    if n < 2 or denominators.sum() <= 0:
        return None
    ratio = numerators.sum() / denominators.sum()
    residuals = numerators - ratio * denominators
    stderr = math.sqrt(n / (n - 1) * float(np.sum(residuals ** 2))) / float(denominators.sum())
    return ratio - z * stderr, ratio + z * stderr


def mean_stderr(values: Sequence[float]) -> Optional[float]:
    """The standard error of a mean, sample standard deviation over √n: lm-evaluation-harness's
    `mean_stderr`, which it reports as `acc_stderr`; None for fewer than two values."""
    if len(values) < 2:
        return None
    return float(np.std(np.asarray(values, dtype=np.float64), ddof=1) / math.sqrt(len(values)))


def wilson_interval(successes: int, n: int, z: float = Z95) -> Optional[tuple[float, float]]:
    """The 95% Wilson score interval of a proportion (Wilson 1927), which stays inside [0, 1] and
    keeps its coverage for small sets and accuracies near 0 or 1; None for an empty set."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
