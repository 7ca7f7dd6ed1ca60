"""Forecast-stage benchmark: this job against bare statsforecast and statsforecast's Spark backend.

One run, the same synthetic daily series, the same models, horizon, interval levels and cores:

1. this job's forecast stage (``marketcast.forecast_stage.run_forecast``: the grouped pass,
   staging and the four gold Delta tables), with backtesting switched off so that it does the
   same fitting work as the peers;
2. statsforecast in one process, ``n_jobs`` = cores, on a pandas frame;
3. statsforecast's Spark backend: ``StatsForecast.forecast`` on a Spark frame.

Every timing starts after the Spark session is up. Prints a table and writes the figures as
JSON (``ratio_native`` = this job over bare statsforecast, ``ratio_spark_backend`` = this job
over the Spark backend).

    .venv/bin/python bench/forecast_bench.py --series 1000 --days 365 --json bench/results/1k.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from statsforecast import StatsForecast
from statsforecast import models as sf_models

from marketcast.config import BacktestSettings, Config, ModelSpec, SparkSettings
from marketcast.session import build_session
from marketcast.synthetic import daily_series

HORIZON = 30
LEVELS = [80, 95]


def write_daily(path: str, series: int, days: int) -> None:
    daily_series(series, days, seed=42).to_parquet(path, index=False)


def jvm_peak_mib(spark) -> float | None:
    """Peak resident memory of the Spark driver JVM (which also runs the executors locally)."""
    try:
        pid = spark.sparkContext._gateway.proc.pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (AttributeError, OSError):
        return None
    return None


def python_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_models(names: list[str], season_length: int = 7):
    built = []
    for name in names:
        cls = getattr(sf_models, name)
        if name in ("SeasonalNaive", "MSTL", "AutoETS", "AutoARIMA", "AutoTheta", "AutoCES"):
            built.append(cls(season_length=season_length))
        else:
            built.append(cls())
    return built


def time_this_job(spark, daily_path: str, config: Config, lake: str) -> float:
    import datetime as dt

    from pyspark.sql import functions as F

    from marketcast import forecast_stage

    daily = spark.read.parquet(daily_path).withColumn("ds", F.to_date("ds"))
    as_of = daily.agg(F.max("ds")).first()[0]
    started = time.perf_counter()
    forecast_stage.run_forecast(
        spark, daily, lake=lake, config=config, as_of=as_of or dt.date.today(), run_id="bench"
    )
    return time.perf_counter() - started


def time_job_pass(spark, daily_path: str, config: Config) -> float:
    """The grouped pass alone, its result discarded: the fitting without the Delta writes."""
    from pyspark.sql import functions as F

    from marketcast import forecast_stage

    daily = spark.read.parquet(daily_path).withColumn("ds", F.to_date("ds"))
    started = time.perf_counter()
    forecast_stage.forecast_pass(daily, config=config).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started


def time_native(frame: pd.DataFrame, names: list[str], cores: int) -> float:
    started = time.perf_counter()
    engine = StatsForecast(models=build_models(names), freq="D", n_jobs=cores)
    result = engine.forecast(df=frame, h=HORIZON, level=LEVELS)
    assert len(result) == frame["unique_id"].nunique() * HORIZON
    return time.perf_counter() - started


def time_spark_backend(spark, daily_path: str, names: list[str]) -> float:
    from pyspark.sql import functions as F

    frame = spark.read.parquet(daily_path).select(
        F.col("market").alias("unique_id"),
        F.to_timestamp("ds").alias("ds"),
        F.col("revenue").alias("y"),
    )
    started = time.perf_counter()
    engine = StatsForecast(models=build_models(names), freq="D")
    result = engine.forecast(df=frame, h=HORIZON, level=LEVELS)
    result.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, required=True)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--models", default="AutoTheta,SeasonalNaive")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument(
        "--skip", default="", help="comma list of: job,job_pass,native,spark_backend"
    )
    args = parser.parse_args()
    names = args.models.split(",")
    skip = set(filter(None, args.skip.split(",")))

    workdir = Path(tempfile.mkdtemp(prefix="marketcast-bench-"))
    daily_path = str(workdir / "daily.parquet")
    # Generated in a child process, so that the driver's peak memory is the job's own.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(write_daily, daily_path, args.series, args.days).result()

    settings = SparkSettings(
        master=f"local[{args.cores}]",
        app_name="marketcast-bench",
        shuffle_partitions=4 * args.cores,
        log_level="ERROR",
        extra={"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"},
    )
    config = Config(
        spark=settings,
        backtest=BacktestSettings(windows=0, ensemble_size=0),
    )
    config = Config.model_validate(
        {
            **config.model_dump(),
            "forecast": {
                **config.forecast.model_dump(),
                "horizon": HORIZON,
                "levels": LEVELS,
                "models": [ModelSpec(name=name).model_dump() for name in names],
            },
        }
    )
    spark = build_session(settings)
    # Warm up before any clock starts: the session, the Python workers, and numba's compile
    # cache on disk, which all three methods use.
    warm_path = str(workdir / "warm.parquet")
    daily_series(4 * args.cores, args.days, seed=1).to_parquet(warm_path, index=False)
    time_job_pass(spark, warm_path, config)

    seconds: dict[str, float | None] = {
        "job": None,
        "job_pass": None,
        "native": None,
        "spark_backend": None,
    }
    memory: dict[str, float | None] = {}
    if "job" not in skip:
        seconds["job"] = time_this_job(spark, daily_path, config, str(workdir / "lake"))
        memory["python_driver_peak_mib_after_job"] = python_peak_mib()
        memory["jvm_peak_mib_after_job"] = jvm_peak_mib(spark)
    if "job_pass" not in skip:
        seconds["job_pass"] = time_job_pass(spark, daily_path, config)
    if "spark_backend" not in skip:
        seconds["spark_backend"] = time_spark_backend(spark, daily_path, names)
    if "native" not in skip:
        native_frame = pd.read_parquet(daily_path).rename(
            columns={"market": "unique_id", "revenue": "y"}
        )
        native_frame["ds"] = pd.to_datetime(native_frame["ds"])
        seconds["native"] = time_native(native_frame, names, args.cores)

    def ratio(a: str, b: str) -> float | None:
        if seconds[a] is None or seconds[b] is None:
            return None
        return seconds[a] / seconds[b]

    figures = {
        "series": args.series,
        "days": args.days,
        "models": names,
        "horizon": HORIZON,
        "levels": LEVELS,
        "cores": args.cores,
        "seconds_job": seconds["job"],
        "seconds_job_pass": seconds["job_pass"],
        "seconds_native": seconds["native"],
        "seconds_spark_backend": seconds["spark_backend"],
        "ratio_native": ratio("job", "native"),
        "ratio_spark_backend": ratio("job", "spark_backend"),
        **memory,
        "series_per_core_second": {
            key: (args.series / (value * args.cores) if value else None)
            for key, value in seconds.items()
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2))
    print(
        f"| series | days | models | job s | pass s | native s | spark backend s | job/native | "
        f"job/spark backend | job series/core-s |\n|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {args.series} | {args.days} | {'+'.join(names)} | {_fmt(seconds['job'])} | "
        f"{_fmt(seconds['job_pass'])} | "
        f"{_fmt(seconds['native'])} | {_fmt(seconds['spark_backend'])} | "
        f"{_fmt(figures['ratio_native'], 2)} | {_fmt(figures['ratio_spark_backend'], 2)} | "
        f"{_fmt(figures['series_per_core_second']['job'], 1)} |"
    )
    print(json.dumps(memory))
    spark.stop()


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    main()
