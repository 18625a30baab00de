"""Look for missing hands a few times a second, in the background, not on every frame.

Why: MediaPipe's hand graph (VIDEO mode) runs palm detection on every frame
where it holds fewer than ``num_hands`` hands. At a CPR station it usually
holds one (stacked hands read as one, or the other hand is hidden), so a
two-hand tracker paid palm detection on every frame: about 40 % of each
frame's inference (``cpr-coach bench tracker``: 39 fps bare, 67 fps sparse,
1280x720, 2 cores). ``SparseSearch`` keeps the two-hand landmarker for
searching and for two held hands, and tracks one held hand with a one-hand
landmarker, which needs no palm detection while it holds its hand.

The search runs every ``every`` frames on a worker thread (MediaPipe releases
the GIL), so the frame that starts it waits for the one-hand tracker only and
the hand path's latency does not jump every ``every`` frames; its result is
taken ``settle`` frames later (2), waiting for it there if it is not done (a
search takes about one frame's time, so live frames do not wait). Why a fixed
frame and not "when it is done": which frame a found second hand switches the
tracker on then depends on the thread's timing, and so did ``analyze``'s
figures: the same file read 0.3 mm apart in depth from one run to the next
(rendered stacks with blur, 640x480). A second hand that comes into view is
found within ``every + settle`` frames. A lost hand is searched for at once,
on the frame itself.

The held hand's landmarks are the one-hand tracker's on every frame, tracked
from its own last landmarks as MediaPipe tracks alone (the asl clip reads
0.277 px from its reference either way).
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable


class SparseSearch:
    """A VIDEO-mode landmarker pair behind ``detect_for_video`` (MediaPipe's own call). ``close()`` before the
    landmarkers close: it waits for a search still running."""

    def __init__(self, make: Callable[[int], object], num_hands: int, every: int, settle: int = 2) -> None:
        """``make(n)``: a new VIDEO-mode ``HandLandmarker`` for n hands (``num_hands`` >= 2); ``every``: frames
        between searches; ``settle``: frames after its start that a search's result is taken on."""
        self.every = max(int(every), 1)
        self.settle = max(int(settle), 1)
        self._many = make(int(num_hands))
        self._one = make(1)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hand-search")
        self._pending: Future | None = None
        self._single = False  # one hand held: the one-hand landmarker tracks it, the other searches now and then
        self._since = 0  # frames since the last search started (while one runs: its age)
        self.stats = {"searches": 0, "one_hand": 0}

    def _track_one(self, image, ts: int):
        self.stats["one_hand"] += 1
        return self._one.detect_for_video(image, ts)

    def _search(self, image, ts: int):
        self.stats["searches"] += 1
        return self._many.detect_for_video(image, ts)

    def _settle(self):
        """The background search's result, waited for (None: none pending, or it failed)."""
        p = self._pending
        if p is None:
            return None
        self._pending = None
        try:
            return p.result()
        except Exception:  # noqa: BLE001 - a failed search is no hand found; the next search tries again
            return None

    def detect_for_video(self, image, ts: int):
        if not self._single:
            self._settle()  # the searching landmarker is called here: never twice at once
            res = self._search(image, ts)
            if len(res.hand_landmarks) == 1:
                # one hand held from here: the one-hand landmarker starts on this frame, so it tracks on from it
                self._single, self._since = True, 0
                self._track_one(image, ts)
            return res
        res = self._track_one(image, ts)
        held = len(res.hand_landmarks) == 1
        self._since += 1
        # a background search of an earlier frame: taken on a fixed frame after its start (see the module's doc)
        earlier = self._settle() if (not held or self._since >= self.settle) else None
        if not held:  # the held hand is gone: search this same frame (an earlier frame's hands are not this one's)
            found = self._search(image, ts)
            self._since = 0
            self._single = len(found.hand_landmarks) == 1
            return found
        if earlier is not None and len(earlier.hand_landmarks) >= 2:
            self._single = False  # the search found the others: the two-hand landmarker tracks them from the next frame
            return res
        if self._since >= self.every and self._pending is None:
            self._since = 0
            self._pending = self._pool.submit(self._search, image, ts)
        return res

    def close(self) -> None:
        self._settle()
        self._pool.shutdown(wait=True)
