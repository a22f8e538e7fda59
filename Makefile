# The two commands a fresh machine needs: `make demo` and `make test`.
# Each creates the virtualenv and installs the pinned packages on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test chat lint clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## Seed the demo CRM in ./kpibot.db (SQLite) and open the local chat.
demo: $(STAMP)
	$(BIN)/kpibot demo

INTERACTIONS := $(VENV)/.interactions

# The optional crossed lead model (KPIBOT_LEAD_MODEL=interactions): the tests cover it.
$(INTERACTIONS): $(STAMP) requirements-interactions.txt
	$(BIN)/pip install --quiet -r requirements-interactions.txt
	touch $(INTERACTIONS)

## The whole test suite, on SQLite and on the PostgreSQL server at 127.0.0.1:5432.
test: $(STAMP) $(INTERACTIONS)
	.ci/ensure-postgres
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

## Lint the whole tree (ruff; a dev-only tool pinned in requirements-dev.txt).
lint: $(STAMP)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) kpibot.db kpibot_models .pytest_cache
