# Two commands matter: `make run` (the app, on the built-in voice) and `make test`.
.PHONY: run test setup lint bench screenshot clean

VENV := .venv
PY := $(VENV)/bin/python

setup:
	@scripts/setup.sh

run: setup
	@$(PY) -m app

test: setup
	@scripts/test.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) bench/hostjitter.py
	$(PY) bench/engine.py
	$(PY) bench/llvc.py
	$(PY) bench/rvc.py
	$(PY) bench/train.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
