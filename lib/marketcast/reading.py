"""Finding the input files and parsing them into canonical invoice lines on the executors.

AAVAIL JSON files go through :mod:`marketcast.normalising`; CSV, Parquet and Delta transactions
through :mod:`marketcast.tabular`. Both give rows of one schema, so ingesting does not care.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pandas as pd
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from marketcast import normalising, schemas, tables, tabular
from marketcast.config import SourceSettings
from marketcast.errors import UserError


@dataclass(frozen=True)
class InputFile:
    path: str
    size_bytes: int
    checksum: str


def _binary_files(spark: SparkSession, input_path: str, glob: str) -> DataFrame:
    return (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", glob)
        .load(input_path)
    )


def list_input_files(
    spark: SparkSession, input_path: str, source: SourceSettings | None = None
) -> list[InputFile]:
    """The input files below ``input_path`` with their size and SHA-256, sorted by path.

    Files are those whose names match the source format's pattern (``*.json`` by default),
    searched recursively. The checksums are computed on the executors; only one small row per
    file reaches the driver. A Delta table source is one input: its location, with its version
    as the checksum, so a new version of the table replaces the rows of the earlier one.

    Raises:
        UserError: The path does not exist or holds no input file.
    """
    source = source or SourceSettings()
    if tables.is_local_path(input_path) and not tables.local_path(input_path).exists():
        raise UserError(f"input path not found: {input_path}")
    if source.format == "delta":
        return [_delta_input(spark, input_path)]
    try:
        rows = (
            _binary_files(spark, input_path, source.file_glob)
            .select("path", "length", F.sha2("content", 256).alias("checksum"))
            .collect()
        )
    except AnalysisException as error:
        raise UserError(f"cannot read input path {input_path}: {error.getMessage()}") from None
    if not rows:
        raise UserError(f"input path {input_path} holds no {source.file_glob} file")
    return sorted(
        (InputFile(row["path"], row["length"], row["checksum"]) for row in rows),
        key=lambda item: item.path,
    )


def _delta_input(spark: SparkSession, input_path: str) -> InputFile:
    try:
        detail = spark.sql(f"DESCRIBE DETAIL delta.`{input_path}`").first()
        version = spark.sql(f"DESCRIBE HISTORY delta.`{input_path}` LIMIT 1").first()["version"]
    except AnalysisException:
        raise UserError(f"input path {input_path} is not a Delta table") from None
    return InputFile(detail["location"], int(detail["sizeInBytes"]), f"delta-version-{version}")


def parse_files(
    spark: SparkSession,
    input_path: str,
    paths: list[str],
    *,
    latest_day: dt.date,
    source: SourceSettings | None = None,
) -> DataFrame:
    """Parse the named inputs below ``input_path`` into rows of :data:`schemas.PARSED`.

    Args:
        spark: The session.
        input_path: The folder the files were listed from (or the Delta table).
        paths: The files to parse, as :func:`list_input_files` names them.
        latest_day: The day of the run; lines dated after it are rejected.
        source: The source settings (format and column mapping); AAVAIL JSON when None.

    Notes:
        One task parses one whole file in memory; files of a few hundred MB are fine, larger
        ones should be split into several files. A Delta table is read in Spark's own splits.
    """
    source = source or SourceSettings()
    if source.format == "delta":
        return _parse_delta(spark, input_path, paths[0], source, latest_day)
    parse = _file_parser(source, latest_day)

    def parse_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for path, content in zip(batch["path"], batch["content"], strict=True):
                yield _frame(parse(path, bytes(content)))

    return (
        _binary_files(spark, input_path, source.file_glob)
        .where(F.col("path").isin(paths))
        .select("path", "content")
        .mapInPandas(parse_batches, schemas.PARSED)
    )


def _file_parser(source: SourceSettings, latest_day: dt.date):
    if source.format == "aavail_json":
        return functools.partial(normalising.parse_file, latest_day=latest_day)
    parser = {"csv": tabular.parse_csv, "parquet": tabular.parse_parquet}[source.format]
    return functools.partial(parser, mapping=source.columns.as_mapping(), latest_day=latest_day)


def _frame(rows: Iterable[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(normalising.COLUMNS))
    return frame.astype({"line_no": "Int64", "customer_id": "Int64", "times_viewed": "Int64"})


def _parse_delta(
    spark: SparkSession,
    input_path: str,
    location: str,
    source: SourceSettings,
    latest_day: dt.date,
) -> DataFrame:
    mapping = source.columns.as_mapping()
    table = spark.read.format("delta").load(input_path)
    missing = tabular.missing_columns(table.columns, mapping)
    if missing:
        raise UserError(
            f"{location} has no column {', '.join(map(repr, missing))} named in source.columns"
        )
    columns = sorted(set(mapping.values()))
    numbered = table.select(*columns).withColumn(
        "_line_no", F.monotonically_increasing_id() + F.lit(1)
    )

    def parse_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            numbers = batch.pop("_line_no").tolist()
            records = batch.astype(object).where(batch.notna(), None).to_dict("records")
            records = [{key: _plain(value) for key, value in row.items()} for row in records]
            yield _frame(
                tabular.parse_records(
                    location, zip(numbers, records, strict=True), mapping, latest_day
                )
            )

    return numbered.mapInPandas(parse_batches, schemas.PARSED)


def _plain(value):
    """pandas and numpy scalars as the Python values the tabular parser knows."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


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
