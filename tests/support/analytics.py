"""Helpers for the analytics tests: run the command in-process, and market data files to feed it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from analytics.cli import main

PREFIXES = ("NOVALGO_", "APCA_", "TWILIO_", "GOOGLE_")  # settings a test must not inherit


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def market_files(folder: Path, days: int = 60, seed: int = 0) -> dict[str, Path]:
    """An equity curve, SPY closes and round-trip fills over the same business days."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2025-03-03", periods=days)
    equity = 100_000 * np.cumprod(1 + rng.normal(0.0008, 0.011, days))
    spy = 560 * np.cumprod(1 + rng.normal(0.0005, 0.009, days))
    paths = {"equity": folder / "equity.csv", "benchmark": folder / "spy.csv", "fills": folder / "fills.csv"}
    paths["equity"].write_text("date,equity\n" + "".join(f"{d:%Y-%m-%d},{v:.2f}\n" for d, v in zip(dates, equity)))
    paths["benchmark"].write_text("Date,Open,Close\n" + "".join(f"{d:%Y-%m-%d},0,{v:.2f}\n" for d, v in zip(dates, spy)))
    rows = ["time,symbol,side,qty,price,order_id"]
    start = datetime(2025, 3, 4, 15, tzinfo=timezone.utc)
    for i, (symbol, buy, sell) in enumerate([("AAPL", "200", "212.5"), ("TSLA", "250", "240"), ("NVDA", "110", "118"),
                                              ("AAPL", "210", "205"), ("MSFT", "380", "391.25")]):
        opened = start + timedelta(days=7 * i)
        rows.append(f"{opened.isoformat()},{symbol},buy,10,{buy},o{i}a")
        rows.append(f"{(opened + timedelta(days=2)).isoformat()},{symbol},sell,10,{sell},o{i}b")
    paths["fills"].write_text("\n".join(rows) + "\n")
    return paths


def offline_args(files: dict[str, Path]) -> list[str]:
    return ["--offline", "--equity-csv", str(files["equity"]), "--benchmark-csv", str(files["benchmark"]),
            "--fills-csv", str(files["fills"])]
