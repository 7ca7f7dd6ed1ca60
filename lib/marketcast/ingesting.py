"""Ingest stage: input files to ``bronze/invoices``, ``ops/rejects`` and ``ops/files``.

Incremental: a file whose path and SHA-256 are already in ``ops/files`` is skipped; a new file
loads only itself; a changed file replaces its earlier rows. Every line of a loaded file ends
in exactly one place: bronze, rejects, or the duplicate count; the stage checks that the counts
add up after writing and fails the run when they do not.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from marketcast import normalising, reading, schemas, tables
from marketcast.config import SourceSettings
from marketcast.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSummary:
    files_seen: int
    files_loaded: int
    records_read: int
    loaded: int
    rejected: int
    duplicates: int
    cancellations: int
    adjustments: int


def sql_in(column: str, values: list[str]) -> str:
    """A SQL ``column IN (...)`` predicate with the values quoted."""
    quoted = ", ".join(
        "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'" for value in values
    )
    return f"{column} IN ({quoted})"


def _already_ingested(spark: SparkSession, lake: str) -> dict[str, str]:
    if not tables.exists(spark, lake, tables.OPS_FILES):
        return {}
    rows = tables.read(spark, lake, tables.OPS_FILES).select("source_file", "checksum").collect()
    return {row["source_file"]: row["checksum"] for row in rows}


def ingest(
    spark: SparkSession,
    *,
    input_path: str,
    lake: str,
    run_id: str,
    source: SourceSettings | None = None,
) -> IngestSummary:
    """Load new and changed invoice files below ``input_path`` into the lake.

    Args:
        spark: The session.
        input_path: A folder (read recursively for the format's files), a single file, or a
            Delta table.
        lake: The lake's root.
        run_id: Written on every row this run loads.
        source: Format and column mapping of the input; AAVAIL JSON when None.

    Notes:
        Lines dated after the day of the run (UTC) are rejected. Lines dated after a run's
        as-of date are loaded like any other: the aggregate stage leaves them out of that as-of
        date's daily revenue and counts them, so a later run with a later as-of date uses them.

    Raises:
        UserError: The input is missing or empty, a file is not of the format, a field name is
            unknown, or a mapped column is missing; nothing is written then.
    """
    files = reading.list_input_files(spark, input_path, source)
    known = _already_ingested(spark, lake)
    todo = [item for item in files if known.get(item.path) != item.checksum]
    log.info("ingest: %d files found, %d new or changed", len(files), len(todo))
    if not todo:
        return IngestSummary(len(files), 0, 0, 0, 0, 0, 0, 0)

    paths = [item.path for item in todo]
    lines = None
    today = dt.datetime.now(dt.timezone.utc).date()
    parsed = reading.parse_files(spark, input_path, paths, latest_day=today, source=source).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        _stop_on_structural_problems(parsed)
        lines = reading.mark_duplicates(
            parsed.where(F.col("invoice_kind").isNull() | (F.col("invoice_kind") != "structural"))
        )
        lines = lines.persist(StorageLevel.MEMORY_AND_DISK)
        counts = _counts_per_file(lines)
        _write_bronze(lines, lake=lake, run_id=run_id, paths=paths)
        _write_rejects(lines, lake=lake, run_id=run_id, paths=paths)
        _reconcile(spark, lake, counts)
        _write_files(spark, lake=lake, run_id=run_id, todo=todo, counts=counts)
    finally:
        parsed.unpersist()
        if lines is not None:
            lines.unpersist()
    total = {key: sum(row[key] for row in counts.values()) for key in _COUNT_KEYS}
    return IngestSummary(len(files), len(todo), **total)


_COUNT_KEYS = (
    "records_read",
    "loaded",
    "rejected",
    "duplicates",
    "cancellations",
    "adjustments",
)


def _stop_on_structural_problems(parsed: DataFrame) -> None:
    problems = (
        parsed.where(F.col("invoice_kind") == normalising.STRUCTURAL)
        .select("reason")
        .orderBy("reason")
        .limit(5)
        .collect()
    )
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"{problems[0]['reason']}{more}")


def _loaded(lines: DataFrame) -> DataFrame:
    return lines.where(F.col("reason").isNull() & ~F.col("duplicate"))


def _counts_per_file(lines: DataFrame) -> dict[str, dict[str, int]]:
    loaded = F.col("reason").isNull() & ~F.col("duplicate")
    rows = (
        lines.groupBy("source_file")
        .agg(
            F.count(F.lit(1)).alias("records_read"),
            F.sum(loaded.cast("long")).alias("loaded"),
            F.sum(F.col("reason").isNotNull().cast("long")).alias("rejected"),
            F.sum(F.col("duplicate").cast("long")).alias("duplicates"),
            F.sum((loaded & (F.col("invoice_kind") == "cancellation")).cast("long")).alias(
                "cancellations"
            ),
            F.sum((loaded & (F.col("invoice_kind") == "adjustment")).cast("long")).alias(
                "adjustments"
            ),
        )
        .collect()
    )
    return {row["source_file"]: {key: int(row[key] or 0) for key in _COUNT_KEYS} for row in rows}


def _write_bronze(lines: DataFrame, *, lake: str, run_id: str, paths: list[str]) -> None:
    bronze = _loaded(lines).select(
        *[
            name
            for name in schemas.BRONZE_INVOICES.fieldNames()
            if name not in ("run_id", "ingested_at")
        ],
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("ingested_at"),
    )
    tables.write_slice(
        bronze,
        lake=lake,
        name=tables.BRONZE_INVOICES,
        schema=schemas.BRONZE_INVOICES,
        condition=sql_in("source_file", paths),
    )


def _write_rejects(lines: DataFrame, *, lake: str, run_id: str, paths: list[str]) -> None:
    rejects = lines.where(F.col("reason").isNotNull()).select(
        "source_file",
        "line_no",
        "reason",
        "raw",
        F.lit(run_id).alias("run_id"),
        F.current_timestamp().alias("rejected_at"),
    )
    tables.write_slice(
        rejects,
        lake=lake,
        name=tables.OPS_REJECTS,
        schema=schemas.OPS_REJECTS,
        condition=sql_in("source_file", paths),
    )


def _reconcile(spark: SparkSession, lake: str, counts: dict[str, dict[str, int]]) -> None:
    """Count what the tables now hold per file and compare with what was read."""
    paths = list(counts)
    in_bronze = _count_by_file(tables.read(spark, lake, tables.BRONZE_INVOICES), paths)
    in_rejects = _count_by_file(tables.read(spark, lake, tables.OPS_REJECTS), paths)
    for path, row in counts.items():
        written = in_bronze.get(path, 0) + in_rejects.get(path, 0) + row["duplicates"]
        if written != row["records_read"]:
            raise RuntimeError(
                f"counts do not reconcile for {path}: read {row['records_read']}, "
                f"in bronze {in_bronze.get(path, 0)}, rejected {in_rejects.get(path, 0)}, "
                f"duplicates {row['duplicates']}"
            )


def _count_by_file(frame: DataFrame, paths: list[str]) -> dict[str, int]:
    rows = frame.where(F.col("source_file").isin(paths)).groupBy("source_file").count().collect()
    return {row["source_file"]: row["count"] for row in rows}


def _write_files(
    spark: SparkSession,
    *,
    lake: str,
    run_id: str,
    todo: list[reading.InputFile],
    counts: dict[str, dict[str, int]],
) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = []
    for item in todo:
        row = counts.get(item.path, dict.fromkeys(_COUNT_KEYS, 0))
        rows.append(
            (
                item.path,
                item.checksum,
                item.size_bytes,
                *[row[key] for key in _COUNT_KEYS],
                run_id,
                now,
            )
        )
    frame = spark.createDataFrame(rows, schemas.OPS_FILES)
    tables.write_slice(
        frame,
        lake=lake,
        name=tables.OPS_FILES,
        schema=schemas.OPS_FILES,
        condition=sql_in("source_file", [item.path for item in todo]),
    )
