# Two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt services chromium janus gstreamer internet-tools screenshots bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: set up, migrate, create the admin and demo catalogue on first run, serve on 127.0.0.1:8000
run: $(STAMP)
	$(BIN)/liveshop serve --demo

## lint: ruff (lint + format check), mypy --strict on src/, the import contracts (pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

## services: make sure the local PostgreSQL and Redis the tests use are up (start them when installed but stopped)
services:
	@sh scripts/services.sh

## chromium: Debian's chromium for the browser tests (installed with apt when missing)
chromium:
	@sh scripts/ensure-apt.sh /usr/bin/chromium chromium

## janus: Debian's janus + janus-tools for the janus media mode tests
janus:
	@sh scripts/ensure-apt.sh /usr/bin/janus janus janus-tools

## test: lint, then the whole suite on SQLite, PostgreSQL, the in-process broker and Redis, with real Chromium,
## on two workers: the CPU-heavy media and browser tests one at a time on one, the rest on the other
## (tests/conftest.py HEAVY)
test: lint services chromium janus gstreamer internet-tools
	$(BIN)/python -m pytest -q -rfER -n 2 --dist loadgroup --durations=25

## internet-tools: Debian's caddy, coturn, prometheus (promtool), nftables and libnss3-tools (certutil) for tests/internet
internet-tools:
	@sh scripts/ensure-apt.sh /usr/bin/caddy caddy
	@sh scripts/ensure-apt.sh /usr/bin/turnserver coturn
	@sh scripts/ensure-apt.sh /usr/bin/promtool prometheus
	@sh scripts/ensure-apt.sh /usr/sbin/nft nftables
	@sh scripts/ensure-apt.sh /usr/bin/certutil libnss3-tools

## gstreamer: GStreamer's webrtcbin + PyGObject (Debian) for the WHIP interop test
gstreamer:
	@sh scripts/ensure-gstreamer.sh

## screenshots: refresh docs/screenshots/ from the browser tests
screenshots: $(STAMP) chromium
	LIVESHOP_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/browser/test_pages.py tests/browser/test_phone.py tests/browser/test_janus_client.py tests/browser/test_catalogue.py

bench: $(STAMP)
	$(BIN)/python -m bench.api

clean:
	rm -rf $(VENV) build *.egg-info
