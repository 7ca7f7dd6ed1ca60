# The door to common tasks. `make run` and `make test` are the two set-up commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAKE ?= lake
SHARED_DATA := ../shared/data/aavail/cs-production
# Input of `make run`: data/aavail/ when present, else the shared AAVAIL data beside the
# project, else a small synthetic AAVAIL-shaped dataset written to data/aavail/.
INPUT ?= $(firstword $(wildcard data/aavail) $(wildcard $(SHARED_DATA)) data/aavail)

.PHONY: install run test lint format package clean browser jars

install: $(VENV)/.installed

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	@if [ ! -e "$(INPUT)" ]; then \
		$(BIN)/python -m marketcast.synthetic --out "$(INPUT)"; \
	fi
	./spark-submit.sh pipeline --input "$(INPUT)" --lake "$(LAKE)"

test: install lint browser jars
	$(BIN)/pytest

# The Delta Lake jars, fetched into Spark's Ivy cache by one Spark start before the tests, some
# of which start several Spark processes at once: on an empty cache they race on its files.
jars: install
	$(BIN)/python -m marketcast.session

# The report test opens the HTML report in headless Chromium, Debian's package. Installed when
# missing and the machine allows it (root with apt-get); elsewhere that one test is skipped.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium for the report test"; \
			apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium missing and not root: the report's browser test will be skipped"; \
		fi; \
	fi

lint: install
	$(BIN)/ruff check lib jobs tests bench setup.py
	$(BIN)/ruff format --check lib jobs tests bench setup.py

format: install
	$(BIN)/ruff check --fix lib jobs tests bench setup.py
	$(BIN)/ruff format lib jobs tests bench setup.py

package: install
	./tools/package.sh

clean:
	rm -rf $(VENV) build dist lib/*.egg-info .pytest_cache .ruff_cache
