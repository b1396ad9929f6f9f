"""Has a failure code's rate jumped above its trailing baseline? Pure arithmetic, no DB.

Why a binomial test and not an EWMA of daily rates: the number of debits a day
swings from a few dozen on a quiet Sunday to hundreds of thousands at month end.
An EWMA of *rates* treats 2 failures out of 12 like 20,000 out of 120,000, so it
either fires on every quiet day or is too dull for a real jump. A binomial test
asks the right question for each window: with ``n`` debits and the baseline rate
``p0``, how likely are ``k`` or more failures by chance? Small windows cannot
reach significance, large ones can, and the minimum volume and minimum excess
keep a handful of failures from paging anyone. The baseline is the pooled rate
of the trailing days (total failures / total debits, lightly smoothed), so one
bad day in the baseline moves it only by its share of the volume, and a slow
drift moves the baseline with it: this detector is for jumps, as intended; a
drift shows on the dashboard's failures-by-code chart.
"""

import math
from dataclasses import dataclass

# Fewer debits than this in the window: too few to tell a jump from chance.
MIN_VOLUME = 200
# And at least this many failures more than the baseline predicts.
MIN_EXCESS_FAILURES = 10
# And at least this many times the baseline rate: significance alone would flag
# a tiny but real rise on a huge month-end volume that nobody needs to act on.
MIN_RATE_RATIO = 2.0
# One-sided p-value below which the window is a jump. Strict, because the test
# runs for every failure code several times a day (a Bonferroni-style margin).
SIGNIFICANCE = 1e-4
# Smoothing of the baseline rate: as if the trailing days held one more failure
# in this many more debits, so a code never seen before has a small rate, not 0.
PRIOR_FAILURES, PRIOR_DEBITS = 1, 1000


@dataclass(frozen=True)
class RateVerdict:
    code: str
    failures: int
    debits: int
    baseline_rate: float
    expected_failures: float
    p_value: float
    is_jump: bool
    # Why it is not a jump, when it is not: "low_volume", "small_excess",
    # "small_ratio", "not_significant".
    reason: str = ""

    @property
    def rate(self) -> float:
        return self.failures / self.debits if self.debits else 0.0


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 3e-14
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _regularized_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the regularized incomplete beta I_p(k, n-k+1)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return _regularized_beta(k, n - k + 1, p)


def judge_failure_rate(
    *, code: str, failures: int, debits: int, baseline_failures: int, baseline_debits: int
) -> RateVerdict:
    """Is ``failures`` out of ``debits`` a jump above the baseline for this code?"""
    rate = (baseline_failures + PRIOR_FAILURES) / (baseline_debits + PRIOR_DEBITS)
    expected = rate * debits
    p_value = binomial_upper_tail(failures, debits, rate) if debits else 1.0
    reason = ""
    if debits < MIN_VOLUME:
        reason = "low_volume"
    elif failures - expected < MIN_EXCESS_FAILURES:
        reason = "small_excess"
    elif failures < MIN_RATE_RATIO * expected:
        reason = "small_ratio"
    elif p_value >= SIGNIFICANCE:
        reason = "not_significant"
    return RateVerdict(
        code=code,
        failures=failures,
        debits=debits,
        baseline_rate=rate,
        expected_failures=expected,
        p_value=p_value,
        is_jump=not reason,
        reason=reason,
    )
