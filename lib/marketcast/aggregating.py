"""Aggregate stage: ``bronze/invoices`` to ``silver/daily_revenue``.

One row per market and day on a complete calendar from the market's first invoice day to the
as-of date (days without invoices get zeros), plus a market that sums every country.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from marketcast import schemas, tables


def last_invoice_day(invoices: DataFrame) -> dt.date | None:
    """The newest invoice day in the frame, or None when it is empty."""
    return invoices.agg(F.max("invoice_date")).first()[0]


def market_name(columns: Sequence[str]) -> Column:
    """The market's name: the one column's value, or the values joined with `` | ``."""
    if len(columns) == 1:
        return F.col(columns[0]).cast("string")
    return F.concat_ws(" | ", *[F.coalesce(F.col(c).cast("string"), F.lit("-")) for c in columns])


def _measures() -> list[Column]:
    return [
        F.sum("revenue").alias("revenue"),
        F.countDistinct("invoice").alias("invoices"),
        F.count(F.lit(1)).alias("purchases"),
        F.countDistinct("stream_id").alias("streams"),
        F.coalesce(F.sum("times_viewed"), F.lit(0)).cast("long").alias("views"),
    ]


def daily_revenue(
    invoices: DataFrame,
    *,
    as_of: dt.date,
    market_columns: Sequence[str] = ("country",),
    all_market: str = "ALL",
) -> DataFrame:
    """Daily measures per market on a gap-free calendar ending at ``as_of``.

    Args:
        invoices: Bronze invoice lines (``revenue`` is already signed per the revenue rule).
        as_of: The last day of the calendar; lines after it are left out.
        market_columns: The columns whose values together name the market.
        all_market: The name of the market that sums all others.

    Returns:
        A frame with the columns of :data:`marketcast.schemas.SILVER_DAILY_REVENUE`.

    Notes:
        A market whose first invoice is after ``as_of`` does not appear.
    """
    lines = invoices.where(F.col("invoice_date") <= F.lit(as_of)).withColumnRenamed(
        "invoice_date", "ds"
    )
    per_market = lines.groupBy(market_name(market_columns).alias("market"), "ds").agg(*_measures())
    whole = lines.groupBy("ds").agg(*_measures()).withColumn("market", F.lit(all_market))
    daily = per_market.unionByName(whole)
    return fill_calendar(daily, as_of=as_of)


def fill_calendar(daily: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Add the missing days of every market, from its first day to ``as_of``, with zeros."""
    calendar = (
        daily.groupBy("market")
        .agg(F.min("ds").alias("first_day"))
        .select("market", F.explode(F.sequence("first_day", F.lit(as_of))).alias("ds"))
    )
    filled = calendar.join(daily, ["market", "ds"], "left")
    zeros = {"revenue": 0.0, "invoices": 0, "purchases": 0, "streams": 0, "views": 0}
    return filled.fillna(zeros).select(
        F.lit(as_of).alias("as_of"),
        "market",
        "ds",
        F.col("revenue").cast("double"),
        *[F.col(name).cast("long") for name in ("invoices", "purchases", "streams", "views")],
    )


def write_daily_revenue(daily: DataFrame, *, lake: str, as_of: dt.date) -> None:
    """Replace the as-of date's partition of ``silver/daily_revenue``."""
    tables.write_slice(
        daily,
        lake=lake,
        name=tables.SILVER_DAILY_REVENUE,
        schema=schemas.SILVER_DAILY_REVENUE,
        condition=f"as_of = '{as_of.isoformat()}'",
        partition_by=("as_of",),
    )
