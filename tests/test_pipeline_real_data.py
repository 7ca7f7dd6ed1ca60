"""End to end on the real AAVAIL invoices (cs-production) into a temporary lake."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType

from conftest import HOLDOUT_AS_OF, LAST_INVOICE_DAY
from marketcast import evaluation, pipeline, predicting, tables
from marketcast.errors import UserError
from marketcast.runs import new_run_id


@pytest.fixture(scope="module")
def lake(real_lake):
    return real_lake


def read(spark, lake, name):
    """A table of the lake, its rows of the pipeline run only (other tests add earlier runs)."""
    frame = tables.read(spark, lake, name)
    if name != tables.OPS_RUNS and "as_of" in frame.columns:
        frame = frame.where(F.col("as_of") == F.lit(LAST_INVOICE_DAY))
    return frame


def test_every_line_is_loaded_rejected_or_a_counted_duplicate(spark, lake):
    files = read(spark, lake, tables.OPS_FILES).collect()
    assert len(files) == 5
    assert sum(row.records_read for row in files) == 252_359
    assert sum(row.duplicates for row in files) == 2_919
    assert sum(row.rejected for row in files) == 0
    assert sum(row.adjustments for row in files) == 3
    for row in files:
        assert row.records_read == row.loaded + row.rejected + row.duplicates
    assert read(spark, lake, tables.BRONZE_INVOICES).count() == 249_440


def test_bronze_keeps_invoice_ids_and_marks_cancellations(spark, lake):
    bronze = read(spark, lake, tables.BRONZE_INVOICES)
    kinds = {
        row.invoice_kind: row["count"] for row in bronze.groupBy("invoice_kind").count().collect()
    }
    assert kinds["adjustment"] == 3
    assert kinds["cancellation"] > 3_000
    cancelled = bronze.where(F.col("invoice_kind") == "cancellation").first()
    assert cancelled.invoice.startswith("C")
    assert cancelled.revenue == -abs(cancelled.price)
    december = bronze.where(F.col("invoice_date") >= dt.date(2019, 12, 1)).count()
    assert december > 19_000  # the file that says total_price instead of price


def test_silver_revenue_per_market_equals_the_bronze_sum(spark, lake):
    bronze = {
        row.country: row.revenue
        for row in read(spark, lake, tables.BRONZE_INVOICES)
        .groupBy("country")
        .agg(F.sum("revenue").alias("revenue"))
        .collect()
    }
    silver = {
        row.market: row.revenue
        for row in read(spark, lake, tables.SILVER_DAILY_REVENUE)
        .groupBy("market")
        .agg(F.sum("revenue").alias("revenue"))
        .collect()
    }
    assert len(bronze) == 32
    assert set(silver) == set(bronze) | {"ALL"}
    for market, revenue in bronze.items():
        assert silver[market] == pytest.approx(revenue, abs=0.01), market
    assert silver["ALL"] == pytest.approx(sum(bronze.values()), abs=0.01)


def test_markets_with_sixty_days_and_all_get_thirty_days_per_model(spark, lake):
    silver = read(spark, lake, tables.SILVER_DAILY_REVENUE)
    long_markets = {
        row.market for row in silver.groupBy("market").count().where(F.col("count") >= 60).collect()
    }
    assert "ALL" in long_markets and len(long_markets) >= 20
    forecasts = read(spark, lake, tables.GOLD_FORECASTS)
    assert forecasts.schema["ds"].dataType == DateType()
    assert forecasts.schema["yhat"].dataType == DoubleType()
    per_model = (
        forecasts.groupBy("market", "model")
        .agg(F.count(F.lit(1)).alias("days"), F.min("ds").alias("first"), F.max("ds").alias("last"))
        .collect()
    )
    models = {row.model for row in per_model}
    assert {"AutoETS", "SeasonalNaive"} <= models
    for market in long_markets:
        rows = [row for row in per_model if row.market == market]
        assert {row.model for row in rows} >= {"AutoETS", "SeasonalNaive"}, market
        for row in rows:
            assert row.days == 30, (market, row.model)
            assert row.first == LAST_INVOICE_DAY + dt.timedelta(days=1)
            assert row.last == LAST_INVOICE_DAY + dt.timedelta(days=30)
    yhats = [row.yhat for row in forecasts.select("yhat").collect()]
    assert all(math.isfinite(value) for value in yhats)


def test_every_silver_market_has_a_status_and_one_selected_forecast(spark, lake):
    status = read(spark, lake, tables.GOLD_FORECAST_STATUS).collect()
    markets = {
        row.market
        for row in read(spark, lake, tables.SILVER_DAILY_REVENUE)
        .select("market")
        .distinct()
        .collect()
    }
    assert {row.market for row in status} == markets
    assert len(status) == len(markets)
    by_market = {row.market: row for row in status}
    assert by_market["Greece"].status == "too_short"
    assert by_market["ALL"].status == "ok"
    chosen = read(spark, lake, tables.GOLD_FORECASTS).where(F.col("selected"))
    counts = {row.market: row["count"] for row in chosen.groupBy("market").count().collect()}
    assert counts == {market: 30 for market in markets}


def test_run_records_show_each_stage_succeeded(spark, lake):
    runs = read(spark, lake, tables.OPS_RUNS).collect()
    first = min((row for row in runs if row.stage == "ingest"), key=lambda row: row.started_at)
    runs = [row for row in runs if row.run_id == first.run_id]
    assert sorted(row.stage for row in runs) == ["aggregate", "forecast", "ingest", "monitor"]
    assert {row.status for row in runs} == {"succeeded"}
    ingest = next(row for row in runs if row.stage == "ingest")
    assert ingest.input_rows == 252_359


def test_tables_open_without_spark(spark, lake):
    for name in (
        tables.BRONZE_INVOICES,
        tables.SILVER_DAILY_REVENUE,
        tables.GOLD_FORECASTS,
        tables.GOLD_FORECAST_STATUS,
        tables.OPS_RUNS,
    ):
        without_spark = DeltaTable(tables.table_path(lake, name)).to_pyarrow_table()
        assert without_spark.num_rows == tables.read(spark, lake, name).count(), name


def test_rerun_skips_ingested_files_and_replaces_the_same_rows(spark, config, lake, real_data):
    before = {
        name: sorted(map(tuple, read(spark, lake, name).drop("run_id", "created_at").collect()))
        for name in (
            tables.GOLD_FORECASTS,
            tables.GOLD_MODEL_SELECTION,
            tables.SILVER_DAILY_REVENUE,
        )
    }
    context = pipeline.RunContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    summary = pipeline.run_ingest(context, input_path=str(real_data / "cs-production"))
    assert summary.files_seen == 5 and summary.files_loaded == 0
    pipeline.run_aggregate(context)
    pipeline.run_forecast(context)
    for name, rows in before.items():
        after = sorted(map(tuple, read(spark, lake, name).drop("run_id", "created_at").collect()))
        assert after == rows, name
    assert read(spark, lake, tables.BRONZE_INVOICES).count() == 249_440


def test_predict_for_a_past_date_uses_only_data_up_to_it(spark, lake, past_answer):
    assert (past_answer.first_day, past_answer.last_day) == (
        dt.date(2019, 11, 7),
        dt.date(2019, 12, 6),
    )
    silver = tables.read(spark, lake, tables.SILVER_DAILY_REVENUE)
    past = silver.where(F.col("as_of") == HOLDOUT_AS_OF)
    assert past.agg(F.max("ds")).first()[0] == HOLDOUT_AS_OF
    window = silver.where(
        (F.col("as_of") == LAST_INVOICE_DAY)
        & (F.col("market") == "ALL")
        & (F.col("ds") > HOLDOUT_AS_OF)
    )
    assert past_answer.actual_days == 30
    assert past_answer.actual == pytest.approx(window.agg(F.sum("revenue")).first()[0])
    for low, high in past_answer.bands.values():
        assert low <= past_answer.expected <= high
    text = str(past_answer)
    assert "expected revenue:" in text and "actual:" in text and "forecast error" in text


def test_predict_refuses_dates_it_cannot_answer(spark, config, lake):
    context = pipeline.RunContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    with pytest.raises(UserError, match="after the last invoice day"):
        predicting.predict(context, market="ALL", as_of=dt.date(2020, 1, 15))
    with pytest.raises(UserError, match="has only 4 days of history"):
        predicting.predict(context, market="Greece", as_of=LAST_INVOICE_DAY)
    with pytest.raises(UserError, match="unknown market 'Atlantis'"):
        predicting.predict(context, market="Atlantis", as_of=LAST_INVOICE_DAY)


def test_holdout_choice_beats_seasonal_naive_overall_and_for_all(spark, lake, past_answer):
    totals = evaluation.holdout_totals(spark, lake, as_of=HOLDOUT_AS_OF)
    weighted = evaluation.weighted_errors(totals)
    assert totals["market"].nunique() >= 20
    assert weighted["chosen"] < weighted["SeasonalNaive"]
    whole = totals[totals["market"] == "ALL"].set_index("model")["rel_error"]
    assert whole["chosen"] < whole["SeasonalNaive"]
