"""Building statsforecast models from the configuration, with the rules for hard series."""

from __future__ import annotations

from typing import Any

import numpy as np
from statsforecast import models as sf_models
from statsforecast.utils import ConformalIntervals

from marketcast.config import ModelSpec

#: Models whose class has no native prediction intervals; they get conformal ones.
WITHOUT_NATIVE_INTERVALS = {"CrostonOptimized", "ADIDA", "WindowAverage"}
#: Models that need a season length and are dropped when the history holds under two seasons.
SEASONAL_ONLY = {"SeasonalNaive", "MSTL"}
#: Models that take a season length and fall back to none on short history.
SEASON_AWARE = {"AutoETS", "AutoARIMA", "AutoTheta", "AutoCES"}
CONFORMAL_WINDOWS = 2


def applicable(spec: ModelSpec, *, history_days: int, season_length: int) -> bool:
    """Whether a model can be fitted on a history of this length at all."""
    if spec.name in SEASONAL_ONLY:
        return season_length > 1 and history_days >= 2 * season_length
    return True


def build_model(
    spec: ModelSpec,
    *,
    y: np.ndarray,
    season_length: int,
    horizon: int,
    with_intervals: bool,
) -> Any:
    """A fresh statsforecast model for ``spec``, adjusted to the series it will see.

    Rules: no seasonality below two full seasons; no multiplicative component when the series
    has a value at or below zero; conformal intervals for models without native ones, when the
    history holds enough windows for them.

    Args:
        spec: The configured model.
        y: The training series (used only for its length and sign).
        season_length: The configured season length (7 for daily data with a weekly pattern).
        horizon: Days to forecast, also the conformal window length.
        with_intervals: Whether the model will be asked for intervals.
    """
    seasonal = season_length > 1 and len(y) >= 2 * season_length
    season = season_length if seasonal else 1
    positive = bool(len(y)) and bool(np.all(y > 0))
    params: dict[str, Any] = {"alias": spec.label}

    if spec.name in SEASON_AWARE:
        params["season_length"] = season
    if spec.name == "AutoETS" and not positive:
        params["model"] = "AZA" if seasonal else "AZN"
    if spec.name == "AutoTheta" and not positive:
        params["decomposition_type"] = "additive"
    if spec.name in ("SeasonalNaive", "MSTL"):
        params["season_length"] = season_length
    if spec.name == "MSTL" and not positive:
        params["trend_forecaster"] = sf_models.AutoETS(model="AZN")
    if spec.name == "WindowAverage":
        params["window_size"] = season_length
    if (
        with_intervals
        and spec.name in WITHOUT_NATIVE_INTERVALS
        and len(y) > horizon * (CONFORMAL_WINDOWS + 1)
    ):
        params["prediction_intervals"] = ConformalIntervals(h=horizon, n_windows=CONFORMAL_WINDOWS)
    params.update(spec.params)
    return getattr(sf_models, spec.name)(**params)
