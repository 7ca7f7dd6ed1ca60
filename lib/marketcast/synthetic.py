"""Synthetic AAVAIL-shaped invoice files, deterministic from a seed.

Used by ``make run`` on a machine without the real data, and by tests. Revenue per country has a
level, a weekly pattern and noise; a few lines are cancellations, a few are exact duplicates, one
small country has only a handful of days, and the last month names the price ``total_price`` the
way the real December file does.

    python -m marketcast.synthetic --out data/aavail [--days 150] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: Country, mean invoice lines per day, share of days with sales.
COUNTRIES = (
    ("United Kingdom", 60.0, 1.0),
    ("Germany", 8.0, 0.9),
    ("France", 6.0, 0.85),
    ("EIRE", 4.0, 0.7),
    ("Spain", 1.5, 0.4),
)
WEEKLY = np.array([1.1, 1.2, 1.15, 1.3, 0.9, 0.0, 0.8])  # Saturday has no sales, as in AAVAIL


def generate_invoices(
    out: Path, *, start: dt.date = dt.date(2019, 8, 1), days: int = 150, seed: int = 7
) -> int:
    """Write one JSON-array file per month below ``out``; returns the number of lines."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    months: dict[tuple[int, int], list[dict]] = {}
    invoice_no = 500000
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        for country, mean_lines, active in COUNTRIES:
            if rng.random() > active:
                continue
            lines = rng.poisson(mean_lines * WEEKLY[day.weekday()])
            for _ in range(max(lines // 5, 1) if lines else 0):
                invoice_no += 1
                cancelled = rng.random() < 0.02
                invoice = f"C{invoice_no}" if cancelled else str(invoice_no)
                for _ in range(rng.integers(1, 9)):
                    months.setdefault((day.year, day.month), []).append(
                        _line(rng, country, invoice, day)
                    )
    # A country seen on three days only, and an exact duplicate line.
    for offset in (3, 4, 9):
        day = start + dt.timedelta(days=offset)
        months[(day.year, day.month)].append(_line(rng, "Greece", str(invoice_no + offset), day))
    first = next(iter(months.values()))
    first.append(dict(first[0]))

    last = max(months)
    total = 0
    for (year, month), records in sorted(months.items()):
        if (year, month) == last:
            records = [_rename(record, "price", "total_price") for record in records]
        path = out / f"invoices-{year}-{month:02d}.json"
        path.write_text(json.dumps(records))
        total += len(records)
    log.info("wrote %d synthetic invoice lines in %d files to %s", total, len(months), out)
    return total


def daily_series(
    series: int,
    days: int,
    *,
    seed: int = 7,
    end: dt.date = dt.date(2019, 12, 31),
    zero_share: float = 0.1,
) -> pd.DataFrame:
    """``series`` daily revenue series of ``days`` days each, in long form (market, ds, revenue).

    Each series has its own level (log-normal), trend, weekly and yearly pattern and noise; a
    ``zero_share`` of the series are intermittent (most days zero). Deterministic from ``seed``.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    level = rng.lognormal(mean=6.0, sigma=1.0, size=(series, 1))
    trend = 1 + rng.normal(0, 0.3, size=(series, 1)) * t / 365
    weekly = WEEKLY[(t + end.toordinal() - days + 1) % 7]
    weekly = np.where(weekly == 0, 0.05, weekly)
    yearly = 1 + rng.uniform(0, 0.3, size=(series, 1)) * np.sin(
        2 * np.pi * (t + rng.integers(0, 365, size=(series, 1))) / 365
    )
    noise = rng.gamma(8.0, 1 / 8.0, size=(series, days))
    values = level * trend * weekly * yearly * noise
    intermittent = rng.random(series) < zero_share
    values[intermittent] *= rng.random((intermittent.sum(), days)) < 0.15
    days_index = pd.date_range(end=pd.Timestamp(end), periods=days)
    width = len(str(series))
    return pd.DataFrame(
        {
            "market": np.repeat([f"S{number:0{width}d}" for number in range(series)], days),
            "ds": np.tile(days_index.date, series),
            "revenue": np.round(np.maximum(values, 0.0), 2).ravel(),
        }
    )


def _line(rng: np.random.Generator, country: str, invoice: str, day: dt.date) -> dict:
    return {
        "country": country,
        "customer_id": float(rng.integers(12000, 18000)) if rng.random() < 0.8 else None,
        "invoice": invoice,
        "price": round(float(rng.gamma(2.0, 2.5)), 2),
        "stream_id": str(rng.integers(20000, 90000)),
        "times_viewed": int(rng.integers(0, 20)),
        "year": str(day.year),
        "month": f"{day.month:02d}",
        "day": f"{day.day:02d}",
    }


def _rename(record: dict, old: str, new: str) -> dict:
    return {(new if key == old else key): value for key, value in record.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write synthetic AAVAIL-shaped invoice files.")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log.info("no invoice data at %s: writing a small synthetic AAVAIL-shaped dataset", args.out)
    generate_invoices(args.out, days=args.days, seed=args.seed)


if __name__ == "__main__":
    main()
