"""The per-market forecast: backtests, model choice, final fit with intervals, status.

Plain pandas and statsforecast, callable without Spark. The Spark layer
(:mod:`marketcast.forecast_stage`) calls :func:`forecast_market` once per market inside a grouped
pandas UDF and only ships frames and writes tables.

Every call returns rows for four tables in one long frame (column ``table``): ``forecasts``,
``backtests``, ``selection`` and exactly one ``status`` row, whatever happened to the market.
"""

from __future__ import annotations

import datetime as dt
import math
import traceback
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from utilsforecast import losses

from marketcast.config import BacktestSettings, ForecastSettings, ModelSpec
from marketcast.models import applicable, build_model
from marketcast.schemas import interval_columns

ENSEMBLE = "Ensemble"
BASELINE = "SeasonalNaive"

STATUS_OK = "ok"
STATUS_FALLBACK = "fallback"
STATUS_TOO_SHORT = "too_short"
STATUS_FAILED = "failed"


@dataclass
class _Fit:
    """One model's forecast of one horizon: the mean and the interval bounds by column name."""

    mean: np.ndarray
    bounds: dict[str, np.ndarray] = field(default_factory=dict)


def forecast_market(
    history: pd.DataFrame,
    *,
    market: str,
    forecast: ForecastSettings,
    backtest: BacktestSettings,
) -> pd.DataFrame:
    """Backtest the configured models on one market, choose one, and forecast the horizon.

    Args:
        history: Columns ``ds`` (dates) and ``revenue``; one row per day on a complete calendar
            ending at the as-of date. Row order does not matter.
        market: The market's name, copied onto every row.
        forecast: Models, horizon, interval levels and the rules for short series.
        backtest: Number of windows, their step, and the metric the choice uses.

    Returns:
        A long frame with column ``table`` and the columns of
        :func:`marketcast.schemas.forecast_pass_output`.

    Notes:
        The whole market is in memory; a few thousand days per market is the intended size.
        Results are deterministic for the same input and settings.
    """
    history = history.sort_values("ds")
    y = history["revenue"].to_numpy(dtype=np.float64)
    last_day = pd.Timestamp(history["ds"].iloc[-1]).date() if len(history) else None
    try:
        rows = _forecast_rows(y, last_day, forecast=forecast, backtest=backtest)
    except Exception as error:  # a market must never break the run: it reports instead
        rows = [
            _status_row(
                STATUS_FAILED,
                history_days=len(y),
                message=_describe(error),
            )
        ]
    frame = pd.DataFrame(rows)
    frame.insert(0, "market", market)
    return frame


def _forecast_rows(
    y: np.ndarray,
    last_day: dt.date | None,
    *,
    forecast: ForecastSettings,
    backtest: BacktestSettings,
) -> list[dict]:
    if len(y) == 0 or last_day is None:
        return [_status_row(STATUS_FAILED, history_days=0, message="no history")]
    if not np.all(np.isfinite(y)):
        return [_status_row(STATUS_FAILED, history_days=len(y), message="revenue not finite")]
    horizon_days = [last_day + dt.timedelta(days=step) for step in range(1, forecast.horizon + 1)]
    fallback = ModelSpec(name=forecast.fallback_model)

    if len(y) < forecast.min_history_days:
        fit, used, error = _fit_with_fallback(fallback, fallback, y, forecast)
        if fit is None:
            return [_status_row(STATUS_FAILED, history_days=len(y), message=error)]
        message = f"{len(y)} days of history, below {forecast.min_history_days}"
        return [
            *_forecast_table_rows(fallback.label, used, True, fit, horizon_days, forecast.levels),
            _status_row(
                STATUS_TOO_SHORT,
                history_days=len(y),
                model_chosen=fallback.label,
                model_used=used,
                message=message,
            ),
        ]

    candidates = [
        spec
        for spec in forecast.models
        if applicable(spec, history_days=len(y), season_length=forecast.season_length)
    ]
    cutoffs = backtest_cutoffs(len(y), forecast=forecast, backtest=backtest)
    rows: list[dict] = []
    scores = pd.DataFrame()
    notes: list[str] = []
    if cutoffs:
        cv = cross_validate(y, candidates, cutoffs, forecast=forecast)
        metrics = backtest_metrics(cv, y, cutoffs, season_length=forecast.season_length)
        failed = sorted(set(cv["model"]) - set(metrics["model"]))
        if failed:
            notes.append(f"failed in backtest: {', '.join(failed)}")
        metrics, ensemble_members = _add_ensemble(
            cv, metrics, y, cutoffs, forecast=forecast, backtest=backtest
        )
        rows += _backtest_table_rows(metrics, last_day, len(y), cutoffs)
        scores = score_models(metrics, metric=backtest.metric)
    else:
        ensemble_members = []
        notes.append("history too short for a backtest window; first configured model used")

    fits: dict[str, tuple[_Fit | None, str | None, str | None]] = {}
    for spec in candidates:
        fits[spec.label] = _fit_with_fallback(spec, fallback, y, forecast)
    if ensemble_members:
        fits[ENSEMBLE] = _ensemble_fit([fits[label] for label in ensemble_members])

    if len(scores):
        chosen = scores.index[0]
    else:
        chosen = candidates[0].label if candidates else fallback.label
        if chosen not in fits:
            fits[chosen] = _fit_with_fallback(fallback, fallback, y, forecast)

    for label, (fit, used, _) in fits.items():
        if fit is not None:
            rows += _forecast_table_rows(
                label, used, label == chosen, fit, horizon_days, forecast.levels
            )
    chosen_fit, chosen_used, chosen_error = fits[chosen]
    if chosen_error:
        notes.append(f"{chosen}: {chosen_error}")
    if chosen_fit is None:
        status = STATUS_FAILED
    elif chosen_used != chosen:
        status = STATUS_FALLBACK
    else:
        status = STATUS_OK
    if len(scores):
        rows.append(_selection_row(scores, chosen, backtest.metric, len(cutoffs)))
    rows.append(
        _status_row(
            status,
            history_days=len(y),
            model_chosen=chosen,
            model_used=chosen_used if chosen_fit is not None else None,
            message="; ".join(notes) or None,
        )
    )
    return rows


def backtest_cutoffs(
    history_days: int, *, forecast: ForecastSettings, backtest: BacktestSettings
) -> list[int]:
    """Positions of the backtest cutoffs, oldest first.

    A cutoff ``c`` means: train on ``y[:c]``, score on ``y[c:c + horizon]``. The newest window
    ends on the last day; earlier ones step back by ``backtest.step`` days. Windows whose
    training part would hold fewer than ``min_history_days`` (or two seasons) are left out.
    """
    shortest_train = max(forecast.min_history_days, 2 * forecast.season_length)
    cutoffs = []
    for window in range(backtest.windows):
        cutoff = history_days - forecast.horizon - window * backtest.step
        if cutoff < shortest_train:
            break
        cutoffs.append(cutoff)
    return sorted(cutoffs)


def cross_validate(
    y: np.ndarray,
    candidates: list[ModelSpec],
    cutoffs: list[int],
    *,
    forecast: ForecastSettings,
) -> pd.DataFrame:
    """Forecast every window with every candidate, each trained only on days before its cutoff.

    Returns:
        Columns ``model``, ``cutoff`` (position), ``step`` (1..horizon), ``y`` and ``yhat``; a
        model that raised on a window has NaN forecasts there.
    """
    parts = []
    for cutoff in cutoffs:
        train = y[:cutoff]
        actual = y[cutoff : cutoff + forecast.horizon]
        for spec in candidates:
            try:
                model = build_model(
                    spec,
                    y=train,
                    season_length=forecast.season_length,
                    horizon=forecast.horizon,
                    with_intervals=False,
                )
                mean = np.asarray(model.forecast(y=train, h=forecast.horizon)["mean"], float)
            except Exception:
                mean = np.full(forecast.horizon, np.nan)
            parts.append(
                pd.DataFrame(
                    {
                        "model": spec.label,
                        "cutoff": cutoff,
                        "step": np.arange(1, forecast.horizon + 1),
                        "y": actual,
                        "yhat": mean[: len(actual)],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def backtest_metrics(
    cv: pd.DataFrame, y: np.ndarray, cutoffs: list[int], *, season_length: int
) -> pd.DataFrame:
    """Error metrics per model and cutoff; models with a failed window are left out.

    Returns:
        Columns ``model``, ``cutoff``, ``mae``, ``rmse``, ``smape``, ``mase``, ``total_actual``,
        ``total_forecast`` and ``total_rel_error`` (forecast total minus actual total, over the
        absolute actual total; NaN when the actual total is 0).
    """
    broken = set(cv.loc[~np.isfinite(cv["yhat"]), "model"])
    cv = cv[~cv["model"].isin(broken)]
    if cv.empty:
        return pd.DataFrame(columns=["model", "cutoff", *_METRICS])
    wide = cv.pivot_table(index=["cutoff", "step"], columns="model", values="yhat")
    wide["y"] = cv.groupby(["cutoff", "step"])["y"].first()
    wide = wide.reset_index().rename(columns={"cutoff": "window"})
    wide.columns.name = None
    models = [column for column in wide.columns if column not in ("window", "step", "y")]
    train = pd.concat(
        [pd.DataFrame({"window": cutoff, "y": y[:cutoff]}) for cutoff in cutoffs],
        ignore_index=True,
    )
    scored = {
        "mae": losses.mae(wide, models, id_col="window"),
        "rmse": losses.rmse(wide, models, id_col="window"),
        "smape": losses.smape(wide, models, id_col="window"),
        "mase": losses.mase(wide, models, season_length, train, id_col="window"),
    }
    long = None
    for name, frame in scored.items():
        melted = frame.melt(id_vars="window", var_name="model", value_name=name)
        long = melted if long is None else long.merge(melted, on=["window", "model"])
    long = long.rename(columns={"window": "cutoff"})
    totals = cv.groupby(["model", "cutoff"], as_index=False).agg(
        total_actual=("y", "sum"), total_forecast=("yhat", "sum")
    )
    long = long.merge(totals, on=["model", "cutoff"])
    denominator = long["total_actual"].abs().replace(0.0, np.nan)
    long["total_rel_error"] = (long["total_forecast"] - long["total_actual"]) / denominator
    long = long.replace([np.inf, -np.inf], np.nan)
    return long[["model", "cutoff", *_METRICS]].sort_values(["model", "cutoff"])


_METRICS = ("mae", "rmse", "smape", "mase", "total_actual", "total_forecast", "total_rel_error")


def score_models(metrics: pd.DataFrame, *, metric: str) -> pd.DataFrame:
    """Rank models by the mean of ``metric`` over the windows, ties broken by MASE then name.

    ``total_abs_error`` is the absolute error of the horizon's revenue total. Returns a frame
    indexed by model with columns ``score`` and ``mase``, best first.
    """
    if metrics.empty:
        return pd.DataFrame({"score": [], "mase": []}, index=pd.Index([], name="model"))
    frame = metrics.copy()
    frame["total_abs_error"] = (frame["total_forecast"] - frame["total_actual"]).abs()
    scores = frame.groupby("model").agg(score=(metric, "mean"), mase=("mase", "mean"))
    scores = scores.reset_index().fillna({"score": np.inf, "mase": np.inf})
    scores = scores.sort_values(["score", "mase", "model"]).set_index("model")
    return scores[np.isfinite(scores["score"])]


def _add_ensemble(
    cv: pd.DataFrame,
    metrics: pd.DataFrame,
    y: np.ndarray,
    cutoffs: list[int],
    *,
    forecast: ForecastSettings,
    backtest: BacktestSettings,
) -> tuple[pd.DataFrame, list[str]]:
    """Add the mean of the best few models as one more candidate, scored on the same windows."""
    if backtest.ensemble_size < 2:
        return metrics, []
    ranked = score_models(metrics, metric=backtest.metric)
    members = list(ranked.index[: backtest.ensemble_size])
    if len(members) < 2:
        return metrics, []
    mean = (
        cv[cv["model"].isin(members)]
        .groupby(["cutoff", "step"], as_index=False)
        .agg(y=("y", "first"), yhat=("yhat", "mean"))
        .assign(model=ENSEMBLE)
    )
    scored = backtest_metrics(mean, y, cutoffs, season_length=forecast.season_length)
    return pd.concat([metrics, scored], ignore_index=True), members


def _fit(spec: ModelSpec, y: np.ndarray, forecast: ForecastSettings) -> _Fit:
    model = build_model(
        spec,
        y=y,
        season_length=forecast.season_length,
        horizon=forecast.horizon,
        with_intervals=True,
    )
    levels = list(forecast.levels)
    try:
        result = model.forecast(y=y, h=forecast.horizon, level=levels)
    except Exception:
        # Some models cannot give intervals on some series (too few residuals): keep the mean.
        result = model.forecast(y=y, h=forecast.horizon)
    mean = np.asarray(result["mean"], dtype=np.float64)
    if not np.all(np.isfinite(mean)):
        raise ValueError(f"{spec.label} gave a forecast that is not finite")
    bounds = {}
    for level in levels:
        for side in ("lo", "hi"):
            values = result.get(f"{side}-{level}")
            bounds[f"yhat_{side}_{level}"] = (
                np.full(len(mean), np.nan) if values is None else np.asarray(values, np.float64)
            )
    return _Fit(mean, _ordered(mean, bounds))


def _ordered(mean: np.ndarray, bounds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Non-finite bounds become NaN; finite ones are widened, if needed, to hold the mean."""
    ordered = {}
    for name, values in bounds.items():
        values = np.where(np.isfinite(values), values, np.nan)
        if "_lo_" in name:
            values = np.where(np.isnan(values), values, np.minimum(values, mean))
        else:
            values = np.where(np.isnan(values), values, np.maximum(values, mean))
        ordered[name] = values
    return ordered


def _fit_with_fallback(
    spec: ModelSpec, fallback: ModelSpec, y: np.ndarray, forecast: ForecastSettings
) -> tuple[_Fit | None, str | None, str | None]:
    """Fit ``spec``; when it raises, fit the fallback. Returns (fit, model used, error)."""
    try:
        return _fit(spec, y, forecast), spec.label, None
    except Exception as error:
        first_error = _describe(error)
    if spec == fallback:
        return None, None, first_error
    try:
        return _fit(fallback, y, forecast), fallback.label, first_error
    except Exception as error:
        return None, None, f"{first_error}; fallback: {_describe(error)}"


def _ensemble_fit(members: list[tuple[_Fit | None, str | None, str | None]]):
    fits = [fit for fit, _, _ in members if fit is not None]
    if not fits or len(fits) < len(members):
        return None, None, "an ensemble member failed its final fit"
    mean = np.mean([fit.mean for fit in fits], axis=0)
    bounds = {name: np.mean([fit.bounds[name] for fit in fits], axis=0) for name in fits[0].bounds}
    return _Fit(mean, _ordered(mean, bounds)), ENSEMBLE, None


def _forecast_table_rows(
    model: str,
    model_used: str | None,
    selected: bool,
    fit: _Fit,
    days: list[dt.date],
    levels: list[int],
) -> list[dict]:
    rows = []
    for step, day in enumerate(days):
        row = {
            "table": "forecasts",
            "model": model,
            "model_used": model_used,
            "selected": selected,
            "ds": day,
            "horizon_day": step + 1,
            "yhat": float(fit.mean[step]),
        }
        for name in interval_columns(levels):
            row[name] = _number(fit.bounds[name][step])
        rows.append(row)
    return rows


def _backtest_table_rows(
    metrics: pd.DataFrame, last_day: dt.date, history_days: int, cutoffs: list[int]
) -> list[dict]:
    first_day = last_day - dt.timedelta(days=history_days - 1)
    rows = []
    for record in metrics.to_dict("records"):
        row = {"table": "backtests", "model": record["model"]}
        # The cutoff is the first day of the window: the model saw only days before it.
        row["cutoff"] = first_day + dt.timedelta(days=int(record["cutoff"]))
        row.update({name: _number(record[name]) for name in _METRICS})
        rows.append(row)
    return rows


def _selection_row(scores: pd.DataFrame, chosen: str, metric: str, windows: int) -> dict:
    others = [model for model in scores.index if model != chosen]
    baseline = scores["score"].get(BASELINE)
    score = float(scores.loc[chosen, "score"])
    skill = None
    if baseline is not None and baseline > 0:
        skill = 1.0 - score / float(baseline)
    return {
        "table": "selection",
        "model": chosen,
        "metric": metric,
        "score": score,
        "runner_up": others[0] if others else None,
        "runner_up_score": float(scores.loc[others[0], "score"]) if others else None,
        "baseline_model": BASELINE if baseline is not None else None,
        "baseline_score": None if baseline is None else float(baseline),
        "skill": skill,
        "windows": windows,
    }


def _status_row(
    status: str,
    *,
    history_days: int,
    model_chosen: str | None = None,
    model_used: str | None = None,
    message: str | None = None,
) -> dict:
    return {
        "table": "status",
        "status": status,
        "model_chosen": model_chosen,
        "model_used": model_used,
        "history_days": history_days,
        "message": message,
    }


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _describe(error: BaseException) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    place = f" (at {where[0].name})" if where else ""
    return f"{type(error).__name__}: {error}{place}"[:1000]
