"""The pose model in its own low-weight process (vision/pose_process.py): same arms as in-process, its own
scheduling group at a low weight with SCHED_IDLE threads, bad frames refused, nothing left behind."""
from __future__ import annotations

import glob
import os
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photo():
    import cv2

    from models import ModelError
    from models.sample_images import sample_image_path

    try:
        return cv2.imread(str(sample_image_path("astronaut")))
    except ModelError as exc:
        pytest.skip(f"licensed sample photos unavailable: {exc}")


def _policies(pid: int) -> list[tuple[int, int]]:
    """(nice, scheduling policy) of each thread of ``pid`` (from /proc/PID/task/*/stat)."""
    out = []
    for d in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            text = open(d).read()
        except OSError:
            continue
        f = text[text.rfind(")") + 2:].split()
        out.append((int(f[16]), int(f[38])))
    return out


def test_pose_process_matches_in_process_and_steps_back(photo):
    from models import ModelError
    from vision.pose import PoseTracker, PoseTrackerOptions
    from vision.pose_process import PoseProcess, PoseProcessError

    opts = PoseTrackerOptions(running_mode="image")
    try:
        local = PoseTracker.create_from_options(opts)
    except ModelError as exc:
        pytest.skip(f"pose model unavailable: {exc}")
    with local:
        want = local.process(photo, 0)
    proc = PoseProcess.start(opts)
    try:
        got = proc.process(photo, 0)
        assert got is not None and want is not None
        assert np.abs(got.image_px - want.image_px).max() < 1.0  # the same model on the same pixels
        assert np.abs(got.world_m - want.world_m).max() < 0.01
        # a second frame size reuses nothing stale
        small = photo[::2, ::2].copy()
        assert proc.process(small, 1).size_wh == (small.shape[1], small.shape[0])
        with pytest.raises(ValueError):
            proc.process(np.zeros((0, 0, 3), np.uint8), 2)
        assert proc.process(photo, 3) is not None  # a refused frame is not the end
        buffer_path = proc._buf.path
        assert not os.path.exists(buffer_path)  # mapped by both, its name already gone: nothing leaks if one dies
        if sys.platform.startswith("linux"):
            group = open(f"/proc/{proc.pid}/autogroup").read()
            mine = open("/proc/self/autogroup").read()
            if "nice" in mine:  # autogroups on: its own group, at a low weight
                assert group.split()[0] != mine.split()[0] and group.split()[-1] == "10", (group, mine)
            threads = _policies(proc.pid)
            assert len(threads) >= 2 and all(p == os.SCHED_IDLE and n == 19 for n, p in threads), threads
    finally:
        proc.close()
    assert proc._proc.returncode == 0
    with pytest.raises(PoseProcessError):
        proc.process(photo, 4)


def test_pose_process_reports_a_bad_model_in_one_line(tmp_path):
    from models import ModelError
    from vision.pose import PoseTrackerOptions
    from vision.pose_process import PoseProcess

    bad = tmp_path / "pose.task"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError) as err:
        PoseProcess.start(PoseTrackerOptions(model_path=bad))
    assert "\n" not in str(err.value) and "pose.task" in str(err.value)
