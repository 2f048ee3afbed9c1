"""The report as words: the terminal summary, the HTML email, and the short SMS/Slack text."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from analytics import fmt
from analytics.report import PositionLine, Report

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.globals.update(fmt=fmt)

CHART_CAPTIONS = {
    "equity": "Account equity against the benchmark, both rebased to 100 on the first day.",
    "drawdown": "How far below its previous high the account stood each day.",
    "pnl": "Realised profit or loss of the trades closed in the period, by symbol.",
}


def html(report: Report, images: dict[str, str], attachments: list[str], zone) -> str:
    """The HTML report; ``images`` maps chart names to their src (``cid:…`` or a file name)."""
    return _TEMPLATES.get_template("report.html").render(
        r=report,
        images=images,
        captions=CHART_CAPTIONS,
        attachments=attachments,
        when=report.as_of.astimezone(zone),
        headline=headline(report),
    )


def headline(report: Report) -> list[tuple[str, str, str]]:
    """The four numbers at the top: (label, value, tone) where tone is good/bad/plain."""
    bench = report.benchmark
    tr = report.total_return
    vs = f"{report.snapshot.benchmark_symbol} {fmt.percent(bench.total_return, signed=True)}" if bench else ""
    pnl = report.trades.total_pnl
    return [
        ("Equity", fmt.money(report.equity_now), "plain"),
        (f"Return ({report.period_label})" + (f" · {vs}" if vs else ""), fmt.percent(tr, signed=True), _tone(tr)),
        ("Realised P&L", fmt.money(pnl, signed=True), _tone(pnl)),
        ("Max drawdown", fmt.percent(report.drawdown.depth), "bad" if report.drawdown.depth else "plain"),
    ]


def short_summary(report: Report, zone) -> str:
    """A few lines for a text message or a Slack post."""
    bench = report.benchmark
    t = report.trades
    when = report.as_of.astimezone(zone)
    parts = [f"NovAlgo {when:%Y-%m-%d} ({report.snapshot.source})"]
    if report.equity_now is not None:
        parts.append(f"Equity {fmt.money(report.equity_now)}")
    line = f"{report.period_label} return {fmt.percent(report.total_return, signed=True)}"
    if bench:
        line += f" vs {bench.symbol} {fmt.percent(bench.total_return, signed=True)}"
    parts.append(line)
    parts.append(f"Sharpe {fmt.ratio(report.sharpe)}, max DD {fmt.percent(report.drawdown.depth)}")
    parts.append(f"{t.total_trades} trades, win {fmt.pct_value(t.win_rate)}, P&L {fmt.money(t.total_pnl, signed=True)}")
    return "\n".join(parts)


def profit_text(report: Report, zone) -> str:
    """The terminal summary of the original profit analyzer."""
    a = report.snapshot.account
    when = report.as_of.astimezone(zone)
    out = [f"NovAlgo profit summary · {when:%Y-%m-%d %H:%M %Z} · {report.snapshot.source}", ""]
    if a:
        out += ["Account",
                f"  Equity        {fmt.money(a.equity):>16}",
                f"  Cash          {fmt.money(a.cash):>16}",
                f"  Buying power  {fmt.money(a.buying_power):>16}", ""]
    out.append(f"Open positions ({len(report.positions)})")
    if report.positions:
        out += _table(
            ["Symbol", "Side", "Qty", "Avg entry", "Market value", "Unrealised P&L", "P&L %"],
            [_position_cells(p) for p in report.positions],
            text_columns=2,
        )
        sides = report.side_totals()
        for side in ("long", "short"):
            s = sides[side]
            out.append(f"  {side.title():<6} {s['count']:>3} positions  value {fmt.money(s['market_value']):>14}"
                       f"  unrealised {fmt.money(s['unrealized_pl'], signed=True):>12}")
        out.append("  Best:  " + ", ".join(_performer(p) for p in report.best_positions()))
        out.append("  Worst: " + ", ".join(_performer(p) for p in report.worst_positions()))
    else:
        out.append("  (none)")
    t = report.trades
    out += ["", f"Closed trades since {report.snapshot.start} ({report.period_label})",
            f"  {t.total_trades} trades · {t.winning_trades} won · {t.losing_trades} lost · "
            f"win rate {fmt.pct_value(t.win_rate)}",
            f"  Realised {fmt.money(t.total_pnl, signed=True)} · average {fmt.money(t.avg_pnl_per_trade, signed=True)}"
            f" · best {fmt.money(t.best_trade, signed=True)} · worst {fmt.money(t.worst_trade, signed=True)}"]
    for side in ("long", "short"):
        s = report.by_side[side]
        out.append(f"  {side.title():<6} {s.total_trades:>3} trades  win {fmt.pct_value(s.win_rate):>6}"
                   f"  P&L {fmt.money(s.total_pnl, signed=True):>12}")
    traded = [r for r in report.by_symbol.values() if r.trades]
    if traded:
        out.append("")
        out += _table(
            ["Symbol", "Trades", "Won", "Lost", "Win rate", "Realised P&L", "Best", "Worst"],
            [[r.symbol, str(r.total_trades), str(r.winning_trades), str(r.losing_trades), fmt.pct_value(r.win_rate),
              fmt.money(r.total_pnl, signed=True), fmt.money(r.best_trade, signed=True),
              fmt.money(r.worst_trade, signed=True)]
             for r in sorted(traded, key=lambda r: r.total_pnl, reverse=True)],
        )
    if report.notes:
        out += [""] + [f"Note: {n}" for n in report.notes]
    return "\n".join(out)


def metrics_text(report: Report) -> str:
    """Risk and return figures, one per line, for the terminal."""
    bench = report.benchmark
    dd = report.drawdown
    recover = ("not yet recovered" if dd.days_to_recover is None else f"recovered in {dd.days_to_recover} days") \
        if dd.trough else ""
    lines = [
        f"Total return   {fmt.percent(report.total_return, signed=True)}",
        f"CAGR           {fmt.percent(report.cagr, signed=True)}",
        f"Volatility     {fmt.percent(report.volatility)}",
        f"Sharpe         {fmt.ratio(report.sharpe)}",
        f"Sortino        {fmt.ratio(report.sortino)}",
        f"Max drawdown   {fmt.percent(dd.depth)}"
        + (f" ({fmt.day(dd.peak)} → {fmt.day(dd.trough)}, {recover})" if dd.trough else ""),
    ]
    symbol = report.snapshot.benchmark_symbol
    if bench:
        lines += [f"{symbol:<14} {fmt.percent(bench.total_return, signed=True)}",
                  f"Beta           {fmt.ratio(bench.beta)}",
                  f"Alpha (annual) {fmt.percent(bench.alpha, signed=True)}",
                  f"Correlation    {fmt.ratio(bench.correlation)}"]
    return "\n".join(lines)


def _position_cells(line: PositionLine) -> list[str]:
    p = line.position
    return [p.symbol, p.side, fmt.qty(p.qty), fmt.money(p.avg_entry_price), fmt.money(p.market_value),
            fmt.money(p.unrealized_pl, signed=True), fmt.percent(line.pnl_pct, signed=True)]


def _performer(line: PositionLine) -> str:
    p = line.position
    return f"{p.symbol} {fmt.money(p.unrealized_pl, signed=True)} ({fmt.percent(line.pnl_pct, signed=True)})"


def _table(header: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    # Text columns (the first ones) read left to right; numbers line up on the right.
    def line(cells):
        return "  " + "  ".join(c.ljust(w) if i < text_columns else c.rjust(w)
                                for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(header)] + [line(r) for r in rows]


def _tone(value) -> str:
    if value is None or value == 0:
        return "plain"
    return "good" if value > 0 else "bad"
