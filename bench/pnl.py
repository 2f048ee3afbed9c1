"""How fast is ``novalgo pnl``? Compared with only reading the same CSV with pandas.

Generates seeded fills (1,000,000 over 500 symbols, then 2,000,000) into a temporary
directory, and times, median of 3 runs each:
  * ``novalgo pnl --fills FILE --json`` run as a subprocess (``python -m novalgo``), so
    interpreter start and imports are included, as a user would see them;
  * ``pandas.read_csv(FILE)`` in this process.
Goals: pnl ≤ 3× the pandas read, and the 2M time about 2× the 1M time (linear).

    python bench/pnl.py [--fills 1000000] [--symbols 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def generate(path: Path, fills: int, symbols: int, seed: int = 7) -> None:
    """Random long/short trading: orders of 1–3 fills, fractional sizes, a random-walk price."""
    rng = random.Random(seed)
    names = [f"S{n:03d}" for n in range(symbols)]
    prices = {name: rng.uniform(5, 500) for name in names}
    start = datetime(2025, 1, 2, 14, 30, tzinfo=timezone.utc)
    with open(path, "w", newline="") as out:
        out.write("time,symbol,side,qty,price,order_id\n")
        written = order = 0
        while written < fills:
            name = rng.choice(names)
            side = "buy" if rng.random() < 0.5 else "sell"
            order += 1
            for _ in range(min(rng.randint(1, 3), fills - written)):
                prices[name] = max(1.0, prices[name] * (1 + rng.gauss(0, 0.002)))
                qty = rng.choice((rng.randint(1, 100), round(rng.uniform(0.01, 50), 3)))
                when = (start + timedelta(milliseconds=250 * written)).isoformat()
                out.write(f"{when},{name},{side},{qty},{prices[name]:.2f},o{order}\n")
                written += 1


def time_pnl(path: Path) -> tuple[float, dict]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "novalgo", "pnl", "--fills", str(path), "--json"],
                          capture_output=True, text=True, check=True, timeout=600)
    return time.perf_counter() - began, json.loads(done.stdout)


def time_pandas(path: Path) -> float:
    import pandas

    began = time.perf_counter()
    pandas.read_csv(path)
    return time.perf_counter() - began


def median_of(runs: int, measure) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="novalgo-bench-") as folder:
        one, two = Path(folder) / "fills_1x.csv", Path(folder) / "fills_2x.csv"
        generate(one, args.fills, args.symbols)
        generate(two, 2 * args.fills, args.symbols)
        trades = time_pnl(one)[1]["total"]["total_trades"]
        pandas_1x = median_of(args.runs, lambda: time_pandas(one))
        pnl_1x = median_of(args.runs, lambda: time_pnl(one)[0])
        pnl_2x = median_of(args.runs, lambda: time_pnl(two)[0])
    print(f"fills: {args.fills:,} over {args.symbols} symbols ({trades:,} closed trades); median of {args.runs}")
    print(f"pandas.read_csv only       : {pandas_1x:6.2f} s")
    print(f"novalgo pnl --json (process): {pnl_1x:6.2f} s   ratio {pnl_1x / pandas_1x:4.2f}x  (goal <= 3x)")
    print(f"novalgo pnl at {2 * args.fills:,} fills: {pnl_2x:6.2f} s   2M/1M {pnl_2x / pnl_1x:4.2f}x  (goal ~2x)")


if __name__ == "__main__":
    main()
