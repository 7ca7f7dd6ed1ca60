"""What people see: accuracy and drift monitoring, SQL views, the HTML report, the query command.

All on the real AAVAIL lake of the session, which holds the run of the last invoice day and, after
``past_answer``, the run of 30 days earlier whose window is fully known.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import functions as F

from conftest import HOLDOUT_AS_OF, LAST_INVOICE_DAY, run_launcher
from marketcast import monitoring, pipeline, predicting, report, tables, views
from marketcast.config import MonitorSettings
from marketcast.errors import UserError
from marketcast.runs import new_run_id

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def lake(real_lake, past_answer):
    return real_lake


def test_the_past_run_is_scored_day_by_day_against_the_actuals(spark, lake, past_answer):
    accuracy = tables.read(spark, lake, tables.GOLD_FORECAST_ACCURACY)
    assert {row.as_of for row in accuracy.select("as_of").distinct().collect()} == {HOLDOUT_AS_OF}
    whole = accuracy.where((F.col("market") == "ALL") & F.col("selected")).orderBy("ds").collect()
    assert [row.horizon_day for row in whole] == list(range(1, 31))
    assert {row.actuals_as_of for row in whole} == {LAST_INVOICE_DAY}
    assert sum(row.actual for row in whole) == pytest.approx(past_answer.actual)
    assert sum(row.forecast for row in whole) == pytest.approx(past_answer.expected)
    for row in whole:
        assert row.error == pytest.approx(row.forecast - row.actual)
        assert row.abs_error == pytest.approx(abs(row.error))
    silver = {
        row.ds: row.revenue
        for row in tables.read(spark, lake, tables.SILVER_DAILY_REVENUE)
        .where((F.col("as_of") == LAST_INVOICE_DAY) & (F.col("market") == "ALL"))
        .collect()
    }
    assert all(row.actual == pytest.approx(silver[row.ds]) for row in whole)
    # Every model of the past run is scored, not only the chosen one.
    models = {row.model for row in accuracy.where(F.col("market") == "ALL").collect()}
    assert {"AutoETS", "SeasonalNaive", "Naive"} <= models


def test_drift_is_measured_per_market_and_alerts_reach_the_run_record(spark, lake):
    drift = tables.read(spark, lake, tables.OPS_DRIFT).where(F.col("as_of") == LAST_INVOICE_DAY)
    rows = drift.collect()
    assert {row.feature for row in rows} == set(monitoring.FEATURES)
    whole = {row.feature: row for row in rows if row.market == "ALL"}
    assert (whole["daily_revenue"].reference_n, whole["daily_revenue"].recent_n) == (90, 30)
    # November and December doubled daily revenue against August to October: a real shift.
    assert whole["daily_revenue"].recent_mean > 1.5 * whole["daily_revenue"].reference_mean
    assert whole["daily_revenue"].alert
    for row in rows:
        enough = min(row.reference_n, row.recent_n) >= 20
        expected = enough and row.psi > max(0.25, row.psi_noise)
        assert row.alert == expected, (row.market, row.feature)
    record = (
        tables.read(spark, lake, tables.OPS_RUNS)
        .where((F.col("stage") == "monitor") & (F.col("as_of") == LAST_INVOICE_DAY))
        .orderBy(F.desc("ended_at"))
        .first()
    )
    details = json.loads(record.details)
    assert details["drift_alert_count"] == sum(row.alert for row in rows)
    assert {"market": "ALL", "feature": "daily_revenue"}.items() <= next(
        alert for alert in details["drift_alerts"] if alert["market"] == "ALL"
    ).items()


def test_population_stability_is_zero_for_the_same_values_and_large_for_a_shift():
    rng = np.random.default_rng(7)
    before = rng.normal(100, 10, 3_000)
    assert monitoring.population_stability(before, before, bins=10) == (pytest.approx(0.0), 10)
    same, _ = monitoring.population_stability(before, rng.normal(100, 10, 1_000), bins=10)
    assert same < monitoring.sampling_noise(3_000, 1_000, 10, 0.99) < 0.05
    shifted, _ = monitoring.population_stability(before, rng.normal(130, 10, 1_000), bins=10)
    assert shifted > 1.0
    constant = np.full(50, 4.0)
    assert monitoring.population_stability(constant, constant, bins=10) == (pytest.approx(0.0), 2)
    # 30 days against 90 are noisy: the level chance reaches is far above 0.25.
    assert monitoring.sampling_noise(90, 30, 10, 0.99) == pytest.approx(0.963, abs=0.001)


def test_drift_flags_the_market_whose_prices_tripled_and_spares_the_steady_one(spark):
    as_of = dt.date(2020, 3, 31)
    lines, daily = [], []
    rng = np.random.default_rng(3)
    for offset in range(120):
        day = as_of - dt.timedelta(days=offset)
        recent = offset < 30
        for market in ("Steady", "Shifted"):
            scale = 3.0 if (market == "Shifted" and recent) else 1.0
            prices = rng.uniform(1, 5, 4) * scale
            for number, price in enumerate(prices):
                lines.append((f"{market}{offset}", "sale", market, 5, float(price), day))
                del number
            daily.append((market, day, float(prices.sum())))
    invoices = spark.createDataFrame(
        lines,
        "invoice string, invoice_kind string, country string, times_viewed long, "
        "price double, invoice_date date",
    )
    silver = spark.createDataFrame(daily, "market string, ds date, revenue double")
    settings = MonitorSettings()
    values = monitoring.drift_values(
        invoices,
        silver,
        as_of=as_of,
        settings=settings,
        market_columns=["country"],
        all_market="ALL",
    )
    measured = {
        (row.market, row.feature): row
        for row in monitoring.measure_drift(values, settings).collect()
    }
    assert measured[("Shifted", "price")].alert
    assert measured[("Shifted", "daily_revenue")].alert
    assert not measured[("Steady", "price")].alert
    assert not measured[("Steady", "daily_revenue")].alert
    assert measured[("Steady", "price")].reference_n == 90 * 4
    # Views and lines per invoice never changed; ALL sees the shifted market's prices.
    assert not measured[("Shifted", "views")].alert
    assert measured[("ALL", "price")].psi > measured[("Steady", "price")].psi


def test_views_answer_the_latest_forecast_and_forecast_against_actual(spark, lake, past_answer):
    latest = views.query(
        spark,
        lake,
        "SELECT as_of, count(*) AS days, sum(yhat) AS total FROM latest_forecasts "
        "WHERE market = 'ALL' GROUP BY as_of",
    ).collect()
    assert len(latest) == 1 and latest[0].as_of == LAST_INVOICE_DAY and latest[0].days == 30
    known = views.query(
        spark,
        lake,
        "SELECT sum(actual) AS actual, count(actual) AS days, sum(yhat) AS total "
        f"FROM forecast_vs_actual WHERE market = 'ALL' AND as_of = DATE'{HOLDOUT_AS_OF}'",
    ).first()
    assert known.days == 30
    assert known.actual == pytest.approx(past_answer.actual)
    assert known.total == pytest.approx(past_answer.expected)
    ahead = views.query(
        spark,
        lake,
        "SELECT count(actual) AS days FROM forecast_vs_actual "
        f"WHERE as_of = DATE'{LAST_INVOICE_DAY}'",
    ).first()
    assert ahead.days == 0
    text = views.format_result(
        views.query(
            spark,
            lake,
            "SELECT market, status FROM forecast_status "
            f"WHERE as_of = DATE'{LAST_INVOICE_DAY}' ORDER BY market",
        ),
        output="csv",
        limit=3,
    )
    assert text.splitlines() == ["market,status", "ALL,ok", "Australia,ok", "Austria,ok"]
    with pytest.raises(UserError, match=r"query failed: .*UNRESOLVED_COLUMN.*latest_forecasts"):
        views.query(spark, lake, "SELECT nope FROM latest_forecasts")


def test_sql_job_prints_csv_through_the_launcher(lake):
    result = run_launcher(
        "sql",
        "--lake",
        lake,
        "--format",
        "csv",
        "SELECT market, horizon_day FROM latest_forecasts WHERE market = 'ALL' "
        "ORDER BY horizon_day LIMIT 2",
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-3:] == ["market,horizon_day", "ALL,1", "ALL,2"]


def image_check(index: Path) -> tuple[int, list[str]]:
    """Open the report in headless Chromium; returns the number of images and the broken ones."""
    probe = index.with_name("_probe.html")
    script = (
        "<script>window.addEventListener('load', () => { const all = [...document.images];"
        "const broken = all.filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.getAttribute('src'));"
        "document.title = 'IMAGES ' + all.length + ' BROKEN ' + broken.join(' '); });</script>"
    )
    probe.write_text(index.read_text().replace("</body>", script + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    probe.unlink()
    title = re.search(r"<title>IMAGES (\d+) BROKEN ?(.*?)</title>", dom)
    assert title, dom[:500]
    return int(title.group(1)), title.group(2).split()


@pytest.fixture(scope="module")
def rendered(spark, lake, tmp_path_factory):
    data = report.collect(spark, lake)
    return data, report.render(data, tmp_path_factory.mktemp("report") / "out")


def test_report_shows_every_market_the_problems_and_the_monitoring(rendered):
    data, index = rendered
    assert data.as_of == LAST_INVOICE_DAY
    page = index.read_text()
    images = re.findall(r'<img src="(img/[^"]+)"', page)
    # The total, the realised-error chart, and each of the 32 countries.
    assert len(images) == 1 + 1 + 32
    assert all((index.parent / name).is_file() for name in images)
    assert "http" not in page  # nothing fetched from the network
    assert "Greece" in page and "4 days of history, below 14" in page
    assert f"<td>{HOLDOUT_AS_OF}</td><td>ALL</td>" in page
    assert "Drift alerts" in page and "daily_revenue" in page
    assert sorted(path.name for path in index.parent.iterdir()) == ["img", "index.html"]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)")
def test_report_images_all_load_in_headless_chromium(rendered, tmp_path):
    _, index = rendered
    copy = tmp_path / "copy"
    shutil.copytree(index.parent, copy)
    count, broken = image_check(copy / "index.html")
    assert (count, broken) == (34, [])
    # The check sees a missing image.
    next((copy / "img").glob("001-*.png")).unlink()
    count, broken = image_check(copy / "index.html")
    assert count == 34 and len(broken) == 1 and broken[0].startswith("img/001-")


def test_a_failed_render_leaves_the_earlier_report_whole(spark, lake, rendered, monkeypatch):
    data, index = rendered
    before = sorted(path.name for path in (index.parent / "img").iterdir())
    calls = []

    def failing_chart(*args):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return original(*args)

    original = report._forecast_chart
    monkeypatch.setattr(report, "_forecast_chart", failing_chart)
    with pytest.raises(RuntimeError, match="disk full"):
        report.render(data, index.parent)
    assert sorted(path.name for path in (index.parent / "img").iterdir()) == before
    assert [path.name for path in index.parent.parent.iterdir()] == [index.parent.name]


def test_report_job_refuses_a_folder_with_other_files(tmp_path, lake):
    (tmp_path / "notes.txt").write_text("mine")
    result = run_launcher("report", "--lake", lake, "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"marketcast: error: report folder {tmp_path} holds other files; "
        "give an empty or new folder"
    ]
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def marketcast(*args: str) -> subprocess.CompletedProcess:
    command = Path(sys.executable).with_name("marketcast")
    return subprocess.run([str(command), *args], capture_output=True, text=True, timeout=60)


def test_query_command_answers_without_spark_as_the_spark_job_does(
    spark, config, lake, past_answer
):
    context = pipeline.RunContext(spark=spark, config=config, lake=lake, run_id=new_run_id())
    spark_answer = predicting.predict(context, market="ALL", as_of=LAST_INVOICE_DAY)
    for _ in range(5):  # an abort at exit would show as exit 134 in some of these
        result = marketcast("query", "--lake", lake, "--market", "ALL")
        assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(spark_answer)
    past = marketcast("query", "--lake", lake, "--market", "ALL", "--date", str(HOLDOUT_AS_OF))
    assert past.returncode == 0, past.stderr
    assert past.stdout.strip() == str(past_answer)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--market", "Atlantis"), "unknown market 'Atlantis'; markets include: ALL, Australia"),
        (("--market", "Greece"), "market 'Greece' had only 4 days of history up to 2019-12-06"),
        (("--market", "ALL", "--date", "2019-10-01"), "no forecast run for as-of date 2019-10-01"),
    ],
)
def test_query_command_refuses_in_one_line(lake, args, message):
    result = marketcast("query", "--lake", lake, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert result.stdout == ""


def test_query_command_names_a_lake_without_tables(tmp_path):
    result = marketcast("query", "--lake", str(tmp_path), "--market", "ALL")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"marketcast: error: the lake {tmp_path} has no table gold/forecast_status; "
        "run the pipeline first"
    )
