"""Holdout evaluation: a past forecast run against the actuals the lake now holds.

For every market and model of the run, the error of the horizon's revenue total; then, over the
markets, the revenue-weighted error (sum of absolute total errors over sum of absolute actual
totals) of the chosen models, of SeasonalNaive, and of every model used everywhere.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from marketcast import tables

CHOSEN = "chosen"


def holdout_totals(
    spark: SparkSession, lake: str, *, as_of: dt.date, min_history_days: int = 60
) -> pd.DataFrame:
    """Forecast and actual totals per market and model for the forecast run of ``as_of``.

    Only markets with at least ``min_history_days`` days of history at ``as_of`` and actuals for
    every day of the window take part. Rows with model ``chosen`` hold the selected forecast.

    Returns:
        Columns market, model, forecast, actual, abs_error, rel_error.
    """
    status = tables.read(spark, lake, tables.GOLD_FORECAST_STATUS).where(
        (F.col("as_of") == F.lit(as_of)) & (F.col("history_days") >= min_history_days)
    )
    forecasts = tables.read(spark, lake, tables.GOLD_FORECASTS).where(
        F.col("as_of") == F.lit(as_of)
    )
    silver = tables.read(spark, lake, tables.SILVER_DAILY_REVENUE)
    newest = silver.agg(F.max("as_of")).first()[0]
    actuals = silver.where(F.col("as_of") == F.lit(newest)).select(
        "market", "ds", F.col("revenue").alias("actual")
    )
    chosen = forecasts.where(F.col("selected")).withColumn("model", F.lit(CHOSEN))
    joined = (
        forecasts.unionByName(chosen)
        .join(status.select("market"), "market")
        .join(actuals, ["market", "ds"], "left")
    )
    totals = (
        joined.groupBy("market", "model")
        .agg(
            F.sum("yhat").alias("forecast"),
            F.sum("actual").alias("actual"),
            F.count("actual").alias("actual_days"),
            F.count(F.lit(1)).alias("days"),
        )
        .where(F.col("actual_days") == F.col("days"))
        .toPandas()
    )
    totals["abs_error"] = (totals["forecast"] - totals["actual"]).abs()
    totals["rel_error"] = totals["abs_error"] / totals["actual"].abs()
    return totals.drop(columns=["actual_days", "days"]).sort_values(["market", "model"])


def weighted_errors(totals: pd.DataFrame, *, exclude: tuple[str, ...] = ("ALL",)) -> pd.Series:
    """Revenue-weighted error of the horizon total per model, over the markets not excluded."""
    markets = totals[~totals["market"].isin(exclude)]
    complete = markets.groupby("model")["market"].transform("count") == markets["market"].nunique()
    markets = markets[complete]
    grouped = markets.groupby("model")
    return (
        grouped["abs_error"].sum() / grouped["actual"].apply(lambda s: s.abs().sum())
    ).sort_values()


def holdout_report(totals: pd.DataFrame, *, all_market: str = "ALL") -> str:
    """A Markdown summary: weighted errors per model, ALL, and the per-market table."""
    weighted = weighted_errors(totals, exclude=(all_market,))
    whole = totals[totals["market"] == all_market].set_index("model")["rel_error"].sort_values()
    fixed = weighted.drop(CHOSEN, errors="ignore")
    lines = [
        f"markets: {totals.loc[totals['market'] != all_market, 'market'].nunique()}",
        "",
        "| model | revenue-weighted error of 30-day totals (markets) | error for ALL |",
        "| --- | --- | --- |",
    ]
    for model in weighted.index:
        lines.append(f"| {model} | {weighted[model]:.1%} | {whole.get(model, float('nan')):.1%} |")
    lines.append("")
    best = fixed.index[0] if len(fixed) else None
    lines.append(f"best fixed model over the markets: {best}")
    lines.append("")
    lines.append(
        f"| market | actual | chosen | chosen error | SeasonalNaive error | {best} error |"
    )
    lines.append("| --- | --- | --- | --- | --- | --- |")
    by = totals.set_index(["market", "model"])
    for market in sorted(
        totals["market"].unique(), key=lambda m: -abs(by.loc[(m, CHOSEN), "actual"])
    ):

        def err(model, market=market):
            key = (market, model)
            return f"{by.loc[key, 'rel_error']:.1%}" if key in by.index else "-"

        lines.append(
            f"| {market} | {by.loc[(market, CHOSEN), 'actual']:,.0f} | "
            f"{by.loc[(market, CHOSEN), 'forecast']:,.0f} | {err(CHOSEN)} | "
            f"{err('SeasonalNaive')} | {err(best)} |"
        )
    return "\n".join(lines)
