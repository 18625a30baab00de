"""The second posture camera's feed (coach.live.posture_source.PostureFeed): what it tells the run at the end.

A real clip played as a camera for the working case; cameras that end at once or go lost are fault
injection (a source object that does just that), as a real unplugged camera cannot be had in a test.
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from coach.live.posture_source import PostureFeed
from vision.source_base import Frame
from vision.sources import SourceOptions, open_source


class _Sink:
    """Stands in for the pose worker: records what the feed offers it (the worker has its own tests)."""

    def __init__(self) -> None:
        self.t_ms: list[int] = []

    def submit(self, image, t_ms: int) -> None:
        assert image.ndim == 3
        self.t_ms.append(int(t_ms))


class _Faulty:
    """A camera that yields ``frames`` frames, then ``lost`` lost markers, then ends."""

    name = "cam-under-test"

    def __init__(self, lost: int, frames: int = 0) -> None:
        self._frames, self._left = frames, lost

    def read(self, timeout_s: float = 0.1):
        if self._frames > 0:
            self._frames -= 1
            return Frame(np.zeros((8, 8, 3), np.uint8), 0, 0, time.monotonic())
        if self._left <= 0:
            raise StopIteration
        self._left -= 1
        return Frame.lost_marker(0, 0, time.monotonic())

    def close(self) -> None:
        pass


def _run(source, sink) -> PostureFeed:
    feed = PostureFeed.start(source, sink)
    feed._thread.join(10.0)
    feed.close()
    return feed


def test_a_camera_that_delivers_raises_nothing(tmp_path):
    path = tmp_path / "posture.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    for i in range(15):
        out.write(np.full((120, 160, 3), 8 * i, np.uint8))
    out.release()
    sink = _Sink()
    feed = _run(open_source(path, SourceOptions(realtime=True)), sink)
    assert feed.ended and feed.frames == len(sink.t_ms) >= 5
    assert sink.t_ms == sorted(sink.t_ms)  # capture times on the monotonic clock, in order
    assert feed.problem() is None


def test_a_camera_that_ends_at_once_is_one_warning_line():
    feed = _run(_Faulty(lost=0), _Sink())
    msg = feed.problem()
    assert msg == "posture source cam-under-test: no frames (it ended at once): no posture this session"


def test_a_camera_only_lost_says_how_often():
    sink = _Sink()
    feed = _run(_Faulty(lost=4), sink)
    assert sink.t_ms == [] and feed.lost == 4
    assert feed.problem() == "posture source cam-under-test: no frames (4 lost, then it ended): no posture this session"


def test_a_camera_lost_midway_says_posture_has_gaps():
    sink = _Sink()
    feed = _run(_Faulty(lost=2, frames=3), sink)
    assert len(sink.t_ms) == 3 and feed.frames == 3
    assert feed.problem() == ("posture source cam-under-test: lost 2 time(s) (camera unplugged or stream down): "
                              "posture has gaps")
