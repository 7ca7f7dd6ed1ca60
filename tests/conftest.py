"""Shared fixtures: one local SparkSession with Delta for the whole test session."""

from __future__ import annotations

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


def run_launcher(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``spark-submit.sh`` with the test interpreter and a minimal environment."""
    return subprocess.run(
        [str(REPO / "spark-submit.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "MARKETCAST_PYTHON": sys.executable},
    )
