"""The HTML report: charts and tables of one forecast run, read from the lake's Delta tables.

The report is a folder: ``index.html`` with its styles inside and PNG charts in ``img/``, so it
opens from disk in any browser with no server and no network. It is rendered into a temporary
folder beside the target and moved into place at the end, so a failed render leaves the previous
report (or nothing) rather than half a report.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from marketcast import tables
from marketcast.errors import UserError

log = logging.getLogger(__name__)

#: Days of history drawn before the forecast.
HISTORY_DAYS = 120
#: Markets charted besides the all-markets series, the largest by revenue first.
MAX_CHARTS = 40


@dataclass
class ReportData:
    """Everything the report shows, collected to the driver (small: one row per market/day)."""

    as_of: dt.date
    run_id: str
    all_market: str
    status: pd.DataFrame
    selection: pd.DataFrame
    charted: list[str]
    history: pd.DataFrame
    forecasts: pd.DataFrame
    accuracy: pd.DataFrame
    drift: pd.DataFrame
    levels: list[int]


def newest_as_of(spark: SparkSession, lake: str) -> dt.date:
    """The newest as-of date with a forecast run in the lake."""
    newest = tables.read(spark, lake, tables.GOLD_FORECAST_STATUS).agg(F.max("as_of")).first()[0]
    if newest is None:
        raise UserError(f"the lake {lake} holds no forecast run yet; run the pipeline first")
    return newest


def collect(
    spark: SparkSession,
    lake: str,
    *,
    as_of: dt.date | None = None,
    all_market: str = "ALL",
    max_charts: int = MAX_CHARTS,
) -> ReportData:
    """Read what the report needs for the run of ``as_of`` (the newest when None)."""
    as_of = as_of or newest_as_of(spark, lake)

    def of_run(name: str) -> DataFrame:
        return tables.read(spark, lake, name).where(F.col("as_of") == F.lit(as_of))

    status = of_run(tables.GOLD_FORECAST_STATUS).toPandas()
    if status.empty:
        raise UserError(f"the lake {lake} holds no forecast run for as-of date {as_of}")
    selection = of_run(tables.GOLD_MODEL_SELECTION).toPandas()
    history_start = as_of - dt.timedelta(days=HISTORY_DAYS - 1)
    silver = of_run(tables.SILVER_DAILY_REVENUE)
    sizes = (
        silver.where(F.col("market") != all_market)
        .groupBy("market")
        .agg(F.sum("revenue").alias("revenue"))
        .orderBy(F.desc("revenue"), "market")
        .limit(max_charts)
        .collect()
    )
    charted = [all_market] + [row.market for row in sizes]
    history = (
        silver.where(F.col("market").isin(charted) & (F.col("ds") >= F.lit(history_start)))
        .select("market", "ds", "revenue")
        .toPandas()
    )
    forecasts_table = of_run(tables.GOLD_FORECASTS)
    levels = sorted(
        int(name.rsplit("_", 1)[1])
        for name in forecasts_table.columns
        if name.startswith("yhat_lo_")
    )
    forecasts = (
        forecasts_table.where(F.col("selected") & F.col("market").isin(charted))
        .drop("as_of", "run_id", "created_at")
        .toPandas()
    )
    return ReportData(
        as_of=as_of,
        run_id=str(status["run_id"].iloc[0]),
        all_market=all_market,
        status=status,
        selection=selection,
        charted=charted,
        history=history,
        forecasts=forecasts,
        accuracy=_accuracy(spark, lake, charted),
        drift=_drift(spark, lake, as_of),
        levels=levels,
    )


def _accuracy(spark: SparkSession, lake: str, markets: list[str]) -> pd.DataFrame:
    """Realised error per scored forecast run and market, chosen model only."""
    if not tables.exists(spark, lake, tables.GOLD_FORECAST_ACCURACY):
        return pd.DataFrame(
            columns=["as_of", "market", "model", "days", "forecast", "actual", "mae"]
        )
    return (
        tables.read(spark, lake, tables.GOLD_FORECAST_ACCURACY)
        .where(F.col("selected") & F.col("market").isin(markets))
        .groupBy("as_of", "market", "model")
        .agg(
            F.count(F.lit(1)).alias("days"),
            F.sum("forecast").alias("forecast"),
            F.sum("actual").alias("actual"),
            F.avg("abs_error").alias("mae"),
        )
        .orderBy("as_of", "market")
        .toPandas()
    )


def _drift(spark: SparkSession, lake: str, as_of: dt.date) -> pd.DataFrame:
    if not tables.exists(spark, lake, tables.OPS_DRIFT):
        return pd.DataFrame(
            columns=["market", "feature", "psi", "psi_noise", "reference_mean", "recent_mean"]
        )
    return (
        tables.read(spark, lake, tables.OPS_DRIFT)
        .where((F.col("as_of") == F.lit(as_of)) & F.col("alert"))
        .orderBy(F.desc("psi"), "market", "feature")
        .toPandas()
    )


def _file_name(index: int, market: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", market).strip("-").lower() or "market"
    return f"{index:03d}-{slug[:40]}.png"


def _forecast_chart(data: ReportData, market: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    history = data.history[data.history["market"] == market].sort_values("ds")
    future = data.forecasts[data.forecasts["market"] == market].sort_values("ds")
    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=90)
    axes.plot(
        pd.to_datetime(history["ds"]),
        history["revenue"],
        color="#333333",
        lw=1.0,
        label="daily revenue",
    )
    if not future.empty:
        days = pd.to_datetime(future["ds"])
        for level, shade in zip(
            sorted(data.levels, reverse=True), ("#c6dbef", "#9ecae1"), strict=False
        ):
            axes.fill_between(
                days,
                future[f"yhat_lo_{level}"],
                future[f"yhat_hi_{level}"],
                color=shade,
                label=f"{level}% interval",
                lw=0,
            )
        axes.plot(
            days,
            future["yhat"],
            color="#08519c",
            lw=1.6,
            label=f"forecast ({future['model_used'].iloc[0]})",
        )
    axes.axvline(pd.Timestamp(data.as_of), color="#999999", lw=0.8, ls="--")
    axes.set_title(f"{market}: daily revenue and {len(future)}-day forecast", fontsize=10)
    axes.legend(loc="upper left", fontsize=7, frameon=False)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _accuracy_chart(accuracy: pd.DataFrame, all_market: str, path: Path) -> bool:
    """Realised relative error of the window total for each scored run; False when none."""
    whole = accuracy[accuracy["market"] == all_market].sort_values("as_of")
    if whole.empty:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    error = (whole["forecast"] - whole["actual"]) / whole["actual"].abs()
    figure, axes = plt.subplots(figsize=(9, 3), dpi=90)
    labels = [f"{day} ({days} d)" for day, days in zip(whole["as_of"], whole["days"], strict=True)]
    axes.bar(labels, 100 * error, color=["#cb181d" if value > 0 else "#2171b5" for value in error])
    axes.axhline(0, color="#333333", lw=0.8)
    axes.set_ylabel("forecast − actual, % of actual", fontsize=8)
    axes.set_title(f"{all_market}: realised error of the window total by forecast run", fontsize=10)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #238b45; } .fallback, .too_short { color: #d94801; } .failed { color: #cb181d; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
.note { color: #555; font-size: 0.85em; }
"""


def _cell(value, *, number: bool = False, digits: int = 0, percent: bool = False) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return '<td class="n">–</td>' if number else "<td>–</td>"
    if percent:
        return f'<td class="n">{100 * value:+.1f}%</td>'
    if number:
        return f'<td class="n">{value:,.{digits}f}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    return f"<table><tr>{head}</tr>{''.join(f'<tr>{row}</tr>' for row in rows)}</table>"


def render(data: ReportData, out: Path) -> Path:
    """Write the report folder ``out`` (replacing an earlier report there); returns index.html."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _render_into(data, staging)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, retired / "report")
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "index.html"


def _render_into(data: ReportData, folder: Path) -> None:
    images = folder / "img"
    images.mkdir()
    totals = data.forecasts.groupby("market").agg(total=("yhat", "sum"), days=("yhat", "size"))
    low_level = data.levels[0] if data.levels else None
    if low_level is not None:
        bounds = data.forecasts.groupby("market")[[f"yhat_lo_{low_level}", f"yhat_hi_{low_level}"]]
        totals = totals.join(bounds.sum())
    horizon = int(totals["days"].max()) if not totals.empty else 0

    status = data.status.set_index("market")
    selection = data.selection.set_index("market") if not data.selection.empty else None
    parts = [
        f"<h1>Revenue forecast as of {data.as_of}</h1>",
        f'<p class="note">Run {html.escape(data.run_id)}; {len(status)} markets; '
        f"forecast horizon {horizon} days. Bands are sums of daily interval bounds.</p>",
    ]

    # Whole business first.
    whole_file = _file_name(0, data.all_market)
    _forecast_chart(data, data.all_market, images / whole_file)
    parts.append(f"<h2>{html.escape(data.all_market)}</h2>")
    if data.all_market in totals.index:
        row = totals.loc[data.all_market]
        band = ""
        if low_level is not None:
            band = (
                f" ({low_level}% band {row[f'yhat_lo_{low_level}']:,.0f} .. "
                f"{row[f'yhat_hi_{low_level}']:,.0f})"
            )
        parts.append(
            f"<p>Expected revenue in the next {int(row['days'])} days: "
            f"<b>{row['total']:,.0f}</b>{band}.</p>"
        )
    parts.append(f'<img src="img/{whole_file}" alt="{html.escape(data.all_market)} forecast">')

    # Markets table.
    rows = []
    ordered = status.join(totals, how="left").sort_values(
        "total", ascending=False, na_position="last"
    )
    for market, row in ordered.iterrows():
        chosen = (
            selection.loc[market] if selection is not None and market in selection.index else None
        )
        band = ("–", "–")
        if low_level is not None and not pd.isna(row.get("total")):
            band = (row[f"yhat_lo_{low_level}"], row[f"yhat_hi_{low_level}"])
        rows.append(
            _cell(market)
            + f'<td class="{html.escape(row["status"])}">{html.escape(row["status"])}</td>'
            + _cell(row["model_used"])
            + _cell(row["history_days"], number=True)
            + _cell(row.get("total"), number=True)
            + _cell(band[0], number=True)
            + _cell(band[1], number=True)
            + _cell(None if chosen is None else chosen["metric"])
            + _cell(None if chosen is None else chosen["score"], number=True, digits=1)
            + _cell(None if chosen is None else chosen["skill"], number=True, digits=2)
        )
    parts.append("<h2>Markets</h2>")
    parts.append(
        '<p class="note">Backtest error is the chosen model\'s mean score over the rolling '
        "windows; skill is 1 − score / SeasonalNaive's score (above 0 beats the baseline).</p>"
    )
    lo_name = f"{low_level}% low" if low_level else "low"
    hi_name = f"{low_level}% high" if low_level else "high"
    parts.append(
        _table(
            [
                "market",
                "status",
                "model",
                "history days",
                "forecast total",
                lo_name,
                hi_name,
                "metric",
                "backtest error",
                "skill",
            ],
            rows,
        )
    )

    # Problems.
    problems = status[status["status"] != "ok"]
    parts.append("<h2>Markets that fell back or failed</h2>")
    if problems.empty:
        parts.append("<p>None: every market got its chosen model.</p>")
    else:
        parts.append(
            _table(
                ["market", "status", "model used", "history days", "reason"],
                [
                    _cell(market)
                    + _cell(row["status"])
                    + _cell(row["model_used"])
                    + _cell(row["history_days"], number=True)
                    + _cell(row["message"])
                    for market, row in problems.sort_index().iterrows()
                ],
            )
        )

    # Monitoring.
    parts.append("<h2>Realised accuracy of earlier forecasts</h2>")
    accuracy_file = "accuracy.png"
    if _accuracy_chart(data.accuracy, data.all_market, images / accuracy_file):
        parts.append(f'<img src="img/{accuracy_file}" alt="realised error by forecast run">')
    if data.accuracy.empty:
        parts.append("<p>No earlier forecast has actuals in the lake yet.</p>")
    else:
        parts.append(
            _table(
                [
                    "forecast as of",
                    "market",
                    "model",
                    "days known",
                    "forecast",
                    "actual",
                    "error",
                    "daily MAE",
                ],
                [
                    _cell(row["as_of"])
                    + _cell(row["market"])
                    + _cell(row["model"])
                    + _cell(row["days"], number=True)
                    + _cell(row["forecast"], number=True)
                    + _cell(row["actual"], number=True)
                    + _cell(
                        (row["forecast"] - row["actual"]) / abs(row["actual"])
                        if row["actual"]
                        else None,
                        percent=True,
                    )
                    + _cell(row["mae"], number=True)
                    for _, row in data.accuracy.iterrows()
                ],
            )
        )
    parts.append("<h2>Drift alerts</h2>")
    if data.drift.empty:
        parts.append("<p>None: the newest input window looks like the one before it.</p>")
    else:
        parts.append(
            '<p class="note">The newest days of input against the days before them, by the '
            "population stability index; an alert needs an index above the configured threshold "
            "and above the level chance reaches with windows of these sizes.</p>"
        )
        parts.append(
            _table(
                ["market", "measure", "stability index", "chance level", "mean before", "mean now"],
                [
                    _cell(row["market"])
                    + _cell(row["feature"])
                    + _cell(row["psi"], number=True, digits=2)
                    + _cell(row["psi_noise"], number=True, digits=2)
                    + _cell(row["reference_mean"], number=True, digits=2)
                    + _cell(row["recent_mean"], number=True, digits=2)
                    for _, row in data.drift.iterrows()
                ],
            )
        )

    # One chart per market.
    parts.append("<h2>Forecast per market</h2>")
    for index, market in enumerate(data.charted[1:], start=1):
        name = _file_name(index, market)
        _forecast_chart(data, market, images / name)
        parts.append(f"<h3>{html.escape(market)}</h3>")
        parts.append(f'<img src="img/{name}" alt="{html.escape(market)} forecast">')
    if len(status) - 1 > len(data.charted) - 1:
        parts.append(
            f'<p class="note">Charts show the {len(data.charted) - 1} largest markets '
            "by revenue; the table lists all.</p>"
        )

    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>marketcast forecast as of {data.as_of}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )
    (folder / "index.html").write_text(page, encoding="utf-8")
