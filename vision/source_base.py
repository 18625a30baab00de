"""The one interface every frame source implements.

Why one interface: the live coach, offline analysis, calibration and the
tests all consume "frames with ms timestamps" and must not care whether they
come from a webcam, an RTSP camera, a video file or a folder of images.
Live sources never raise when the camera goes away; they yield a *lost*
marker (``Frame.lost``) so the consumer's loop keeps running (and can tell
the trainee), and real frames resume when the camera is back.
"""
from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Iterator

import numpy as np

DEFAULT_FPS = 30.0  # files without a usable rate, image folders, paced files: timestamps assume this

_EMPTY = np.zeros((0, 0, 3), np.uint8)
_EMPTY.setflags(write=False)


class SourceError(Exception):
    """A source cannot be read (missing, empty, truncated, not a video). One line naming the file."""


class SourceState(str, enum.Enum):
    CONNECTING = "connecting"  # live: before the first frame
    LIVE = "live"  # frames are arriving
    LOST = "lost"  # live: camera/stream gone; reconnecting with backoff
    ENDED = "ended"  # file or folder finished, or the source was closed


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame: BGR uint8 image (H, W, 3), timestamp in ms, running index.

    ``t_ms`` is strictly increasing within a source (files: from PTS or
    index/fps, starting near 0; live: capture time relative to opening).
    ``t_capture_s`` is the source clock's reading at capture (live only), so
    a consumer can measure latency as ``clock() - t_capture_s``.
    A *lost* marker has ``lost=True``, an empty image and the last index.
    """

    image: np.ndarray
    t_ms: int
    index: int
    t_capture_s: float | None = None
    lost: bool = False

    @classmethod
    def lost_marker(cls, t_ms: int, index: int, t_capture_s: float | None = None) -> "Frame":
        return cls(_EMPTY, t_ms, index, t_capture_s, lost=True)

    @property
    def size_wh(self) -> tuple[int, int]:
        return (int(self.image.shape[1]), int(self.image.shape[0]))


@dataclass(frozen=True)
class SourceOptions:
    """How to open and read a source. One dataclass for all kinds; each uses its part."""

    # files and folders
    fps: float | None = None  # folders: frame rate for timestamps (default 30); files: override the container's
    timestamps: str = "auto"  # files: "auto" (PTS when sane, else index/fps) | "pts" | "index"
    on_truncated: str = "error"  # files: "error" (SourceError after the last good frame) | "warn"
    realtime: bool = False  # files: play as a live source at the file's own speed (simulated camera)
    loop: bool = False  # realtime files: start again at the end instead of ending
    # cameras and streams
    width: int | None = None  # request a capture size (cameras)
    height: int | None = None
    request_fps: float | None = None
    open_timeout_s: float = 5.0  # streams: FFmpeg open timeout
    read_timeout_s: float = 5.0  # streams: FFmpeg read timeout
    reconnect_initial_s: float = 0.5  # first retry delay after losing the source; doubles up to the max
    reconnect_max_s: float = 5.0
    max_read_failures: int = 5  # consecutive failed reads before the source counts as lost
    stall_timeout_s: float = 2.0  # no new frame for this long -> reported lost, even if the driver hangs
    lost_poll_s: float = 0.25  # while lost, yield a lost marker this often
    max_reconnects: int | None = None  # None: keep trying forever


class FrameSource(abc.ABC):
    """Context manager and iterator of ``Frame``.

    ``for frame in source`` ends at the end of a file/folder, or when a live
    source is closed. Live sources yield lost markers while disconnected.
    """

    kind: str = "source"  # "camera" | "stream" | "file" | "images" | "live"
    name: str = ""
    is_live: bool = False
    # What the properties below report; subclasses set them as they learn them.
    _state: SourceState = SourceState.CONNECTING
    _fps: float | None = None
    _size: tuple[int, int] | None = None

    @property
    def state(self) -> SourceState:
        return self._state

    @property
    def fps(self) -> float | None:
        """Nominal frame rate, when known."""
        return self._fps

    @property
    def size_wh(self) -> tuple[int, int] | None:
        """Frame size, when known before reading."""
        return self._size

    @abc.abstractmethod
    def __next__(self) -> Frame: ...

    def __iter__(self) -> Iterator[Frame]:
        return self

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.name!r} {self.state.value}>"
