"""``novalgo try 'BODY'``: what the webhook would make of an alert message, without trading it.

Reads the message exactly as ``POST /webhook`` does, then shows the Config row it matches and
the orders the decision table would send against the position held now. Nothing is journalled
and nothing is sent: it is safe to run beside the live service. Exit 2 when the message would be
refused (with what was read and a hint), 1 when its secret would be refused, else 0.
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from novalgo.cli.load import load_settings
from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.domain.timeframes import interval_label
from novalgo.errors import AlertError, NovalgoError
from novalgo.web.security import same_secret

UNSET = "-"


@click.command("try")
@click.argument("body")
def try_alert(body: str) -> None:
    """Read BODY as the webhook would and show what it would trade now ('-' reads it from stdin)."""
    from novalgo.engine.dry_run import dry_run
    from novalgo.engine.journal import Journal
    from novalgo.engine.services import JOURNAL_FILE, SNAPSHOT_FILE, make_broker, make_sheet_backend
    from novalgo.sheet.cache import ConfigCache

    raw = (sys.stdin.read() if body == "-" else body).encode("utf-8")
    settings = load_settings()
    try:
        delivery = read_delivery(raw, settings.webhook_secret)
        alert = parse_alert(delivery, settings.indicator_names)
    except AlertError as e:
        _refused(e)
        sys.exit(2)
    # The service's own adapters, but no journal of our own: a data dir that never served has none.
    config = ConfigCache(make_sheet_backend(settings), settings.config_ttl, settings.data_dir / SNAPSHOT_FILE)
    journal_path = settings.data_dir / JOURNAL_FILE
    journal = Journal(journal_path, sync="normal") if journal_path.exists() else None
    broker = make_broker(settings)
    if broker.kind == "simulated":
        broker.seed_prices()  # as `novalgo serve` does, so both see the same first prices
    try:
        answer = dry_run(alert, config, broker, journal, skip_outside_hours=settings.outside_hours == "skip")
        answer = _without_a_price(answer, alert, broker)
    except NovalgoError as e:
        click.echo(f"could not read the {settings.broker_kind} broker: {e}", err=True)
        sys.exit(1)
    finally:
        if journal is not None:
            journal.close()
    click.echo(f"read by       {alert.reader}")
    _show(answer)
    secret_ok = _secret_line(delivery.secret, settings.webhook_secret)
    click.echo("Dry run: nothing was journalled or sent.")
    if not secret_ok:
        sys.exit(1)


def _without_a_price(answer: dict[str, Any], alert, broker) -> dict[str, Any]:
    """The simulator fills at the alert's price or the last one it saw: with neither, the
    service's orders are rejected, so say so here rather than predict a fill."""
    if broker.kind != "simulated" or alert.price is not None or not answer["orders"]:
        return answer
    if broker.latest_price(alert.symbol) is not None:
        return answer
    reason = (f"no price for {alert.symbol}: the simulator fills at the alert's price, so send one "
              f"('{alert.action.upper()} {alert.symbol} 15 @{{{{close}}}}' in text, \"price\": \"{{{{close}}}}\" in JSON)")
    return {**answer, "status": "FAILED", "reason": reason, "orders": []}


def _refused(e: AlertError) -> None:
    click.echo(f"refused: {e}")
    click.echo("read")
    for field, value in (e.read or {}).items():
        click.echo(f"  {field:<12}{value if value is not None else UNSET}")
    click.echo(f"hint: {e.hint}")


def _secret_line(given: str | None, expected: str | None) -> bool:
    """Say whether the webhook would accept the message's secret; never print either secret."""
    if given is None:
        click.echo("secret        none in the message: post it to /webhook/<secret>")
        return True
    if expected is None:
        click.echo("secret        cannot check: no NOVALGO_WEBHOOK_SECRET (novalgo serve generates one)")
        return True
    if same_secret(given, expected):
        click.echo("secret        matches")
        return True
    click.echo("secret        does NOT match NOVALGO_WEBHOOK_SECRET: the webhook would answer 401")
    return False


def _show(answer: dict[str, Any]) -> None:
    alert = answer["alert"]
    click.echo("understood")
    timeframe = alert["timeframe"]
    if timeframe is not None:
        timeframe = f"{timeframe} ({interval_label(alert['timeframe_minutes'])})"
    for label, value in (("action", alert["action"]), ("symbol", alert["symbol"]),
                         ("timeframe", timeframe or "none: the symbol's only active row is used"),
                         ("price", alert["price"]), ("quantity", alert["quantity"]),
                         ("take profit", _exit(alert["take_profit"])), ("stop loss", _exit(alert["stop_loss"]))):
        click.echo(f"  {label:<12}{value if value is not None else UNSET}")
    row = answer["config_row"]
    if row is None:
        click.echo("config row    none")
    else:
        state = "active" if row["active"] else "inactive"
        click.echo(f"config row    {row['row']} (row {row['row_number']}): {_size(row['position_size'])}, {state}")
        holding = answer["holding"]
        pending = f", our unfilled orders {holding['pending']}" if holding["pending"] != "0" else ""
        held = Decimal(holding["held"])
        side = "long" if held > 0 else "short" if held < 0 else "flat"
        click.echo(f"holding       {side}, {holding['held']} {alert['symbol']}{pending}")
    if answer.get("cancels_unfilled_orders"):
        click.echo("first         cancel our unfilled orders on the symbol (they point the other way)")
    for exit_order in answer.get("cancels_exit_orders", ()):
        click.echo(f"first         cancel our exit order: {exit_order}")
    if answer["orders"]:
        for n, order in enumerate(answer["orders"], 1):
            size = f"${order['notional']} of" if order["notional"] else f"{order['qty']}"
            click.echo(f"order {n}       {order['side']} {size} {alert['symbol']} ({order['purpose']}){_terms(order)}")
    else:
        click.echo("orders        none")
    reason = f": {answer['reason']}" if answer["reason"] else ""
    when = " once the orders fill" if answer["orders"] else ""
    click.echo(f"outcome       {answer['status']}{when}{reason}")


def _exit(target: dict[str, str] | None) -> str | None:
    if target is None:
        return None
    value, kind = target["value"], target["kind"]
    return {"price": f"at {value}", "percent": f"{value}% from entry", "amount": f"${value} from entry"}.get(
        kind, f"{value} {kind}")


def _size(text: str) -> str:
    """Dollars with their sign; shares, percent and alert as the row says them ("25 sh", "10%")."""
    try:
        Decimal(text)
    except (InvalidOperation, TypeError):
        return text
    return f"${text}"


def _terms(order: dict) -> str:
    """What makes an order more than a market day order, as a trader reads it."""
    words = []
    if order.get("type") == "limit":
        words.append(f"limit {order['limit_price']}")
    if order.get("type") == "trailing_stop":
        words.append(f"trailing {order['trail_percent']}%" if order.get("trail_percent")
                     else f"trailing ${order['trail_price']}")
    if order.get("extended_hours"):
        words.append("extended hours")
    if order.get("take_profit"):
        words.append(f"take-profit {order['take_profit']}")
    if order.get("stop_loss"):
        words.append(f"stop-loss {order['stop_loss']}")
    if order.get("time_in_force") == "gtc":
        words.append("good till cancelled")
    return ": " + ", ".join(words) if words else ""
