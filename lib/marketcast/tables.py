"""Reading and writing the lake's Delta tables.

Every write checks the frame against its schema from :mod:`marketcast.schemas` and replaces
exactly one slice of the table (a partition or a set of source files), so a rerun never
duplicates rows and no code path overwrites a whole table.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    MetadataChangedException,
    ProtocolChangedException,
)
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from marketcast.errors import UserError
from marketcast.layout import (  # noqa: F401  (the table names are part of this module's API)
    BRONZE_INVOICES,
    GOLD_BACKTESTS,
    GOLD_FORECAST_ACCURACY,
    GOLD_FORECAST_STATUS,
    GOLD_FORECASTS,
    GOLD_MODEL_SELECTION,
    OPS_DRIFT,
    OPS_FILES,
    OPS_REJECTS,
    OPS_RUNS,
    SILVER_DAILY_REVENUE,
    table_path,
)

T = TypeVar("T")

#: Conflicts with a concurrent commit; the losing writer may retry (two writers creating the same
#: new table meet as a protocol or metadata change).
CONCURRENT_COMMIT = (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    MetadataChangedException,
    ProtocolChangedException,
)


def exists(spark: SparkSession, lake: str, name: str) -> bool:
    """Whether the lake holds the Delta table ``name``."""
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, table_path(lake, name))


def read(spark: SparkSession, lake: str, name: str) -> DataFrame:
    """Read a Delta table of the lake; a missing table is the user's error."""
    if not exists(spark, lake, name):
        raise UserError(f"the lake {lake} has no table {name}; run the stage that writes it")
    return spark.read.format("delta").load(table_path(lake, name))


def conform(frame: DataFrame, schema: StructType, name: str) -> DataFrame:
    """Return ``frame`` with the columns in schema order, failing on any drift.

    Raises:
        TypeError: A column is missing, unknown, or of another type than the schema says.
    """
    actual = {field.name: field.dataType for field in frame.schema.fields}
    expected = {field.name: field.dataType for field in schema.fields}
    missing = sorted(set(expected) - set(actual))
    unknown = sorted(set(actual) - set(expected))
    if missing or unknown:
        raise TypeError(f"{name}: columns missing {missing}, unknown {unknown}")
    drifted = [
        f"{column} is {actual[column].simpleString()}, not {kind.simpleString()}"
        for column, kind in expected.items()
        if actual[column] != kind
    ]
    if drifted:
        raise TypeError(f"{name}: {'; '.join(drifted)}")
    return frame.select(*expected)


def write_slice(
    frame: DataFrame,
    *,
    lake: str,
    name: str,
    schema: StructType,
    condition: str,
    partition_by: Sequence[str] = (),
) -> None:
    """Replace the rows of table ``name`` that match ``condition`` with ``frame``, atomically.

    Creates the table on first use. Retries a few times when another writer committed to the
    same table meanwhile (runs for other as-of dates touch other partitions).

    Args:
        frame: The new rows; every one must match ``condition``.
        lake: The lake's root folder or URI.
        name: The table, such as ``gold/forecasts``.
        schema: Its schema; the frame must match it exactly.
        condition: A SQL predicate on the table, such as ``as_of = '2019-12-06'``.
        partition_by: Partition columns, used when the table is created.
    """
    frame = conform(frame, schema, name)
    writer = (
        frame.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", condition)
        .partitionBy(*partition_by)
    )
    retry_on_conflict(lambda: writer.save(table_path(lake, name)))


def append(frame: DataFrame, *, lake: str, name: str, schema: StructType) -> None:
    """Append rows to table ``name`` (used for the log-like tables only)."""
    frame = conform(frame, schema, name)
    writer = frame.write.format("delta").mode("append")
    retry_on_conflict(lambda: writer.save(table_path(lake, name)))


def retry_on_conflict(action: Callable[[], T], *, attempts: int = 5) -> T:
    """Run a Delta commit, retrying with a short pause when a concurrent commit conflicts."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except CONCURRENT_COMMIT:
            if attempt == attempts:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def is_local_path(path: str) -> bool:
    """Whether ``path`` names the local file system (no scheme, or ``file:``)."""
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):", path)
    return scheme is None or scheme.group(1).lower() == "file"


def local_path(path: str) -> Path:
    """The local file system path of ``path`` (``file:`` prefixes removed)."""
    return Path(re.sub(r"^file:(//)?", "", path))


def check_lake_writable(lake: str) -> None:
    """Fail early with a clear message when a local lake folder cannot be written."""
    if not is_local_path(lake):
        return
    path = local_path(lake)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".marketcast-write-probe"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise UserError(f"lake folder {path} is not writable: {error.strerror}") from None
