"""Look for missing hands a few times a second, not on every frame.

Why: MediaPipe's hand graph (VIDEO mode) runs palm detection on every frame
where it holds fewer than ``num_hands`` hands. At a CPR station it usually
holds one (stacked hands read as one, or the other hand is hidden), so a
two-hand tracker paid palm detection on every frame: about half of each
frame's inference at 1280x720 on 2 cores (``cpr-coach bench tracker``).
``SparseSearch`` keeps the two-hand landmarker for searching and for two held
hands, and tracks one held hand with a one-hand landmarker in between, which
needs no palm detection while it holds its hand. A second hand that comes into
view is found within ``every`` frames. A lost hand is searched for at once.

It only chooses which MediaPipe landmarker runs a frame: both get strictly
increasing timestamps and both track from their own last landmarks, as
MediaPipe does alone.
"""
from __future__ import annotations

from typing import Callable


class SparseSearch:
    """A VIDEO-mode landmarker pair behind ``detect_for_video`` (MediaPipe's own call)."""

    def __init__(self, make: Callable[[int], object], num_hands: int, every: int) -> None:
        """``make(n)``: a new VIDEO-mode ``HandLandmarker`` for n hands; ``every``: frames between searches (1: all)."""
        self.num_hands = int(num_hands)
        self.every = max(int(every), 1)
        self._many = make(self.num_hands)
        self._one = make(1)
        self._single = False  # one hand held: the one-hand landmarker tracks it, the other searches now and then
        self._since = 0  # frames since the last search
        self.stats = {"searches": 0, "one_hand": 0}

    def _track_one(self, image, ts: int):
        self.stats["one_hand"] += 1
        return self._one.detect_for_video(image, ts)

    def detect_for_video(self, image, ts: int):
        if not self._single:
            res = self._many.detect_for_video(image, ts)
            self.stats["searches"] += 1
            if len(res.hand_landmarks) == 1 and self.num_hands > 1:
                # one hand held from here: the one-hand landmarker starts on this frame, so it tracks on from it
                self._single, self._since = True, 0
                self._track_one(image, ts)
            return res
        res = self._track_one(image, ts)
        held = len(res.hand_landmarks) == 1
        self._since += 1
        if held and self._since < self.every:
            return res
        # time to look for the others (or the held hand is gone: look at once). The held hand's landmarks stay
        # the one-hand tracker's: the searching landmarker's own tracking is as old as its last search.
        found = self._many.detect_for_video(image, ts)
        self.stats["searches"] += 1
        self._since = 0
        n = len(found.hand_landmarks)
        if n >= 2 or not held:
            self._single = n == 1
            return found
        return res
