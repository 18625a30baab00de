"""Sparse search for missing hands (vision.hand_search), with real MediaPipe inference on the shared clips."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from vision.sources import open_source
from vision.tracker import HandTracker, HandTrackerOptions


def _asl_frames(hands_dir, n: int):
    with open_source(hands_dir / "asl_hand.25fps.mp4") as src:
        return [f for f, _ in zip(src, range(n))]


def test_one_held_hand_costs_a_search_every_tenth_frame_and_gives_the_same_landmarks(hand_model_path, hands_dir):
    """The asl clip shows one hand: a two-hand tracker searched on every frame; now on every 10th, same hands."""
    frames = _asl_frames(hands_dir, 60)
    out = {}
    for every in (1, 10):  # (the searches run beside the frames: their count, not their timing, is fixed)
        opts = HandTrackerOptions(model_path=hand_model_path, running_mode="video", num_hands=2, search_every_frames=every)
        with HandTracker.create_from_options(opts) as tr:
            out[every] = [tr.detect(f.image, f.t_ms) for f in frames]
            stats = getattr(tr._full, "stats", None)
        if every == 10:
            assert stats is not None and stats["searches"] == 6 and stats["one_hand"] == 60
    assert all(r.n_hands == 1 for r in out[1]) and all(r.n_hands == 1 for r in out[10])
    d = [np.linalg.norm(a.hands[0].landmarks_px[:, :2] - b.hands[0].landmarks_px[:, :2], axis=1).mean()
         for a, b in zip(out[1], out[10])]
    # the held hand is the one-hand landmarker's on every frame, tracked as MediaPipe tracks it alone (the
    # clip's reference landmarks, tests/test_onnx_tracker.py, read 0.28 px from both)
    assert float(np.mean(d)) <= 0.1 and float(np.max(d)) <= 1.0, (np.mean(d), np.max(d))


@pytest.mark.parametrize("every", [6, 10])
def test_a_second_hand_is_found_within_the_search_interval(hand_model_path, hands_dir, every):
    """hands.jpg with its right-hand half covered for 20 frames, then uncovered: both hands within ``every`` frames
    and the search's time."""
    photo = cv2.imread(str(hands_dir / "hands.jpg"))
    covered = photo.copy()
    covered[:, photo.shape[1] // 2:] = 40  # the expected hands lie one in each half
    opts = HandTrackerOptions(model_path=hand_model_path, running_mode="video", num_hands=2, search_every_frames=every)
    with HandTracker.create_from_options(opts) as tr:
        first = [tr.detect(covered, 33 * i).n_hands for i in range(20)]
        after = [tr.detect(photo, 33 * (20 + i)).n_hands for i in range(2 * every)]
    assert first == [1] * 20
    k = after.index(2)
    # the next search starts within `every` frames and runs beside the frames that follow (frames here come back
    # to back, ~13 ms each, a search ~28 ms); from then on both hands are tracked
    assert k <= every + 4 and all(n == 2 for n in after[k:]), after


def test_a_lost_hand_is_searched_for_on_the_same_frame(hand_model_path, hands_dir):
    """The held hand vanishes (another picture): the tracker searches at once, never waits for the interval."""
    frames = _asl_frames(hands_dir, 8)
    photo = cv2.imread(str(hands_dir / "hands.jpg"))
    h, w = frames[0].image.shape[:2]
    canvas = np.zeros_like(frames[0].image)  # the photo, its aspect kept, in the clip's frame
    small = cv2.resize(photo, (w, round(photo.shape[0] * w / photo.shape[1])))
    canvas[(h - small.shape[0]) // 2:(h - small.shape[0]) // 2 + small.shape[0]] = small
    photo = canvas
    opts = HandTrackerOptions(model_path=hand_model_path, running_mode="video", num_hands=2, search_every_frames=30)
    with HandTracker.create_from_options(opts) as tr:
        assert [tr.detect(f.image, f.t_ms).n_hands for f in frames] == [1] * 8
        searches = tr._full.stats["searches"]
        res = tr.detect(photo, frames[-1].t_ms + 40)
        assert tr._full.stats["searches"] == searches + 1
    y0 = (h - small.shape[0]) // 2
    assert res.n_hands >= 1 and all(y0 <= hd.heel_px[1] <= y0 + small.shape[0] for hd in res.hands)


class _Scripted:
    """A landmarker whose hand count per timestamp is scripted (fault injection for the search's bookkeeping:
    which landmarker runs which frame, and whose result a frame gets)."""

    def __init__(self, hands_at, gate=None) -> None:
        self.hands_at, self.gate, self.calls = hands_at, gate, []

    def detect_for_video(self, image, ts):
        from types import SimpleNamespace

        if self.gate is not None:
            self.gate.wait(5.0)
        self.calls.append(ts)
        return SimpleNamespace(hand_landmarks=[object()] * self.hands_at(ts), ts=ts)


def test_a_lost_hand_gets_this_frames_search_not_an_earlier_background_one():
    import threading

    from vision.hand_search import SparseSearch

    gate = threading.Event()  # holds the background search until the held hand is lost
    many = _Scripted(lambda ts: 1 if ts == 0 else 2, gate)
    one = _Scripted(lambda ts: 0 if ts >= 4 else 1)
    made = iter([many, one])
    search = SparseSearch(lambda n: next(made), num_hands=2, every=3)
    gate.set()
    assert search.detect_for_video(None, 0).ts == 0  # a search: one hand held
    gate.clear()
    assert [search.detect_for_video(None, t).ts for t in (1, 2, 3)] == [1, 2, 3]  # tracked alone; frame 3 starts
    # a background search (held at the gate)
    assert many.calls == [0] and one.calls == [0, 1, 2, 3]
    timer = threading.Timer(0.2, gate.set)
    timer.start()
    res = search.detect_for_video(None, 4)  # the held hand is gone: the background search is waited for, then
    timer.join()                            # this frame is searched, and its own hands returned
    assert res.ts == 4 and len(res.hand_landmarks) == 2
    assert many.calls == [0, 3, 4]
    search.close()


class _Slow(_Scripted):
    """A landmarker whose searches take ``delay_s`` (a loaded machine)."""

    def __init__(self, hands_at, delay_s: float) -> None:
        super().__init__(hands_at)
        self.delay_s = delay_s

    def detect_for_video(self, image, ts):
        time.sleep(self.delay_s)
        return super().detect_for_video(image, ts)


@pytest.mark.parametrize("delay_s", [0.0, 0.03, 0.12])
def test_a_background_search_is_taken_on_a_fixed_frame_whatever_its_timing(delay_s):
    """Which frame a second hand found in the background switches the tracker on must not depend on how fast
    the search ran: ``analyze`` on one file read 0.3 mm apart from run to run when it did. The search started on
    frame 3 is taken on frame 5 (``settle`` = 2), waiting for it there if need be; the two-hand landmarker
    tracks from frame 6."""
    from vision.hand_search import SparseSearch

    many = _Slow(lambda ts: 1 if ts == 0 else 2, delay_s)
    one = _Scripted(lambda ts: 1)
    made = iter([many, one])
    search = SparseSearch(lambda n: next(made), num_hands=2, every=3)
    counts = []
    for ts in range(9):
        counts.append(len(search.detect_for_video(None, ts).hand_landmarks))
        time.sleep(0.01)  # frames come 10 ms apart: a 0 s search is done by the next one, a 0.12 s one is not
    search.close()
    assert counts == [1, 1, 1, 1, 1, 1, 2, 2, 2], counts
    assert many.calls[:2] == [0, 3]
