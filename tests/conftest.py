"""Shared fixtures: one local SparkSession with Delta for the whole test session."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from marketcast.config import SparkSettings, load_config

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("MARKETCAST_AAVAIL", REPO.parent / "shared" / "data" / "aavail"))

TEST_SPARK = SparkSettings(
    master="local[2]",
    app_name="marketcast-tests",
    shuffle_partitions=2,
    log_level="ERROR",
    extra={
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.default.parallelism": "2",
    },
)


@pytest.fixture(scope="session")
def spark():
    from marketcast.session import build_session

    session = build_session(TEST_SPARK)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real AAVAIL invoices beside the project; tests need them (CI has them)."""
    if not (REAL_DATA / "cs-production").is_dir():
        pytest.fail(f"the real AAVAIL data is missing at {REAL_DATA}; set MARKETCAST_AAVAIL")
    return REAL_DATA


#: The last invoice day of cs-production, the default as-of date of a run on it.
LAST_INVOICE_DAY = dt.date(2019, 12, 6)
#: 30 days earlier: a run from there has all of its window's actuals in the lake.
HOLDOUT_AS_OF = dt.date(2019, 11, 6)


@pytest.fixture(scope="session")
def real_lake(spark, config, real_data, tmp_path_factory) -> str:
    """A lake holding one pipeline run over the real cs-production invoices."""
    from marketcast import pipeline
    from marketcast.runs import new_run_id

    root = str(tmp_path_factory.mktemp("lake"))
    context = pipeline.RunContext(spark=spark, config=config, lake=root, run_id=new_run_id())
    as_of = pipeline.run_pipeline(context, input_path=str(real_data / "cs-production"))
    assert as_of == LAST_INVOICE_DAY
    return root


@pytest.fixture(scope="session")
def past_answer(spark, config, real_lake):
    """The business question for ALL as of HOLDOUT_AS_OF; runs that forecast into the lake."""
    from marketcast import pipeline, predicting
    from marketcast.runs import new_run_id

    context = pipeline.RunContext(spark=spark, config=config, lake=real_lake, run_id=new_run_id())
    return predicting.predict(context, market="ALL", as_of=HOLDOUT_AS_OF)


def run_launcher(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``spark-submit.sh`` with the test interpreter and a minimal environment."""
    return subprocess.run(
        [str(REPO / "spark-submit.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "MARKETCAST_PYTHON": sys.executable},
    )
