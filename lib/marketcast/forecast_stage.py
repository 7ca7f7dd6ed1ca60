"""Forecast stage: ``silver/daily_revenue`` to the gold tables, in one grouped pass.

The pass (``groupBy(market).applyInPandas``) returns one long frame; it is persisted and then
split into ``gold/forecasts``, ``gold/backtests``, ``gold/model_selection`` and
``gold/forecast_status``, each replacing its as-of partition. Spark is lazy: splitting the
pass's result without persisting it would fit every model once per table.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructType,
)

from marketcast import schemas, tables
from marketcast.config import BacktestSettings, Config, ForecastSettings
from marketcast.forecasting import forecast_market

_GOLD = {
    "forecasts": tables.GOLD_FORECASTS,
    "backtests": tables.GOLD_BACKTESTS,
    "selection": tables.GOLD_MODEL_SELECTION,
    "status": tables.GOLD_FORECAST_STATUS,
}


def gold_schema(table: str, levels: list[int]) -> StructType:
    return {
        "forecasts": schemas.gold_forecasts(levels),
        "backtests": schemas.GOLD_BACKTESTS,
        "selection": schemas.GOLD_MODEL_SELECTION,
        "status": schemas.GOLD_FORECAST_STATUS,
    }[table]


def forecast_markets(
    histories: pd.DataFrame,
    *,
    forecast: ForecastSettings,
    backtest: BacktestSettings,
    output: StructType,
) -> pd.DataFrame:
    """Forecast every market in ``histories`` (columns market, ds, revenue), one after another.

    One call serves a bucket of markets: the frame building and the conversion for Arrow are
    paid once per bucket instead of once per market.
    """
    results = [
        forecast_market(
            history[["ds", "revenue"]], market=str(market), forecast=forecast, backtest=backtest
        )
        for market, history in histories.groupby("market", sort=True)
    ]
    return to_arrow_ready(pd.concat(results, ignore_index=True), output)


_PANDAS_TYPES = {
    DoubleType(): "float64",
    IntegerType(): "Int32",
    BooleanType(): "boolean",
    StringType(): "object",
}


def to_arrow_ready(frame: pd.DataFrame, schema: StructType) -> pd.DataFrame:
    """Give ``frame`` exactly the schema's columns, with dtypes that hold nulls cleanly."""
    frame = frame.reindex(columns=schema.fieldNames())
    for field in schema.fields:
        if field.dataType == DateType():
            frame[field.name] = [
                None if pd.isna(value) else pd.Timestamp(value).date()
                for value in frame[field.name]
            ]
        else:
            frame[field.name] = frame[field.name].astype(_PANDAS_TYPES[field.dataType])
    return frame


def forecast_pass(daily: DataFrame, *, config: Config) -> DataFrame:
    """The grouped pass over every market of ``daily`` (columns market, ds, revenue).

    Notes:
        Markets are hashed into buckets of about ``forecast.markets_per_call`` markets; one
        UDF call loads a whole bucket's daily history into a Python worker's memory (daily
        rows, never raw invoice lines, so a market with many invoice lines costs no more memory
        than any other: 50 markets of 3 years are about 55,000 rows). Inside a task the fit is
        single threaded; Spark runs the ``forecast.partitions`` tasks in parallel.
    """
    output = schemas.forecast_pass_output(config.forecast.levels)
    forecast, backtest = config.forecast, config.backtest

    def forecast_bucket(histories: pd.DataFrame) -> pd.DataFrame:
        return forecast_markets(histories, forecast=forecast, backtest=backtest, output=output)

    spark = daily.sparkSession
    partitions = forecast.partitions or 4 * spark.sparkContext.defaultParallelism
    markets = daily.select("market").distinct().count()
    # Enough buckets to keep every task busy, few enough that a call fits many small markets.
    buckets = max(min(markets, partitions), math.ceil(markets / forecast.markets_per_call), 1)
    # An explicit repartition: the grouped pass reuses it, and adaptive execution does not
    # coalesce it (daily data is small, so it would otherwise squeeze every market into one
    # task and one core).
    return (
        daily.select("market", "ds", "revenue")
        .withColumn("bucket", F.pmod(F.xxhash64("market"), F.lit(buckets)))
        .repartition(partitions, "bucket")
        .groupBy("bucket")
        .applyInPandas(forecast_bucket, schema=output)
    )


def run_forecast(
    spark: SparkSession,
    daily: DataFrame,
    *,
    lake: str,
    config: Config,
    as_of: dt.date,
    run_id: str,
) -> dict[str, int]:
    """Run the pass once and replace the as-of partition of every gold table with its rows.

    The pass's result is persisted (memory, then disk) and counted before the writes, so the
    four tables are written from one fit of every market. Each table's write is atomic; a run
    killed between two writes leaves older rows in the later tables until the rerun replaces
    them.

    Returns:
        Counts of markets per status.
    """
    levels = config.forecast.levels
    result = (
        forecast_pass(daily, config=config)
        .select(
            "*",
            F.lit(as_of).alias("as_of"),
            F.lit(run_id).alias("run_id"),
            F.current_timestamp().alias("created_at"),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        statuses = result.where(F.col("table") == "status").groupBy("status").count().collect()
        for table, name in _GOLD.items():
            schema = gold_schema(table, levels)
            rows = result.where(F.col("table") == table).select(*schema.fieldNames())
            tables.write_slice(
                rows,
                lake=lake,
                name=name,
                schema=schema,
                condition=f"as_of = '{as_of.isoformat()}'",
                partition_by=("as_of",),
            )
    finally:
        result.unpersist()
    return {row["status"]: row["count"] for row in statuses}
