"""The A/B report's statistics (shared.insight.stats, math only) give the numbers of
statsmodels and scipy to 1e-9 on generated data: many seeds, small and large samples, equal
and unequal variances; and a defined answer where those libraries answer NaN."""
from __future__ import annotations

import math

import numpy as np
import pytest

from shared.insight import stats

scipy_stats = pytest.importorskip("scipy.stats")
proportion = pytest.importorskip("statsmodels.stats.proportion")

TOLERANCE = 1e-9
SEEDS = range(60)


def close(ours: float, theirs: float, scale: float = 1.0) -> bool:
    """Equal to 1e-9, absolutely (p-values) or relative to ``scale`` (money, in fen)."""
    return abs(ours - theirs) <= TOLERANCE * max(1.0, scale)


def sizes(rng: np.random.Generator, seed: int) -> tuple[int, int]:
    if seed % 3 == 0:
        return int(rng.integers(2, 30)), int(rng.integers(2, 30))  # small
    if seed % 3 == 1:
        return int(rng.integers(200, 5000)), int(rng.integers(200, 5000))
    return int(rng.integers(50_000, 300_000)), int(rng.integers(50_000, 300_000))  # large


@pytest.mark.parametrize("seed", SEEDS)
def test_the_two_proportion_z_test_is_statsmodels_proportions_ztest(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_t, n_c = sizes(rng, seed)
    rate = rng.uniform(0.002, 0.6)
    c_t = int(rng.binomial(n_t, min(1.0, rate * rng.uniform(0.8, 1.25))))
    c_c = int(rng.binomial(n_c, rate))
    if c_t + c_c in (0, n_t + n_c):
        c_c = 1  # the degenerate split has its own test below

    ours = stats.proportions_ztest(c_t, n_t, c_c, n_c)
    z, p_value = proportion.proportions_ztest([c_t, c_c], [n_t, n_c])
    low, high = proportion.confint_proportions_2indep(c_t, n_t, c_c, n_c, method="wald",
                                                      compare="diff")

    assert ours is not None
    assert close(ours.p_value, p_value) and close(ours.statistic, z)
    assert close(ours.ci_low, low) and close(ours.ci_high, high)
    assert close(ours.difference, c_t / n_t - c_c / n_c)


@pytest.mark.parametrize("seed", SEEDS)
def test_welch_is_scipy_ttest_ind_unequal_variances(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n_t, n_c = sizes(rng, seed)
    n_t, n_c = min(n_t, 40_000), min(n_c, 40_000)
    # revenue-like: most users spend nothing; equal spreads for even seeds, unequal for odd
    spread_c = rng.uniform(100, 20_000)
    spread_t = spread_c if seed % 2 == 0 else spread_c * rng.uniform(0.2, 5.0)
    treatment = np.round(rng.exponential(spread_t, n_t) * (rng.random(n_t) < 0.3))
    control = np.round(rng.exponential(spread_c, n_c) * (rng.random(n_c) < 0.3))
    if treatment.std() == 0 or control.std() == 0:
        treatment[0], control[0] = 1.0, 2.0

    ours = stats.welch_ttest(treatment.tolist(), control.tolist())
    theirs = scipy_stats.ttest_ind(treatment, control, equal_var=False)
    interval = theirs.confidence_interval(0.95)

    assert ours is not None
    assert close(ours.p_value, float(theirs.pvalue)), (ours.p_value, theirs.pvalue)
    assert close(ours.statistic, float(theirs.statistic), abs(theirs.statistic))
    assert close(ours.df or 0, float(theirs.df), float(theirs.df))
    scale = abs(interval.high) + abs(interval.low)
    assert close(ours.ci_low, float(interval.low), scale)
    assert close(ours.ci_high, float(interval.high), scale)


@pytest.mark.parametrize("df", [1.0, 1.5, 2, 3, 7.3, 30, 151, 1000, 12_345.6, 250_000, 2e6])
def test_student_t_tail_and_quantile_are_scipys(df: float) -> None:
    for t in (0.0, 0.01, 0.5, 1.0, 1.96, 2.5, 4.0, 8.0, 40.0):
        assert close(stats.student_t_two_sided_p(t, df), 2 * scipy_stats.t.sf(t, df))
    assert close(stats.student_t_quantile(0.975, df), scipy_stats.t.ppf(0.975, df))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_srm_chi_square_is_scipy_chisquare_against_the_weights(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    arms = int(rng.integers(2, 6))
    weights = rng.integers(1, 100, arms)
    total = int(rng.choice([20, 500, 20_000, 2_000_000]))
    skew = rng.dirichlet(np.ones(arms)) if seed % 4 == 0 else weights / weights.sum()
    observed = rng.multinomial(total, skew)

    ours = stats.srm_test(observed.tolist(), weights.tolist())
    theirs = scipy_stats.chisquare(observed, total * weights / weights.sum())

    assert ours is not None
    assert close(ours.p_value, float(theirs.pvalue))
    assert close(ours.statistic, float(theirs.statistic), float(theirs.statistic))


@pytest.mark.parametrize("seed", SEEDS)
def test_the_per_variant_wilson_interval_is_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(3000 + seed)
    users = int(rng.integers(1, 100_000))
    conversions = int(rng.binomial(users, rng.uniform(0, 1)))

    low, high = proportion.proportion_confint(conversions, users, method="wilson")

    assert np.allclose(stats.wilson_interval(conversions, users), [low, high], rtol=0,
                       atol=TOLERANCE)


@pytest.mark.parametrize("seed", range(20))
def test_cuped_is_the_welch_test_of_the_theta_adjusted_revenue(seed: int) -> None:
    rng = np.random.default_rng(4000 + seed)
    n_t, n_c = int(rng.integers(50, 3000)), int(rng.integers(50, 3000))
    before_t = rng.exponential(3000, n_t) * (rng.random(n_t) < 0.5)
    before_c = rng.exponential(3000, n_c) * (rng.random(n_c) < 0.5)
    after_t = 0.8 * before_t + rng.exponential(1500, n_t) + 200   # the treatment lifts by 200
    after_c = 0.8 * before_c + rng.exponential(1500, n_c)

    result = stats.cuped(list(zip(after_t, before_t)), list(zip(after_c, before_c)))

    y, x = np.concatenate([after_t, after_c]), np.concatenate([before_t, before_c])
    theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    adjusted_t = after_t - theta * (before_t - x.mean())
    adjusted_c = after_c - theta * (before_c - x.mean())
    theirs = scipy_stats.ttest_ind(adjusted_t, adjusted_c, equal_var=False)
    interval = theirs.confidence_interval(0.95)
    raw = stats.welch_ttest(after_t.tolist(), after_c.tolist())
    assert result.comparison is not None and raw is not None
    assert close(result.theta, float(theta))
    assert close(result.comparison.difference, adjusted_t.mean() - adjusted_c.mean(), 1e4)
    assert close(result.comparison.p_value, float(theirs.pvalue))
    assert close(result.comparison.ci_low, float(interval.low), 1e4)
    # the covariate explains most of the spread: a narrower interval than the raw one
    assert result.variance_reduction > 0.2
    assert result.comparison.ci_high - result.comparison.ci_low < raw.ci_high - raw.ci_low


# ---- degenerate cases: defined answers (documented in shared/insight/stats.py) --------------

def test_no_conversions_anywhere_is_no_difference_p_one_where_statsmodels_says_nan() -> None:
    ours = stats.proportions_ztest(0, 1000, 0, 1000)
    with np.errstate(all="ignore"):
        _, theirs = proportion.proportions_ztest([0, 0], [1000, 1000])

    assert math.isnan(theirs)
    assert ours is not None and (ours.p_value, ours.statistic, ours.ci) == (1.0, 0.0, [0.0, 0.0])


def test_everybody_converting_on_both_sides_is_also_p_one() -> None:
    ours = stats.proportions_ztest(50, 50, 70, 70)

    assert ours is not None and ours.p_value == 1.0 and ours.ci == [0.0, 0.0]


def test_zero_conversions_on_one_side_is_an_ordinary_test() -> None:
    ours = stats.proportions_ztest(0, 500, 25, 500)
    _, theirs = proportion.proportions_ztest([0, 25], [500, 500])

    assert ours is not None and close(ours.p_value, theirs) and ours.p_value < 1e-5


def test_an_empty_variant_has_no_test() -> None:
    assert stats.proportions_ztest(0, 0, 5, 100) is None
    assert stats.welch_ttest([], [1.0, 2.0, 3.0]) is None
    assert stats.welch_ttest([4.0], [1.0, 2.0, 3.0]) is None  # one value has no variance
    assert stats.wilson_interval(0, 0) is None


def test_two_constant_samples_are_p_one_when_equal_and_p_zero_when_not() -> None:
    same = stats.welch_ttest([0.0] * 10, [0.0] * 12)
    apart = stats.welch_ttest([5.0] * 10, [3.0] * 12)

    assert same is not None and (same.p_value, same.ci) == (1.0, [0.0, 0.0])
    assert apart is not None and (apart.p_value, apart.ci) == (0.0, [2.0, 2.0])


def test_one_constant_sample_against_a_varied_one_matches_scipy() -> None:
    constant, varied = [0.0] * 30, [float(v) for v in range(25)]

    ours = stats.welch_ttest(constant, varied)
    theirs = scipy_stats.ttest_ind(constant, varied, equal_var=False)

    assert ours is not None and close(ours.p_value, float(theirs.pvalue))
    assert ours.df == pytest.approx(24)


def test_srm_before_anyone_is_seen_is_none_and_a_perfect_split_is_p_one() -> None:
    assert stats.srm_test([0, 0], [1, 1]) is None
    perfect = stats.srm_test([500, 1500], [1, 3])
    assert perfect is not None and perfect.p_value == pytest.approx(1.0, abs=1e-12)


def test_cuped_without_covariate_variance_is_the_raw_test() -> None:
    treatment = [(float(v), 0.0) for v in (0, 100, 250, 0, 80)]
    control = [(float(v), 0.0) for v in (0, 0, 90, 40, 10, 0)]

    result = stats.cuped(treatment, control)
    raw = stats.welch_ttest([m for m, _ in treatment], [m for m, _ in control])

    assert result.theta == 0.0 and result.comparison == raw
