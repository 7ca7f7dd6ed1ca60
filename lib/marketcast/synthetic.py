"""Synthetic AAVAIL-shaped invoice files, deterministic from a seed.

Used by ``make run`` on a machine without the real data, and by tests. Revenue per country has a
level, a weekly pattern and noise; a few lines are cancellations, a few are exact duplicates, one
small country has only a handful of days, and the last month names the price ``total_price`` the
way the real December file does.

    python -m marketcast.synthetic --out data/aavail [--days 150] [--seed 7]

With ``--series N`` it writes N generated series of ``--days`` days instead (level, trend,
weekly and yearly pattern, noise, intermittent series), as AAVAIL-shaped JSON invoices,
Parquet invoice lines, or the daily series themselves (``--form``); ``--skew`` gives one market
half of all lines. ``jobs/generate.py`` is the same command.
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


def invoice_lines(
    series: int,
    days: int,
    *,
    seed: int = 7,
    end: dt.date = dt.date(2019, 12, 31),
    lines_per_day: float = 3.0,
    skew: bool = False,
) -> pd.DataFrame:
    """Invoice lines whose daily sums are :func:`daily_series` (to the cent).

    Each market's day with revenue becomes one invoice of about ``lines_per_day`` lines that
    share the day's revenue; with ``skew`` the first market has as many lines as all others
    together (half of all rows), the shape that must not overload one task. Columns: country
    (the market), customer_id, invoice, stream_id, times_viewed, price, date.
    """
    daily = daily_series(series, days, seed=seed, end=end)
    daily = daily[daily["revenue"] > 0].reset_index(drop=True)
    rng = np.random.default_rng(seed + 1)
    lines = 1 + rng.poisson(max(lines_per_day - 1.0, 0.0), size=len(daily))
    if skew and series > 1:
        first = (daily["market"] == daily["market"].iloc[0]).to_numpy()
        wanted = lines[~first].sum()
        lines[first] = np.maximum(1, np.round(wanted / max(first.sum(), 1))).astype(int)
    row = np.repeat(np.arange(len(daily)), lines)
    weights = rng.gamma(2.0, 1.0, size=len(row))
    starts = np.concatenate([[0], np.cumsum(lines)[:-1]])
    shares = weights / np.repeat(np.add.reduceat(weights, starts), lines)
    cents = np.floor(np.repeat(daily["revenue"].to_numpy() * 100, lines) * shares)
    # The rounding remainder goes to each invoice's first line, so days sum to the cent.
    remainder = np.round(daily["revenue"].to_numpy() * 100) - np.add.reduceat(cents, starts)
    cents[starts] += remainder
    return pd.DataFrame(
        {
            "country": daily["market"].to_numpy()[row],
            "customer_id": rng.integers(10000, 99999, size=len(row)),
            "invoice": (500000 + row).astype(str),
            "stream_id": rng.integers(1, 500, size=len(row)).astype(str),
            "times_viewed": rng.integers(0, 20, size=len(row)),
            "price": cents / 100.0,
            "date": daily["ds"].to_numpy()[row],
        }
    )


def write_dataset(
    out: Path,
    *,
    series: int,
    days: int,
    form: str = "json",
    seed: int = 7,
    skew: bool = False,
    end: dt.date = dt.date(2019, 12, 31),
) -> int:
    """Write generated data below ``out``; returns the number of rows written.

    Forms: ``json``, AAVAIL-shaped invoice files (one JSON array per month, read with the
    default configuration); ``parquet``, the same lines as one Parquet file per month
    (``conf/synthetic-parquet.yaml``); ``daily``, the daily series themselves as Parquet
    (``conf/synthetic-daily.yaml``).
    """
    out.mkdir(parents=True, exist_ok=True)
    if form == "daily":
        frame = daily_series(series, days, seed=seed, end=end)
        frame.to_parquet(out / "daily.parquet", index=False)
        return len(frame)
    lines = invoice_lines(series, days, seed=seed, end=end, skew=skew)
    month = pd.to_datetime(lines["date"]).dt.strftime("%Y-%m")
    for name, part in lines.groupby(month, sort=True):
        if form == "parquet":
            part.to_parquet(out / f"invoices-{name}.parquet", index=False)
        else:
            days_of = pd.to_datetime(part["date"])
            records = part.drop(columns="date").assign(
                year=days_of.dt.year.astype(str),
                month=days_of.dt.strftime("%m"),
                day=days_of.dt.strftime("%d"),
            )
            (out / f"invoices-{name}.json").write_text(records.to_json(orient="records"))
    return len(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="generate",
        description="Write synthetic data: AAVAIL-shaped invoices of a few countries (the "
        "default), or N generated series of T days with --series.",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write into")
    parser.add_argument(
        "--days", type=int, default=None, help="days of data (150; 365 with --series)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--series", type=int, help="number of generated series (markets)")
    parser.add_argument(
        "--form", choices=("json", "parquet", "daily"), default="json", help="with --series"
    )
    parser.add_argument(
        "--skew", action="store_true", help="with --series: the first market has half the lines"
    )
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2019, 12, 31))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.series is None:
        log.info("writing a small synthetic AAVAIL-shaped dataset to %s", args.out)
        generate_invoices(args.out, days=args.days or 150, seed=args.seed)
        return
    if args.series < 1 or (args.days or 365) < 1:
        parser.error("--series and --days must be at least 1")
    rows = write_dataset(
        args.out,
        series=args.series,
        days=args.days or 365,
        form=args.form,
        seed=args.seed,
        skew=args.skew,
        end=args.end,
    )
    log.info("wrote %d %s rows of %d series to %s", rows, args.form, args.series, args.out)


if __name__ == "__main__":
    main()
