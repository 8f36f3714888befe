# The two commands of the README: `make run` sets everything up and serves the demo map;
# `make test` does the same set-up and runs the tests. Both can be run again at any time.
SHELL := /bin/bash
.DEFAULT_GOAL := run
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: basemap-tools nginx-package qgis-package run test setup js-packages os-packages browser-package db demo stop-db lint clean help

help:
	@echo "make run      set up (OS packages, .venv, local PostGIS, migrations, the demo unless GIS_APP_DEMO says no) and serve on http://$(HOST):$(PORT)/"
	@echo "make test     the same set-up, then a fresh test database and pytest"
	@echo "make stop-db  stop the project-local PostgreSQL cluster"
	@echo "make clean    stop the cluster and delete .venv and var/"

# gunicorn cuts request lines at 4094 bytes and allows at most 8190 (or 0: no limit of its own);
# a CQL2 filter of features.cql.MAX_CHARS characters, percent-encoded, is longer, so gunicorn's
# limit is off and the app's guard answers 414 past web.guard.MAX_URL_BYTES (docs/security.md).
GUNICORN_ARGS ?= --limit-request-line 0

run: setup demo
	$(BIN)/gis-app layers check   # every layer file's utility must be a row: a bad one stops the start
	@echo "Serving the map on http://$(HOST):$(PORT)/  (Ctrl-C stops; 'make stop-db' stops the database)"
	@echo "Demo login, local use only: dispatcher-gatchina / demo-2026 (every demo account: README)"
	$(BIN)/gunicorn $(GUNICORN_ARGS) --bind $(HOST):$(PORT) --workers $(WORKERS) --threads 4 --access-logfile - wsgi:app

test: setup demo browser-package qgis-package nginx-package basemap-tools
	$(BIN)/pytest $(PYTEST_ARGS)

setup: os-packages $(STAMP) js-packages db

# Browser libraries the map serves itself (Leaflet.VectorGrid), from npm into static/node_modules/
# (gitignored), at the versions of static/package-lock.json. Node and npm from Debian where missing.
JS_STAMP := static/node_modules/.package-lock.json
js-packages: $(JS_STAMP)
$(JS_STAMP): static/package.json static/package-lock.json
	@command -v npm >/dev/null || { echo "Installing OS packages: nodejs npm"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; }
	npm ci --prefix static --no-audit --no-fund --ignore-scripts --legacy-peer-deps
	touch $(JS_STAMP)

# OS packages, from the distribution, only where missing: PostgreSQL with PostGIS 3 (unless
# DATABASE_URL names a database elsewhere) and Python's venv.
os-packages:
	@need=""; \
	command -v $(PYTHON) >/dev/null || need="$$need python3"; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || need="$$need python3-venv python3-pip"; \
	if [ -z "$$DATABASE_URL" ]; then \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql postgresql-contrib"; \
	  ls /usr/lib/postgresql/*/lib/postgis-3.so >/dev/null 2>&1 || need="$$need postgresql-postgis"; \
	fi; \
	if [ -n "$$need" ]; then \
	  echo "Installing OS packages:$$need"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need; \
	fi

# The browser the map tests drive (Debian's chromium, run by Playwright; no browser download).
browser-package:
	@command -v chromium >/dev/null || { echo "Installing OS package: chromium"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; }

# nginx (Debian's), the tile cache in front of the app: tests/test_nginx_cache.py runs
# deploy/nginx-gis-app.conf with it.
nginx-package:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { echo "Installing OS package: nginx-light"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light; }

# tilemaker and osmium-tool (Debian's): make the offline base map from an OSM extract
# (docs/basemap.md); the tests build a tiny one from their own extract.
basemap-tools:
	@command -v tilemaker >/dev/null && command -v osmium >/dev/null || { echo "Installing OS packages: tilemaker osmium-tool"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tilemaker osmium-tool; }

# QGIS (Debian's, with its OGC API - Features provider), the planners' desktop GIS: the tests
# load every collection through it, with the system Python that PyQGIS belongs to.
qgis-package:
	@/usr/bin/python3 -c 'import qgis.core' 2>/dev/null || { echo "Installing OS packages: python3-qgis qgis-providers"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-qgis qgis-providers; }

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# The project-local cluster (skipped when DATABASE_URL is set), then the migrations.
db: $(STAMP)
	$(BIN)/gis-app localdb start
	$(BIN)/gis-app db upgrade

demo: db
	$(BIN)/gis-app demo load --auto

stop-db:
	@if [ -x $(BIN)/gis-app ]; then $(BIN)/gis-app localdb stop; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean: stop-db
	rm -rf $(VENV) var build *.egg-info static/node_modules
