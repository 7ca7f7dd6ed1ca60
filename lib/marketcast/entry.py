"""Command lines of the jobs: arguments to typed configuration to session to library to exit code.

The scripts in ``jobs/`` call :func:`main` with their name; ``spark-submit`` runs those scripts.
A user error (bad path, bad configuration, bad input) ends in one line on stderr and exit code 2;
any other failure is logged with its traceback and ends with exit code 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from marketcast import config as config_module
from marketcast import pipeline, reporting, tables
from marketcast.errors import UserError
from marketcast.runs import new_run_id

log = logging.getLogger("marketcast")

JOBS = (
    "pipeline",
    "ingest",
    "aggregate",
    "forecast",
    "monitor",
    "predict",
    "evaluate",
    "report",
    "sql",
)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in the form YYYY-MM-DD: {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def build_parser(job: str) -> argparse.ArgumentParser:
    """The argument parser of one job."""
    parser = argparse.ArgumentParser(prog=f"spark-submit.sh {job}", description=__doc__)
    parser.add_argument("--conf", dest="conf_file", help="YAML configuration (conf/local.yaml)")
    parser.add_argument("--lake", required=True, help="the lake's root folder or URI")
    parser.add_argument("--master", help="Spark master when run without spark-submit")
    if job in ("pipeline", "ingest"):
        parser.add_argument("--input", required=True, help="folder of invoice files, or one file")
    if job in ("pipeline", "aggregate", "forecast", "monitor"):
        parser.add_argument("--as-of", type=_date, help="last day of history (YYYY-MM-DD)")
    if job == "report":
        parser.add_argument("--out", required=True, help="folder to write the report into")
        parser.add_argument("--as-of", type=_date, help="the run to show (default: the newest)")
        parser.add_argument(
            "--max-charts", type=_positive, default=40, help="markets charted besides the total"
        )
    if job == "sql":
        parser.add_argument("query", help="a Spark SQL query on the tables and views")
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
        parser.add_argument("--limit", type=_positive, default=1000, help="rows printed at most")
    if job in ("pipeline", "forecast", "predict"):
        parser.add_argument("--horizon", type=_positive, help="days to forecast")
    if job == "evaluate":
        parser.add_argument("--as-of", required=True, type=_date, help="as-of date of the run")
        parser.add_argument(
            "--min-history-days", type=_positive, default=60, help="markets with this much history"
        )
    if job == "predict":
        parser.add_argument("--market", required=True, help="market name, or ALL")
        parser.add_argument("--date", required=True, type=_date, help="as-of date YYYY-MM-DD")
    return parser


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # PySpark logs every failed query in full (plan and Java stack) before raising it; the
    # job answers a bad query in one line instead.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


def main(job: str, argv: Sequence[str] | None = None) -> int:
    """Run one job; returns the process exit code."""
    if job not in JOBS:
        print(f"marketcast: error: unknown job {job!r}; jobs: {', '.join(JOBS)}", file=sys.stderr)
        return 2
    args = build_parser(job).parse_args(argv)
    configure_logging()
    try:
        return _run(job, args)
    except UserError as error:
        print(f"marketcast: error: {error}", file=sys.stderr)
        return 2
    except Exception:
        log.exception("%s failed", job)
        return 1


def validate(job: str, args: argparse.Namespace, *, paths: bool = True) -> config_module.Config:
    """Every check that needs no Spark: configuration, input path, lake. Returns the config."""
    config = config_module.load_config(args.conf_file).with_horizon(getattr(args, "horizon", None))
    if not paths:
        return config
    input_path = getattr(args, "input", None) or ""
    if tables.is_local_path(input_path) and input_path:
        local = tables.local_path(input_path)
        if not local.exists():
            raise UserError(f"input path not found: {input_path}")
    if job == "report":
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UserError(f"report folder {out} exists and is not a folder")
        if out.is_dir() and any(out.iterdir()) and not (out / "index.html").is_file():
            raise UserError(f"report folder {out} holds other files; give an empty or new folder")
    if job in ("pipeline", "ingest"):
        tables.check_lake_writable(args.lake)
    elif tables.is_local_path(args.lake) and not tables.local_path(args.lake).is_dir():
        raise UserError(f"lake folder not found: {args.lake}")
    return config


def check(argv: Sequence[str]) -> int:
    """Validate a job's command line without starting Spark; the launcher calls this first.

    Under spark-submit the Python process's stderr is merged into stdout, and Spark takes
    seconds to start; this check answers a user error at once, on stderr.
    """
    if not argv or argv[0] not in JOBS:
        print(f"marketcast: error: unknown job; jobs: {', '.join(JOBS)}", file=sys.stderr)
        return 2
    job, rest = argv[0], list(argv[1:])
    paths = "--no-paths" not in rest
    rest = [word for word in rest if word != "--no-paths"]
    args = build_parser(job).parse_args(rest)
    try:
        validate(job, args, paths=paths)
    except UserError as error:
        print(f"marketcast: error: {error}", file=sys.stderr)
        return 2
    return 0


def _run(job: str, args: argparse.Namespace) -> int:
    config = validate(job, args)
    from marketcast.session import build_session

    spark = build_session(config.spark, master=args.master)
    context = pipeline.RunContext(spark=spark, config=config, lake=args.lake, run_id=new_run_id())
    log.info("run %s: job %s, lake %s", context.run_id, job, args.lake)
    actions: dict[str, Callable[[], object]] = {
        "pipeline": lambda: _pipeline(context, args),
        "ingest": lambda: pipeline.run_ingest(context, input_path=args.input),
        "aggregate": lambda: pipeline.run_aggregate(context, as_of=args.as_of),
        "forecast": lambda: _forecast(context, args),
        "monitor": lambda: _monitor(context, args),
        "report": lambda: _report(context, args),
        "sql": lambda: _sql(context, args),
        "predict": lambda: _predict(context, args),
        "evaluate": lambda: _evaluate(context, args),
    }
    actions[job]()
    return 0


def _pipeline(context: pipeline.RunContext, args: argparse.Namespace) -> None:
    as_of = pipeline.run_pipeline(context, input_path=args.input, as_of=args.as_of)
    print(reporting.run_summary(context.spark, context.lake, as_of))


def _forecast(context: pipeline.RunContext, args: argparse.Namespace) -> None:
    as_of = pipeline.run_forecast(context, as_of=args.as_of)
    print(reporting.run_summary(context.spark, context.lake, as_of))


def _monitor(context: pipeline.RunContext, args: argparse.Namespace) -> None:
    as_of = args.as_of or pipeline.newest_silver_as_of(context)
    details = pipeline.run_monitor(context, as_of=as_of)
    print(
        f"as of {as_of}: scored forecast runs {', '.join(details['scored_runs']) or 'none'}; "
        f"{details['drift_alert_count']} drift alerts"
    )
    for alert in details["drift_alerts"]:
        print(f"  {alert['market']}: {alert['feature']} stability index {alert['psi']}")


def _report(context: pipeline.RunContext, args: argparse.Namespace) -> None:
    from marketcast import report

    data = report.collect(
        context.spark,
        context.lake,
        as_of=args.as_of,
        all_market=context.config.aggregate.all_market,
        max_charts=args.max_charts,
    )
    index = report.render(data, Path(args.out))
    log.info("report of as-of date %s: %s", data.as_of, index)
    print(index.resolve())


def _sql(context: pipeline.RunContext, args: argparse.Namespace) -> None:
    from marketcast import views

    result = views.query(context.spark, context.lake, args.query)
    print(views.format_result(result, output=args.format, limit=args.limit))


def _predict(context: pipeline.RunContext, args: argparse.Namespace) -> None:
    from marketcast import predicting

    answer = predicting.predict(context, market=args.market, as_of=args.date)
    print(answer)


def _evaluate(context: pipeline.RunContext, args: argparse.Namespace) -> None:
    from marketcast import evaluation

    pipeline.ensure_forecast(context, args.as_of)
    totals = evaluation.holdout_totals(
        context.spark, context.lake, as_of=args.as_of, min_history_days=args.min_history_days
    )
    if totals.empty:
        raise UserError(f"the lake holds no actuals for the days after {args.as_of} yet")
    print(evaluation.holdout_report(totals, all_market=context.config.aggregate.all_market))


def job_main(job: str) -> None:
    """Entry used by the scripts in ``jobs/``."""
    sys.exit(main(job))


def print_spark_conf(argv: Sequence[str]) -> int:
    """Print the Spark settings of a configuration file, one ``key=value`` per line."""
    try:
        config = config_module.load_config(argv[0] if argv else None)
    except UserError as error:
        print(f"marketcast: error: {error}", file=sys.stderr)
        return 2
    print("\n".join(config_module.spark_submit_conf(config)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "spark-conf":
        sys.exit(print_spark_conf(sys.argv[2:]))
    sys.exit(main(sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else 2)
