# q2c: one command for the embedded stack (`make run`), one for the checks (`make test`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
Q2C_HOME ?= .q2c

.DEFAULT_GOAL := help
.PHONY: help venv run test lint fmt clean browser syslibs samples bench chaos

help:
	@echo "make run    PostgreSQL + Temporal dev server + SMTP sink + worker + API on this machine"
	@echo "make test   ruff, ruff format --check, mypy, pytest (browser tests in headless Chromium)"
	@echo "make browser  install Debian's chromium for the browser tests when it is missing"
	@echo "make syslibs  install the system libraries WeasyPrint needs (Pango, HarfBuzz subset) when missing"
	@echo "make samples  a sample invoice and proposal per locale (ro, ru, en) into samples/ as PDF and PNG, and the ro invoice as e-Factura XML"
	@echo "make bench  measured speed and costs on its own temporary stack: render, pipeline, scale,"
	@echo "            batch probe, one invoice's life; budgets as ratios (~15 min; BENCH_ARGS='--proposals"
	@echo "            50 --scale 1000 --only render,pipeline' for a quick run; compare two results with"
	@echo "            python -m bench.compare A.json B.json)"
	@echo "make chaos  faults injected on its own temporary stack: proposals driven to paid while the"
	@echo "            worker, Temporal, PostgreSQL, the API and SMTP are killed (~10 min; fails on any"
	@echo "            loss or duplicate; CHAOS_ARGS='--proposals 10 --minutes 2' for a quick run)"
	@echo "make lint   the static checks only"
	@echo "make fmt    ruff format + ruff check --fix"
	@echo "make clean  delete the local state in $(Q2C_HOME)/ (database, Temporal history, mail)"

venv: $(VENV)/.installed

# Reinstall only when pyproject.toml changes; the stamp marks a finished install.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

run: venv syslibs
	$(BIN)/q2c dev

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint browser syslibs
	$(BIN)/pytest -q

# The browser tests drive Debian's Chromium through Playwright (`executable_path`); the
# browser builds Playwright would download are never used. Installed here when missing.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing Debian's chromium for the browser tests"; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

# WeasyPrint's system libraries: Pango lays out text, and HarfBuzz's subset library is its
# fast path for embedding fonts (without it WeasyPrint falls back to fontTools and a warm
# invoice renders about twice as slowly; tests/test_render_fast_path.py fails then).
# Installed here when missing, whatever else (Chromium) may have pulled them in.
SYSLIBS := libpango-1.0.so.0:libpango-1.0-0 libpangoft2-1.0.so.0:libpangoft2-1.0-0 \
	libharfbuzz-subset.so.0:libharfbuzz-subset0
syslibs:
	@missing=""; for pair in $(SYSLIBS); do \
		lib=$${pair%%:*}; pkg=$${pair##*:}; \
		ldconfig -p | grep -q "$$lib" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing Debian's$$missing for WeasyPrint"; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

# Sample documents from the real templates (no database); PNGs with Debian's pdftoppm
# (poppler-utils), installed here when missing.
samples: venv
	@if ! command -v pdftoppm >/dev/null; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing Debian's poppler-utils for pdftoppm"; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y poppler-utils; \
	fi
	$(BIN)/python -m starter.devstack.samples samples
	for pdf in samples/*.pdf; do pdftoppm -png -r 110 "$$pdf" "$${pdf%.pdf}"; done

# The figures of issues 6 and 16 with PASS/FAIL per budget (ratios measured in the same run);
# JSON into bench/results/<time>.json; `python -m bench.compare A.json B.json` compares two.
bench: venv syslibs
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Issue 16's faults injected: lost invoices, emails or payments counted twice, numbering
# gaps, each with PASS/FAIL (exit 1 on any); JSON into bench/results/chaos-<time>.json.
chaos: venv syslibs
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	@if [ -f $(Q2C_HOME)/pg/postmaster.pid ] && kill -0 "$$(head -n 1 $(Q2C_HOME)/pg/postmaster.pid)" 2>/dev/null; then \
		echo "PostgreSQL is still running on $(Q2C_HOME)/pg: stop \`make run\` (Ctrl-C) first"; exit 1; \
	fi
	rm -rf $(Q2C_HOME)
