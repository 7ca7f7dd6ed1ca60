"""Whole-pipeline benchmark: generated invoice lines to the Delta tables, with and without skew.

Generates ``--series`` series of ``--days`` days as Parquet invoice lines
(``marketcast.synthetic.invoice_lines``, about three lines per market and day; with ``--skew``
the first market has as many lines as all the others together), then runs ingest, aggregate and
forecast (the given models, backtesting off unless ``--windows``) on local Spark and reads each
stage's seconds from ``ops/runs``. Prints a table row and writes the figures as JSON.

    .venv/bin/python bench/pipeline_bench.py --series 1000 --json bench/results/pipe-1k.json
    .venv/bin/python bench/pipeline_bench.py --series 1000 --skew --json bench/results/skew.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from forecast_bench import jvm_peak_mib, python_peak_mib

from marketcast import pipeline, synthetic, tables
from marketcast.config import DEFAULT_CONFIG, Config, SparkSettings, load_config
from marketcast.runs import new_run_id
from marketcast.session import build_session


def generate(out: str, series: int, days: int, skew: bool) -> int:
    return synthetic.write_dataset(Path(out), series=series, days=days, form="parquet", skew=skew)


def bench_config(cores: int, models: list[str], windows: int) -> Config:
    raw = load_config(DEFAULT_CONFIG.parent / "synthetic-parquet.yaml").model_dump()
    raw["spark"] = SparkSettings(
        master=f"local[{cores}]",
        app_name="marketcast-pipeline-bench",
        shuffle_partitions=4 * cores,
        log_level="ERROR",
        extra={"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"},
    ).model_dump()
    raw["forecast"]["models"] = [{"name": name} for name in models]
    raw["backtest"] = {"windows": windows, "step": 14, "ensemble_size": 0}
    return Config.model_validate(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, required=True)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--skew", action="store_true")
    parser.add_argument("--models", default="AutoTheta,SeasonalNaive")
    parser.add_argument("--windows", type=int, default=0, help="backtest windows (0: off)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    models = args.models.split(",")

    workdir = Path(tempfile.mkdtemp(prefix="marketcast-pipeline-bench-"))
    source = str(workdir / "invoices")
    # Generated in a child process, so that the driver's peak memory is the job's own.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        lines = pool.submit(generate, source, args.series, args.days, args.skew).result()

    config = bench_config(args.cores, models, args.windows)
    spark = build_session(config.spark)
    lake = str(workdir / "lake")
    context = pipeline.RunContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    started = time.perf_counter()
    pipeline.run_ingest(context, input_path=source)
    as_of = pipeline.run_aggregate(context)
    pipeline.run_forecast(context, as_of=as_of)
    total = time.perf_counter() - started

    stages = {
        row["stage"]: row["seconds"]
        for row in tables.read(spark, lake, tables.OPS_RUNS).select("stage", "seconds").collect()
    }
    figures = {
        "series": args.series,
        "days": args.days,
        "skew": args.skew,
        "invoice_lines": lines,
        "models": models,
        "backtest_windows": args.windows,
        "cores": args.cores,
        "seconds_total": total,
        "seconds_ingest": stages.get("ingest"),
        "seconds_aggregate": stages.get("aggregate"),
        "seconds_forecast": stages.get("forecast"),
        "python_driver_peak_mib": python_peak_mib(),
        "jvm_peak_mib": jvm_peak_mib(spark),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2))
    print(
        "| series | days | skew | lines | models | ingest s | aggregate s | forecast s | total s "
        "| Python MiB | JVM MiB |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {args.series:,} | {args.days} | {'yes' if args.skew else 'no'} | {lines:,} | "
        f"{'+'.join(models)} | {figures['seconds_ingest']:.1f} | "
        f"{figures['seconds_aggregate']:.1f} | {figures['seconds_forecast']:.1f} | {total:.1f} | "
        f"{figures['python_driver_peak_mib']:.0f} | {figures['jvm_peak_mib'] or 0:.0f} |"
    )
    spark.stop()
    shutil.rmtree(workdir, ignore_errors=True)  # the generated input and the lake


if __name__ == "__main__":
    main()
