"""Every cluster command in the README is a valid launcher command (checked with --dry-run)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from conftest import run_launcher

REPO = Path(__file__).resolve().parents[1]
COMMANDS = [
    line.strip()
    for line in (REPO / "README.md").read_text().splitlines()
    if line.startswith("./spark-submit.sh --master")
]


def test_the_readme_documents_standalone_yarn_kubernetes_and_databricks():
    masters = [shlex.split(command)[2] for command in COMMANDS]
    assert any(master.startswith("spark://") for master in masters)
    assert "yarn" in masters
    assert any(master.startswith("k8s://") for master in masters)


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_command_dry_runs(command, tmp_path):
    words = shlex.split(command)
    words.insert(1, "--dry-run")
    result = run_launcher(*words[1:])
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    master = words[words.index("--master") + 1]
    assert printed[printed.index("--master") + 1] == master
    assert any(item.endswith("marketcast-env.tar.gz#environment") for item in printed)
    assert printed[printed.index("--py-files") + 1].endswith(".zip")
    assert "spark.pyspark.python=./environment/bin/python" in printed
    job = next(
        word
        for word in words[1:]
        if not word.startswith("-")
        and "/" not in word
        and word in ("pipeline", "ingest", "aggregate", "forecast", "predict", "evaluate")
    )
    assert any(item.endswith(f"jobs/{job}.py") for item in printed)
    if "cluster" in words:
        assert printed[printed.index("--files") + 1].endswith("conf/cluster.yaml")
