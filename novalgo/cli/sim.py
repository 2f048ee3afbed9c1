"""``novalgo sim price SYMBOL PRICE``: move the simulator's market by hand.

The simulated broker (no Alpaca keys) has no market data: a symbol's price is the last one an
alert brought. Between alerts a trader can set one here to watch resting orders work: limits,
take-profits, stop-losses and trailing stops that the new price reaches fill, and each change is
printed. The price goes into the simulator's database in the service's data dir, and the running
service hears of the fills (its broker watches for changes made by other processes).
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation

import click

from novalgo.broker.base import FILLED
from novalgo.cli.load import load_settings
from novalgo.domain.money import CENT, plain
from novalgo.domain.symbols import normalize_symbol


@click.group()
def sim() -> None:
    """The simulated broker used when no Alpaca keys are set."""


@sim.command("price")
@click.argument("symbol")
@click.argument("price")
def price(symbol: str, price: str) -> None:
    """Set SYMBOL's price to PRICE and fill the orders it reaches."""
    settings = load_settings()
    if settings.broker_kind != "simulated":
        click.echo("novalgo sim price: Alpaca keys are set, so prices come from Alpaca's market, "
                   "not from this command.", err=True)
        sys.exit(2)
    try:
        symbol = normalize_symbol(symbol)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="SYMBOL") from e
    try:
        value = Decimal(price)
    except InvalidOperation:
        value = Decimal(0)
    if not value.is_finite() or value <= 0:
        raise click.BadParameter(f"{price!r} is not a price above zero", param_hint="PRICE")

    from novalgo.broker.simulated import SimulatedBroker

    broker = SimulatedBroker(settings.data_dir, watch_every=0)
    head = f"{symbol} {money(value)}"
    changed = broker.mark(symbol, value)
    for state in changed:
        what = f"{broker.label(state.client_order_id)} {state.side} {plain(state.qty or state.filled_qty)} {symbol}"
        if state.status == FILLED:
            click.echo(f"{head}: {what} filled at {money(state.filled_avg_price)}")
        else:
            click.echo(f"{head}: {what} {state.status}" + (f" ({state.reason})" if state.reason else ""))
    still_open = len(broker.open_orders(symbol))
    if not changed:
        click.echo(f"{head}: nothing filled" + (f"; {still_open} order(s) still open" if still_open else ""))
    elif still_open:
        click.echo(f"{head}: {still_open} order(s) still open")


def money(value: Decimal | None) -> str:
    """Cents for a price in cents (102.00), every digit for one finer (0.000123)."""
    if value is None:
        return "-"
    return f"{value:.2f}" if value == value.quantize(CENT) else plain(value) or ""
