# Tocsin: `make run` to try it, `make test` to check it. See README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-here install lint format migrate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Local run: SQLite and the embedded filesystem broker unless .env or the environment say otherwise.
# The web app listens on TOCSIN_PORT (honcho hands it to the web process as PORT); the settings
# default TOCSIN_BASE_URL to that port unless it is given.
TOCSIN_PORT ?= 8000
run: export DEBUG ?= True
run: export TOCSIN_PORT := $(TOCSIN_PORT)
run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py ensure_admin
	@echo "Tocsin: http://127.0.0.1:$(TOCSIN_PORT)/admin/  (Ctrl-C stops the web app, the worker and beat)"
	PYTHONUNBUFFERED=1 $(BIN)/honcho --procfile Procfile start --port $(TOCSIN_PORT)

# PostgreSQL and Redis when they answer at 127.0.0.1:5432 / :6379 (and DATABASE_URL / REDIS_URL
# are not set), else SQLite and the filesystem broker; TOCSIN_TEST_SQLITE=1 forces SQLite. The
# first line says which (docs/testing.md).
test:
	@$(PYTHON) .ci/services.py -- $(MAKE) --no-print-directory test-here

# Two pytest processes (this machine has two cores), each with its own database and broker.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
test-here: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist load $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var db.sqlite3 db.sqlite3-* staticfiles .pytest_cache .ruff_cache
