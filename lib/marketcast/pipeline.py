"""The stages wired together, each with its run record in ``ops/runs``."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from marketcast import aggregating, forecast_stage, ingesting, monitoring, tables
from marketcast.config import Config
from marketcast.errors import UserError
from marketcast.runs import StageRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """What every stage of one run shares."""

    spark: SparkSession
    config: Config
    lake: str
    run_id: str

    def stage(self, name: str, as_of: dt.date | None = None) -> StageRun:
        return StageRun(
            spark=self.spark,
            lake=self.lake,
            run_id=self.run_id,
            stage=name,
            config_json=self.config.model_dump_json(),
            as_of=as_of,
        )


def run_ingest(context: RunContext, *, input_path: str) -> ingesting.IngestSummary:
    """Ingest stage: new and changed input files into bronze, rejects and the file ledger."""
    with context.stage("ingest") as record:
        summary = ingesting.ingest(
            context.spark,
            input_path=input_path,
            lake=context.lake,
            run_id=context.run_id,
            source=context.config.source,
        )
        record.input_rows = summary.records_read
        record.details = summary.__dict__
    return summary


def resolve_as_of(context: RunContext, as_of: dt.date | None) -> dt.date:
    """The given as-of date, or the last invoice day in bronze."""
    if as_of is not None:
        return as_of
    last = aggregating.last_invoice_day(
        tables.read(context.spark, context.lake, tables.BRONZE_INVOICES)
    )
    if last is None:
        raise UserError("bronze/invoices is empty: nothing to aggregate")
    return last


def run_aggregate(context: RunContext, *, as_of: dt.date | None = None) -> dt.date:
    """Aggregate stage: bronze to the daily revenue of the as-of date; returns that date."""
    as_of = resolve_as_of(context, as_of)
    with context.stage("aggregate", as_of) as record:
        invoices = tables.read(context.spark, context.lake, tables.BRONZE_INVOICES)
        daily = aggregating.daily_revenue(
            invoices,
            as_of=as_of,
            market_columns=context.config.source.market_columns,
            all_market=context.config.aggregate.all_market,
        )
        aggregating.write_daily_revenue(daily, lake=context.lake, as_of=as_of)
        written = (
            _silver(context, as_of)
            .agg(F.count(F.lit(1)).alias("rows"), F.countDistinct("market").alias("markets"))
            .first()
        )
        record.input_rows = written["rows"]
        record.markets = written["markets"]
        record.details = {
            "lines_after_as_of": invoices.where(F.col("invoice_date") > F.lit(as_of)).count()
        }
    return as_of


def _silver(context: RunContext, as_of: dt.date):
    return tables.read(context.spark, context.lake, tables.SILVER_DAILY_REVENUE).where(
        F.col("as_of") == F.lit(as_of)
    )


def run_forecast(context: RunContext, *, as_of: dt.date | None = None) -> dt.date:
    """Forecast stage: the as-of date's daily revenue into the gold tables; returns the date."""
    if as_of is None:
        as_of = newest_silver_as_of(context)
    with context.stage("forecast", as_of) as record:
        daily = _silver(context, as_of)
        statuses = forecast_stage.run_forecast(
            context.spark,
            daily,
            lake=context.lake,
            config=context.config,
            as_of=as_of,
            run_id=context.run_id,
        )
        record.markets = sum(statuses.values())
        record.details = {"statuses": statuses}
        if not statuses:
            raise UserError(f"silver/daily_revenue holds no market for as-of date {as_of}")
    return as_of


def newest_silver_as_of(context: RunContext) -> dt.date:
    silver = tables.read(context.spark, context.lake, tables.SILVER_DAILY_REVENUE)
    newest = silver.agg(F.max("as_of")).first()[0]
    if newest is None:
        raise UserError("silver/daily_revenue is empty: run the aggregate stage first")
    return newest


#: Alerts listed in the monitor stage's run record; ``ops/drift`` holds them all.
ALERTS_IN_RECORD = 50


def run_monitor(context: RunContext, *, as_of: dt.date) -> dict:
    """Monitor stage: score earlier forecasts against the newest actuals, and measure drift.

    Returns the stage's details: the forecast runs scored and the drift alerts.
    """
    with context.stage("monitor", as_of) as record:
        newest = newest_silver_as_of(context)
        scored = monitoring.score_forecasts(
            context.spark, context.lake, actuals_as_of=newest, run_id=context.run_id
        )
        settings = context.config.monitor
        values = monitoring.drift_values(
            tables.read(context.spark, context.lake, tables.BRONZE_INVOICES).where(
                F.col("invoice_date") <= F.lit(as_of)
            ),
            _silver(context, as_of),
            as_of=as_of,
            settings=settings,
            market_columns=context.config.source.market_columns,
            all_market=context.config.aggregate.all_market,
        )
        measures = monitoring.measure_drift(values, settings).persist()
        try:
            monitoring.write_drift(measures, lake=context.lake, as_of=as_of, run_id=context.run_id)
            alerts = [
                {"market": row.market, "feature": row.feature, "psi": round(row.psi, 3)}
                for row in measures.where(F.col("alert"))
                .orderBy(F.desc("psi"), "market", "feature")
                .collect()
            ]
            record.markets = measures.select("market").distinct().count()
        finally:
            measures.unpersist()
        record.details = {
            "scored_runs": [day.isoformat() for day in scored],
            "actuals_as_of": newest.isoformat(),
            "drift_alert_count": len(alerts),
            "drift_alerts": alerts[:ALERTS_IN_RECORD],
        }
        for alert in alerts[:5]:
            log.warning(
                "drift: %s %s stability index %.2f above %.2f",
                alert["market"],
                alert["feature"],
                alert["psi"],
                settings.psi_alert,
            )
    return record.details


def run_pipeline(context: RunContext, *, input_path: str, as_of: dt.date | None = None) -> dt.date:
    """Ingest, aggregate, forecast and monitor in one run; returns the as-of date used."""
    run_ingest(context, input_path=input_path)
    as_of = run_aggregate(context, as_of=as_of)
    run_forecast(context, as_of=as_of)
    run_monitor(context, as_of=as_of)
    return as_of


def has_forecast(context: RunContext, as_of: dt.date) -> bool:
    """Whether the lake holds a forecast run for ``as_of``."""
    if not tables.exists(context.spark, context.lake, tables.GOLD_FORECAST_STATUS):
        return False
    status = tables.read(context.spark, context.lake, tables.GOLD_FORECAST_STATUS)
    return status.where(F.col("as_of") == F.lit(as_of)).limit(1).count() > 0


def ensure_forecast(context: RunContext, as_of: dt.date) -> None:
    """Run aggregate and forecast for ``as_of`` unless the lake already holds that run.

    Only invoices up to ``as_of`` enter, so the run is what a forecast made on that day
    would have been.
    """
    if has_forecast(context, as_of):
        return
    last = resolve_as_of(context, None)
    if as_of > last:
        raise UserError(
            f"{as_of} is after the last invoice day in the lake ({last}); "
            "a forecast from there would be a guess"
        )
    log.info("no forecast run for as-of date %s in the lake: running it now", as_of)
    run_aggregate(context, as_of=as_of)
    run_forecast(context, as_of=as_of)
    run_monitor(context, as_of=as_of)
