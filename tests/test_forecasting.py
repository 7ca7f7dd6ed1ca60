"""The per-market forecast as plain pandas: hard markets, leakage, determinism, intervals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketcast import forecasting
from marketcast.config import BacktestSettings, ForecastSettings, ModelSpec
from marketcast.forecasting import backtest_cutoffs, forecast_market

LAST_DAY = dt.date(2019, 12, 6)
FAST_MODELS = [
    ModelSpec(name="AutoETS"),
    ModelSpec(name="AutoTheta"),
    ModelSpec(name="SeasonalNaive"),
    ModelSpec(name="Naive"),
    ModelSpec(name="HistoricAverage"),
    ModelSpec(name="CrostonOptimized"),
]
FORECAST = ForecastSettings(models=FAST_MODELS)
BACKTEST = BacktestSettings(windows=3, step=30, metric="total_abs_error")


def history(values) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    days = pd.date_range(end=pd.Timestamp(LAST_DAY), periods=len(values)).date
    return pd.DataFrame({"ds": days, "revenue": values})


def weekly(days: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pattern = np.array([1.0, 1.2, 1.1, 1.3, 0.9, 0.2, 0.7])
    return 1000 * pattern[np.arange(days) % 7] + rng.normal(0, 40, days)


def run(values, *, forecast=FORECAST, backtest=BACKTEST) -> pd.DataFrame:
    return forecast_market(history(values), market="M", forecast=forecast, backtest=backtest)


def status_of(out: pd.DataFrame) -> dict:
    rows = out[out["table"] == "status"]
    assert len(rows) == 1, "every market leaves exactly one status row"
    return rows.iloc[0].to_dict()


def selected(out: pd.DataFrame) -> pd.DataFrame:
    if "selected" not in out:
        return out.iloc[0:0]
    return out[(out["table"] == "forecasts") & (out["selected"] == True)]  # noqa: E712


def test_forecast_covers_the_thirty_days_after_the_last_day_for_every_model():
    out = run(weekly(200))
    forecasts = out[out["table"] == "forecasts"]
    for model, rows in forecasts.groupby("model"):
        assert list(rows["ds"]) == [LAST_DAY + dt.timedelta(days=d) for d in range(1, 31)], model
        assert np.isfinite(rows["yhat"].astype(float)).all()
    assert set(forecasts["model"]) >= {spec.label for spec in FAST_MODELS}
    assert len(selected(out)) == 30
    assert status_of(out)["status"] == "ok"


def test_weekly_series_forecast_is_close_to_its_pattern():
    out = run(weekly(200))
    chosen = selected(out)
    # The true mean of the pattern is about 914 a day.
    assert chosen["yhat"].mean() == pytest.approx(914, rel=0.1)


@pytest.mark.parametrize("days", [1, 5, 13])
def test_short_history_gets_the_fallback_with_status_too_short(days):
    out = run(weekly(days))
    status = status_of(out)
    assert status["status"] == "too_short"
    assert status["model_used"] == "Naive"
    assert status["history_days"] == days
    assert len(selected(out)) == 30
    assert selected(out)["yhat"].iloc[0] == pytest.approx(weekly(days)[-1])


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("constant", np.full(150, 250.0)),
        ("all_zeros", np.zeros(150)),
        ("rare_spikes", np.where(np.arange(150) % 23 == 0, 900.0, 0.0)),
        ("negative_day", np.r_[weekly(100), -11062.06, weekly(49)]),
        ("gaps", np.r_[weekly(60), np.zeros(40), weekly(50)]),
    ],
)
def test_hard_markets_get_finite_ordered_forecasts_and_a_status(name, values):
    out = run(values)
    status = status_of(out)
    assert status["status"] in ("ok", "fallback"), status
    chosen = selected(out)
    assert len(chosen) == 30
    assert np.isfinite(chosen["yhat"].astype(float)).all()
    assert (out[out["table"] == "backtests"]["model"].nunique()) >= 3
    if name == "constant":
        assert chosen["yhat"].to_numpy() == pytest.approx(np.full(30, 250.0))
    if name == "all_zeros":
        assert chosen["yhat"].to_numpy() == pytest.approx(np.zeros(30), abs=1e-6)


def test_interval_columns_hold_the_forecast():
    out = run(weekly(200))
    forecasts = out[out["table"] == "forecasts"]
    for level in (80, 95):
        lo, hi = forecasts[f"yhat_lo_{level}"], forecasts[f"yhat_hi_{level}"]
        has = lo.notna() & hi.notna()
        assert has.mean() > 0.95
        assert (lo[has] <= forecasts["yhat"][has]).all()
        assert (forecasts["yhat"][has] <= hi[has]).all()
    wide, narrow = (
        forecasts["yhat_hi_95"] - forecasts["yhat_lo_95"],
        (forecasts["yhat_hi_80"] - forecasts["yhat_lo_80"]),
    )
    assert (wide[narrow.notna()] >= narrow[narrow.notna()] - 1e-9).all()


def test_models_without_native_intervals_get_conformal_ones():
    out = run(weekly(200))
    croston = out[(out["table"] == "forecasts") & (out["model"] == "CrostonOptimized")]
    assert croston["yhat_lo_80"].notna().all()
    assert (croston["yhat_hi_80"] > croston["yhat_lo_80"]).all()


def test_backtest_never_trains_on_the_cutoff_or_later(monkeypatch):
    seen = []
    real_build = forecasting.build_model

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def forecast(self, *, y, h, **kwargs):
            seen.append(y.copy())
            return self.inner.forecast(y=y, h=h, **kwargs)

    monkeypatch.setattr(forecasting, "build_model", lambda *a, **k: Spy(real_build(*a, **k)))
    values = np.arange(200, dtype=float)  # each value is its own position
    out = run(values, forecast=ForecastSettings(models=[ModelSpec(name="Naive")]))
    cutoffs = backtest_cutoffs(200, forecast=FORECAST, backtest=BACKTEST)
    assert cutoffs == [110, 140, 170]
    backtest_trains = [y for y in seen if len(y) < 200]
    assert [len(y) for y in backtest_trains] == cutoffs
    for cutoff, y in zip(cutoffs, backtest_trains, strict=True):
        assert y.max() == cutoff - 1
    first_window = out[(out["table"] == "backtests")]["cutoff"].min()
    assert first_window == LAST_DAY - dt.timedelta(days=89)


def test_rerun_gives_identical_results():
    first = run(weekly(150))
    second = run(weekly(150))
    pd.testing.assert_frame_equal(first, second)


def test_a_model_that_raises_is_replaced_by_the_fallback_and_says_so(monkeypatch):
    real_fit = forecasting._fit

    def failing_fit(spec, y, forecast):
        if spec.label == "AutoETS":
            raise RuntimeError("boom")
        return real_fit(spec, y, forecast)

    monkeypatch.setattr(forecasting, "_fit", failing_fit)
    out = run(weekly(150), forecast=ForecastSettings(models=[ModelSpec(name="AutoETS")]))
    status = status_of(out)
    assert status["status"] == "fallback"
    assert status["model_chosen"] == "AutoETS"
    assert status["model_used"] == "Naive"
    assert "boom" in status["message"]
    rows = selected(out)
    assert set(rows["model"]) == {"AutoETS"} and set(rows["model_used"]) == {"Naive"}


def test_a_market_whose_models_all_fail_still_reports_failed(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("cannot build")

    monkeypatch.setattr(forecasting, "build_model", broken)
    out = run(weekly(150))
    status = status_of(out)
    assert status["status"] == "failed"
    assert "cannot build" in status["message"]
    assert selected(out).empty


def test_selection_row_names_choice_runner_up_and_baseline():
    out = run(weekly(200))
    choice = out[out["table"] == "selection"].iloc[0]
    assert choice["model"] == status_of(out)["model_chosen"]
    assert choice["baseline_model"] == "SeasonalNaive"
    assert choice["score"] <= choice["runner_up_score"]
    assert choice["skill"] == pytest.approx(1 - choice["score"] / choice["baseline_score"])
    assert choice["windows"] == 3
