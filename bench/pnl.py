"""How fast is ``novalgo pnl``? Compared with only reading the same CSV with pandas.

Generates seeded fills (1,000,000 over 500 symbols, then 2,000,000) into a temporary
directory, and times, median of 3 runs each, wall clock and CPU (CPU is steadier on a
shared machine):
  * ``novalgo pnl --fills FILE --json`` run as a subprocess (``python -m novalgo``), so
    interpreter start and imports are included, as a user would see them;
  * ``pandas.read_csv(FILE)`` in this process, and as its own ``python -c`` process.
Goals: pnl ≤ 3× the pandas read, and the 2M time about 2× the 1M time (linear).
It also says which path ``novalgo pnl`` took for each file (the exact integer columns or the
Decimal fallback) and, in this process, where the time of one run goes.

    python bench/pnl.py [--fills 1000000] [--symbols 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
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


Timing = tuple[float, float]  # (wall seconds, CPU seconds)


def run_timed(command: list[str]) -> tuple[Timing, str]:
    """Wall and CPU time (user + sys of the child) of a subprocess, and its output."""
    before, began = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    return (time.perf_counter() - began, _children_cpu() - before), done.stdout


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_pnl(path: Path) -> tuple[Timing, dict]:
    timing, out = run_timed([sys.executable, "-m", "novalgo", "pnl", "--fills", str(path), "--json"])
    return timing, json.loads(out)


def time_pandas_in_process(path: Path) -> Timing:
    import pandas

    began, cpu = time.perf_counter(), time.process_time()
    pandas.read_csv(path)
    return time.perf_counter() - began, time.process_time() - cpu


def time_pandas_process(path: Path) -> Timing:
    """A script that only reads the CSV with pandas: start-up and import included, like pnl's."""
    return run_timed([sys.executable, "-c", f"import pandas; pandas.read_csv({str(path)!r})"])[0]


def path_taken(path: Path) -> str:
    """Which path ``novalgo pnl`` takes for this file (the choice depends on the file only)."""
    from novalgo.cli.pnl import fast_report

    if fast_report(path) is not None:
        return "fast: pandas-read exact integer columns, FIFO in numpy"
    return "exact: csv module and Decimal FIFO (the fast path refused this file)"


def where_time_goes(path: Path, runs: int) -> list[tuple[str, float]]:
    """Medians of the stages of one pnl run, in this process; start-up measured as processes."""
    import gc

    from novalgo.cli.pnl import as_json
    from novalgo.cli.pnl_columns import read_fill_columns
    from novalgo.domain.fifo_fast import match_fifo_columns

    def stages() -> tuple[float, float, float]:
        gc.disable()  # as the command does
        try:
            began = time.perf_counter()
            columns = read_fill_columns(path)
            read = time.perf_counter()
            figures = match_fifo_columns(columns)
            matched = time.perf_counter()
            json.dumps(as_json(*figures), indent=1)
            return read - began, matched - read, time.perf_counter() - matched
        finally:
            gc.enable()

    timings = [stages() for _ in range(runs)]
    start_up = median_of(runs, lambda: run_timed([sys.executable, "-m", "novalgo", "pnl", "--help"])[0])
    imports = median_of(runs, lambda: run_timed([sys.executable, "-c", "import pandas"])[0])
    return [("start-up: python -m novalgo pnl --help", start_up[0]),
            ("start-up: python -c 'import pandas'", imports[0]),
            ("read: CSV to exact integer columns", statistics.median(t[0] for t in timings)),
            ("match: FIFO over the columns", statistics.median(t[1] for t in timings)),
            ("output: JSON", statistics.median(t[2] for t in timings))]


def median_of(runs: int, measure) -> Timing:
    timings = [measure() for _ in range(runs)]
    return statistics.median(t[0] for t in timings), statistics.median(t[1] for t in timings)


def show(label: str, timing: Timing, base: Timing | None = None, goal: str = "") -> None:
    line = f"{label:<38} {timing[0]:6.2f} s wall {timing[1]:6.2f} s cpu"
    if base is not None:
        line += f"   ratio {timing[0] / base[0]:4.2f}x wall {timing[1] / base[1]:4.2f}x cpu {goal}"
    print(line)


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
        trades = time_pnl(one)[1]["total"]["total_trades"]  # also warms the file cache
        pandas_in = median_of(args.runs, lambda: time_pandas_in_process(one))
        pandas_proc = median_of(args.runs, lambda: time_pandas_process(one))
        pnl_1x = median_of(args.runs, lambda: time_pnl(one)[0])
        pnl_2x = median_of(args.runs, lambda: time_pnl(two)[0])
        paths = path_taken(one), path_taken(two)
        stages = where_time_goes(one, args.runs) if paths[0].startswith("fast") else []
    print(f"{args.fills:,} fills over {args.symbols} symbols ({trades:,} closed trades); median of {args.runs} runs")
    print(f"path at {args.fills:,} fills: {paths[0]}")
    print(f"path at {2 * args.fills:,} fills: {paths[1]}")
    show("pandas.read_csv, in this process", pandas_in)
    show("pandas.read_csv, as its own process", pandas_proc)
    show("novalgo pnl --json (subprocess)", pnl_1x, pandas_in, "vs in-process read (goal <= 3x)")
    show("", pnl_1x, pandas_proc, "vs a pandas process")
    show(f"novalgo pnl at {2 * args.fills:,} fills", pnl_2x, pnl_1x, f"vs {args.fills:,} (goal ~2x)")
    if stages:
        print(f"where the time of one {args.fills:,}-fill run goes (wall, median of {args.runs}):")
        for label, seconds in stages:
            print(f"  {label:<40} {seconds:6.3f} s")


if __name__ == "__main__":
    main()
