"""Real filmed CPR (../shared/data/cpr-traces): counts, rates and ventilation pauses against the labels.

Each CSV row is one 30 fps frame: ``x_px, y_px, unused, label`` (label None |
Compression at the bottom of each compression | Breathing), ``-`` = marker lost.
Image y grows downward, so height = -y; the pixel scale differs per session, so
each session is scaled to make its median labelled compression ~52 mm.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from coach.core import StreamingAnalyzer, analyze

SESSIONS = ("L1", "S1", "SC1")
FPS = 30.0
MEDIAN_DEPTH_MM = 52.0


def load_session(path: Path):
    """(t_s, height_mm, label times of compressions) for one labelled trace."""
    ys, labels = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        ys.append(math.nan if cells[1] == "-" else float(cells[1]))
        labels.append(cells[3])
    y = np.array(ys)
    lab = np.array(labels)
    t = np.arange(y.size) / FPS
    comp = np.flatnonzero(lab == "Compression")
    # a labelled compression's size in px: the highest point in the 0.4 s before it, down to it
    amp = np.array([np.nanmax(-y[max(0, i - 12) : i + 1]) - (-y[i]) for i in comp])
    scale = MEDIAN_DEPTH_MM / np.median(amp)
    return t, -y * scale, t[comp]


@pytest.fixture(scope="module", params=SESSIONS)
def session(request, traces_dir):
    path = traces_dir / f"{request.param}.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    t, h, label_t = load_session(path)
    return request.param, t, h, label_t, analyze(t, h)


def test_labelled_sessions_have_three_sets_of_thirty(session):
    name, t, h, label_t, _ = session
    assert label_t.size == 90
    gaps = np.flatnonzero(np.diff(label_t) > 3.0)
    assert gaps.size == 2


def test_count_within_one_of_the_labels(session):
    name, t, h, label_t, res = session
    assert abs(res.summary.compressions - label_t.size) <= 1, name
    # and they are the labelled ones: each label has a measured bottom within 0.25 s
    tb = np.array([c.t_bottom_s for c in res.compressions])
    near = np.array([np.abs(tb - x).min() for x in label_t])
    assert (near < 0.25).sum() >= label_t.size - 1


def test_mean_rate_within_two_cpm_of_the_labels(session):
    name, t, h, label_t, res = session
    iv = np.diff(label_t)
    label_rate = float(np.mean(60.0 / iv[iv < 2.0]))
    assert abs(res.summary.mean_rate_cpm - label_rate) <= 2.0, (name, res.summary.mean_rate_cpm, label_rate)


def test_both_ventilation_pauses_are_found(session):
    name, t, h, label_t, res = session
    gaps = np.flatnonzero(np.diff(label_t) > 3.0)
    vent = [p for p in res.pauses if p.kind == "ventilation"]
    assert len(vent) == 2, name
    for g, p in zip(gaps, vent):
        last_before, first_after = label_t[g], label_t[g + 1]
        assert abs(p.start_s - last_before) < 0.6  # released just after the last labelled bottom
        assert abs(p.end_s - first_after) < 0.6  # the next set starts just before its first bottom
    assert res.summary.sets == 3
    assert [s.count for s in res.sets] == [30, 30, 30] or abs(sum(s.count for s in res.sets) - 90) <= 1


def test_depths_are_plausible_after_scaling(session):
    name, t, h, label_t, res = session
    d = np.array([c.depth_mm for c in res.compressions])
    assert 45.0 < np.median(d) < 60.0
    assert 0.4 < res.summary.ccf < 0.9


def test_streaming_equals_batch_on_real_traces(session):
    name, t, h, label_t, res = session
    an = StreamingAnalyzer()
    for a, b in zip(t.tolist(), h.tolist()):
        an.push(a, b)
    s = an.result()
    assert len(s.compressions) == len(res.compressions)
    for x, y in zip(s.compressions, res.compressions):
        assert abs(x.depth_mm - y.depth_mm) < 1e-9 and abs(x.t_bottom_s - y.t_bottom_s) < 1e-12
    assert s.pauses == res.pauses
