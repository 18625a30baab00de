"""Shared test fixtures.

Real data (hand photos and clips, CPR traces) lives beside the repo in
``../shared/data`` or wherever ``CPR_TEST_DATA`` points. A user's fresh clone
has none, so tests that need it skip with a reason instead of failing.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config) -> None:
    """Let the CLI processes the tests start hear SIGINT, as a process started from a terminal does.

    Why: a runner started in the background by a shell without job control (``(make test &)``, some CI
    wrappers) hands every process SIGINT *ignored*, and an ignored signal stays ignored across exec, so
    ``cpr-coach simulate`` or ``hud`` stopped with SIGINT by a test would run on (they honour an inherited
    ignore, as a program started with ``nohup`` should). A handled signal is reset to the default at exec,
    so installing Python's own handler here gives every child the terminal's SIGINT."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def shared_data_dir() -> Path:
    """Where the shared test data is expected (it may be absent)."""
    env = os.environ.get("CPR_TEST_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _need(sub: str) -> Path:
    path = shared_data_dir() / sub
    if not path.exists():
        pytest.skip(f"test data {path} is absent (set CPR_TEST_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def hands_dir() -> Path:
    """``../shared/data/hands``: real hand photos and clips with reference landmarks."""
    return _need("hands")


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """``../shared/data/cpr-traces``: real filmed CPR sessions as marker traces."""
    return _need("cpr-traces")


@pytest.fixture(scope="session")
def hand_model_path() -> Path:
    """The verified, cached ``hand_landmarker.task`` (``make test`` fetches it first).

    Fetched here on first use when the cache is empty; skips with the fetch
    error when it cannot be had (offline, fresh clone).
    """
    from models import ModelError, ensure_model

    try:
        return ensure_model("hand_landmarker", progress=False)
    except ModelError as exc:
        pytest.skip(f"hand model unavailable: {exc}")


@pytest.fixture(autouse=True)
def _session_records_in_tmp(tmp_path_factory, monkeypatch):
    """Commands that record sessions by default (analyze, analyze-trace, run, demo) write into a temporary
    data folder, never the user's own (``CPR_COACH_DATA``; subprocesses inherit it)."""
    if not os.environ.get("CPR_COACH_DATA_KEEP"):
        monkeypatch.setenv("CPR_COACH_DATA", str(tmp_path_factory.mktemp("cpr-coach-data")))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A rendered hand-family file's folder for its clips (``test_analyze_families*``)."""
    return tmp_path_factory.mktemp("families")


@pytest.fixture(scope="module")
def run_case(work, hands_dir, hand_model_path):
    """``run_case(family, view, ...) -> (case, analysis, accuracy)``: rendered, calibrated and analyzed once per file
    (its tests share a clip where they ask for the same one)."""
    from family_checks import PER_SET, SIM_S
    from render.accuracy import VIEWS, run_family_case
    from render.families import FAMILIES, VARIANTS

    done: dict = {}

    def get(family: str, view: str, sim_s: float = SIM_S, per_set: int = PER_SET, shape: str = "cosine"):
        key = (family, view, sim_s, per_set, shape)
        if key not in done:
            fam = FAMILIES.get(family) or VARIANTS[family]
            sub = work / f"{sim_s:g}s{per_set}{shape}"  # (a clip of another length or waveform: its own files)
            sub.mkdir(exist_ok=True)
            done[key] = run_family_case(VIEWS[view], fam, sub, hands_dir, sim_s=sim_s, per_set=per_set, shape=shape)
            acc = done[key][2]
            print(f"\n{acc.name}: depth MAE {acc.depth_mae_mm:.2f} mm (bias {acc.depth_bias_mm:+.2f}), stated "
                  f"±{acc.depth_uncertainty_mm:.2f} mm, count {acc.count}/{acc.truth_count}, "
                  f"rate error {acc.mean_rate_err_cpm:+.2f} cpm, mode {acc.mode}")
        return done[key]

    return get
