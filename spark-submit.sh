#!/usr/bin/env bash
# Launch a marketcast job through spark-submit.
#
#   ./spark-submit.sh [--master URL] [--deploy-mode client|cluster] [--conf-file FILE]
#                     [--conf key=value ...] [--dry-run] JOB [job options]
#
# JOB is one of: pipeline, ingest, aggregate, forecast, predict, evaluate. Without --master the job runs
# on local[*]. The Delta Lake jar comes from Maven Central through --packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${MARKETCAST_PYTHON:-$here/.venv/bin/python}
if [ ! -x "$python" ]; then
  echo "spark-submit.sh: no Python at $python; run 'make install' first" >&2
  exit 2
fi

master="local[*]"
deploy_mode=""
conf_file=""
dry_run=0
spark_conf=()
while [ $# -gt 0 ]; do
  case "$1" in
    --master) master=$2; shift 2 ;;
    --deploy-mode) deploy_mode=$2; shift 2 ;;
    --conf-file) conf_file=$2; shift 2 ;;
    --conf) spark_conf+=(--conf "$2"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "spark-submit.sh: unknown option $1 (launcher options come before JOB)" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "spark-submit.sh: no JOB given; jobs: pipeline ingest aggregate forecast predict evaluate" >&2
  exit 2
fi
job=$1; shift
script="$here/jobs/$job.py"
if [ ! -f "$script" ]; then
  echo "spark-submit.sh: unknown job '$job'; jobs: pipeline ingest aggregate forecast predict evaluate" >&2
  exit 2
fi

# Answer argument, configuration and path errors at once, without starting Spark.
"$python" -m marketcast.entry check "$job" "$@" || exit $?
for arg in "$@"; do
  case "$arg" in -h|--help) exit 0 ;; esac
done

package=$("$python" -c 'from marketcast.session import delta_package; print(delta_package())')
cmd=("$(dirname "$python")/spark-submit" --master "$master")
[ -n "$deploy_mode" ] && cmd+=(--deploy-mode "$deploy_mode")
cmd+=(--packages "$package")
cmd+=(--driver-java-options "-Dlog4j2.configurationFile=file:$here/conf/log4j2.properties")
case "$master" in
  local*) cmd+=(--driver-memory "${MARKETCAST_DRIVER_MEMORY:-4g}") ;;
esac
cmd+=(--conf "spark.pyspark.python=$python" --conf "spark.pyspark.driver.python=$python")
cmd+=("${spark_conf[@]+"${spark_conf[@]}"}")
cmd+=("$script")
[ -n "$conf_file" ] && cmd+=(--conf "$conf_file")
cmd+=("$@")

if [ "$dry_run" = 1 ]; then
  printf '%s\n' "${cmd[@]}"
  exit 0
fi
export PYSPARK_PYTHON=$python PYSPARK_DRIVER_PYTHON=$python
exec "${cmd[@]}"
