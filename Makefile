# Two entry points, each self-contained on a fresh machine with Python >= 3.10 and pip:
#   make demo   - the main job on an embedded default (no camera, no calibration)
#   make test   - the whole test suite (this is what .ci/run calls)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: venv demo test

# Creates the virtual environment and installs the project; the log is shown only on failure.
venv:
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "installing cpr-coach into $(VENV) (log: $(VENV)/install.log)"
	@( $(PIP) install -q --upgrade pip && $(PIP) install -q -e '.[test]' ) > $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log; exit 1; }

demo: venv
	$(BIN)/cpr-coach demo

test: venv
	$(BIN)/cpr-coach models fetch
	$(BIN)/python -m pytest
