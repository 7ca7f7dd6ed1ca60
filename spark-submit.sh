#!/usr/bin/env bash
# Launch a marketcast job through spark-submit.
#
#   ./spark-submit.sh [--master URL] [--deploy-mode client|cluster] [--conf-file FILE]
#                     [--conf key=value ...] [--dry-run] JOB [job options]
#
# JOB is one of: pipeline, ingest, aggregate, forecast, predict, evaluate, monitor, report, sql.
# Without --master the job runs on local[*] with conf/local.yaml; on any other master it ships
# dist/ (`make package`) and reads conf/cluster.yaml unless --conf-file names another file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${MARKETCAST_PYTHON:-$here/.venv/bin/python}
jobs="pipeline ingest aggregate forecast predict evaluate monitor report sql"
if [ ! -x "$python" ]; then
  echo "spark-submit.sh: no Python at $python; run 'make install' first" >&2
  exit 2
fi

master="local[*]"
deploy_mode=client
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
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "spark-submit.sh: unknown option $1 (launcher options come before JOB)" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ] || [ ! -f "$here/jobs/${1:-none}.py" ]; then
  echo "spark-submit.sh: unknown job '${1:-}'; jobs: $jobs" >&2
  exit 2
fi
case "$deploy_mode" in
  client|cluster) ;;
  *) echo "spark-submit.sh: --deploy-mode is client or cluster, not '$deploy_mode'" >&2; exit 2 ;;
esac
job=$1; shift
case "$master" in local*) local=1 ;; *) local=0 ;; esac
if [ "$local" = 0 ] && [ -z "$conf_file" ]; then
  conf_file="$here/conf/cluster.yaml"
fi

job_args=("$@")
[ -n "$conf_file" ] && job_args=(--conf "$conf_file" "${job_args[@]+"${job_args[@]}"}")

# Answer argument, configuration and path errors at once, without starting Spark. In cluster
# deploy mode the paths belong to the cluster, so only the arguments and configuration count.
# A dry run checks only the arguments and the configuration: its paths may be the cluster's.
check_paths=()
if [ "$deploy_mode" = cluster ] || [ "$dry_run" = 1 ]; then
  check_paths=(--no-paths)
fi
"$python" -m marketcast.entry check "$job" "${job_args[@]+"${job_args[@]}"}" \
  "${check_paths[@]+"${check_paths[@]}"}" || exit $?
for arg in "$@"; do
  case "$arg" in -h|--help) exit 0 ;; esac
done

package=$("$python" -c 'from marketcast.session import delta_package; print(delta_package())')
cmd=("$(dirname "$python")/spark-submit" --master "$master" --deploy-mode "$deploy_mode")
cmd+=(--packages "$package")
if [ "$local" = 1 ]; then
  cmd+=(--driver-memory "${MARKETCAST_DRIVER_MEMORY:-4g}")
  cmd+=(--driver-java-options "-Dlog4j2.configurationFile=file:$here/conf/log4j2.properties")
  cmd+=(--conf "spark.pyspark.python=$python" --conf "spark.pyspark.driver.python=$python")
else
  env_archive="$here/dist/marketcast-env.tar.gz"
  code_zip=$(ls "$here"/dist/marketcast-*.zip 2>/dev/null | head -1 || true)
  if [ "$dry_run" = 0 ] && { [ ! -f "$env_archive" ] || [ -z "$code_zip" ]; }; then
    echo "spark-submit.sh: dist/ holds no packed environment or code zip; run 'make package'" >&2
    exit 2
  fi
  code_zip=${code_zip:-$here/dist/marketcast-VERSION.zip}
  # Third-party packages as a packed venv unpacked next to each executor; the project's own
  # code as a zip on the Python path.
  cmd+=(--archives "$env_archive#environment" --py-files "$code_zip")
  cmd+=(--conf "spark.pyspark.python=./environment/bin/python")
  if [ "$deploy_mode" = cluster ]; then
    cmd+=(--conf "spark.pyspark.driver.python=./environment/bin/python")
    cmd+=(--conf "spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python")
    cmd+=(--conf "spark.kubernetes.driverEnv.PYSPARK_PYTHON=./environment/bin/python")
    cmd+=(--files "$conf_file")
    job_args[1]=$(basename "$conf_file")
  else
    cmd+=(--conf "spark.pyspark.driver.python=$python")
  fi
  while IFS= read -r setting; do
    [ -n "$setting" ] && cmd+=(--conf "$setting")
  done < <("$python" -m marketcast.entry spark-conf "$conf_file")
fi
cmd+=("${spark_conf[@]+"${spark_conf[@]}"}")
cmd+=("$here/jobs/$job.py" "${job_args[@]+"${job_args[@]}"}")

if [ "$dry_run" = 1 ]; then
  printf '%s\n' "${cmd[@]}"
  exit 0
fi
if [ "$local" = 1 ]; then
  export PYSPARK_PYTHON=$python PYSPARK_DRIVER_PYTHON=$python
fi
exec "${cmd[@]}"
