"""Compare model-choice settings on a holdout, in plain pandas (no Spark).

Reads the daily revenue of one as-of date from a lake (through the deltalake package), cuts the
last HOLDOUT days off every market, runs the per-market forecast with each variant of the
backtest settings, and prints the revenue-weighted error of the chosen models' totals.

    .venv/bin/python bench/selection_experiment.py --lake lake --as-of 2019-12-06
"""

from __future__ import annotations

import argparse
import datetime as dt
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
from deltalake import DeltaTable

from marketcast.config import load_config
from marketcast.forecasting import forecast_market

VARIANTS = {
    "3 windows step 30, total error": {"windows": 3, "step": 30, "metric": "total_abs_error"},
    "6 windows step 14, mae": {"windows": 6, "step": 14, "metric": "mae"},
    "6 windows step 14, rmse": {"windows": 6, "step": 14, "metric": "rmse"},
    "6 windows step 14, total error": {"windows": 6, "step": 14, "metric": "total_abs_error"},
}


def _one(args):
    market, history, actual, settings = args
    config = load_config()
    backtest = config.backtest.model_copy(update=settings)
    out = forecast_market(history, market=market, forecast=config.forecast, backtest=backtest)
    chosen = out[(out["table"] == "forecasts") & (out["selected"] == True)]  # noqa: E712
    status = out[out["table"] == "status"].iloc[0]
    return market, float(chosen["yhat"].sum()), actual, status["model_chosen"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--as-of", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--holdout", type=int, default=30)
    parser.add_argument("--min-days", type=int, default=60)
    args = parser.parse_args()
    daily = DeltaTable(f"{args.lake}/silver/daily_revenue").to_pandas(
        filters=[("as_of", "=", args.as_of)]
    )
    cut = args.as_of - dt.timedelta(days=args.holdout)
    jobs = []
    for market, frame in daily.groupby("market"):
        frame = frame.sort_values("ds")
        history = frame[frame["ds"] <= cut][["ds", "revenue"]]
        if len(history) < args.min_days:
            continue
        actual = float(frame[frame["ds"] > cut]["revenue"].sum())
        jobs.append((market, history, actual))
    print(f"{len(jobs)} markets, holdout {cut + dt.timedelta(days=1)} .. {args.as_of}")
    with ProcessPoolExecutor(2) as pool:
        for name, settings in VARIANTS.items():
            rows = list(pool.map(_one, [(*job, settings) for job in jobs]))
            frame = pd.DataFrame(rows, columns=["market", "forecast", "actual", "model"])
            frame["abs_error"] = (frame["forecast"] - frame["actual"]).abs()
            markets = frame[frame["market"] != "ALL"]
            weighted = markets["abs_error"].sum() / markets["actual"].abs().sum()
            whole = frame[frame["market"] == "ALL"].iloc[0]
            whole_error = whole["abs_error"] / abs(whole["actual"])
            zero = int(((frame["forecast"].abs() < 1) & (frame["actual"].abs() >= 1)).sum())
            median = (frame["abs_error"] / frame["actual"].abs()).median()
            print(
                f"{name:<34} markets {weighted:6.1%}   ALL {whole_error:6.1%} ({whole['model']})"
                f"   median market {median:6.1%}   zero forecasts {zero}"
            )


if __name__ == "__main__":
    main()
