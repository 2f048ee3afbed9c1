"""The report's charts as PNG files (matplotlib, no display needed).

Sized for an email column: 7 × 3.2 inches at 150 dpi is 1050 px wide, shown at ~700 px, so
text stays sharp and about 13 px high on screen.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # cron has no display; must precede pyplot

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from analytics import fmt, metrics  # noqa: E402
from analytics.report import Report  # noqa: E402

WIDTH, HEIGHT, DPI = 7.0, 3.2, 150
GREEN, RED, BLUE, GREY = "#1a7f37", "#cf222e", "#0969da", "#6e7781"

plt.rcParams.update({
    "text.parse_math": False,  # "$" is money here, never the start of a formula
    "font.size": 9,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
})


def draw_all(report: Report, folder: Path, suffix: str) -> dict[str, Path]:
    """Draw every chart there is data for; return the PNG paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for name, draw in (("equity", equity_vs_benchmark), ("drawdown", drawdown), ("pnl", pnl_by_symbol)):
        fig = draw(report)
        if fig is None:
            continue
        path = folder / f"{name}_{suffix}.png"
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
        plt.close(fig)
        drawn[name] = path
    return drawn


def equity_vs_benchmark(report: Report):
    """Account equity and the index, both rebased to 100 on the first common day."""
    equity = report.equity
    if len(equity) < 2:
        return None
    fig, ax = _figure()
    ax.plot(_dates(equity), metrics.rebased(equity), color=BLUE, lw=1.8, label="Account")
    closes = report.benchmark_closes
    symbol = report.snapshot.benchmark_symbol
    if len(closes):
        window = closes.loc[equity.index[0]:equity.index[-1]]
        if len(window) >= 2:
            ax.plot(_dates(window), metrics.rebased(window), color=GREY, lw=1.4, ls="--", label=symbol)
    ax.axhline(100, color="black", lw=0.6, alpha=0.5)
    ax.set_title(f"Equity vs {symbol}, rebased to 100" if len(closes) else "Equity, rebased to 100")
    ax.set_ylabel("Value (start = 100)")
    ax.legend(loc="upper left")
    _date_axis(ax)
    return fig


def drawdown(report: Report):
    """The underwater curve: how far below its last peak the account was each day."""
    equity = report.equity
    if len(equity) < 2:
        return None
    under = metrics.underwater(equity)
    fig, ax = _figure()
    x = _dates(under)
    ax.fill_between(x, under.to_numpy(), 0, color=RED, alpha=0.25, linewidth=0)
    ax.plot(x, under.to_numpy(), color=RED, lw=1.2)
    dd = report.drawdown
    if dd.trough is not None:
        ax.annotate(f"max {fmt.percent(dd.depth, 1 if dd.depth <= -0.01 else 2)}", xy=(pd.Timestamp(dd.trough), dd.depth),
                    xytext=(8, -2), textcoords="offset points", color=RED, fontsize=8.5, va="top")
    ax.set_title("Drawdown from the previous peak")
    ax.set_ylabel("Below peak")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    low = min(float(under.min()) * 1.15, -0.005)  # keep a flat curve visible
    ax.set_ylim(low, -low * 0.04)
    _date_axis(ax)
    return fig


def pnl_by_symbol(report: Report):
    """Realised P&L of the period's closed trades, one bar per symbol."""
    pnl = {s: r.total_pnl for s, r in report.by_symbol.items() if r.trades}
    if not pnl:
        return None
    ordered = sorted(pnl.items(), key=lambda kv: kv[1])
    symbols = [s for s, _ in ordered]
    values = [float(v) for _, v in ordered]
    height = max(HEIGHT, 0.9 + 0.28 * len(symbols))
    fig, ax = plt.subplots(figsize=(WIDTH, height), layout="constrained")
    bars = ax.barh(symbols, values, color=[GREEN if v >= 0 else RED for v in values], height=0.6)
    ax.bar_label(bars, labels=[fmt.money(v, signed=True) for _, v in ordered], padding=3, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title("Realised P&L by symbol (closed trades in the period)")
    ax.set_xlabel("Profit / loss (USD)")
    ax.xaxis.set_major_formatter(FuncFormatter(_whole_dollars))
    ax.grid(axis="y", visible=False)
    span = max(abs(v) for v in values) or 1.0
    ax.set_xlim(min(0, min(values)) - 0.25 * span, max(0, max(values)) + 0.25 * span)  # room for labels
    return fig


def _whole_dollars(value: float, _pos) -> str:
    return f"{'-' if value < 0 else ''}${abs(value):,.0f}"


def _figure():
    return plt.subplots(figsize=(WIDTH, HEIGHT), layout="constrained")


def _dates(series: pd.Series) -> pd.DatetimeIndex:
    return pd.to_datetime(pd.Index(series.index))


def _date_axis(ax) -> None:
    # Spelled-out dates ("Oct 15", or "Oct 2025" over long spans) read unambiguously in an email.
    low, high = ax.get_xlim()
    long_span = high - low > 240
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=7))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y" if long_span else "%b %d"))
    ax.set_xlabel("Date")
