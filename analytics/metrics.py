"""Risk and return statistics on a daily equity curve, as pure functions.

Conventions follow empyrical/quantstats so the figures can be checked against them:
returns are daily simple returns, a year is 252 trading days, standard deviations are
sample ones (ddof 1). Statistics are ratios, so they are computed in float; money stays
Decimal elsewhere. Anything undefined (too little data, zero variance) is ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

TRADING_DAYS = 252


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall from a peak: ``depth`` is a negative fraction (-0.12 = 12% down)."""

    depth: float | None
    peak: date | None = None
    trough: date | None = None
    days_to_recover: int | None = None  # calendar days from trough back to the peak; None if not yet


def to_series(points) -> pd.Series:
    """A float Series indexed by date from (date, value) pairs; bad or empty values dropped."""
    if isinstance(points, pd.Series):
        series = points.astype(float)
    else:
        points = list(points)
        series = pd.Series(
            [float(v) if v is not None else math.nan for _, v in points],
            index=pd.Index([d for d, _ in points]),
            dtype=float,
        )
    series = series[~series.index.duplicated(keep="last")].sort_index()
    return series[np.isfinite(series)]


def equity_curve(points) -> pd.Series:
    """The equity series to analyse: days before the account first had money are dropped.

    A new Alpaca account reports 0 equity until it is funded; a return from 0 is infinite.
    """
    series = to_series(points)
    positive = series[series > 0]
    if positive.empty:
        return positive
    return series.loc[positive.index[0]:][lambda s: s > 0]


def daily_returns(equity: pd.Series) -> pd.Series:
    """Simple returns day over day (the first day has none)."""
    return equity.pct_change().iloc[1:]


def daily_rate(annual_rate: float) -> float:
    """An annual rate (0.05 = 5%) as the equivalent compounded daily rate."""
    return (1.0 + annual_rate) ** (1.0 / TRADING_DAYS) - 1.0


def total_return(equity: pd.Series) -> float | None:
    if len(equity) < 2:
        return None
    return float(equity.iloc[-1] / equity.iloc[0] - 1.0)


def cagr(returns: pd.Series) -> float | None:
    """Compound annual growth, counting 252 returns as one year (empyrical's annual_return)."""
    if len(returns) < 1:
        return None
    growth = float((1.0 + returns).prod())
    if growth <= 0:
        return None
    return growth ** (TRADING_DAYS / len(returns)) - 1.0


def volatility(returns: pd.Series) -> float | None:
    """Annualised volatility: sample std of daily returns × √252."""
    if len(returns) < 2:
        return None
    return _defined(returns.std(ddof=1) * math.sqrt(TRADING_DAYS))


def sharpe(returns: pd.Series, risk_free_annual: float = 0.0) -> float | None:
    """Mean / sample std of daily excess returns × √252; None with < 2 days or no variance."""
    if len(returns) < 2:
        return None
    excess = returns - daily_rate(risk_free_annual)
    std = excess.std(ddof=1)
    if not std or not math.isfinite(std) or _is_constant(excess):
        return None
    return _defined(excess.mean() / std * math.sqrt(TRADING_DAYS))


def sortino(returns: pd.Series, risk_free_annual: float = 0.0) -> float | None:
    """Annualised mean excess return / annualised downside deviation (empyrical's convention).

    Downside deviation = sqrt(mean(min(r - target, 0)²)) over ALL days (days above the target
    count as 0), target = the daily risk-free rate. None with no losing day (it would be ∞).
    """
    if len(returns) < 2:
        return None
    excess = returns - daily_rate(risk_free_annual)
    downside = math.sqrt(float((excess.clip(upper=0.0) ** 2).mean())) * math.sqrt(TRADING_DAYS)
    if downside == 0:
        return None
    return _defined(excess.mean() * TRADING_DAYS / downside)


def max_drawdown(equity: pd.Series) -> Drawdown:
    """Deepest peak-to-trough fall of the equity curve, with its dates and recovery time."""
    if len(equity) < 2:
        return Drawdown(None)
    running_peak = equity.cummax()
    underwater = equity / running_peak - 1.0
    depth = float(underwater.min())
    if depth >= 0:
        return Drawdown(0.0)
    trough = underwater.idxmin()
    peak_value = running_peak.loc[trough]
    before = equity.loc[:trough]
    peak = before[before == peak_value].index[-1]
    after = equity.loc[trough:]
    recovered = after[after >= peak_value]
    days = (_as_date(recovered.index[0]) - _as_date(trough)).days if len(recovered) else None
    return Drawdown(depth, _as_date(peak), _as_date(trough), days)


def underwater(equity: pd.Series) -> pd.Series:
    """The drawdown on every day, as a negative fraction (0 at a new high)."""
    return equity / equity.cummax() - 1.0


@dataclass(frozen=True)
class Benchmark:
    """The account against an index over the same days (alpha/beta on common dates only)."""

    symbol: str
    total_return: float | None
    beta: float | None
    alpha: float | None  # annualised, empyrical's convention: (1 + mean daily residual)^252 - 1
    correlation: float | None
    common_days: int


def benchmark_total_return(closes: pd.Series, equity: pd.Series) -> float | None:
    """The index's return over the account's window (first to last equity date)."""
    if equity.empty:
        return None
    window = closes.loc[equity.index[0]:equity.index[-1]]
    return total_return(window)


def compare(returns: pd.Series, bench_returns: pd.Series, risk_free_annual: float = 0.0) -> tuple[float | None, float | None, float | None, int]:
    """Beta, alpha and correlation of the account against the index, on common dates.

    beta = cov(r, b) / var(b); alpha = (1 + mean(r - rf - beta·(b - rf)))^252 - 1, the
    annualisation empyrical uses; correlation is Pearson's.
    """
    joined = pd.concat([returns, bench_returns], axis=1, join="inner").dropna()
    n = len(joined)
    if n < 2:
        return None, None, None, n
    rf = daily_rate(risk_free_annual)
    r = joined.iloc[:, 0] - rf
    b = joined.iloc[:, 1] - rf
    var_b = float(((b - b.mean()) ** 2).mean())
    if var_b == 0 or _is_constant(b):
        return None, None, None, n
    cov = float(((b - b.mean()) * r).mean())
    beta = cov / var_b
    alpha = (1.0 + float((r - beta * b).mean())) ** TRADING_DAYS - 1.0
    correlation = None if _is_constant(r) else _defined(float(np.corrcoef(r, b)[0, 1]))
    return _defined(beta), _defined(alpha), correlation, n


def benchmark(symbol: str, closes: pd.Series, equity: pd.Series, risk_free_annual: float = 0.0) -> Benchmark:
    """Everything the report says about the account against the index."""
    beta, alpha, correlation, n = compare(daily_returns(equity), daily_returns(closes), risk_free_annual)
    return Benchmark(symbol, benchmark_total_return(closes, equity), beta, alpha, correlation, n)


def rebased(series: pd.Series, base: float = 100.0) -> pd.Series:
    """The series scaled so its first value is ``base`` (to draw two curves on one axis)."""
    if series.empty:
        return series
    return series / series.iloc[0] * base


def _is_constant(series: pd.Series) -> bool:
    # A float std of a constant series can come out as 1e-19 instead of 0; compare values.
    return bool(len(series)) and bool(np.allclose(series.to_numpy(), series.iloc[0], rtol=0, atol=1e-15))


def _defined(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _as_date(value) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value
