# Two commands do all set-up on a machine with only Python 3.11+ and make:
#   make run    the whole portal on embedded defaults, with demo data
#   make test   the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=
TYPED   = portal incidents runbooks health bench conftest.py manage.py

.PHONY: run test install lint bench bench-api clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -q -c requirements.lock -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py runportal

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then mypy with the Django and DRF plugins (configuration in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(TYPED)

# Every benchmark, one table (short sizes; BENCH_FULL=1 for the full ones).
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

bench-api: $(STAMP)
	$(BIN)/python bench/api.py

clean:
	rm -rf var .pytest_cache
