"""Bad input: record-level rejects with reasons, reconciled counts, structural stops."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from marketcast import ingesting, tables
from marketcast.errors import UserError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def bad_lake(spark, tmp_path_factory):
    lake = str(tmp_path_factory.mktemp("bad_lake"))
    summary = ingesting.ingest(
        spark, input_path=str(DATA / "bad_records"), lake=lake, run_id="run-1"
    )
    return lake, summary


def per_file(spark, lake):
    rows = tables.read(spark, lake, tables.OPS_FILES).collect()
    return {Path(row.source_file).name: row for row in rows}


def test_each_file_reconciles_read_with_loaded_rejected_and_duplicates(spark, bad_lake):
    lake, summary = bad_lake
    files = per_file(spark, lake)
    expected = {  # file: (read, loaded, rejected, duplicates)
        "mixed.json": (10, 5, 4, 1),
        "lines.json": (3, 2, 1, 0),
        "truncated.json": (3, 2, 1, 0),
    }
    got = {
        name: (row.records_read, row.loaded, row.rejected, row.duplicates)
        for name, row in files.items()
    }
    assert got == expected
    assert (summary.records_read, summary.loaded, summary.rejected, summary.duplicates) == (
        16,
        9,
        6,
        1,
    )
    assert files["mixed.json"].cancellations == 1
    assert files["mixed.json"].adjustments == 1


def test_rejects_carry_reason_file_and_raw_text(spark, bad_lake):
    lake, _ = bad_lake
    rejects = tables.read(spark, lake, tables.OPS_REJECTS).collect()
    reasons = {(Path(row.source_file).name, row.line_no): row.reason for row in rejects}
    assert reasons == {
        ("mixed.json", 4): "missing country",
        ("mixed.json", 5): "non-numeric price",
        ("mixed.json", 6): "date 2019-02-30 does not exist",
        ("mixed.json", 7): "negative price on an ordinary invoice",
        ("lines.json", 2): "corrupt JSON line: Unterminated string starting at",
        ("truncated.json", 3): "corrupt or truncated JSON: Expecting ',' delimiter",
    }
    raw = {row.line_no: row.raw for row in rejects if row.source_file.endswith("mixed.json")}
    assert '"price": "n/a"' in raw[5]
    assert all(row.run_id == "run-1" for row in rejects)


def test_same_stream_twice_on_an_invoice_with_different_prices_is_kept(spark, bad_lake):
    lake, _ = bad_lake
    bronze = tables.read(spark, lake, tables.BRONZE_INVOICES)
    prices = sorted(
        row.price
        for row in bronze.where(
            (F.col("invoice") == "562417")
            & (F.col("stream_id") == "40016")
            & (F.col("country") == "France")
        ).collect()
        if row.source_file.endswith("mixed.json")
    )
    assert prices == [5.0, 8.29]


def test_a_second_ingest_of_the_same_files_changes_nothing(spark, bad_lake):
    lake, _ = bad_lake
    before = tables.read(spark, lake, tables.BRONZE_INVOICES).count()
    summary = ingesting.ingest(
        spark, input_path=str(DATA / "bad_records"), lake=lake, run_id="run-2"
    )
    assert summary.files_loaded == 0
    assert tables.read(spark, lake, tables.BRONZE_INVOICES).count() == before
    assert {row.run_id for row in tables.read(spark, lake, tables.OPS_REJECTS).collect()} == {
        "run-1"
    }


def test_a_changed_file_replaces_its_rows(spark, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    lake = str(tmp_path / "lake")
    (source / "a.json").write_text((DATA / "bad_records" / "mixed.json").read_text())
    ingesting.ingest(spark, input_path=str(source), lake=lake, run_id="first")
    (source / "a.json").write_text((DATA / "bad_records" / "lines.json").read_text())
    summary = ingesting.ingest(spark, input_path=str(source), lake=lake, run_id="second")
    assert summary.files_loaded == 1
    bronze = tables.read(spark, lake, tables.BRONZE_INVOICES).collect()
    assert len(bronze) == 2 and {row.run_id for row in bronze} == {"second"}
    assert tables.read(spark, lake, tables.OPS_REJECTS).count() == 1


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("not_json", "invoices.json is not JSON: it starts with neither '[' nor '{'"),
        ("unknown_field", "has field 'discount_code' that the field mapping does not know"),
    ],
)
def test_structural_problems_stop_before_anything_is_written(spark, tmp_path, folder, message):
    lake = str(tmp_path / "lake")
    with pytest.raises(UserError, match=re.escape(message)):
        ingesting.ingest(spark, input_path=str(DATA / folder), lake=lake, run_id="r")
    assert not Path(lake).exists()


def test_an_input_folder_without_json_files_is_a_user_error(spark, tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(UserError, match=re.escape("holds no *.json file")):
        ingesting.ingest(spark, input_path=str(tmp_path), lake=str(tmp_path / "l"), run_id="r")
