"""Run records in ``ops/runs``: one row per run and stage, written at start and at the end.

A stage that dies leaves its row at status ``running``; a stage that raised leaves ``failed``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from marketcast import schemas, tables

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """A sortable, unique run id: UTC time to the second plus a random suffix."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


@dataclass
class StageRun:
    """The record of one stage of one run; fill ``input_rows``, ``markets`` and ``details``."""

    spark: SparkSession
    lake: str
    run_id: str
    stage: str
    config_json: str
    as_of: dt.date | None = None
    input_rows: int | None = None
    markets: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    _started: dt.datetime | None = None
    _clock: float = 0.0

    def __enter__(self) -> StageRun:
        self._started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self._clock = time.perf_counter()
        self._save("running", None)
        return self

    def __exit__(self, kind, error, _trace) -> bool:
        status = "succeeded" if error is None else "failed"
        message = None if error is None else f"{type(error).__name__}: {error}"[:2000]
        seconds = self._save(status, message)
        counts = {"rows": self.input_rows, "markets": self.markets, **self.details}
        shown = " ".join(
            f"{key}={json.dumps(value, default=str, sort_keys=True)}"
            for key, value in counts.items()
            if value is not None
        )
        log.info("stage %s %s in %.1f s: %s", self.stage, status, seconds, shown)
        return False

    def _save(self, status: str, message: str | None) -> float:
        """Write the record; returns the seconds since the start (0 for the first write)."""
        ended = None
        seconds = 0.0
        if status != "running":
            ended = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            seconds = time.perf_counter() - self._clock
        row = (
            self.run_id,
            self.stage,
            self.as_of,
            status,
            self._started,
            ended,
            None if ended is None else seconds,
            self.input_rows,
            self.markets,
            json.dumps(self.details, default=str, sort_keys=True),
            message,
            self.config_json,
        )
        frame = self.spark.createDataFrame([row], schemas.OPS_RUNS)
        path = tables.table_path(self.lake, tables.OPS_RUNS)
        if not tables.exists(self.spark, self.lake, tables.OPS_RUNS):
            tables.append(frame, lake=self.lake, name=tables.OPS_RUNS, schema=schemas.OPS_RUNS)
            return seconds
        target = DeltaTable.forPath(self.spark, path)
        tables.retry_on_conflict(
            lambda: (
                target.alias("t")
                .merge(frame.alias("s"), "t.run_id = s.run_id AND t.stage = s.stage")
                .whenMatchedUpdateAll()
                .whenNotMatchedInsertAll()
                .execute()
            )
        )
        return seconds
