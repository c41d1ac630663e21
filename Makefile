# Two commands (see README): `make run` sets up and starts Gesture-RNN; `make test` sets up
# and runs the tests. Each creates its own virtual environment on first use.
PYTHON ?= python3
RUN_VENV ?= .venv
TEST_VENV ?= .venv-test
ARGS ?= bridge

.PHONY: run test lint clean

$(RUN_VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Gesture-RNN needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RUN_VENV)/bin/python -m pip install --quiet -e ".[plot]"
	@touch $@

$(TEST_VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Gesture-RNN needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TEST_VENV)/bin/python -m pip install --quiet -e ".[train,plot,test,link]"
	@touch $@

run: $(RUN_VENV)/.installed
	$(RUN_VENV)/bin/gesture-rnn $(ARGS)

test: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/ruff check .
	$(TEST_VENV)/bin/ruff format --check .
	$(TEST_VENV)/bin/python -m pytest

clean:
	rm -rf $(RUN_VENV) $(TEST_VENV) *.egg-info .pytest_cache .ruff_cache
