"""The pipeline on a real Spark standalone cluster on loopback: one master, two one-core workers.

The job goes through ``spark-submit.sh --master spark://...`` with the packed environment and
the wheel from ``make package``; its tables must match a local run on the same input.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pyspark
import pytest

from marketcast import pipeline, tables
from marketcast.config import load_config
from marketcast.runs import new_run_id
from marketcast.synthetic import generate_invoices

REPO = Path(__file__).resolve().parents[1]
SPARK_HOME = Path(pyspark.__file__).parent
CLUSTER_CONF = REPO / "tests" / "data" / "cluster.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=5) as answer:
        return json.load(answer)


def wait_for(condition, what: str, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def start(args: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [str(SPARK_HOME / "bin" / "spark-class"), *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def packaged():
    subprocess.run(["make", "package"], cwd=REPO, check=True, capture_output=True, timeout=900)


@pytest.fixture(scope="module")
def cluster(packaged, tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1"}
    port, ui = free_port(), free_port()
    processes = []
    try:
        processes.append(
            start(
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--webui-port",
                    str(ui),
                ],
                root / "master.log",
                env,
            )
        )
        wait_for(lambda: status(ui)["status"] == "ALIVE", "the master")
        worker_uis = []
        for number in (1, 2):
            worker_ui = free_port()
            worker_uis.append(worker_ui)
            processes.append(
                start(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        "1",
                        "--memory",
                        "2g",
                        "--webui-port",
                        str(worker_ui),
                        "--work-dir",
                        str(root / f"worker{number}"),
                        f"spark://127.0.0.1:{port}",
                    ],
                    root / f"worker{number}.log",
                    env,
                )
            )
        wait_for(lambda: status(ui)["aliveworkers"] == 2, "two workers")
        yield {"url": f"spark://127.0.0.1:{port}", "ui": ui, "worker_uis": worker_uis}
    finally:
        for process in reversed(processes):
            stop(process)


def rows(spark, lake: Path, name: str) -> list[tuple]:
    frame = tables.read(spark, str(lake), name).drop("run_id", "created_at")
    return sorted(tuple(row) for row in frame.collect())


def test_pipeline_on_a_standalone_cluster_matches_a_local_run(spark, cluster, tmp_path):
    invoices = tmp_path / "invoices"
    generate_invoices(invoices, days=90, seed=11)
    events = tmp_path / "events"
    events.mkdir()
    cluster_lake = tmp_path / "cluster-lake"
    result = subprocess.run(
        [
            str(REPO / "spark-submit.sh"),
            "--master",
            cluster["url"],
            "--conf-file",
            str(CLUSTER_CONF),
            "--conf",
            "spark.eventLog.enabled=true",
            "--conf",
            f"spark.eventLog.dir=file:{events}",
            "--conf",
            "spark.eventLog.compress=false",
            "pipeline",
            "--input",
            str(invoices),
            "--lake",
            str(cluster_lake),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # The master ran the application; each worker hosted an executor that ran tasks.
    master = status(cluster["ui"])
    assert [app["name"] for app in master["completedapps"]] == ["marketcast"]
    app_id = master["completedapps"][0]["id"]
    hosted = []
    for worker_ui in cluster["worker_uis"]:
        worker = status(worker_ui)
        hosted.append(
            {
                e["id"]
                for e in worker["finishedexecutors"] + worker["executors"]
                if e["appid"] == app_id
            }
        )
    assert all(hosted), hosted
    tasks_by_executor: dict[str, int] = {}
    logged = [path for path in events.rglob("events_*") if path.is_file()]
    assert logged, sorted(events.rglob("*"))
    for line in (text for path in logged for text in path.read_text().splitlines()):
        if not line.strip():
            continue
        event = json.loads(line)
        if event["Event"] == "SparkListenerTaskEnd":
            executor = event["Task Info"]["Executor ID"]
            tasks_by_executor[executor] = tasks_by_executor.get(executor, 0) + 1
    worker_executors = [str(next(iter(ids))) for ids in hosted]
    assert all(tasks_by_executor.get(executor, 0) > 0 for executor in worker_executors), (
        tasks_by_executor
    )

    local_lake = tmp_path / "local-lake"
    context = pipeline.RunContext(
        spark=spark, config=load_config(CLUSTER_CONF), lake=str(local_lake), run_id=new_run_id()
    )
    pipeline.run_pipeline(context, input_path=str(invoices))

    for name in (tables.SILVER_DAILY_REVENUE, tables.GOLD_FORECAST_STATUS, tables.GOLD_FORECASTS):
        on_cluster, on_local = rows(spark, cluster_lake, name), rows(spark, local_lake, name)
        assert len(on_cluster) == len(on_local) > 0, name
        for left, right in zip(on_cluster, on_local, strict=True):
            for a, b in zip(left, right, strict=True):
                if isinstance(a, float) and isinstance(b, float):
                    assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6), (name, left, right)
                else:
                    assert a == b, (name, left, right)
