"""Where the lake's tables live: names relative to the lake's root. No Spark needed here."""

from __future__ import annotations

BRONZE_INVOICES = "bronze/invoices"
SILVER_DAILY_REVENUE = "silver/daily_revenue"
GOLD_FORECASTS = "gold/forecasts"
GOLD_BACKTESTS = "gold/backtests"
GOLD_MODEL_SELECTION = "gold/model_selection"
GOLD_FORECAST_STATUS = "gold/forecast_status"
GOLD_FORECAST_ACCURACY = "gold/forecast_accuracy"
OPS_DRIFT = "ops/drift"
OPS_REJECTS = "ops/rejects"
OPS_FILES = "ops/files"
OPS_RUNS = "ops/runs"


def table_path(lake: str, name: str) -> str:
    """The location of table ``name`` (such as ``gold/forecasts``) inside the lake."""
    return f"{lake.rstrip('/')}/{name}"
