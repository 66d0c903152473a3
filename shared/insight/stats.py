"""The statistics of an A/B report, with ``math`` only: the numbers a data team checks against
statsmodels and scipy (tests/unit/test_experiment_stats.py compares them to 1e-9).

- ``proportions_ztest``: the two-sided, pooled two-proportion z-test (statsmodels'
  ``proportions_ztest``), with the unpooled Wald 95% interval of the difference of rates
  (statsmodels' ``confint_proportions_2indep(method="wald")``).
- ``welch_ttest``: Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) and its 95%
  interval of the difference of means; the Student t tail comes from the regularized
  incomplete beta function (a continued fraction evaluated by Lentz's method).
- ``srm_test``: the chi-square goodness of fit of the users seen against the weights
  (``scipy.stats.chisquare``): a sample ratio mismatch says the split itself is broken.
- ``cuped``: the difference of means adjusted by a covariate measured before the exposure
  (each user's revenue in the 14 days before), which removes the variance that covariate
  explains, then tested as above.

Degenerate samples have a defined answer instead of scipy's NaN (JSON has no NaN):
- a side with no users (or fewer than two, for a t-test): no test, ``None``;
- no variance at all (no conversions on either side, or everyone converted; every value equal
  on both sides): equal estimates give p = 1 and the interval [d, d] of the difference d
  (0 here); different estimates with zero variance (two constant samples) give p = 0;
- one side constant, the other not: the usual formulas hold (Welch's df is then n - 1 of the
  other side).
The comparison is always treatment minus control.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

# the 97.5% point of the standard normal: two-sided 95% intervals
Z_975 = 1.959963984540054
_TINY = 1e-300
_EPS = 1e-16
_MAX_ITERATIONS = 100_000


def normal_two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes 6.4), by the modified Lentz
    method: converges quickly for x < (a + 1) / (a + b + 2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError("incomplete beta: no convergence")  # pragma: no cover


def _stirling_correction(x: float) -> float:
    """lgamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2), for x >= 100 (to the last bit)."""
    x2 = x * x
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x


def _log_gamma_ratio(a: float, b: float) -> float:
    """log(Gamma(a + b) / (Gamma(a) Gamma(b))). With one argument large and the other small
    (Student's t: b = 1/2, a = df/2), lgamma(a + b) - lgamma(a) cancels almost everything;
    Stirling's series of the difference keeps it exact."""
    big, small = (a, b) if a >= b else (b, a)
    if big < 100.0 or small > 10.0:
        return math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    difference = (small * math.log(big) + (big + small - 0.5) * math.log1p(small / big) - small
                  + _stirling_correction(big + small) - _stirling_correction(big))
    return difference - math.lgamma(small)


def betainc(a: float, b: float, x: float, y: Optional[float] = None) -> float:
    """The regularized incomplete beta function I_x(a, b); ``y`` is 1 - x when the caller
    knows it more exactly than ``1 - x`` would compute it."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    # near 1, log1p of the small complement keeps the bits that log(x) would lose; a large
    # df multiplies every lost bit (df = 10^6 cost 2e-10 in the quantile otherwise)
    log_x = math.log1p(-y) if x > 0.5 else math.log(x)
    log_y = math.log1p(-x) if y > 0.5 else math.log(y)
    front = math.exp(_log_gamma_ratio(a, b) + a * log_x + b * log_y)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, y) / b


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2)."""
    if math.isinf(t):
        return 0.0
    t2 = t * t
    return betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def student_t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t: the t whose upper tail is 1 - p, found by
    bisection on the tail (monotone, so exact to the last bits)."""
    tail = 2.0 * (1.0 - p)  # the two-sided probability beyond the quantile
    low, high = 0.0, 1.0
    while student_t_two_sided_p(high, df) > tail:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if mid in (low, high):
            break
        if student_t_two_sided_p(mid, df) > tail:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def _gamma_series(a: float, x: float) -> float:
    """P(a, x) by its series (x < a + 1)."""
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_ITERATIONS):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            return total * math.exp(-x + a * math.log(x) - math.lgamma(a))
    raise ArithmeticError("incomplete gamma: no convergence")  # pragma: no cover


def _gamma_continued_fraction(a: float, x: float) -> float:
    """Q(a, x) by its continued fraction (x >= a + 1), modified Lentz."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h
    raise ArithmeticError("incomplete gamma: no convergence")  # pragma: no cover


def gammaincc(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x)."""
    if x <= 0.0:
        return 1.0
    if x < a + 1.0:
        return 1.0 - _gamma_series(a, x)
    return _gamma_continued_fraction(a, x)


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for a chi-square with ``df`` degrees of freedom."""
    return gammaincc(df / 2.0, statistic / 2.0)


# ---- the tests -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """Treatment minus control: the estimate, its test and its 95% interval."""
    difference: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    df: Optional[float] = None  # Welch's degrees of freedom (t-tests only)

    @property
    def ci(self) -> list[float]:
        return [self.ci_low, self.ci_high]


def proportions_ztest(conversions_t: int, users_t: int, conversions_c: int,
                      users_c: int) -> Optional[Comparison]:
    """The pooled two-proportion z-test of rate(t) - rate(c), two-sided, and the unpooled
    Wald 95% interval of that difference; None when a side has no users."""
    if users_t <= 0 or users_c <= 0:
        return None
    rate_t, rate_c = conversions_t / users_t, conversions_c / users_c
    difference = rate_t - rate_c
    pooled = (conversions_t + conversions_c) / (users_t + users_c)
    variance = pooled * (1.0 - pooled) * (1.0 / users_t + 1.0 / users_c)
    if variance <= 0.0:  # nobody converted, or everybody did: the rates are equal
        return Comparison(difference, 0.0, 1.0, difference, difference)
    z = difference / math.sqrt(variance)
    half = Z_975 * math.sqrt(rate_t * (1.0 - rate_t) / users_t
                             + rate_c * (1.0 - rate_c) / users_c)
    return Comparison(difference, z, normal_two_sided_p(z), difference - half, difference + half)


def wilson_interval(conversions: int, users: int) -> Optional[list[float]]:
    """The Wilson 95% interval of one rate (sensible at 0 or 100%); None without users."""
    if users <= 0:
        return None
    rate = conversions / users
    z2 = Z_975 * Z_975
    denominator = 1.0 + z2 / users
    centre = (rate + z2 / (2.0 * users)) / denominator
    half = Z_975 * math.sqrt(rate * (1.0 - rate) / users + z2 / (4.0 * users * users)) \
        / denominator
    return [centre - half, centre + half]


def mean_and_variance(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the unbiased (n - 1) variance, by two exact-summing passes."""
    n = len(values)
    mean = math.fsum(values) / n
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, variance


def welch_ttest(treatment: Sequence[float], control: Sequence[float]) -> Optional[Comparison]:
    """Welch's t-test of mean(treatment) - mean(control), two-sided, with its 95% interval;
    None when a side has fewer than two values."""
    n_t, n_c = len(treatment), len(control)
    if n_t < 2 or n_c < 2:
        return None
    mean_t, var_t = mean_and_variance(treatment)
    mean_c, var_c = mean_and_variance(control)
    return welch_from_moments(mean_t, var_t, n_t, mean_c, var_c, n_c)


def welch_from_moments(mean_t: float, var_t: float, n_t: int, mean_c: float, var_c: float,
                       n_c: int) -> Comparison:
    difference = mean_t - mean_c
    se_t, se_c = var_t / n_t, var_c / n_c
    se2 = se_t + se_c
    if se2 <= 0.0:  # two constant samples
        p = 1.0 if difference == 0 else 0.0
        statistic = 0.0 if difference == 0 else math.copysign(math.inf, difference)
        return Comparison(difference, statistic, p, difference, difference, float(n_t + n_c - 2))
    df = se2 * se2 / (se_t * se_t / (n_t - 1) + se_c * se_c / (n_c - 1))
    t = difference / math.sqrt(se2)
    half = student_t_quantile(0.975, df) * math.sqrt(se2)
    return Comparison(difference, t, student_t_two_sided_p(t, df), difference - half,
                      difference + half, df)


@dataclass(frozen=True)
class Srm:
    statistic: float
    p_value: float


def srm_test(observed: Sequence[int], weights: Sequence[float]) -> Optional[Srm]:
    """Chi-square of the users seen per variant against the split the weights promise; None
    before anyone is seen."""
    total = sum(observed)
    if total <= 0 or len(observed) < 2:
        return None
    weight_sum = float(sum(weights))
    expected = [total * w / weight_sum for w in weights]
    statistic = math.fsum((o - e) ** 2 / e for o, e in zip(observed, expected))
    return Srm(statistic, chi2_sf(statistic, len(observed) - 1))


@dataclass(frozen=True)
class Cuped:
    theta: float
    comparison: Optional[Comparison]
    variance_reduction: float  # 1 - var(adjusted) / var(raw), over both groups


def cuped(treatment: Sequence[tuple[float, float]],
          control: Sequence[tuple[float, float]]) -> Cuped:
    """CUPED on (metric, covariate) pairs: theta = cov(metric, covariate) / var(covariate)
    over both groups together; each metric becomes metric - theta * (covariate - its mean),
    whose means differ as the raw ones do in expectation, with less variance; then Welch's
    test on the adjusted values. No covariate variance: theta 0, the raw test."""
    pairs = [*treatment, *control]
    if len(pairs) < 2:
        return Cuped(0.0, None, 0.0)
    metric_mean = math.fsum(m for m, _ in pairs) / len(pairs)
    covariate_mean = math.fsum(c for _, c in pairs) / len(pairs)
    covariance = math.fsum((m - metric_mean) * (c - covariate_mean) for m, c in pairs)
    covariate_ss = math.fsum((c - covariate_mean) ** 2 for _, c in pairs)
    theta = covariance / covariate_ss if covariate_ss > 0 else 0.0

    def adjusted(group: Sequence[tuple[float, float]]) -> list[float]:
        return [m - theta * (c - covariate_mean) for m, c in group]
    adjusted_t, adjusted_c = adjusted(treatment), adjusted(control)
    raw_ss = math.fsum((m - metric_mean) ** 2 for m, _ in pairs)
    adjusted_all = [*adjusted_t, *adjusted_c]
    adjusted_mean = math.fsum(adjusted_all) / len(adjusted_all)
    adjusted_ss = math.fsum((v - adjusted_mean) ** 2 for v in adjusted_all)
    reduction = 1.0 - adjusted_ss / raw_ss if raw_ss > 0 else 0.0
    return Cuped(theta, welch_ttest(adjusted_t, adjusted_c), reduction)
