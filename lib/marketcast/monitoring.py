"""Monitoring: realised accuracy of earlier forecasts, and drift of the newest input window.

Accuracy: every forecast run whose window now has actuals in the newest daily revenue is scored
day by day into ``gold/forecast_accuracy``; a run's rows are replaced whenever more of its window
becomes known, so the table always holds each run scored against the newest actuals.

Drift: per market, the newest ``recent_days`` of the input are compared with the
``reference_days`` before them, for four measures (daily revenue, lines per invoice, views per
line, price of sale lines), by the population stability index over the reference window's
quantile bins. An index above the configured threshold and above what sampling alone
produces at the configured confidence (small windows are noisy) is an alert; every measure
lands in ``ops/drift`` and the alerts in the monitor stage's record in ``ops/runs``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from marketcast import schemas, tables
from marketcast.aggregating import market_name
from marketcast.config import MonitorSettings

FEATURES = ("daily_revenue", "lines_per_invoice", "views", "price")


def score_forecasts(
    spark: SparkSession, lake: str, *, actuals_as_of: dt.date, run_id: str
) -> list[dt.date]:
    """Score every earlier forecast run against the daily revenue of ``actuals_as_of``.

    Returns the as-of dates of the runs scored (those with at least one known day).
    """
    if not tables.exists(spark, lake, tables.GOLD_FORECASTS):
        return []
    actuals = (
        tables.read(spark, lake, tables.SILVER_DAILY_REVENUE)
        .where(F.col("as_of") == F.lit(actuals_as_of))
        .select("market", "ds", F.col("revenue").alias("actual"))
    )
    forecasts = tables.read(spark, lake, tables.GOLD_FORECASTS).where(
        (F.col("as_of") < F.lit(actuals_as_of)) & (F.col("ds") <= F.lit(actuals_as_of))
    )
    scored = forecasts.join(actuals, ["market", "ds"]).select(
        "as_of",
        F.col("run_id").alias("forecast_run_id"),
        "market",
        "model",
        "selected",
        "horizon_day",
        "ds",
        F.col("yhat").alias("forecast"),
        "actual",
        (F.col("yhat") - F.col("actual")).alias("error"),
        F.abs(F.col("yhat") - F.col("actual")).alias("abs_error"),
        F.lit(actuals_as_of).alias("actuals_as_of"),
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("created_at"),
    )
    runs = sorted(row.as_of for row in scored.select("as_of").distinct().collect())
    if not runs:
        return []
    listed = ", ".join(f"DATE'{day.isoformat()}'" for day in runs)
    tables.write_slice(
        scored,
        lake=lake,
        name=tables.GOLD_FORECAST_ACCURACY,
        schema=schemas.GOLD_FORECAST_ACCURACY,
        condition=f"as_of IN ({listed})",
        partition_by=("as_of",),
    )
    return runs


def drift_values(
    invoices: DataFrame,
    daily: DataFrame,
    *,
    as_of: dt.date,
    settings: MonitorSettings,
    market_columns: list[str],
    all_market: str,
) -> DataFrame:
    """One long frame (market, feature, recent, value) of the two windows before ``as_of``.

    ``daily`` is the daily revenue of the as-of date (with the all-markets row); ``invoices``
    are bronze lines.
    """
    recent_start = as_of - dt.timedelta(days=settings.recent_days - 1)
    reference_start = recent_start - dt.timedelta(days=settings.reference_days)

    def windowed(frame: DataFrame, day: str) -> DataFrame:
        return frame.where(F.col(day).between(F.lit(reference_start), F.lit(as_of))).withColumn(
            "recent", F.col(day) >= F.lit(recent_start)
        )

    revenue = windowed(daily, "ds")
    lines = windowed(invoices, "invoice_date")
    lines = lines.withColumn("market", market_name(market_columns)).unionByName(
        lines.withColumn("market", F.lit(all_market))
    )
    per_invoice = lines.groupBy("market", "invoice", "recent").agg(
        F.count(F.lit(1)).cast("double").alias("value")
    )

    def named(frame: DataFrame, feature: str, value: str) -> DataFrame:
        return frame.select(
            "market", F.lit(feature).alias("feature"), "recent", F.col(value).alias("value")
        )

    frames = [
        named(revenue, "daily_revenue", "revenue"),
        named(per_invoice, "lines_per_invoice", "value"),
        named(lines, "views", "times_viewed"),
        named(lines.where(F.col("invoice_kind") == "sale"), "price", "price"),
    ]
    long = frames[0]
    for frame in frames[1:]:
        long = long.unionByName(frame.withColumn("value", F.col("value").cast("double")))
    return long.where(F.col("value").isNotNull())


def population_stability(
    reference: np.ndarray, recent: np.ndarray, *, bins: int
) -> tuple[float, int]:
    """Population stability index of ``recent`` against ``reference``, and the bins used.

    Bins are the reference's quantiles (ties merged, so a measure with many equal values gets
    fewer bins); half a count is added to every bin so an empty bin keeps the logarithm finite
    without dominating the sum.
    """
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1))[1:-1])

    def shares(values: np.ndarray) -> np.ndarray:
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        counts = counts + 0.5
        return counts / counts.sum()

    expected, actual = shares(reference), shares(recent)
    return float(np.sum((actual - expected) * np.log(actual / expected))), len(edges) + 1


def sampling_noise(reference_n: int, recent_n: int, bins: int, confidence: float) -> float:
    """The stability index two samples of these sizes from one distribution stay below.

    With no shift the index is about (1/n1 + 1/n2) times a chi-square variable with bins - 1
    degrees of freedom, so 30 days against 90 reach 0.5 by chance alone while a hundred
    thousand lines stay near 0.
    """
    from scipy.stats import chi2

    return float((1.0 / reference_n + 1.0 / recent_n) * chi2.ppf(confidence, max(bins - 1, 1)))


def _measure_group(settings: MonitorSettings):
    def measure(frame: pd.DataFrame) -> pd.DataFrame:
        values = frame["value"].to_numpy(dtype="float64")
        recent_mask = frame["recent"].to_numpy(dtype=bool)
        reference, recent = values[~recent_mask], values[recent_mask]
        enough = min(len(reference), len(recent)) >= settings.min_values
        psi = noise = np.nan
        if enough:
            psi, used = population_stability(reference, recent, bins=settings.bins)
            noise = sampling_noise(len(reference), len(recent), used, settings.confidence)
        return pd.DataFrame(
            {
                "market": [frame["market"].iloc[0]],
                "feature": [frame["feature"].iloc[0]],
                "reference_n": [len(reference)],
                "recent_n": [len(recent)],
                "reference_mean": [float(reference.mean()) if len(reference) else np.nan],
                "recent_mean": [float(recent.mean()) if len(recent) else np.nan],
                "psi": [psi],
                "psi_noise": [noise],
                "alert": [bool(enough and psi > max(settings.psi_alert, noise))],
            }
        )

    return measure


def measure_drift(values: DataFrame, settings: MonitorSettings) -> DataFrame:
    """Per market and feature: window sizes, means, the stability index and the alert flag."""
    return values.groupBy("market", "feature").applyInPandas(
        _measure_group(settings), schema=schemas.DRIFT_MEASURES
    )


def write_drift(measures: DataFrame, *, lake: str, as_of: dt.date, run_id: str) -> None:
    """Replace the as-of date's rows of ``ops/drift``."""
    frame = measures.select(
        F.lit(as_of).alias("as_of"),
        F.lit(run_id).alias("run_id"),
        "*",
        F.current_timestamp().alias("created_at"),
    )
    tables.write_slice(
        frame,
        lake=lake,
        name=tables.OPS_DRIFT,
        schema=schemas.OPS_DRIFT,
        condition=f"as_of = DATE'{as_of.isoformat()}'",
        partition_by=("as_of",),
    )
