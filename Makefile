# Two entry points for a fresh machine with Python 3.11+:  make demo  and  make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
YY     := $(VENV)/bin/yunying
STAMP  := $(VENV)/.installed
DEMO   ?= demo-data
SCALE  ?= 0.1
PORT   ?= 8000

.PHONY: install system-deps demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Debian packages some tests and reports need (CJK fonts, LibreOffice + poppler for PDF/PNG, chromium for browser
## tests). Idempotent; skipped with a message when not root or apt is unavailable (those tests then skip).
system-deps:
	-sh scripts/setup-reports.sh
	-sh scripts/setup-browser.sh

## Generate a synthetic tertiary hospital, import it, run the pipeline, print a summary.
demo: $(STAMP) system-deps
	$(YY) demo run --out $(DEMO) --scale $(SCALE) --serve --port $(PORT)

## Install and run all tests.
test: $(STAMP) system-deps
	$(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
