"""Other sources than AAVAIL JSON: CSV, Parquet and Delta transactions with a column mapping."""

from __future__ import annotations

import datetime as dt
import io
import json

import pandas as pd
import pytest
from pyspark.sql import functions as F

from conftest import LAST_INVOICE_DAY
from marketcast import normalising, pipeline, tables, tabular
from marketcast.config import Config, load_config
from marketcast.errors import UserError
from marketcast.runs import new_run_id

RETAIL = {"country": "store", "stream_id": "item", "date": "sold_at", "price": "amount"}
RETAIL_CSV = (
    "store,item,sold_at,amount,units,note\n"
    "S1,apple,2024-03-01,10.50,3,first\n"
    "S1,apple,2024-03-01T18:30:00+02:00,2.00,1,\n"
    "S1,pear,2024-03-03 09:00:00,4.00,2,gap on the 2nd\n"
    "S2,apple,2024-03-02,-1.25,1,a return\n"
    ",apple,2024-03-02,3.00,1,no store\n"
    "S2,apple,2024-02-30,3.00,1,no such day\n"
    "S2,apple,2024-03-02,lots,1,not a number\n"
    "S2,apple,2024-03-02,1.00\n"
    "\n"
    "S1,apple,2024-03-01,10.50,3,first\n"
)


def rows_of(rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(normalising.COLUMNS))


def test_csv_lines_are_mapped_typed_or_rejected_with_the_column_named():
    rows = rows_of(tabular.parse_csv("shop.csv", RETAIL_CSV.encode(), RETAIL))
    assert rows["line_no"].tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 11]
    loaded = rows[rows["reason"].isna()]
    assert loaded["country"].tolist() == ["S1", "S1", "S1", "S2", "S1"]
    assert loaded["stream_id"].tolist() == ["apple", "apple", "pear", "apple", "apple"]
    # A timestamp with a zone counts on its UTC day; a plain timestamp on its own day.
    assert loaded["invoice_date"].tolist() == [
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 3),
        dt.date(2024, 3, 2),
        dt.date(2024, 3, 1),
    ]
    assert loaded["revenue"].tolist() == [10.5, 2.0, 4.0, -1.25, 10.5]
    # Without an invoice column a negative amount is a return.
    assert loaded["invoice_kind"].tolist() == ["sale"] * 3 + ["cancellation", "sale"]
    assert loaded["invoice"].isna().all()
    rejected = rows[rows["reason"].notna()].set_index("line_no")
    assert rejected["reason"].to_dict() == {
        6: "missing store",
        7: "sold_at '2024-02-30' is not a date that exists",
        8: "non-numeric amount",
        9: "row has 4 fields, the header has 6",
    }
    assert rejected.loc[9, "raw"] == "S2,apple,2024-03-02,1.00"


def test_a_mapped_column_the_file_lacks_stops_it():
    rows = rows_of(
        tabular.parse_csv("shop.csv", b"store,day,amount\nS1,2024-03-01,1\n", {**RETAIL})
    )
    assert rows["invoice_kind"].tolist() == [normalising.STRUCTURAL]
    assert rows["reason"].iloc[0] == (
        "shop.csv has no column 'item', 'sold_at' named in source.columns"
    )


def test_parquet_records_keep_their_types_and_an_invoice_column_brings_the_prefix_rule():
    frame = pd.DataFrame(
        {
            "shop": ["S1", "S1", "S2", None],
            "ts": pd.to_datetime(
                ["2024-03-01 23:30", "2024-03-02 01:00", "2024-03-02 12:00", "2024-03-02 00:00"]
            ).tz_localize("America/New_York"),
            "total": [5.0, 7.0, 3.0, 1.0],
            "receipt": ["100", "C101", "102", "103"],
            "qty": [1, 2, 1, 1],
        }
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    mapping = {
        "country": "shop",
        "date": "ts",
        "price": "total",
        "invoice": "receipt",
        "times_viewed": "qty",
    }
    rows = rows_of(tabular.parse_parquet("s.parquet", buffer.getvalue(), mapping))
    assert rows["line_no"].tolist() == [1, 2, 3, 4]
    loaded = rows[rows["reason"].isna()]
    # 23:30 in New York is the next day in UTC.
    assert loaded["invoice_date"].tolist() == [dt.date(2024, 3, 2)] * 2 + [dt.date(2024, 3, 2)]
    assert loaded["invoice_kind"].tolist() == ["sale", "cancellation", "sale"]
    assert loaded["revenue"].tolist() == [5.0, -7.0, 3.0]
    assert loaded["times_viewed"].tolist() == [1, 2, 1]
    assert rows.loc[3, "reason"] == "missing shop"
    assert json.loads(rows.loc[3, "raw"])["receipt"] == "103"
    broken = rows_of(tabular.parse_parquet("b.parquet", b"not parquet", mapping))
    assert broken["invoice_kind"].tolist() == [normalising.STRUCTURAL]
    assert broken["reason"].iloc[0].startswith("b.parquet is not Parquet")


def retail_config(fmt: str, **columns: str) -> Config:
    raw = load_config().model_dump()
    raw["source"] = {
        "format": fmt,
        "columns": {**RETAIL, **columns},
        "market_columns": ["country", "stream_id"],
    }
    return Config.model_validate(raw)


def test_configuration_demands_a_mapping_that_fits_the_format():
    with pytest.raises(ValueError, match="the csv format needs a column mapping"):
        Config.model_validate({"source": {"format": "csv"}})
    with pytest.raises(ValueError, match="only the csv, parquet and delta formats"):
        Config.model_validate({"source": {"columns": RETAIL}})
    with pytest.raises(ValueError, match="market_columns: stream_id not named in columns"):
        Config.model_validate(
            {
                "source": {
                    "format": "csv",
                    "columns": {"country": "s", "date": "d", "price": "p"},
                    "market_columns": ["country", "stream_id"],
                }
            }
        )
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        Config.model_validate({"source": {"format": "csv", "columns": {**RETAIL, "qty": "x"}}})


def ingest_and_aggregate(spark, config, input_path, lake, as_of):
    context = pipeline.RunContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    summary = pipeline.run_ingest(context, input_path=input_path)
    pipeline.run_aggregate(context, as_of=as_of)
    silver = (
        tables.read(spark, lake, tables.SILVER_DAILY_REVENUE)
        .where(F.col("as_of") == F.lit(as_of))
        .toPandas()
        .sort_values(["market", "ds"])
        .reset_index(drop=True)
    )
    return summary, silver


def test_csv_parquet_and_delta_sources_give_the_same_daily_table(spark, tmp_path):
    as_of = dt.date(2024, 3, 4)
    (tmp_path / "csv" / "march").mkdir(parents=True)
    (tmp_path / "csv" / "march" / "shop.csv").write_text(RETAIL_CSV)
    typed = pd.DataFrame(
        [
            ("S1", "apple", dt.date(2024, 3, 1), 10.5),
            ("S1", "apple", dt.date(2024, 3, 1), 2.0),
            ("S1", "pear", dt.date(2024, 3, 3), 4.0),
            ("S2", "apple", dt.date(2024, 3, 2), -1.25),
            (None, "apple", dt.date(2024, 3, 2), 3.0),
        ],
        columns=["store", "item", "sold_at", "amount"],
    )
    (tmp_path / "parquet").mkdir()
    typed.to_parquet(tmp_path / "parquet" / "part-0.parquet")
    spark.createDataFrame(typed).write.format("delta").save(str(tmp_path / "delta"))

    results = {}
    for fmt in ("csv", "parquet", "delta"):
        lake = str(tmp_path / f"lake-{fmt}")
        summary, silver = ingest_and_aggregate(
            spark, retail_config(fmt), str(tmp_path / fmt), lake, as_of
        )
        results[fmt] = (summary, silver)
    csv_summary = results["csv"][0]
    assert (csv_summary.records_read, csv_summary.loaded) == (9, 4)
    assert (csv_summary.rejected, csv_summary.duplicates, csv_summary.cancellations) == (4, 1, 1)
    for fmt in ("parquet", "delta"):
        summary = results[fmt][0]
        assert (summary.records_read, summary.loaded, summary.rejected) == (5, 4, 1)
        pd.testing.assert_frame_equal(results[fmt][1], results["csv"][1])

    silver = results["csv"][1]
    assert sorted(silver["market"].unique()) == ["ALL", "S1 | apple", "S1 | pear", "S2 | apple"]
    apple = silver[silver["market"] == "S1 | apple"]
    assert apple["ds"].tolist() == [dt.date(2024, 3, d) for d in (1, 2, 3, 4)]
    assert apple["revenue"].tolist() == [12.5, 0.0, 0.0, 0.0]
    whole = silver[silver["market"] == "ALL"].set_index("ds")["revenue"]
    assert whole.to_dict() == {
        dt.date(2024, 3, 1): 12.5,
        dt.date(2024, 3, 2): -1.25,
        dt.date(2024, 3, 3): 4.0,
        dt.date(2024, 3, 4): 0.0,
    }
    rejects = tables.read(spark, str(tmp_path / "lake-delta"), tables.OPS_REJECTS).collect()
    assert [row.reason for row in rejects] == ["missing store"]


def test_a_new_delta_version_replaces_the_rows_of_the_earlier_one(spark, tmp_path):
    source = str(tmp_path / "delta")
    first = pd.DataFrame(
        {"store": ["S1"], "item": ["a"], "sold_at": [dt.date(2024, 3, 1)], "amount": [1.0]}
    )
    spark.createDataFrame(first).write.format("delta").save(source)
    lake = str(tmp_path / "lake")
    config = retail_config("delta")
    context = pipeline.RunContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    assert pipeline.run_ingest(context, input_path=source).files_loaded == 1
    again = pipeline.run_ingest(context, input_path=source)
    assert again.files_loaded == 0  # same version: skipped
    second = first.assign(amount=[2.0], sold_at=[dt.date(2024, 3, 2)])
    spark.createDataFrame(second).write.format("delta").mode("append").save(source)
    summary, silver = ingest_and_aggregate(spark, config, source, lake, dt.date(2024, 3, 2))
    assert (summary.files_loaded, summary.loaded) == (1, 2)
    assert tables.read(spark, lake, tables.BRONZE_INVOICES).count() == 2
    assert silver[silver["market"] == "ALL"]["revenue"].tolist() == [1.0, 2.0]


def test_a_source_with_a_missing_column_or_no_table_stops_before_writing(spark, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("store,sold_at,amount\nS1,2024-03-01,1\n")
    lake = tmp_path / "lake"
    context = pipeline.RunContext(
        spark=spark, config=retail_config("csv"), lake=str(lake), run_id=new_run_id()
    )
    with pytest.raises(UserError, match=r"a\.csv has no column 'item' named in source\.columns"):
        pipeline.run_ingest(context, input_path=str(tmp_path / "in"))
    assert not tables.exists(spark, str(lake), tables.BRONZE_INVOICES)
    with pytest.raises(UserError, match=r"holds no \*\.parquet file"):
        context = pipeline.RunContext(
            spark=spark, config=retail_config("parquet"), lake=str(lake), run_id=new_run_id()
        )
        pipeline.run_ingest(context, input_path=str(tmp_path / "in"))
    with pytest.raises(UserError, match="is not a Delta table"):
        context = pipeline.RunContext(
            spark=spark, config=retail_config("delta"), lake=str(lake), run_id=new_run_id()
        )
        pipeline.run_ingest(context, input_path=str(tmp_path / "in"))


def test_the_real_invoices_as_csv_give_the_daily_revenue_of_the_json_run(
    spark, real_data, real_lake, tmp_path
):
    """AAVAIL's invoices written as one CSV per month load to the same silver table."""
    folder = tmp_path / "csv"
    folder.mkdir()
    for path in sorted((real_data / "cs-production").glob("*.json")):
        records = pd.DataFrame(json.loads(path.read_text()))
        records = records.rename(
            columns={"total_price": "price", "StreamID": "stream_id", "TimesViewed": "views"}
        ).rename(columns={"times_viewed": "views"})
        records["date"] = pd.to_datetime(records[["year", "month", "day"]].astype(int)).dt.date
        columns = ["country", "customer_id", "invoice", "stream_id", "views", "date", "price"]
        records[columns].to_csv(folder / f"{path.stem}.csv", index=False)
    raw = load_config().model_dump()
    raw["source"] = {
        "format": "csv",
        "columns": {
            "country": "country",
            "customer_id": "customer_id",
            "invoice": "invoice",
            "stream_id": "stream_id",
            "times_viewed": "views",
            "date": "date",
            "price": "price",
        },
    }
    summary, silver = ingest_and_aggregate(
        spark, Config.model_validate(raw), str(folder), str(tmp_path / "lake"), LAST_INVOICE_DAY
    )
    assert (summary.records_read, summary.rejected) == (252_359, 0)
    expected = (
        tables.read(spark, real_lake, tables.SILVER_DAILY_REVENUE)
        .where(F.col("as_of") == F.lit(LAST_INVOICE_DAY))
        .select("market", "ds", "revenue", "invoices", "purchases", "streams", "views")
        .toPandas()
        .sort_values(["market", "ds"])
        .reset_index(drop=True)
    )
    assert silver["market"].nunique() == 33
    pd.testing.assert_frame_equal(silver[expected.columns], expected, check_exact=False, rtol=1e-9)
