"""Run records: a row per stage, running at the start, the outcome at the end, a log line."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from marketcast import tables
from marketcast.runs import StageRun


def stage(spark, lake, name="ingest"):
    return StageRun(
        spark=spark, lake=lake, run_id="r1", stage=name, config_json="{}", as_of=dt.date(2019, 1, 1)
    )


def test_a_stage_logs_one_line_with_counts_and_seconds(spark, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="marketcast.runs")
    with stage(spark, str(tmp_path)) as record:
        record.input_rows = 12
        record.details = {"rejected": 2}
    with stage(spark, str(tmp_path), "aggregate") as record:
        record.markets = 3
    lines = [r.getMessage() for r in caplog.records if r.name == "marketcast.runs"]
    assert len(lines) == 2
    assert lines[0].startswith("stage ingest succeeded in ")
    assert lines[0].endswith(" s: rows=12 rejected=2")
    assert lines[1].endswith(" s: markets=3")
    runs = {row.stage: row for row in tables.read(spark, str(tmp_path), tables.OPS_RUNS).collect()}
    assert runs["ingest"].status == "succeeded" and runs["ingest"].seconds >= 0
    assert runs["aggregate"].markets == 3


def test_a_failing_stage_is_recorded_as_failed_with_its_message(spark, tmp_path):
    with pytest.raises(ValueError), stage(spark, str(tmp_path)):
        raise ValueError("bad thing")
    row = tables.read(spark, str(tmp_path), tables.OPS_RUNS).first()
    assert (row.status, row.message) == ("failed", "ValueError: bad thing")
