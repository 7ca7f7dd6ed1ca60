"""Daily aggregation: calendar gap filling, the ALL market, the as-of cut."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row

from marketcast.aggregating import daily_revenue
from marketcast.schemas import BRONZE_INVOICES

D = dt.date


def invoices(spark, lines):
    rows = []
    for number, (country, day, revenue, stream) in enumerate(lines):
        rows.append(
            Row(
                invoice=f"{500 + number // 2}",
                invoice_kind="sale" if revenue >= 0 else "cancellation",
                country=country,
                customer_id=None,
                stream_id=stream,
                times_viewed=2,
                price=abs(revenue),
                revenue=float(revenue),
                invoice_date=day,
                source_file="f.json",
                line_no=number,
                run_id="r",
                ingested_at=dt.datetime(2020, 1, 1),
            )
        )
    return spark.createDataFrame(rows, BRONZE_INVOICES)


@pytest.fixture(scope="module")
def daily(spark):
    lines = [
        ("France", D(2019, 8, 1), 10.0, "s1"),
        ("France", D(2019, 8, 1), 5.0, "s2"),
        ("France", D(2019, 8, 4), -3.0, "s1"),
        ("Spain", D(2019, 8, 3), 7.0, "s9"),
        ("Spain", D(2019, 8, 9), 100.0, "s9"),  # after the as-of date
    ]
    frame = daily_revenue(invoices(spark, lines), as_of=D(2019, 8, 5))
    return {(row.market, row.ds): row for row in frame.collect()}


def test_calendar_runs_from_first_day_to_as_of_with_zeros_on_empty_days(daily):
    france = sorted(day for market, day in daily if market == "France")
    assert france == [D(2019, 8, day) for day in range(1, 6)]
    empty = daily[("France", D(2019, 8, 2))]
    assert (empty.revenue, empty.invoices, empty.purchases, empty.streams, empty.views) == (
        0.0,
        0,
        0,
        0,
        0,
    )
    assert sorted(day for market, day in daily if market == "Spain") == [
        D(2019, 8, 3),
        D(2019, 8, 4),
        D(2019, 8, 5),
    ]


def test_measures_of_a_day(daily):
    first = daily[("France", D(2019, 8, 1))]
    assert first.revenue == 15.0
    assert first.purchases == 2
    assert first.invoices == 1
    assert first.streams == 2
    assert first.views == 4
    assert daily[("France", D(2019, 8, 4))].revenue == -3.0


def test_all_market_sums_every_country_each_day(daily):
    totals = {day: row.revenue for (market, day), row in daily.items() if market == "ALL"}
    assert totals == {
        D(2019, 8, 1): 15.0,
        D(2019, 8, 2): 0.0,
        D(2019, 8, 3): 7.0,
        D(2019, 8, 4): -3.0,
        D(2019, 8, 5): 0.0,
    }


def test_lines_after_the_as_of_date_are_left_out(daily):
    assert max(day for _, day in daily) == D(2019, 8, 5)
    assert sum(row.revenue for (market, _), row in daily.items() if market == "Spain") == 7.0


def test_a_market_key_of_two_columns_names_each_series(spark):
    lines = [
        ("France", D(2019, 8, 1), 10.0, "s1"),
        ("France", D(2019, 8, 1), 5.0, "s2"),
        ("France", D(2019, 8, 2), 1.0, "s1"),
    ]
    frame = daily_revenue(
        invoices(spark, lines), as_of=D(2019, 8, 2), market_columns=("country", "stream_id")
    )
    got = sorted((row.market, row.ds, row.revenue) for row in frame.collect())
    assert got == [
        ("ALL", D(2019, 8, 1), 15.0),
        ("ALL", D(2019, 8, 2), 1.0),
        ("France | s1", D(2019, 8, 1), 10.0),
        ("France | s1", D(2019, 8, 2), 1.0),
        ("France | s2", D(2019, 8, 1), 5.0),
        ("France | s2", D(2019, 8, 2), 0.0),
    ]
