"""Every write is checked against its schema: a drift fails loudly."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from marketcast import schemas, tables


def test_conform_orders_columns_and_accepts_the_exact_schema(spark):
    frame = spark.createDataFrame([], schemas.OPS_REJECTS).select(
        *reversed(schemas.OPS_REJECTS.fieldNames())
    )
    conformed = tables.conform(frame, schemas.OPS_REJECTS, "ops/rejects")
    assert conformed.columns == schemas.OPS_REJECTS.fieldNames()


def test_a_type_drift_fails_instead_of_writing_nulls(spark):
    frame = spark.createDataFrame([], schemas.OPS_REJECTS).withColumn(
        "line_no", F.col("line_no").cast("string")
    )
    with pytest.raises(TypeError, match="ops/rejects: line_no is string, not bigint"):
        tables.conform(frame, schemas.OPS_REJECTS, "ops/rejects")


def test_an_unknown_or_missing_column_fails(spark):
    frame = spark.createDataFrame([], schemas.OPS_REJECTS).withColumn("extra", F.lit(1))
    with pytest.raises(TypeError, match=r"unknown \['extra'\]"):
        tables.conform(frame, schemas.OPS_REJECTS, "ops/rejects")
    with pytest.raises(TypeError, match=r"missing \['raw'\]"):
        tables.conform(frame.drop("raw", "extra"), schemas.OPS_REJECTS, "ops/rejects")


def test_a_rerun_of_a_slice_replaces_it_and_leaves_other_slices(spark, tmp_path):
    lake = str(tmp_path)

    def write(as_of, values):
        rows = [(as_of, "M", as_of, float(v), 1, 1, 1, 1) for v in values]
        frame = spark.createDataFrame(rows, schemas.SILVER_DAILY_REVENUE)
        tables.write_slice(
            frame,
            lake=lake,
            name=tables.SILVER_DAILY_REVENUE,
            schema=schemas.SILVER_DAILY_REVENUE,
            condition=f"as_of = '{as_of}'",
            partition_by=("as_of",),
        )

    import datetime as dt

    first, second = dt.date(2019, 1, 1), dt.date(2019, 1, 2)
    write(first, [1, 2])
    write(second, [3])
    write(first, [4])
    table = tables.read(spark, lake, tables.SILVER_DAILY_REVENUE)
    got = sorted((str(row.as_of), row.revenue) for row in table.collect())
    assert got == [("2019-01-01", 4.0), ("2019-01-02", 3.0)]
