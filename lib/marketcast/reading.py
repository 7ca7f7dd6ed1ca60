"""Finding the input files and parsing them into canonical invoice lines on the executors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from marketcast import normalising, schemas, tables
from marketcast.errors import UserError


@dataclass(frozen=True)
class InputFile:
    path: str
    size_bytes: int
    checksum: str


def _binary_files(spark: SparkSession, input_path: str) -> DataFrame:
    return (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "*.json")
        .load(input_path)
    )


def list_input_files(spark: SparkSession, input_path: str) -> list[InputFile]:
    """Every ``*.json`` file below ``input_path`` with its size and SHA-256, sorted by path.

    The checksums are computed on the executors; only one small row per file reaches the driver.

    Raises:
        UserError: The path does not exist or holds no JSON file.
    """
    if tables.is_local_path(input_path) and not tables.local_path(input_path).exists():
        raise UserError(f"input path not found: {input_path}")
    try:
        rows = (
            _binary_files(spark, input_path)
            .select("path", "length", F.sha2("content", 256).alias("checksum"))
            .collect()
        )
    except AnalysisException as error:
        raise UserError(f"cannot read input path {input_path}: {error.getMessage()}") from None
    if not rows:
        raise UserError(f"input path {input_path} holds no *.json file")
    return sorted(
        (InputFile(row["path"], row["length"], row["checksum"]) for row in rows),
        key=lambda item: item.path,
    )


def parse_files(
    spark: SparkSession, input_path: str, paths: list[str], *, latest_day: dt.date
) -> DataFrame:
    """Parse the named files below ``input_path`` into rows of :data:`schemas.PARSED`.

    Args:
        spark: The session.
        input_path: The folder the files were listed from.
        paths: The files to parse, as :func:`list_input_files` names them.
        latest_day: The day of the run; lines dated after it are rejected.

    Notes:
        One task parses one whole file in memory; files of a few hundred MB are fine, larger
        ones should be split into several files.
    """

    def parse_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for path, content in zip(batch["path"], batch["content"], strict=True):
                rows = normalising.parse_file(path, bytes(content), latest_day=latest_day)
                frame = pd.DataFrame(list(rows), columns=list(normalising.COLUMNS))
                yield frame.astype(
                    {"line_no": "Int64", "customer_id": "Int64", "times_viewed": "Int64"}
                )

    return (
        _binary_files(spark, input_path)
        .where(F.col("path").isin(paths))
        .select("path", "content")
        .mapInPandas(parse_batches, schemas.PARSED)
    )


def mark_duplicates(parsed: DataFrame) -> DataFrame:
    """Add ``duplicate``: true for the second and later copies of a line within one file.

    Lines count as duplicates only when every canonical field is identical; rejected lines and
    structural rows are never duplicates.
    """
    identity = [
        "source_file",
        "invoice",
        "country",
        "customer_id",
        "stream_id",
        "times_viewed",
        "price",
        "invoice_date",
    ]
    first_line = F.min("line_no").over(Window.partitionBy(*identity))
    loadable = F.col("reason").isNull()
    return parsed.withColumn("duplicate", loadable & (F.col("line_no") != first_line))
