# segmint: `make demo` runs the example project, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-all install bench clean

$(BIN)/segmint: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(BIN)/segmint

install: $(BIN)/segmint

# Two runs of the example project (as if a campaign went out on 1998-03-31), then the report
# of the latest against the one before, conversions counted in the 90 days after it.
demo: install
	$(BIN)/segmint run -p segmint.toml --as-of 1997-12-31
	$(BIN)/segmint run -p segmint.toml --as-of 1998-03-31
	$(BIN)/segmint explain -p segmint.toml --segment win_back --id 1
	$(BIN)/segmint report -p segmint.toml --compare previous --outcomes orders --window 90d \
		--out out/report.html

# `make test` runs a sample of the Spark conformance tests (Spark is slow to start and to
# run small queries); `make test-all` runs every test, Spark's whole share included.
test: install
	SEGMINT_PLUGINS=segmint $(BIN)/python -m pytest -q -p no:cacheprovider -m "not full"

test-all: install
	SEGMINT_PLUGINS=segmint $(BIN)/python -m pytest -q -p no:cacheprovider

bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/rules.py
	$(BIN)/python benchmarks/metrics.py
	$(BIN)/python benchmarks/events.py
	$(BIN)/python benchmarks/serve.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
