"""``open_source(spec)``: one entry point for every kind of frame source.

Accepted specs:
- a camera index: ``0`` or ``"0"`` (live, background reader);
- a stream URL: ``rtsp://``, ``rtsps://``, ``http://``, ``https://``, ``udp://``, ``tcp://`` (live);
- a video file (every frame; ``SourceOptions(realtime=True)`` plays it as a live camera);
- a folder of images, or a single image file.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import cv2

from vision.file_source import VideoFileSource
from vision.image_source import IMAGE_EXTENSIONS, ImageFolderSource
from vision.live_source import Capture, CaptureFactory, Clock, LiveSource
from vision.source_base import DEFAULT_FPS, Frame, FrameSource, SourceError, SourceOptions, SourceState

__all__ = [
    "Capture",
    "CaptureFactory",
    "Frame",
    "FrameSource",
    "ImageFolderSource",
    "LiveSource",
    "PacedFileCapture",
    "SourceError",
    "SourceOptions",
    "SourceState",
    "VideoFileSource",
    "camera_factory",
    "open_source",
    "require_frames",
    "stream_factory",
]

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def camera_factory(index: int, options: SourceOptions) -> CaptureFactory:
    """Open camera ``index`` with the requested size/fps and a 1-frame driver buffer (low latency)."""

    def open_camera() -> Capture:
        cap = cv2.VideoCapture(index)
        if cap.isOpened():
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if options.width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, options.width)
            if options.height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, options.height)
            if options.request_fps:
                cap.set(cv2.CAP_PROP_FPS, options.request_fps)
        return cap

    return open_camera


def stream_factory(url: str, options: SourceOptions) -> CaptureFactory:
    """Open a network stream with FFmpeg, bounded open/read timeouts so a dead camera is noticed."""
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(options.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(options.read_timeout_s * 1000),
    ]

    def open_stream() -> Capture:
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return cap

    return open_stream


class PacedFileCapture:
    """A video file read at its own frame rate, like a camera (``read`` blocks until the frame is due).

    Why: demos and tests of the live path need a camera that is not there;
    a paced file exercises the same newest-frame, drop-and-stamp logic.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float | None = None, clock: Clock = time.monotonic, sleep=time.sleep) -> None:
        self._cap = cv2.VideoCapture(str(path))
        f = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = float(fps or (f if f > 0 else DEFAULT_FPS))
        self._clock = clock
        self._sleep = sleep
        self._t_next: float | None = None
        self.eof = False

    def isOpened(self) -> bool:
        return bool(self._cap.isOpened())

    def read(self) -> tuple[bool, Any]:
        now = self._clock()
        if self._t_next is None:
            self._t_next = now
        if self._t_next > now:
            self._sleep(self._t_next - now)
        self._t_next = max(self._t_next + 1.0 / self.fps, self._clock() - 1.0 / self.fps)
        ok, img = self._cap.read()
        if not ok:
            self.eof = True
        return ok, img

    def get(self, prop: int) -> float:
        return float(self._cap.get(prop))

    def release(self) -> None:
        self._cap.release()


def _is_camera_index(spec: object) -> bool:
    return isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit())


def open_source(
    spec: str | int | os.PathLike[str],
    options: SourceOptions | None = None,
    *,
    clock: Clock = time.monotonic,
    capture_factory: CaptureFactory | None = None,
) -> FrameSource:
    """Open any supported source; raises ``SourceError`` (one line naming it) when it cannot be.

    ``capture_factory`` replaces how a live source opens its capture
    (tests inject faults with it); ``clock`` stamps live frames.
    """
    opts = options or SourceOptions()
    if capture_factory is not None:
        return LiveSource(capture_factory, name=str(spec), kind="live", options=opts, clock=clock)
    if _is_camera_index(spec):
        index = int(spec)  # type: ignore[arg-type]
        return LiveSource(camera_factory(index, opts), name=f"camera {index}", kind="camera", options=opts, clock=clock)
    text = os.fspath(spec)
    if text.lower().startswith(STREAM_SCHEMES):
        return LiveSource(stream_factory(text, opts), name=text, kind="stream", options=opts, clock=clock)
    path = Path(text).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, opts)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageFolderSource(path, opts)
    if opts.realtime:
        probe = VideoFileSource(path, opts)  # validates the file with a clear error before going live
        fps = probe.fps
        probe.close()
        return LiveSource(
            lambda: PacedFileCapture(path, fps=fps, clock=clock),
            name=str(path),
            kind="file",
            options=opts,
            clock=clock,
        )
    return VideoFileSource(path, opts)


def require_frames(source: FrameSource, timeout_s: float = 3.0) -> None:
    """A live source must deliver its first frame within ``timeout_s``; else it is closed and
    ``SourceError`` names it in one line. Files and folders pass (they are validated on opening).

    Why: ``--source 0`` on a machine without a camera is a setup mistake, said at once; a camera
    that goes away later is a lost source the session waits for.
    """
    wait = getattr(source, "wait_ready", None)
    if not source.is_live or wait is None or wait(timeout_s):
        return
    why = getattr(source, "last_error", None)
    source.close()
    if getattr(source, "open_failures", 0):
        hint = " (no such camera, or another program uses it)" if source.kind == "camera" else ""
        raise SourceError(f"{source.name}: cannot be opened{hint}")
    raise SourceError(f"{source.name}: no frames within {timeout_s:g} s" + (f" ({why})" if why else ""))
