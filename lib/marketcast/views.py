"""The SQL layer for BI tools: the lake's tables and two views in Spark's session catalog.

Tables are registered under short names (``forecasts``, ``daily_revenue``, ...) and the views
``latest_forecasts`` and ``forecast_vs_actual`` are defined on them, so a query reads
``SELECT * FROM latest_forecasts WHERE market = 'ALL'``.
"""

from __future__ import annotations

import io

from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import DataFrame, SparkSession

from marketcast import tables
from marketcast.errors import UserError

#: Short SQL name -> the lake's table.
TABLES = {
    "invoices": tables.BRONZE_INVOICES,
    "rejects": tables.OPS_REJECTS,
    "files": tables.OPS_FILES,
    "runs": tables.OPS_RUNS,
    "drift": tables.OPS_DRIFT,
    "daily_revenue": tables.SILVER_DAILY_REVENUE,
    "forecasts": tables.GOLD_FORECASTS,
    "backtests": tables.GOLD_BACKTESTS,
    "model_selection": tables.GOLD_MODEL_SELECTION,
    "forecast_status": tables.GOLD_FORECAST_STATUS,
    "forecast_accuracy": tables.GOLD_FORECAST_ACCURACY,
}

#: View -> its definition. ``latest_forecasts``: the chosen model's forecast of each market's
#: newest as-of date. ``forecast_vs_actual``: every chosen forecast beside the actual revenue of
#: its day in the newest daily revenue (null while the day is still ahead).
VIEWS = {
    "latest_forecasts": """
        SELECT f.*
        FROM forecasts f
        JOIN (SELECT market, max(as_of) AS as_of FROM forecast_status GROUP BY market) n
          ON f.market = n.market AND f.as_of = n.as_of
        WHERE f.selected
    """,
    "forecast_vs_actual": """
        SELECT f.as_of, f.market, f.model_used AS model, f.ds, f.horizon_day, f.yhat,
               a.revenue AS actual, f.yhat - a.revenue AS error
        FROM forecasts f
        LEFT JOIN (
            SELECT market, ds, revenue FROM daily_revenue
            WHERE as_of = (SELECT max(as_of) FROM daily_revenue)
        ) a ON f.market = a.market AND f.ds = a.ds
        WHERE f.selected
    """,
}


def register(spark: SparkSession, lake: str) -> list[str]:
    """Register the lake's tables and the views; returns the names registered."""
    names = []
    for name, table in TABLES.items():
        if tables.exists(spark, lake, table):
            tables.read(spark, lake, table).createOrReplaceTempView(name)
            names.append(name)
    for name, definition in VIEWS.items():
        try:
            spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {definition}")
        except AnalysisException:
            continue  # a table it reads is not in the lake yet
        names.append(name)
    if not names:
        raise UserError(f"the lake {lake} holds no marketcast tables")
    return names


def query(spark: SparkSession, lake: str, sql: str) -> DataFrame:
    """Run ``sql`` against the registered tables and views; a bad query is the user's error."""
    names = register(spark, lake)
    try:
        return spark.sql(sql)
    except (AnalysisException, ParseException) as error:
        first = str(error).strip().splitlines()[0]
        raise UserError(f"query failed: {first} (tables and views: {', '.join(names)})") from None


def format_result(frame: DataFrame, *, output: str, limit: int) -> str:
    """The first ``limit`` rows as an aligned table, CSV or JSON lines."""
    rows = frame.limit(limit).toPandas()
    if output == "csv":
        buffer = io.StringIO()
        rows.to_csv(buffer, index=False)
        return buffer.getvalue().rstrip("\n")
    if output == "json":
        return rows.to_json(orient="records", lines=True, date_format="iso").rstrip("\n")
    if rows.empty:
        return "(no rows)"
    return rows.to_string(index=False)
