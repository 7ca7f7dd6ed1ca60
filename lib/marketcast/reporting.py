"""Text summaries of a run for the console."""

from __future__ import annotations

import datetime as dt
import os

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from marketcast import tables

SUMMARY_ROWS = 60


def run_summary(spark: SparkSession, lake: str, as_of: dt.date, *, all_market: str = "ALL") -> str:
    """Where the tables are, and per market: status, model, history and the horizon's total.

    The band is the sum of the daily 80% bounds: when days move together this is the total's
    interval; when they move independently it is wider than needed.
    """
    status = tables.read(spark, lake, tables.GOLD_FORECAST_STATUS).where(
        F.col("as_of") == F.lit(as_of)
    )
    forecasts = tables.read(spark, lake, tables.GOLD_FORECASTS).where(
        (F.col("as_of") == F.lit(as_of)) & F.col("selected")
    )
    level = _lowest_level(forecasts.columns)
    band = []
    if level:
        band = [
            F.sum(f"yhat_lo_{level}").alias("lo"),
            F.sum(f"yhat_hi_{level}").alias("hi"),
        ]
    totals = forecasts.groupBy("market").agg(
        F.sum("yhat").alias("total"), F.count(F.lit(1)).alias("days"), *band
    )
    rows = (
        status.join(totals, "market", "left")
        .orderBy(F.desc_nulls_last("total"), "market")
        .limit(SUMMARY_ROWS)
        .collect()
    )
    shown_lake = lake if "://" in lake else os.path.abspath(lake)
    lines = [
        f"lake: {shown_lake}",
        "tables: "
        + ", ".join(
            tables.table_path(lake, name)
            for name in (
                tables.BRONZE_INVOICES,
                tables.SILVER_DAILY_REVENUE,
                tables.GOLD_FORECASTS,
                tables.GOLD_BACKTESTS,
                tables.GOLD_MODEL_SELECTION,
                tables.GOLD_FORECAST_STATUS,
                tables.OPS_RUNS,
            )
        ),
        f"as of {as_of}: forecast total per market (band: sum of daily {level}% bounds)",
        f"{'market':<24} {'status':<10} {'model':<17} {'days':>5} {'total':>14} {'band':>29}",
    ]
    for row in rows:
        total = "" if row["total"] is None else f"{row['total']:,.0f}"
        band_text = ""
        if level and row["lo"] is not None and row["hi"] is not None:
            band_text = f"{row['lo']:,.0f} .. {row['hi']:,.0f}"
        lines.append(
            f"{row['market'][:24]:<24} {row['status']:<10} {(row['model_used'] or '-'):<17} "
            f"{row['history_days']:>5} {total:>14} {band_text:>29}"
        )
    lines += [
        "",
        f"{all_market} is forecast as a series of its own, so it need not equal the sum of the",
        "markets. A market that sells on few days can be forecast at 0 with a wide band; its",
        "revenue can be negative where refunds and cancellations outweigh sales.",
    ]
    return "\n".join(lines)


def _lowest_level(columns: list[str]) -> int | None:
    levels = sorted(int(name.rsplit("_", 1)[1]) for name in columns if name.startswith("yhat_lo_"))
    return levels[0] if levels else None
