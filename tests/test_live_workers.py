"""The live loop's side jobs run newest-only: the tracking thread never waits for them."""
from __future__ import annotations

import threading
import time

import numpy as np

from coach.live.workers import JpegEncoder, NewestWorker


def test_a_slow_job_gets_only_the_newest_item_and_never_blocks_the_submitter():
    gate = threading.Event()
    seen: list[int] = []

    def slow(x: int) -> int:
        gate.wait(2)
        seen.append(x)
        return x * 10

    w = NewestWorker(slow, name="test")
    w.submit(0)
    time.sleep(0.05)  # the worker holds item 0
    t0 = time.perf_counter()
    for i in range(1, 50):
        w.submit(i)
    submit_s = time.perf_counter() - t0
    gate.set()
    deadline = time.monotonic() + 2
    while w.done < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    w.close()
    assert submit_s < 0.05  # 49 submits while the job is stuck: no waiting
    assert seen == [0, 49] and w.replaced == 48
    assert w.take() == 490 and w.take() is None  # the newest result, once


def test_a_failing_job_is_counted_and_the_worker_goes_on():
    w = NewestWorker(lambda x: 1 // x, name="test")
    w.submit(0)
    deadline = time.monotonic() + 2
    while w.errors == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    w.submit(1)
    while w.done == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    w.close()
    assert w.errors == 1 and "ZeroDivisionError" in w.first_error and w.take() == 1


def test_jpeg_frames_are_scaled_to_the_requested_width_and_decode():
    import cv2

    img = np.zeros((720, 1280, 3), np.uint8)
    cv2.circle(img, (640, 360), 200, (0, 200, 255), -1)
    enc = JpegEncoder(width_px=640, quality=80)
    enc.submit(img)
    deadline = time.monotonic() + 2
    out = None
    while out is None and time.monotonic() < deadline:
        out = enc.take()
        time.sleep(0.01)
    enc.close()
    jpeg, size = out
    back = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert size == (640, 360) and back.shape == (360, 640, 3)
    assert abs(int(back[180, 320, 2]) - 255) < 20  # the circle's colour survived
