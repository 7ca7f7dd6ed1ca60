"""The synthetic data generator: deterministic, shaped as asked, and loadable by the pipeline."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from conftest import REPO
from marketcast import pipeline, synthetic, tables
from marketcast.config import load_config
from marketcast.runs import new_run_id

END = dt.date(2019, 12, 31)


def test_same_seed_same_files_and_another_seed_other_files(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        synthetic.write_dataset(tmp_path / name, series=5, days=40, form="json", seed=seed)
    files = sorted(path.name for path in (tmp_path / "a").iterdir())
    assert files == ["invoices-2019-11.json", "invoices-2019-12.json"]
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert (tmp_path / "a" / files[0]).read_bytes() != (tmp_path / "c" / files[0]).read_bytes()


def test_invoice_lines_sum_to_the_daily_series_and_skew_halves_the_rows():
    daily = synthetic.daily_series(30, 200, seed=5)
    assert daily.groupby("market").size().tolist() == [200] * 30
    assert (daily["revenue"] == 0).mean() > 0.01  # intermittent series have zero days
    for skew in (False, True):
        lines = synthetic.invoice_lines(30, 200, seed=5, skew=skew)
        sums = lines.groupby(["country", "date"])["price"].sum()
        expected = daily[daily["revenue"] > 0].set_index(["market", "ds"])["revenue"]
        np.testing.assert_allclose(sums.loc[expected.index].to_numpy(), expected.to_numpy())
        share = (lines["country"] == "S00").mean()
        if skew:
            assert share == pytest.approx(0.5, abs=0.01)
        else:
            assert share < 0.1


def silver_of(spark, config, input_path, lake, as_of):
    context = pipeline.RunContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    pipeline.run_ingest(context, input_path=input_path)
    pipeline.run_aggregate(context, as_of=as_of)
    return (
        tables.read(spark, lake, tables.SILVER_DAILY_REVENUE)
        .where((F.col("as_of") == F.lit(as_of)) & (F.col("market") != "ALL"))
        .select("market", "ds", "revenue")
        .toPandas()
    )


@pytest.mark.parametrize(
    ("form", "conf"),
    [("json", None), ("parquet", "synthetic-parquet.yaml"), ("daily", "synthetic-daily.yaml")],
)
def test_every_form_loads_to_the_generated_daily_revenue(spark, tmp_path, form, conf):
    synthetic.write_dataset(tmp_path / "in", series=12, days=60, form=form, seed=11, skew=True)
    config = load_config(REPO / "conf" / conf if conf else None)
    silver = silver_of(spark, config, str(tmp_path / "in"), str(tmp_path / "lake"), END)
    expected = synthetic.daily_series(12, 60, seed=11)
    if form != "daily":
        # Invoice lines exist on days with revenue: a market's calendar starts on its first.
        first = expected[expected["revenue"] > 0].groupby("market")["ds"].min()
        expected = expected[expected["ds"] >= expected["market"].map(first)]
    merged = expected.merge(silver, on=["market", "ds"], how="outer", suffixes=("", "_silver"))
    assert len(merged) == len(expected) == len(silver)
    np.testing.assert_allclose(merged["revenue_silver"], merged["revenue"], atol=1e-6)


def test_generate_job_writes_parquet_lines_and_refuses_bad_sizes(tmp_path):
    job = [sys.executable, str(REPO / "jobs" / "generate.py")]
    out = tmp_path / "gen"
    done = subprocess.run(
        [*job, "--out", str(out), "--series", "3", "--days", "20", "--form", "parquet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    frame = pd.concat(pd.read_parquet(path) for path in sorted(out.glob("*.parquet")))
    assert sorted(frame.columns) == [
        "country",
        "customer_id",
        "date",
        "invoice",
        "price",
        "stream_id",
        "times_viewed",
    ]
    assert frame["country"].nunique() == 3
    assert f"wrote {len(frame)} parquet rows of 3 series" in done.stderr
    refused = subprocess.run(
        [*job, "--out", str(out), "--series", "0"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "--series and --days must be at least 1" in refused.stderr.strip().splitlines()[-1]
