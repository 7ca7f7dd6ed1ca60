"""Typed, validated configuration loaded from ``conf/*.yaml``.

An unknown key or a wrong type fails at start with a message that names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from marketcast.errors import UserError

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "local.yaml"

#: Models the forecast stage knows how to build, by their statsforecast class name.
KNOWN_MODELS = (
    "AutoETS",
    "AutoARIMA",
    "AutoTheta",
    "AutoCES",
    "MSTL",
    "SeasonalNaive",
    "Naive",
    "HistoricAverage",
    "WindowAverage",
    "CrostonOptimized",
    "ADIDA",
)

#: The default model zoo, in the order the first one is preferred when nothing is backtested.
DEFAULT_MODELS = (
    "AutoETS",
    "AutoARIMA",
    "AutoTheta",
    "MSTL",
    "SeasonalNaive",
    "Naive",
    "HistoricAverage",
    "CrostonOptimized",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkSettings(_Strict):
    master: str = "local[*]"
    app_name: str = "marketcast"
    shuffle_partitions: int = Field(8, ge=1)
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "WARN"
    extra: dict[str, str] = Field(default_factory=dict)


#: Input formats, and the file names each reads below the input folder (a Delta table is read
#: as a whole).
SOURCE_FORMATS = {"aavail_json": "*.json", "csv": "*.csv", "parquet": "*.parquet", "delta": None}


class ColumnMapping(_Strict):
    """Source columns of a tabular input, by the canonical field each fills."""

    #: The market, or its first key column (a retailer's store).
    country: str
    #: A date, a timestamp (its UTC day counts) or an ISO date or timestamp string.
    date: str
    #: The amount of the line: its revenue.
    price: str
    #: A second market key column (a retailer's item).
    stream_id: str | None = None
    customer_id: str | None = None
    #: Invoice id; when given, prefixes C and A mark cancellations and adjustments.
    invoice: str | None = None
    #: A whole-number quantity; summed as ``views`` in the daily table.
    times_viewed: str | None = None

    def as_mapping(self) -> dict[str, str]:
        """The named columns only, canonical field -> source column."""
        return {field: column for field, column in self.model_dump().items() if column}


class SourceSettings(_Strict):
    #: aavail_json: AAVAIL's JSON arrays or JSON lines; csv, parquet: files of transactions
    #: with a header or schema; delta: an existing Delta table of transactions.
    format: Literal["aavail_json", "csv", "parquet", "delta"] = "aavail_json"
    #: Needed by csv, parquet and delta, refused by aavail_json (its field names are fixed).
    columns: ColumnMapping | None = None
    #: Bronze columns whose values together name a market: [country] for AAVAIL's countries,
    #: [country, stream_id] for one series per country and stream. Several columns are joined
    #: with " | " into the market name.
    market_columns: list[Literal["country", "stream_id", "customer_id"]] = Field(
        default_factory=lambda: ["country"], min_length=1
    )

    @model_validator(mode="after")
    def _mapping_fits_format(self) -> SourceSettings:
        if self.format == "aavail_json" and self.columns is not None:
            raise ValueError("columns: only the csv, parquet and delta formats take a mapping")
        if self.format != "aavail_json" and self.columns is None:
            raise ValueError(f"columns: the {self.format} format needs a column mapping")
        if self.columns is not None:
            unmapped = [name for name in self.market_columns if getattr(self.columns, name) is None]
            if unmapped:
                raise ValueError(f"market_columns: {', '.join(unmapped)} not named in columns")
        return self

    @property
    def file_glob(self) -> str | None:
        """The file names read below the input folder; None for a Delta table."""
        return SOURCE_FORMATS[self.format]


class AggregateSettings(_Strict):
    all_market: str = "ALL"


class ModelSpec(_Strict):
    name: str
    alias: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in KNOWN_MODELS:
            raise ValueError(f"unknown model {name!r}; known: {', '.join(KNOWN_MODELS)}")
        return name

    @model_validator(mode="after")
    def _known_params(self) -> ModelSpec:
        import inspect

        from statsforecast import models

        accepted = inspect.signature(getattr(models, self.name)).parameters
        unknown = sorted(set(self.params) - set(accepted))
        if unknown:
            raise ValueError(f"{self.name} takes no parameter {', '.join(unknown)}")
        return self

    @property
    def label(self) -> str:
        """The name the model's rows carry in the output tables."""
        return self.alias or self.name


class ForecastSettings(_Strict):
    horizon: int = Field(30, ge=1, le=3660)
    season_length: int = Field(7, ge=1)
    levels: list[int] = Field(default_factory=lambda: [80, 95])
    min_history_days: int = Field(14, ge=1)
    fallback_model: str = "Naive"
    #: Tasks of the grouped pass; 0 means four per core Spark reports (spare tasks even out
    #: markets of unequal cost).
    partitions: int = Field(0, ge=0)
    #: Markets one call of the grouped UDF fits, one after another (fewer when that leaves
    #: cores idle).
    markets_per_call: int = Field(50, ge=1)
    models: list[ModelSpec] = Field(
        default_factory=lambda: [ModelSpec(name=name) for name in DEFAULT_MODELS]
    )

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: list[int]) -> list[int]:
        if any(not 0 < level < 100 for level in levels):
            raise ValueError("interval levels must lie strictly between 0 and 100")
        return sorted(set(levels))

    @field_validator("fallback_model")
    @classmethod
    def _fallback(cls, name: str) -> str:
        if name not in ("Naive", "HistoricAverage", "SeasonalNaive"):
            raise ValueError("fallback_model must be Naive, HistoricAverage or SeasonalNaive")
        return name

    @field_validator("models")
    @classmethod
    def _unique_labels(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        labels = [spec.label for spec in models]
        if not labels:
            raise ValueError("at least one model is needed")
        duplicated = sorted({label for label in labels if labels.count(label) > 1})
        if duplicated:
            raise ValueError(f"model names repeat: {', '.join(duplicated)}; give an alias")
        return models


class BacktestSettings(_Strict):
    windows: int = Field(6, ge=0)
    step: int = Field(14, ge=1)
    metric: Literal["total_abs_error", "mae", "rmse", "smape", "mase"] = "rmse"
    ensemble_size: int = Field(3, ge=0)


class MonitorSettings(_Strict):
    """Drift of the newest input window against the window before it."""

    recent_days: int = Field(30, ge=1)
    reference_days: int = Field(90, ge=1)
    #: Quantile bins of the reference window for the population stability index.
    bins: int = Field(10, ge=2)
    #: Population stability index above which a measure is an alert (0.25 is the usual
    #: "significant shift"; 0.1 a moderate one).
    psi_alert: float = Field(0.25, gt=0)
    #: An alert also needs an index above what two samples of the windows' sizes from one
    #: distribution reach with this probability.
    confidence: float = Field(0.99, gt=0, lt=1)
    #: Fewer values than this in either window: measured, never an alert.
    min_values: int = Field(20, ge=1)


class Config(_Strict):
    """The whole configuration of a marketcast run."""

    spark: SparkSettings = Field(default_factory=SparkSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    aggregate: AggregateSettings = Field(default_factory=AggregateSettings)
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)

    def with_horizon(self, horizon: int | None) -> Config:
        """Return a copy with another forecast horizon, or this one when ``horizon`` is None."""
        if horizon is None:
            return self
        forecast = self.forecast.model_copy(update={"horizon": horizon})
        return Config.model_validate({**self.model_dump(), "forecast": forecast.model_dump()})


def spark_submit_conf(config: Config) -> list[str]:
    """The configuration's Spark settings as ``key=value`` arguments for spark-submit."""
    settings = {
        "spark.app.name": config.spark.app_name,
        "spark.sql.shuffle.partitions": str(config.spark.shuffle_partitions),
        **config.spark.extra,
    }
    return [f"{key}={value}" for key, value in settings.items()]


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a YAML configuration file.

    Args:
        path: The file; ``conf/local.yaml`` of the project when None.

    Returns:
        The validated configuration.

    Raises:
        UserError: The file is missing, is not YAML, or holds an unknown key or a wrong type.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        raise UserError(f"configuration file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise UserError(f"configuration file {path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise UserError(f"configuration file {path} must hold a mapping at the top")
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        raise UserError(f"configuration file {path}: {where}: {first['msg']}") from None
