"""The business question: expected revenue of a market in the horizon after a date.

Reads the forecast run of that as-of date from the gold tables; when the lake has none, runs the
aggregate and forecast stages for that date first, using only invoices up to it. Where the lake
holds actuals for the window, they are shown beside the forecast.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import functions as F

from marketcast import pipeline, tables
from marketcast.aggregating import market_name
from marketcast.answers import Answer
from marketcast.errors import UserError

log = logging.getLogger(__name__)


def predict(context: pipeline.RunContext, *, market: str, as_of: dt.date) -> Answer:
    """Answer for ``market`` (or the all-markets total) after ``as_of``.

    Raises:
        UserError: The lake has no invoices, the date is after the last invoice day, the market
            is unknown, or it has too little history before the date.
    """
    spark, lake = context.spark, context.lake
    if not pipeline.has_forecast(context, as_of):
        _check_date(context, market=market, as_of=as_of)
        pipeline.ensure_forecast(context, as_of)

    status = (
        tables.read(spark, lake, tables.GOLD_FORECAST_STATUS)
        .where((F.col("as_of") == F.lit(as_of)) & (F.col("market") == market))
        .first()
    )
    if status is None:
        raise UserError(
            f"unknown market {market!r} for as-of date {as_of}; {_markets_hint(context, as_of)}"
        )
    if status["status"] == "too_short":
        raise UserError(
            f"market {market!r} has only {status['history_days']} days of history up to {as_of}; "
            f"at least {context.config.forecast.min_history_days} are needed for a forecast"
        )
    forecasts = tables.read(spark, lake, tables.GOLD_FORECASTS).where(
        (F.col("as_of") == F.lit(as_of)) & (F.col("market") == market) & F.col("selected")
    )
    levels = sorted(
        int(name.rsplit("_", 1)[1]) for name in forecasts.columns if name.startswith("yhat_lo_")
    )
    sums = forecasts.agg(
        F.sum("yhat").alias("expected"),
        F.min("ds").alias("first"),
        F.max("ds").alias("last"),
        F.count(F.lit(1)).alias("days"),
        *[F.sum(f"yhat_lo_{level}").alias(f"lo_{level}") for level in levels],
        *[F.sum(f"yhat_hi_{level}").alias(f"hi_{level}") for level in levels],
    ).first()
    if not sums["days"]:
        raise UserError(
            f"market {market!r} has no forecast for as-of date {as_of}: status "
            f"{status['status']}, {status['message']}"
        )
    bands = {
        level: (sums[f"lo_{level}"], sums[f"hi_{level}"])
        for level in levels
        if sums[f"lo_{level}"] is not None and sums[f"hi_{level}"] is not None
    }
    actual, actual_days = _actuals(context, market, sums["first"], sums["last"])
    return Answer(
        market=market,
        as_of=as_of,
        first_day=sums["first"],
        last_day=sums["last"],
        model=status["model_used"] or "-",
        status=status["status"],
        expected=float(sums["expected"]),
        bands=bands,
        actual=actual,
        actual_days=actual_days,
    )


def _check_date(context: pipeline.RunContext, *, market: str, as_of: dt.date) -> None:
    invoices = tables.read(context.spark, context.lake, tables.BRONZE_INVOICES)
    everything = market == context.config.aggregate.all_market
    columns = context.config.source.market_columns
    scope = invoices if everything else invoices.where(market_name(columns) == market)
    bounds = scope.agg(F.min("invoice_date"), F.max("invoice_date")).first()
    last_overall = invoices.agg(F.max("invoice_date")).first()[0]
    if last_overall is None:
        raise UserError("the lake holds no invoices: run the ingest stage first")
    if as_of > last_overall:
        raise UserError(
            f"{as_of} is after the last invoice day in the lake ({last_overall}); "
            "a forecast from there would be a guess"
        )
    if bounds[0] is None:
        raise UserError(f"unknown market {market!r}: no invoices for it in the lake")
    history_days = (as_of - bounds[0]).days + 1
    needed = context.config.forecast.min_history_days
    if history_days < needed:
        raise UserError(
            f"market {market!r} has {max(history_days, 0)} days of history up to {as_of}; "
            f"at least {needed} are needed (its first invoice day is {bounds[0]})"
        )


def _actuals(
    context: pipeline.RunContext, market: str, first: dt.date, last: dt.date
) -> tuple[float | None, int]:
    silver = tables.read(context.spark, context.lake, tables.SILVER_DAILY_REVENUE)
    newest = silver.agg(F.max("as_of")).first()[0]
    if newest is None or newest < first:
        return None, 0
    row = (
        silver.where(
            (F.col("as_of") == F.lit(newest))
            & (F.col("market") == market)
            & F.col("ds").between(F.lit(first), F.lit(last))
        )
        .agg(F.sum("revenue").alias("revenue"), F.count(F.lit(1)).alias("days"))
        .first()
    )
    if not row["days"]:
        return None, 0
    return float(row["revenue"]), int(row["days"])


def _markets_hint(context: pipeline.RunContext, as_of: dt.date) -> str:
    names = [
        row.market
        for row in tables.read(context.spark, context.lake, tables.GOLD_FORECAST_STATUS)
        .where(F.col("as_of") == F.lit(as_of))
        .select("market")
        .orderBy("market")
        .limit(12)
        .collect()
    ]
    return "markets include: " + ", ".join(names)
