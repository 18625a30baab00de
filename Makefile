# Two entry points, each self-contained on a fresh machine with Python >= 3.10 and pip:
#   make demo   - the main job on an embedded default (no camera, no calibration)
#   make test   - the whole test suite (this is what .ci/run calls)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo test

venv:
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'

demo: venv
	$(BIN)/cpr-coach demo

test: venv
	$(BIN)/cpr-coach models fetch
	$(BIN)/python -m pytest
