# Two entry points, each self-contained on a fresh machine with Python >= 3.10 and pip:
#   make demo   - the main job on an embedded default (no camera, no calibration)
#   make test   - the whole test suite (this is what .ci/run calls)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: venv demo test browser

# Creates the virtual environment and installs the project; the log is shown only on failure.
venv:
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "installing cpr-coach into $(VENV) (log: $(VENV)/install.log)"
	@( $(PIP) install -q --upgrade pip && $(PIP) install -q -e '.[test]' ) > $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log; exit 1; }

demo: venv
	$(BIN)/cpr-coach demo

# The HUD tests drive headless Chromium. On CI (CI=true, root, Debian) it is installed here;
# elsewhere those tests skip with a reason when no chromium is on PATH.
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$CI" != "true" ] || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
		|| { echo "installing chromium for the HUD tests"; \
		     ( apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium ) > /tmp/cpr-coach-apt.log 2>&1 \
		     || { tail -20 /tmp/cpr-coach-apt.log; echo "chromium install failed: HUD browser tests will skip"; }; }

# The tests run on both cores (pytest-xdist, a test file per worker: a file's rendered clips are made once). The live
# tests that pace frames in real time mostly wait, so they overlap the rendering and inference of the others.
test: venv browser
	$(BIN)/cpr-coach models fetch
	$(BIN)/python -m pytest -n 2 --dist loadfile
