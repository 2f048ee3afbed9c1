"""The statistics against series worked by hand, and against empyrical as an independent reference."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest

from analytics import metrics

DAYS = [date(2025, 1, 6) + timedelta(days=i) for i in range(5)]  # Mon 6 .. Fri 10 January
# Returns +10%, -10%, +10%, +10%: mean 0.05, sample std exactly 0.1.
EQUITY = [100, 110, 99, 108.9, 119.79]
# The index moves exactly half as much every day: beta 2, correlation 1, alpha 0.
INDEX = [100, 105, 99.75, 104.7375, 109.974375]


def series(values, days=DAYS):
    return metrics.equity_curve([(d, Decimal(str(v))) for d, v in zip(days, values)])


def test_hand_worked_returns_statistics():
    equity = series(EQUITY)
    r = metrics.daily_returns(equity)
    assert list(r.round(12)) == [0.1, -0.1, 0.1, 0.1]
    assert metrics.total_return(equity) == pytest.approx(0.1979, abs=1e-12)
    assert metrics.sharpe(r) == pytest.approx(0.05 / 0.1 * math.sqrt(252), abs=1e-9)
    assert metrics.volatility(r) == pytest.approx(0.1 * math.sqrt(252), abs=1e-9)
    # Downside deviation over all four days: sqrt((0 + 0.01 + 0 + 0) / 4) = 0.05.
    assert metrics.sortino(r) == pytest.approx(0.05 * 252 / (0.05 * math.sqrt(252)), abs=1e-9)
    # Four returns are 4/252 of a year.
    assert metrics.cagr(r) == pytest.approx(1.1979 ** (252 / 4) - 1, rel=1e-9)


def test_hand_worked_drawdown_with_dates_and_recovery():
    dd = metrics.max_drawdown(series(EQUITY))
    assert dd.depth == pytest.approx(-0.1, abs=1e-12)  # 110 → 99
    assert (dd.peak, dd.trough) == (date(2025, 1, 7), date(2025, 1, 8))
    assert dd.days_to_recover == 2  # back above 110 on Friday the 10th


def test_drawdown_not_recovered_and_none_at_all():
    falling = metrics.max_drawdown(series([100, 120, 90, 100, 110]))
    assert falling.depth == pytest.approx(-0.25) and falling.days_to_recover is None
    assert falling.trough == date(2025, 1, 8)
    rising = metrics.max_drawdown(series([100, 101, 102, 103, 104]))
    assert rising.depth == 0.0 and rising.peak is None and rising.days_to_recover is None


def test_hand_worked_benchmark_comparison():
    equity, index = series(EQUITY), series(INDEX)
    b = metrics.benchmark("SPY", index, equity)
    assert b.beta == pytest.approx(2.0, abs=1e-12)
    assert b.correlation == pytest.approx(1.0, abs=1e-12)
    assert b.alpha == pytest.approx(0.0, abs=1e-12)
    assert b.total_return == pytest.approx(0.09974375, abs=1e-12)
    assert b.common_days == 4


def test_beta_uses_common_dates_only():
    equity = series(EQUITY)
    # The index misses Wednesday: its Thursday return spans two days and is paired on Thursday.
    index = series([100, 105, 104.7375, 109.974375], [DAYS[0], DAYS[1], DAYS[3], DAYS[4]])
    b = metrics.benchmark("SPY", index, equity)
    assert b.common_days == 3


@pytest.mark.parametrize("values", [[100], [], [0, 0]])
def test_too_little_data_is_undefined_not_a_crash(values):
    equity = series(values)
    r = metrics.daily_returns(equity)
    assert metrics.sharpe(r) is None and metrics.sortino(r) is None and metrics.volatility(r) is None
    assert metrics.total_return(equity) is None and metrics.cagr(r) is None
    assert metrics.max_drawdown(equity).depth is None


def test_one_return_gives_growth_but_no_ratios():
    equity = series([100, 101])
    r = metrics.daily_returns(equity)
    assert metrics.total_return(equity) == pytest.approx(0.01)
    assert metrics.sharpe(r) is None and metrics.volatility(r) is None


def test_zero_variance_and_no_losing_day_are_undefined():
    flat = metrics.daily_returns(series([100, 100, 100, 100]))
    assert metrics.sharpe(flat) is None
    assert metrics.volatility(flat) == 0.0
    steady = metrics.daily_returns(series([100, 101, 102.01, 103.0301]))  # +1% every day
    assert metrics.sharpe(steady) is None  # no variance: a ratio over zero means nothing
    assert metrics.sortino(steady) is None  # no downside: empyrical would say infinity


def test_flat_index_gives_no_beta():
    b = metrics.benchmark("SPY", series([400, 400, 400, 400, 400]), series(EQUITY))
    assert (b.beta, b.alpha, b.correlation) == (None, None, None)


def test_unfunded_days_at_the_start_are_dropped():
    # A new Alpaca account reports 0 equity until funded: no infinite first return.
    equity = series([0, 0, 100, 110, 99])
    assert len(equity) == 3 and metrics.total_return(equity) == pytest.approx(-0.01)


def test_annual_risk_free_rate_is_compounded_to_daily():
    assert (1 + metrics.daily_rate(0.05)) ** 252 == pytest.approx(1.05, rel=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agrees_with_empyrical_to_1e_9(seed):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2023-01-02", periods=300)
    equity = pd.Series(50_000 * np.cumprod(1 + rng.normal(0.0006, 0.012, 300)), index=days)
    index = pd.Series(380 * np.cumprod(1 + rng.normal(0.0004, 0.009, 300)), index=days)
    r, b = equity.pct_change().iloc[1:], index.pct_change().iloc[1:]
    rf = 0.03
    rf_daily = (1 + rf) ** (1 / 252) - 1

    ours = metrics.benchmark("SPY", index, equity, rf)
    alpha, beta = empyrical.alpha_beta(r, b, risk_free=rf_daily)
    checks = {
        "sharpe": (metrics.sharpe(r, rf), empyrical.sharpe_ratio(r, risk_free=rf_daily)),
        "sortino": (metrics.sortino(r, rf), empyrical.sortino_ratio(r, required_return=rf_daily)),
        "volatility": (metrics.volatility(r), empyrical.annual_volatility(r)),
        "cagr": (metrics.cagr(r), empyrical.cagr(r)),
        "total_return": (metrics.total_return(equity), empyrical.cum_returns_final(r)),
        "max_drawdown": (metrics.max_drawdown(equity).depth, empyrical.max_drawdown(r)),
        "beta": (ours.beta, beta),
        "alpha": (ours.alpha, alpha),
        "benchmark_total": (ours.total_return, empyrical.cum_returns_final(b)),
        "correlation": (ours.correlation, float(np.corrcoef(r, b)[0, 1])),
    }
    for name, (mine, reference) in checks.items():
        assert mine == pytest.approx(reference, abs=1e-9), name
