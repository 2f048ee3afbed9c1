"""``novalgo serve``: the service under gunicorn, on local defaults when nothing is configured."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from novalgo.cli.load import load_settings
from novalgo.settings import ensure_webhook_secret

# The checkout's deploy/ folder: novalgo/cli/serve.py → two folders up is the project root.
GUNICORN_CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


@click.command()
@click.option("--host", help="Address to listen on (NOVALGO_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (NOVALGO_PORT, default 8000).")
@click.option("--workers", type=int, default=None, help="gunicorn workers (default from deploy/gunicorn.conf.py, or 2).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the webhook under gunicorn (simulated broker and CSV sheet unless configured)."""
    settings = load_settings(host=host, port=port)
    settings, created = ensure_webhook_secret(settings)
    base = f"http://{settings.host}:{settings.port}"
    secret_hint = f"$(cat {settings.secret_file})" if not os.environ.get("NOVALGO_WEBHOOK_SECRET") else "$NOVALGO_WEBHOOK_SECRET"
    click.echo(f"NovAlgo {settings.mode} trading · sheet: {settings.sheet_kind} · broker: {settings.broker_kind}")
    if created:
        click.echo(f"Generated a webhook secret into {settings.secret_file} (mode 600).")
    elif not os.environ.get("NOVALGO_WEBHOOK_SECRET"):
        click.echo(f"Webhook secret: in {settings.secret_file}")
    if settings.sheet_kind == "local":
        click.echo(f"Config sheet: {settings.data_dir / 'sheet' / (settings.config_tab + '.csv')}")
    if settings.broker_kind == "simulated":
        _seed_simulator(settings)
    click.echo(f"Webhook URL: {base}/webhook  (or {base}/webhook/<secret> when the message cannot carry it)")
    click.echo("Try it:")
    click.echo(f"  curl -s '{base}/webhook?wait=2' -H 'Content-Type: application/json' \\\n"
               f"    -d '{{\"action\":\"buy\",\"symbol\":\"AAPL\",\"timeframe\":\"15\",\"price\":200,"
               f"\"secret\":\"'\"{secret_hint}\"'\"}}'")
    click.echo(f"  curl -s {base}/health")
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{settings.host}:{settings.port}"]
    if GUNICORN_CONF.exists():
        argv += ["--config", str(GUNICORN_CONF)]
    else:
        argv += ["--worker-class", "gthread", "--threads", "4", "--workers", "2", "--timeout", "30"]
    if workers:
        argv += ["--workers", str(workers)]
    argv.append("novalgo.wsgi:app")
    env = dict(os.environ, NOVALGO_HOST=settings.host, NOVALGO_PORT=str(settings.port))
    sys.stdout.flush()
    os.execve(sys.executable, argv, env)


def _seed_simulator(settings) -> None:
    """A fresh simulator gets first prices for the default sheet's symbols, as `novalgo try` does."""
    from novalgo.broker.simulated import SEED_PRICES, SimulatedBroker

    if SimulatedBroker(settings.data_dir, watch_every=0).seed_prices():
        listed = ", ".join(f"{symbol} {price}" for symbol, price in SEED_PRICES.items())
        click.echo(f"Simulated broker: first prices {listed}; each alert's price replaces them.")
