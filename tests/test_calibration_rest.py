"""The resting-hand baseline detector (streaming, shared by analyze and the live app)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.rest import RestDetector, RestOptions


def _feed(det: RestDetector, t, h):
    out = None
    for ti, hi in zip(t, h):
        r = det.push(float(ti), float(hi))
        if r is not None:
            out = r
    return out


def test_rest_then_compressions():
    fps = 30.0
    t = np.arange(0, 6, 1 / fps)
    rng = np.random.default_rng(0)
    h = 31.0 + rng.normal(0, 0.6, t.size)  # hands resting 31 mm above the chest surface
    comp = t >= 2.4
    h[comp] = 31.0 - 25.0 * (1 - np.cos(2 * math.pi * 1.8 * (t[comp] - 2.4)))
    r = _feed(RestDetector(), t, h)
    assert r is not None
    assert r.value == pytest.approx(31.0, abs=0.4)
    assert r.t_start_s == pytest.approx(0.0, abs=0.05)
    assert 2.3 <= r.t_end_s <= 2.5  # ends where the first compression leaves the tolerance
    assert r.spread <= 4.0


def test_approach_then_rest():
    """Hands coming down onto the chest: the hold starts when they stop."""
    t = np.arange(0, 5, 1 / 30)
    h = np.where(t < 1.0, 120.0 - 90.0 * t, 30.0)
    h = np.where(t > 3.5, 30.0 - 40.0 * (t - 3.5), h)
    r = _feed(RestDetector(), t, h)
    assert r.value == pytest.approx(30.0, abs=0.01)
    assert r.t_start_s == pytest.approx(1.0, abs=0.1)


def test_too_short_rest_gives_nothing_and_finish_is_none():
    t = np.arange(0, 3, 1 / 30)
    h = 30.0 + 20.0 * np.sin(2 * math.pi * 1.5 * t)  # compressing right away
    det = RestDetector()
    assert _feed(det, t, h) is None
    assert det.finish() is None


def test_gap_restarts_and_max_length_ends():
    t = np.arange(0, 10, 1 / 30)
    h = np.full(t.size, 25.0)
    h[(t > 1.0) & (t < 1.5)] = np.nan  # tracking lost for 0.5 s: the hold restarts after it
    det = RestDetector(RestOptions(max_s=3.0))
    r = _feed(det, t, h)
    assert r.t_start_s == pytest.approx(1.5, abs=0.05)
    assert r.duration_s == pytest.approx(3.0, abs=0.05)  # final once max_s is reached
    assert det.push(11.0, 99.0) is None  # no change after it is final


def test_valid_range_rejects_hovering_hands():
    t = np.arange(0, 6, 1 / 30)
    h = np.where(t < 3.0, 300.0, 28.0)  # hovering far above the chest, then resting
    r = _feed(RestDetector(RestOptions(valid_range=(-20.0, 120.0))), t, h)
    assert r is None or r.value == pytest.approx(28.0)
    det = RestDetector(RestOptions(valid_range=(-20.0, 120.0)))
    _feed(det, t, h)
    assert det.finish().value == pytest.approx(28.0)


def test_rest_baseline_measures_a_trainee_who_leans_on_every_compression():
    """The issue's promise: the recorded rest is the depth reference even when no compression
    ever releases fully (the core must keep those leaning tops out of its baseline)."""
    from coach.core import CoreOptions, analyze

    fps = 30.0
    t = np.arange(0, 14, 1 / fps)
    rest_mm, depth, lean = 31.0, 52.0, 7.0
    h = np.full(t.size, rest_mm)
    on = t >= 2.5
    ph = 2 * math.pi * 1.8 * (t[on] - 2.5)
    # after the first stroke the top stays 7 mm below the rest: leaning on every compression
    top = np.where(t[on] - 2.5 < 1 / 1.8, rest_mm, rest_mm - lean)
    h[on] = top - (depth - (rest_mm - top)) * (1 - np.cos(ph)) / 2
    h += np.random.default_rng(1).normal(0, 0.3, t.size)
    r = _feed(RestDetector(), t, h)
    assert r.value == pytest.approx(rest_mm, abs=0.3)
    res = analyze(t, h, CoreOptions(rest_height_mm=r.value))
    assert len(res.compressions) >= 20
    later = res.compressions[3:]
    assert np.mean([c.depth_mm for c in later]) == pytest.approx(depth, abs=1.5)
    assert np.mean([c.recoil_residual_mm for c in later]) == pytest.approx(lean, abs=1.5)
