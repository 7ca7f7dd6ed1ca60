"""The one place where a SparkSession is built; everything else receives it."""

from __future__ import annotations

import os
import sys

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

from marketcast.config import SparkSettings

_DELTA = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

_DEFAULTS = {
    # Days stay dates end to end; timestamps are read and shown in UTC wherever the job runs.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Small Delta tables: a few snapshot partitions keep log replay quick.
    "spark.databricks.delta.snapshotPartitions": "4",
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "64",
    # One Python process per task; numeric libraries must not start their own thread pools.
    "spark.executorEnv.OMP_NUM_THREADS": "1",
    "spark.executorEnv.OPENBLAS_NUM_THREADS": "1",
    "spark.executorEnv.MKL_NUM_THREADS": "1",
    "spark.executorEnv.NUMBA_NUM_THREADS": "1",
}


def build_session(settings: SparkSettings, *, master: str | None = None) -> SparkSession:
    """Build (or join) the SparkSession with Delta Lake enabled.

    Args:
        settings: Spark settings from the configuration; ``extra`` entries win over defaults.
        master: A master URL that overrides the configured one (None keeps it). Under
            spark-submit the master given on its command line is already fixed and this is
            ignored by Spark.

    Returns:
        The session. The Delta Lake jars come through ``spark.jars.packages`` from Maven
        Central unless ``spark.jars`` is set in ``extra`` (for machines without that access).
    """
    builder = SparkSession.builder.appName(settings.app_name)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        # Outside spark-submit; under it, the master on its command line decides.
        builder = builder.master(master or settings.master)
        # Python workers run the interpreter that runs the driver, with the same packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = {
        **_DELTA,
        **_DEFAULTS,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        **settings.extra,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    if "spark.jars" not in settings.extra:
        builder = configure_spark_with_delta_pip(builder)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.log_level)
    return spark


def delta_package() -> str:
    """The Maven coordinate of the Delta Lake jar that matches the installed delta-spark."""
    from importlib.metadata import version

    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def resolve_delta_jars() -> list[str]:
    """Fetch the Delta Lake jars into Spark's Ivy cache once, and return their paths.

    Spark resolves ``spark.jars.packages`` at every start; several processes that start at
    once on a machine whose cache is still empty race on the same cache files and fail. Running
    this first (``python -m marketcast.session``) fills the cache, so that later starts only
    read it.
    """
    settings = SparkSettings(
        master="local[1]",
        app_name="marketcast-resolve-jars",
        log_level="ERROR",
        extra={"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"},
    )
    spark = build_session(settings)
    try:
        jars = spark.sparkContext.getConf().get("spark.jars", "")
    finally:
        spark.stop()
    return [jar for jar in jars.split(",") if jar]


if __name__ == "__main__":
    print(f"{len(resolve_delta_jars())} jars for {delta_package()} in Spark's Ivy cache")
