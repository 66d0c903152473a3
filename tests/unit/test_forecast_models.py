"""The revenue models, their backtest and choice, the intermittent SKU methods and the offline
tools on the Online Retail training file."""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest

from shared.forecast import intermittent, models, offline

TRAIN = Path("/work/shared/data/online_retail/train.csv.gz")
needs_train = pytest.mark.skipif(not TRAIN.is_file(), reason="the Online Retail sample is absent")
WEEK = np.array([100.0, 200.0, 300.0, 400.0, 500.0, 0.0, 50.0])


def weekly_series(weeks: int, growth: float = 0.0, noise: float = 0.0,
                  seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = 1 + growth * np.repeat(np.arange(weeks), 7)
    y = np.tile(WEEK, weeks) * level
    return y * (1 + noise * rng.standard_normal(len(y))) * (np.tile(WEEK, weeks) > 0)


def test_seasonal_naive_repeats_the_last_week() -> None:
    y = np.arange(30, dtype=float)
    assert list(models.seasonal_naive(y, 10)) == [23, 24, 25, 26, 27, 28, 29, 23, 24, 25]


def test_weekday_mean_averages_each_weekday_over_four_weeks() -> None:
    y = np.concatenate([np.zeros(7), np.full(7, 1.0), np.full(7, 2.0), np.full(7, 3.0),
                        np.full(7, 6.0)])
    assert np.allclose(models.weekday_mean(y, 7), 3.0)


def test_profile_level_recovers_a_stable_weekly_pattern() -> None:
    y = weekly_series(20)
    assert np.allclose(models.profile_level(y, 14), np.tile(WEEK, 2))


def test_profile_trend_follows_a_rise_that_the_level_lags() -> None:
    y = weekly_series(20, growth=0.05)
    truth = np.tile(WEEK, 4) * (1 + 0.05 * np.repeat(np.arange(20, 24), 7))
    trend_error = np.abs(models.profile_trend(y, 28, damping=1.0) - truth).mean()
    level_error = np.abs(models.profile_level(y, 28) - truth).mean()
    assert trend_error < 0.05 * level_error


def test_theta_forecasts_a_rising_seasonal_series_and_nothing_on_closed_days() -> None:
    y = weekly_series(20, growth=0.02)
    truth = np.tile(WEEK, 4) * (1 + 0.02 * np.repeat(np.arange(20, 24), 7))
    f = models.theta(y, 28)
    assert np.all(f[truth == 0] == 0)
    assert np.abs(f - truth).mean() < np.abs(models.weekday_mean(y, 28) - truth).mean()


def test_ets_fits_a_seasonal_series_closely() -> None:
    y = weekly_series(20, noise=0.02)
    assert np.abs(models.holt_winters(y, 7) - WEEK).mean() < 0.05 * WEEK.mean()


def test_theil_sen_ignores_an_outlier() -> None:
    values = np.arange(10, dtype=float) * 2 + 5
    values[4] = 1000
    intercept, slope = models.theil_sen(values)
    assert (intercept, slope) == pytest.approx((5.0, 2.0))


def test_the_forecast_has_ordered_quantiles_and_is_zero_on_closed_days() -> None:
    y = weekly_series(30, noise=0.3)
    result = models.forecast(y, 28)
    assert result.model in models.CANDIDATES
    assert np.all(result.p10 <= result.p50 + 1e-9) and np.all(result.p50 <= result.p90 + 1e-9)
    saturdays = np.arange(28) % 7 == 5   # positions of WEEK's 0
    assert np.all(result.p90[saturdays] == 0) and np.all(result.p50[~saturdays] > 0)
    assert set(result.backtests) == {*models.BASELINES, *models.CANDIDATES}


def test_a_short_history_falls_back_to_the_weekday_mean() -> None:
    y = weekly_series(5, noise=0.1)
    result = models.forecast(y, 14)
    assert result.model == "weekday_mean_4w"
    assert np.allclose(result.p50, models.weekday_mean(y, 14))


def test_the_blend_stays_unless_a_model_beats_it_clearly() -> None:
    def bt(name: str, mase: float) -> models.Backtest:
        return models.Backtest(name, [mase], np.zeros((1, 1)), np.zeros((1, 1)))
    close = {"blend": bt("blend", 1.0), "theta": bt("theta", 0.99)}
    clear = {"blend": bt("blend", 1.0), "theta": bt("theta", 0.9)}
    assert models.choose(close, ("theta", "blend")) == "blend"
    assert models.choose(clear, ("theta", "blend")) == "theta"


def test_the_quantiles_cover_about_eight_in_ten_of_noisy_series() -> None:
    coverage = []
    for seed in range(1, 9):
        y = weekly_series(40, noise=0.3, seed=seed)
        train, test = y[:-28], y[-28:]
        result = models.forecast(train, 28)
        is_open = test > 0
        coverage.append(((test >= result.p10) & (test <= result.p90))[is_open].mean())
    assert 0.65 <= float(np.mean(coverage)) <= 0.95


# ---- intermittent demand -------------------------------------------------------------------

def test_croston_and_sba_on_a_sale_every_other_period() -> None:
    demand = np.array([[0, 4, 0, 4, 0, 4, 0, 4.0]])
    assert intermittent.smooth(demand, "croston").rate[0] == pytest.approx(2.0)
    assert intermittent.smooth(demand, "sba", alpha=0.1).rate[0] == pytest.approx(1.9)


def test_tsb_decays_the_chance_of_a_sale_while_nothing_sells() -> None:
    demand = np.array([[5, 5, 5, 5, 0, 0, 0, 0.0]])
    tsb = intermittent.smooth(demand, "tsb", alpha=0.1, beta=0.1)
    assert tsb.probability[0] == pytest.approx(0.9 ** 4)
    assert tsb.rate[0] == pytest.approx(5 * 0.9 ** 4)
    assert intermittent.smooth(demand, "croston").rate[0] == pytest.approx(5.0)


def test_quantiles_of_an_intermittent_sku_are_zero_below_the_chance_of_no_sale() -> None:
    demand = np.array([[0, 4, 0, 4, 0, 4, 0, 4.0], [0] * 8])
    q = intermittent.quantiles(demand, intermittent.smooth(demand, "croston"))
    assert q.tolist() == [[0.0, 0.0, 4.0], [0.0, 0.0, 0.0]]


def test_pinball_loss_of_known_quantiles() -> None:
    actual = np.array([[0.0, 10.0]])
    predicted = np.array([[0.0, 5.0, 10.0]])
    # q10: 0 + 0.1*10 -> 0.5; q50: 0.5*5 + 0.5*5 -> 2.5; q90: 0.1*10 + 0 -> 0.5
    assert intermittent.pinball(actual, predicted) == pytest.approx((0.5 + 2.5 + 0.5) / 3)


# ---- offline tools -------------------------------------------------------------------------

def write_history(path: Path, rows: list[tuple[str, str, int, float]]) -> None:
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                         "UnitPrice", "CustomerID", "Country"])
        for i, (day, sku, quantity, price) in enumerate(rows):
            invoice = f"C{i}" if quantity < 0 else str(i)
            writer.writerow([invoice, sku, "x", quantity, f"{day} 10:00:00", price, "", "UK"])


def test_daily_revenue_counts_cancellations_and_zero_days(tmp_path: Path) -> None:
    path = tmp_path / "h.csv.gz"
    write_history(path, [("2011-01-03", "A", 2, 1.5), ("2011-01-03", "B", -1, 1.0),
                         ("2011-01-05", "A", 4, 1.5)])
    history = offline.read_history(path)
    assert history.revenue.tolist() == [2.0, 0.0, 6.0]
    assert history.end.isoformat() == "2011-01-05"


def test_a_daily_series_and_the_uci_date_format_are_read_too(tmp_path: Path) -> None:
    daily = tmp_path / "daily.csv"
    daily.write_text("date,revenue\n2011-01-03,5.5\n2011-01-05,2\n")
    assert offline.read_history(daily).revenue.tolist() == [5.5, 0.0, 2.0]
    uci = tmp_path / "uci.csv"
    uci.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
                   "Country\n1,A,x,2,12/31/2010 8:26,1.5,,UK\n2,A,x,1,1/1/2011 9:00,1,,UK\n")
    history = offline.read_history(uci)
    assert history.start.isoformat() == "2010-12-31" and history.revenue.tolist() == [3.0, 1.0]


@needs_train
def test_offline_writes_the_horizon_after_the_last_date(tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    summary = offline.write_forecast(TRAIN, 28, out)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["date", "revenue", "p10", "p90"]
    assert [r[0] for r in rows[1:]][:2] == ["2011-10-01", "2011-10-02"] and len(rows) == 29
    assert all(float(r[2]) <= float(r[1]) <= float(r[3]) for r in rows[1:])
    assert summary["model"] in models.CANDIDATES


@needs_train
def test_on_the_training_file_our_model_beats_both_baselines_over_the_origins() -> None:
    report = offline.backtest_report(TRAIN)
    mase = {name: row["mean"] for name, row in report["revenue_mase"].items()}
    ours = mase[report["chosen"]]
    assert len(report["origins"]) == 12
    assert ours < 0.85 and ours < 0.95 * mase["weekday_mean_4w"] < mase["seasonal_naive"]
    assert report["sku_pinball"]["tsb"] < report["sku_pinball"]["croston"]
