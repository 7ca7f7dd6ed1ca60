#!/usr/bin/env bash
# Build the artifacts a cluster needs into dist/:
#   dist/marketcast-VERSION-py3-none-any.whl  the project's own code as a wheel (pip, Databricks)
#   dist/marketcast-VERSION.zip               the same files as a zip, shipped with --py-files
#                                              (Spark puts .zip files on the path, not .whl)
#   dist/marketcast-env.tar.gz                 the third-party Python packages, a packed venv
#                                              shipped with --archives (compiled parts included)
# The packed environment leaves out pyspark and py4j: executors use their cluster's Spark.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
python=${PYTHON:-python3}
stamp=dist/.packed-from
if [ -f "$stamp" ] && [ -f dist/marketcast-env.tar.gz ] && [ -z "$(find setup.py lib -newer "$stamp" -name '*.py' | head -1)" ]; then
  echo "package: dist/ is up to date"
  exit 0
fi
rm -rf dist build/pack-venv
mkdir -p dist build
.venv/bin/python -m build --wheel --outdir dist . > build/wheel.log 2>&1 || { cat build/wheel.log; exit 1; }
wheel=$(ls dist/marketcast-*.whl)
cp "$wheel" "${wheel%-py3-none-any.whl}.zip"
"$python" -m venv build/pack-venv
build/pack-venv/bin/pip install --quiet --upgrade pip
build/pack-venv/bin/pip install --quiet dist/marketcast-*.whl
# Third-party packages only: the project's code travels as the wheel, Spark brings pyspark.
build/pack-venv/bin/pip uninstall --quiet --yes marketcast pyspark py4j
.venv/bin/venv-pack --prefix build/pack-venv --output dist/marketcast-env.tar.gz --force --quiet
touch "$stamp"
ls -l dist
