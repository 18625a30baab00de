"""A folder of images (or one image) as a frame source.

Why: calibration shots, photo test sets and exported frame sequences are
folders of files; timestamps come from the index and a frame rate (30 fps
unless told), since image files carry no reliable capture time.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import cv2

from vision.source_base import DEFAULT_FPS, Frame, FrameSource, SourceError, SourceOptions, SourceState

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def natural_key(path: Path) -> list[object]:
    """frame2.png before frame10.png."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_images(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=natural_key)


class ImageFolderSource(FrameSource):
    """Yield the images of a folder (natural sort order), or of an explicit list of files."""

    kind = "images"
    is_live = False

    def __init__(self, path_or_files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], options: SourceOptions | None = None) -> None:
        self.options = options or SourceOptions()
        if isinstance(path_or_files, (str, os.PathLike)):
            p = Path(path_or_files)
            if not p.exists():
                raise SourceError(f"image folder {p} does not exist")
            files = list_images(p) if p.is_dir() else [p]
            self.name = str(p)
            if not files:
                raise SourceError(f"image folder {p} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        else:
            files = [Path(f) for f in path_or_files]
            self.name = f"{len(files)} images"
            if not files:
                raise SourceError("empty list of images")
        self.files = files
        self._fps = float(self.options.fps or DEFAULT_FPS)
        self._i = 0
        self._state = SourceState.LIVE
        self._size: tuple[int, int] | None = None

    @property
    def size_wh(self) -> tuple[int, int] | None:
        """The first image's size (decoded once; None if it cannot be read): what analysis calibrates for."""
        if self._size is None and self.files:
            img = cv2.imread(str(self.files[0]), cv2.IMREAD_COLOR)
            if img is not None:
                self._size = (int(img.shape[1]), int(img.shape[0]))
        return self._size

    def __len__(self) -> int:
        return len(self.files)

    def __next__(self) -> Frame:
        if self._state is SourceState.ENDED or self._i >= len(self.files):
            self._state = SourceState.ENDED
            raise StopIteration
        path = self.files[self._i]
        if not path.is_file():
            raise SourceError(f"image {path} does not exist")
        if path.stat().st_size == 0:
            raise SourceError(f"image {path} is empty (0 bytes)")
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SourceError(f"image {path} cannot be decoded (not an image, or truncated/corrupt)")
        frame = Frame(img, int(round(self._i * 1000.0 / self._fps)), self._i)
        self._i += 1
        return frame

    def close(self) -> None:
        self._state = SourceState.ENDED
