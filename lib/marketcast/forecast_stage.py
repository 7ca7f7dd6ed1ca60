"""Forecast stage: ``silver/daily_revenue`` to the gold tables, in one grouped pass.

The pass (``groupBy(market).applyInPandas``) returns one long frame; it is written once to
``ops/forecast_staging`` and then split into ``gold/forecasts``, ``gold/backtests``,
``gold/model_selection`` and ``gold/forecast_status``, each replacing its as-of partition. Spark
is lazy: splitting the pass's result directly would fit every model once per table.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from marketcast import schemas, tables
from marketcast.config import BacktestSettings, Config, ForecastSettings
from marketcast.forecasting import forecast_market

_RUN_COLUMNS = [
    StructField("as_of", DateType(), True),
    StructField("run_id", StringType(), True),
    StructField("created_at", TimestampType(), True),
]

_GOLD = {
    "forecasts": tables.GOLD_FORECASTS,
    "backtests": tables.GOLD_BACKTESTS,
    "selection": tables.GOLD_MODEL_SELECTION,
    "status": tables.GOLD_FORECAST_STATUS,
}


def staging_schema(levels: list[int]) -> StructType:
    return StructType(list(schemas.forecast_pass_output(levels).fields) + _RUN_COLUMNS)


def gold_schema(table: str, levels: list[int]) -> StructType:
    return {
        "forecasts": schemas.gold_forecasts(levels),
        "backtests": schemas.GOLD_BACKTESTS,
        "selection": schemas.GOLD_MODEL_SELECTION,
        "status": schemas.GOLD_FORECAST_STATUS,
    }[table]


def _forecast_group(
    history: pd.DataFrame,
    *,
    forecast: ForecastSettings,
    backtest: BacktestSettings,
    output: StructType,
) -> pd.DataFrame:
    market = str(history["market"].iloc[0])
    frame = forecast_market(
        history[["ds", "revenue"]], market=market, forecast=forecast, backtest=backtest
    )
    return to_arrow_ready(frame, output)


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
        Each market's whole history is loaded into one Python worker's memory (a few hundred
        or thousand daily rows, never raw invoice lines), so a market with many invoice lines
        costs no more memory than any other. Inside a task the fit is single threaded; Spark
        runs the ``forecast.partitions`` tasks in parallel, each fitting its markets in turn.
    """
    output = schemas.forecast_pass_output(config.forecast.levels)
    forecast, backtest = config.forecast, config.backtest

    def forecast_one_market(history: pd.DataFrame) -> pd.DataFrame:
        return _forecast_group(history, forecast=forecast, backtest=backtest, output=output)

    partitions = forecast.partitions or 4 * daily.sparkSession.sparkContext.defaultParallelism
    # An explicit repartition by market: the grouped pass reuses it, and adaptive execution
    # does not coalesce it (daily data is small, so it would otherwise merge every market
    # into one task and one core).
    return (
        daily.select("market", "ds", "revenue")
        .repartition(partitions, "market")
        .groupBy("market")
        .applyInPandas(forecast_one_market, schema=output)
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
    """Run the pass, stage its result, and replace the as-of partition of every gold table.

    Returns:
        Counts of markets per status.
    """
    levels = config.forecast.levels
    staged = forecast_pass(daily, config=config).select(
        "*",
        F.lit(as_of).alias("as_of"),
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("created_at"),
    )
    _drop_stale_staging(spark, lake, as_of)
    tables.write_slice(
        staged,
        lake=lake,
        name=tables.OPS_FORECAST_STAGING,
        schema=staging_schema(levels),
        condition=f"run_id = '{run_id}'",
        partition_by=("run_id",),
    )
    result = tables.read(spark, lake, tables.OPS_FORECAST_STAGING).where(F.col("run_id") == run_id)
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
    statuses = (
        tables.read(spark, lake, tables.GOLD_FORECAST_STATUS)
        .where(F.col("as_of") == F.lit(as_of))
        .groupBy("status")
        .count()
        .collect()
    )
    staging = DeltaTable.forPath(spark, tables.table_path(lake, tables.OPS_FORECAST_STAGING))
    tables.retry_on_conflict(lambda: staging.delete(F.col("run_id") == run_id))
    return {row["status"]: row["count"] for row in statuses}


def _drop_stale_staging(spark: SparkSession, lake: str, as_of: dt.date) -> None:
    """Remove what an earlier, interrupted run for the same as-of date left in staging."""
    if not tables.exists(spark, lake, tables.OPS_FORECAST_STAGING):
        return
    staging = DeltaTable.forPath(spark, tables.table_path(lake, tables.OPS_FORECAST_STAGING))
    tables.retry_on_conflict(lambda: staging.delete(F.col("as_of") == F.lit(as_of)))
