"""Native libraries' logging (OpenCV, MediaPipe / LiteRT, absl) kept off the terminal by default.

Why at the file-descriptor level: OpenCV's camera probes and MediaPipe's LiteRT print straight to
fd 2 from C++ ("[ WARN:0@...] can't open camera by index", "INFO: Created TensorFlow Lite XNNPACK
delegate"), and LiteRT reads no environment variable to stop it. A user who tries ``--source 0`` on
a machine without a camera must see one line, not eighty, and the bench tables must not be buried.
So, unless ``--verbose``: the environment variables the libraries do read are set (before they are
imported), and fd 2 is pointed at the null device while Python's own ``sys.stderr`` keeps writing to
the real terminal (our errors, warnings and progress bars are unchanged). Everything is restored
when the command returns, so an in-process caller (the tests) gets its stderr back.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Iterator

# Read by the libraries at import (or first use); set only when the user has not set them.
QUIET_ENV = {
    "OPENCV_LOG_LEVEL": "ERROR",  # OpenCV: no INFO/WARN lines
    "OPENCV_VIDEOIO_DEBUG": "0",
    "GLOG_minloglevel": "2",  # glog / absl (MediaPipe's C++): errors only
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow Lite: errors only
}


@contextlib.contextmanager
def native_logging(verbose: bool) -> Iterator[None]:
    """Within the block, native logging is hidden unless ``verbose``."""
    if verbose:
        yield
        return
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)
    cv_level = _cv2_quiet()
    saved_fd = None
    saved_stderr = sys.stderr
    try:
        saved_fd = _detach_fd2()
        if saved_fd is not None and _writes_to_fd2(saved_stderr):
            # Python's stderr keeps going to the terminal through a duplicate of the old fd 2
            sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(saved_fd), "wb", buffering=0), encoding="utf-8",
                                          errors="backslashreplace", line_buffering=True, write_through=True)
    except OSError:
        saved_fd = None
    try:
        yield
    finally:
        if sys.stderr is not saved_stderr:
            try:
                sys.stderr.flush()
                sys.stderr.close()
            except (OSError, ValueError):
                pass
            sys.stderr = saved_stderr
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        if cv_level is not None:
            _cv2_set_level(cv_level)


def _writes_to_fd2(stream) -> bool:
    try:
        return stream is not None and stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _detach_fd2() -> int | None:
    """Point fd 2 at the null device; returns a duplicate of the old fd 2 (None: no fd 2)."""
    try:
        saved = os.dup(2)
    except OSError:
        return None
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
    finally:
        os.close(null)
    return saved


def _cv2_quiet() -> int | None:
    """If cv2 is already imported (the env variable came too late), lower its level; returns the old one."""
    cv2 = sys.modules.get("cv2")
    if cv2 is None:
        return None
    try:
        old = cv2.getLogLevel()
        cv2.setLogLevel(2)  # ERROR
        return int(old)
    except Exception:  # noqa: BLE001 - an odd cv2 build (AttributeError included): leave it
        return None


def _cv2_set_level(level: int) -> None:
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        try:
            cv2.setLogLevel(level)
        except Exception:  # noqa: BLE001
            pass
