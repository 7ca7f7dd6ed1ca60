"""User errors at the command line: one clear line on stderr, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_launcher
from marketcast import entry

REPO = Path(__file__).resolve().parents[1]


def check(capsys, *argv):
    code = entry.check(list(argv))
    return code, capsys.readouterr().err.strip().splitlines()


def test_missing_input_path_is_one_line_and_exit_two(capsys, tmp_path):
    lake = tmp_path / "lake"
    code, lines = check(capsys, "pipeline", "--input", str(tmp_path / "nope"), "--lake", str(lake))
    assert code == 2
    assert lines == [f"marketcast: error: input path not found: {tmp_path / 'nope'}"]
    assert not lake.exists()


def test_unknown_configuration_key_names_the_key(capsys, tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("forecast:\n  horizon: 30\n  horizn: 7\n")
    code, lines = check(capsys, "forecast", "--lake", str(tmp_path), "--conf", str(conf))
    assert code == 2
    assert lines == [
        f"marketcast: error: configuration file {conf}: forecast.horizn: "
        "Extra inputs are not permitted"
    ]


def test_wrong_type_in_configuration_names_the_key(capsys, tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("backtest:\n  windows: many\n")
    code, lines = check(capsys, "forecast", "--lake", str(tmp_path), "--conf", str(conf))
    assert code == 2
    assert len(lines) == 1 and "backtest.windows" in lines[0]


def test_unknown_model_parameter_is_a_configuration_error(capsys, tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("forecast:\n  models:\n    - name: AutoETS\n      params: {seasonality: 7}\n")
    code, lines = check(capsys, "forecast", "--lake", str(tmp_path), "--conf", str(conf))
    assert code == 2
    assert "AutoETS takes no parameter seasonality" in lines[0]


def test_lake_that_cannot_be_written_is_refused(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, lines = check(capsys, "ingest", "--input", str(tmp_path), "--lake", str(blocker / "lake"))
    assert code == 2
    assert lines[0].startswith(f"marketcast: error: lake folder {blocker / 'lake'} is not writable")


def test_a_valid_command_line_passes_the_check(capsys, tmp_path):
    code, lines = check(capsys, "pipeline", "--input", str(tmp_path), "--lake", str(tmp_path / "l"))
    assert (code, lines) == (0, [])


def test_launcher_stops_on_a_user_error_before_spark_starts(tmp_path):
    result = run_launcher("pipeline", "--input", "/no/such/dir", "--lake", str(tmp_path / "l"))
    assert result.returncode == 2
    assert result.stderr.strip() == "marketcast: error: input path not found: /no/such/dir"
    assert result.stdout == ""


def test_launcher_dry_run_prints_one_argument_per_line(tmp_path):
    result = run_launcher("--dry-run", "forecast", "--lake", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("/spark-submit")
    assert lines[lines.index("--master") + 1] == "local[*]"
    assert lines[lines.index("--packages") + 1].startswith("io.delta:delta-spark_4.1_2.13:")
    assert lines[-3:] == [str(REPO / "jobs" / "forecast.py"), "--lake", str(tmp_path)]


@pytest.mark.parametrize("job", ["teleport", ""])
def test_unknown_job_is_refused(job, tmp_path):
    result = run_launcher(job, "--lake", str(tmp_path))
    assert result.returncode == 2
    assert "unknown job" in result.stderr


def test_unknown_job_message_lists_every_spark_job():
    result = run_launcher("teleport")
    listed = result.stderr.strip().split("jobs: ")[1].split()
    scripts = {path.stem for path in (REPO / "jobs").glob("*.py")} - {"generate"}
    assert sorted(listed) == sorted(scripts)


def test_help_prints_the_usage_only():
    result = run_launcher("--help")
    assert result.returncode == 0
    assert result.stdout.splitlines()[2].strip().startswith("./spark-submit.sh [--master URL]")
    assert "set -euo" not in result.stdout
