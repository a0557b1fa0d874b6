# The two commands: `make run` (the demo site + qcluster + simulator) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test install lint format migrations-check clean

# exec: the launcher is make's own child, whatever shell make uses (it watches make; see
# project/devserver.py for why SIGINT to make alone would otherwise not stop it).
run: $(INSTALLED)
	exec $(PY) -m project.devserver

test: $(INSTALLED)
	$(PY) -m pytest $(PYTEST_ARGS)

install: $(INSTALLED)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
