"""A killed run leaves no partial result; concurrent runs on one lake both land."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from marketcast import pipeline, tables
from marketcast.config import load_config
from marketcast.runs import new_run_id
from marketcast.synthetic import generate_invoices

REPO = Path(__file__).resolve().parents[1]
FAST = REPO / "tests" / "data" / "fast.yaml"
GOLD = (
    tables.GOLD_FORECASTS,
    tables.GOLD_BACKTESTS,
    tables.GOLD_MODEL_SELECTION,
    tables.GOLD_FORECAST_STATUS,
    tables.SILVER_DAILY_REVENUE,
)


@pytest.fixture(scope="module")
def invoices(tmp_path_factory):
    folder = tmp_path_factory.mktemp("invoices")
    lines = generate_invoices(folder, days=100, seed=3)
    return folder, lines


def start_pipeline(invoices: Path, lake: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(REPO / "jobs" / "pipeline.py"),
            "--input",
            str(invoices),
            "--lake",
            str(lake),
            "--conf",
            str(FAST),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stage_status(lake: Path, stage: str) -> str | None:
    path = lake / tables.OPS_RUNS
    if not (path / "_delta_log").exists():
        return None
    try:
        runs = DeltaTable(str(path)).to_pandas()
    except Exception:  # the table is being created right now
        return None
    rows = runs[runs["stage"] == stage]
    return None if rows.empty else rows.iloc[-1]["status"]


def snapshot(spark, lake: Path) -> dict[str, list[tuple]]:
    result = {}
    for name in GOLD:
        frame = tables.read(spark, str(lake), name).drop("run_id", "created_at")
        result[name] = sorted(
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in frame.collect()
        )
    return result


def run_in_session(spark, invoices: Path, lake: Path) -> None:
    context = pipeline.RunContext(
        spark=spark, config=load_config(FAST), lake=str(lake), run_id=new_run_id()
    )
    pipeline.run_pipeline(context, input_path=str(invoices))


def test_killed_forecast_then_rerun_equals_one_clean_run(spark, invoices, tmp_path):
    invoices, _ = invoices
    lake = tmp_path / "lake"
    process = start_pipeline(invoices, lake)
    deadline = time.monotonic() + 300
    while stage_status(lake, "forecast") != "running":
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the forecast stage never started"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert stage_status(lake, "forecast") == "running"  # the killed run shows as incomplete

    run_in_session(spark, invoices, lake)
    clean = tmp_path / "clean"
    run_in_session(spark, invoices, clean)
    assert snapshot(spark, lake) == snapshot(spark, clean)
    runs = DeltaTable(str(lake / tables.OPS_RUNS)).to_pandas()
    assert sorted(runs.loc[runs["stage"] == "forecast", "status"]) == ["running", "succeeded"]


def test_two_runs_with_different_as_of_dates_at_once_both_land(spark, invoices, tmp_path):
    invoices, lines = invoices
    lake = tmp_path / "lake"
    first = start_pipeline(invoices, lake, "--as-of", "2019-10-31")
    second = start_pipeline(invoices, lake, "--as-of", "2019-11-05")
    outputs = [process.communicate(timeout=600)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    status = tables.read(spark, str(lake), tables.GOLD_FORECAST_STATUS)
    dates = sorted(str(row.as_of) for row in status.select("as_of").distinct().collect())
    assert dates == ["2019-10-31", "2019-11-05"]
    # Every line once: the synthetic data holds exactly one exact duplicate.
    assert tables.read(spark, str(lake), tables.BRONZE_INVOICES).count() == lines - 1
