"""Schemas of every table the job writes, in one place.

Every write goes through :func:`marketcast.tables.write_partition` or
:func:`marketcast.tables.append`, which compare the frame with the schema here, so a type drift
fails loudly instead of landing as nulls.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _schema(*fields: tuple[str, object]) -> StructType:
    return StructType([StructField(name, kind, True) for name, kind in fields])


#: Canonical invoice line as parsed from a source file, before duplicates are marked.
PARSED = _schema(
    ("source_file", StringType()),
    ("line_no", LongType()),
    ("reason", StringType()),
    ("raw", StringType()),
    ("invoice", StringType()),
    ("invoice_kind", StringType()),
    ("country", StringType()),
    ("customer_id", LongType()),
    ("stream_id", StringType()),
    ("times_viewed", LongType()),
    ("price", DoubleType()),
    ("revenue", DoubleType()),
    ("invoice_date", DateType()),
)

BRONZE_INVOICES = _schema(
    ("invoice", StringType()),
    ("invoice_kind", StringType()),
    ("country", StringType()),
    ("customer_id", LongType()),
    ("stream_id", StringType()),
    ("times_viewed", LongType()),
    ("price", DoubleType()),
    ("revenue", DoubleType()),
    ("invoice_date", DateType()),
    ("source_file", StringType()),
    ("line_no", LongType()),
    ("run_id", StringType()),
    ("ingested_at", TimestampType()),
)

OPS_REJECTS = _schema(
    ("source_file", StringType()),
    ("line_no", LongType()),
    ("reason", StringType()),
    ("raw", StringType()),
    ("run_id", StringType()),
    ("rejected_at", TimestampType()),
)

OPS_FILES = _schema(
    ("source_file", StringType()),
    ("checksum", StringType()),
    ("size_bytes", LongType()),
    ("records_read", LongType()),
    ("loaded", LongType()),
    ("rejected", LongType()),
    ("duplicates", LongType()),
    ("cancellations", LongType()),
    ("adjustments", LongType()),
    ("run_id", StringType()),
    ("ingested_at", TimestampType()),
)

SILVER_DAILY_REVENUE = _schema(
    ("as_of", DateType()),
    ("market", StringType()),
    ("ds", DateType()),
    ("revenue", DoubleType()),
    ("invoices", LongType()),
    ("purchases", LongType()),
    ("streams", LongType()),
    ("views", LongType()),
)

OPS_RUNS = _schema(
    ("run_id", StringType()),
    ("stage", StringType()),
    ("as_of", DateType()),
    ("status", StringType()),
    ("started_at", TimestampType()),
    ("ended_at", TimestampType()),
    ("seconds", DoubleType()),
    ("input_rows", LongType()),
    ("markets", LongType()),
    ("details", StringType()),
    ("message", StringType()),
    ("config", StringType()),
)


def interval_columns(levels: Sequence[int]) -> list[str]:
    """Names of the interval bounds, ``yhat_lo_80``, ``yhat_hi_80``, ... in a fixed order."""
    return [f"yhat_{side}_{level}" for level in levels for side in ("lo", "hi")]


def gold_forecasts(levels: Sequence[int]) -> StructType:
    return _schema(
        ("as_of", DateType()),
        ("run_id", StringType()),
        ("market", StringType()),
        ("model", StringType()),
        ("model_used", StringType()),
        ("selected", BooleanType()),
        ("ds", DateType()),
        ("horizon_day", IntegerType()),
        ("yhat", DoubleType()),
        *[(name, DoubleType()) for name in interval_columns(levels)],
        ("created_at", TimestampType()),
    )


GOLD_BACKTESTS = _schema(
    ("as_of", DateType()),
    ("run_id", StringType()),
    ("market", StringType()),
    ("model", StringType()),
    ("cutoff", DateType()),
    ("mae", DoubleType()),
    ("rmse", DoubleType()),
    ("smape", DoubleType()),
    ("mase", DoubleType()),
    ("total_actual", DoubleType()),
    ("total_forecast", DoubleType()),
    ("total_rel_error", DoubleType()),
    ("created_at", TimestampType()),
)

GOLD_MODEL_SELECTION = _schema(
    ("as_of", DateType()),
    ("run_id", StringType()),
    ("market", StringType()),
    ("model", StringType()),
    ("metric", StringType()),
    ("score", DoubleType()),
    ("runner_up", StringType()),
    ("runner_up_score", DoubleType()),
    ("baseline_model", StringType()),
    ("baseline_score", DoubleType()),
    ("skill", DoubleType()),
    ("windows", IntegerType()),
    ("created_at", TimestampType()),
)

GOLD_FORECAST_STATUS = _schema(
    ("as_of", DateType()),
    ("run_id", StringType()),
    ("market", StringType()),
    ("status", StringType()),
    ("model_chosen", StringType()),
    ("model_used", StringType()),
    ("history_days", IntegerType()),
    ("message", StringType()),
    ("created_at", TimestampType()),
)


GOLD_FORECAST_ACCURACY = _schema(
    ("as_of", DateType()),
    ("forecast_run_id", StringType()),
    ("market", StringType()),
    ("model", StringType()),
    ("selected", BooleanType()),
    ("horizon_day", IntegerType()),
    ("ds", DateType()),
    ("forecast", DoubleType()),
    ("actual", DoubleType()),
    ("error", DoubleType()),
    ("abs_error", DoubleType()),
    ("actuals_as_of", DateType()),
    ("run_id", StringType()),
    ("created_at", TimestampType()),
)

#: What the grouped drift measure returns per market and feature.
DRIFT_MEASURES = _schema(
    ("market", StringType()),
    ("feature", StringType()),
    ("reference_n", LongType()),
    ("recent_n", LongType()),
    ("reference_mean", DoubleType()),
    ("recent_mean", DoubleType()),
    ("psi", DoubleType()),
    ("psi_noise", DoubleType()),
    ("alert", BooleanType()),
)

OPS_DRIFT = _schema(
    ("as_of", DateType()),
    ("run_id", StringType()),
    *[(field.name, field.dataType) for field in DRIFT_MEASURES.fields],
    ("created_at", TimestampType()),
)


def forecast_pass_output(levels: Sequence[int]) -> StructType:
    """The one long frame the grouped forecast pass returns.

    Column ``table`` says which gold table a row belongs to (forecasts, backtests, selection,
    status); each row fills only its table's columns. The run's constants (as_of, run_id,
    created_at) are added after the pass.
    """
    seen: dict[str, object] = {"table": StringType()}
    for schema in (
        gold_forecasts(levels),
        GOLD_BACKTESTS,
        GOLD_MODEL_SELECTION,
        GOLD_FORECAST_STATUS,
    ):
        for field in schema.fields:
            if field.name not in ("as_of", "run_id", "created_at"):
                seen.setdefault(field.name, field.dataType)
    return _schema(*seen.items())
