"""The ``marketcast`` console command: answers from the lake's Delta tables without Spark.

``marketcast query --lake DIR --market NAME|ALL [--date YYYY-MM-DD]`` prints the expected
revenue of the market over the forecast horizon of the run with that as-of date (the market's
newest run when no date is given), its bands, the model, and the actuals where the lake holds
them. It reads the tables through the ``deltalake`` package, so it starts in well under a second
and needs no Java. ``marketcast markets --lake DIR`` lists the markets of the newest run.

It never computes a forecast: for a date the lake has no run of, it names the Spark job that
makes one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence

import pandas as pd

from marketcast import layout
from marketcast.answers import Answer
from marketcast.errors import UserError


def _table(lake: str, name: str, filters: list[tuple] | None = None) -> pd.DataFrame:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(layout.table_path(lake, name))
    except TableNotFoundError:
        raise UserError(f"the lake {lake} has no table {name}; run the pipeline first") from None
    return table.to_pandas(filters=filters or None)


def _as_date(value) -> dt.date:
    return pd.Timestamp(value).date()


def answer(lake: str, market: str, as_of: dt.date | None = None) -> Answer:
    """The answer for ``market`` from the run of ``as_of`` (the market's newest when None).

    Raises:
        UserError: No such table, run or market, or the market had too little history.
    """
    status = _table(lake, layout.GOLD_FORECAST_STATUS, [("market", "=", market)])
    if status.empty:
        known = _table(lake, layout.GOLD_FORECAST_STATUS)["market"].drop_duplicates()
        hint = ", ".join(sorted(known)[:12])
        raise UserError(f"unknown market {market!r}; markets include: {hint}")
    status["as_of"] = status["as_of"].map(_as_date)
    if as_of is None:
        as_of = max(status["as_of"])
    run = status[status["as_of"] == as_of]
    if run.empty:
        raise UserError(
            f"the lake holds no forecast run for as-of date {as_of}; make one with "
            f"./spark-submit.sh predict --lake {lake} --market {market} --date {as_of}"
        )
    row = run.iloc[0]
    if row["status"] == "too_short":
        raise UserError(
            f"market {market!r} had only {row['history_days']} days of history up to {as_of}: "
            "no forecast was made"
        )
    forecasts = _table(
        lake, layout.GOLD_FORECASTS, [("as_of", "=", as_of), ("market", "=", market)]
    )
    # Filtered here: deltalake's filter list compares booleans as text and matches nothing.
    forecasts = forecasts[forecasts["selected"].astype(bool)]
    if forecasts.empty:
        raise UserError(f"market {market!r} has no forecast for {as_of}: {row['message']}")
    days = forecasts["ds"].map(_as_date)
    levels = sorted(
        int(name.rsplit("_", 1)[1]) for name in forecasts.columns if name.startswith("yhat_lo_")
    )
    bands = {
        level: (
            float(forecasts[f"yhat_lo_{level}"].sum()),
            float(forecasts[f"yhat_hi_{level}"].sum()),
        )
        for level in levels
        if forecasts[f"yhat_lo_{level}"].notna().all()
    }
    actual, actual_days = _actuals(lake, market, min(days), max(days))
    return Answer(
        market=market,
        as_of=as_of,
        first_day=min(days),
        last_day=max(days),
        model=row["model_used"] or "-",
        status=row["status"],
        expected=float(forecasts["yhat"].sum()),
        bands=bands,
        actual=actual,
        actual_days=actual_days,
    )


def _actuals(lake: str, market: str, first: dt.date, last: dt.date) -> tuple[float | None, int]:
    from deltalake import DeltaTable

    table = DeltaTable(layout.table_path(lake, layout.SILVER_DAILY_REVENUE))
    partitions = {_as_date(value) for value in table.to_pandas(columns=["as_of"])["as_of"]}
    newest = max(partitions, default=None)
    if newest is None or newest < first:
        return None, 0
    daily = table.to_pandas(
        filters=[
            ("as_of", "=", newest),
            ("market", "=", market),
            ("ds", ">=", first),
            ("ds", "<=", last),
        ]
    )
    if daily.empty:
        return None, 0
    return float(daily["revenue"].sum()), len(daily)


def markets(lake: str) -> str:
    """The markets of the newest run, with status and model, one per line."""
    status = _table(lake, layout.GOLD_FORECAST_STATUS)
    newest = status["as_of"].max()
    run = status[status["as_of"] == newest].sort_values("market")
    lines = [f"as of {_as_date(newest)}: {len(run)} markets"]
    lines += [
        f"{row.market:<30} {row.status:<10} {row.model_used or '-'}" for row in run.itertuples()
    ]
    return "\n".join(lines)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in the form YYYY-MM-DD: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marketcast", description="Read marketcast's forecasts from a lake, without Spark."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser("query", help="expected revenue of one market")
    query.add_argument("--lake", required=True, help="the lake's root folder or URI")
    query.add_argument("--market", required=True, help="market name, or ALL")
    query.add_argument("--date", type=_date, help="as-of date of the run (default: the newest)")
    listing = commands.add_parser("markets", help="the markets of the newest run")
    listing.add_argument("--lake", required=True, help="the lake's root folder or URI")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "query":
            print(answer(args.lake, args.market, args.date))
        else:
            print(markets(args.lake))
    except UserError as error:
        print(f"marketcast: error: {error}", file=sys.stderr)
        return 2
    return 0


def main() -> None:
    """The console script: run, then leave at once.

    Arrow's scan threads can still be winding down when the interpreter tears itself down, and
    the process then aborts ("terminate called without an active exception", exit 134) after
    the answer was printed. Everything is written by then, so the process ends without the
    teardown.
    """
    code = run()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
