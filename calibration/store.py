"""Calibration files: one versioned JSON holding the camera and, optionally, the manikin.

Why versioned and strict: a station's calibration outlives the software that
wrote it. A file from a newer format, or one hand-edited into nonsense, must
stop the run with a one-line error naming the file and the field, never give
plausible but wrong millimetres.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from calibration.camera import CameraIntrinsics
from calibration.manikin import ManikinCalibration

FORMAT = "cpr-coach/calibration"
VERSION = 1

# Limits of a plausible calibration file (a hand-edited or hostile file is refused, never half-used).
MAX_FILE_BYTES = 1 << 20  # real files are ~2 KiB
MAX_DEPTH = 8  # real files nest 4 deep (manikin.anchor.anchor_from_manikin.rotation)
MAX_NUMBER_CHARS = 40  # a double needs <= 24 characters
MAX_IMAGE_PX = 100_000  # image width/height
MAX_MARKER_MM = 1000.0  # a printed marker larger than a metre is a typo
MIN_CAMERA_DISTANCE_MM = 1.0  # a camera inside the marker (zero translation) is no calibration
MAX_CAMERA_DISTANCE_MM = 100_000.0
MAX_COUNT = 10_000_000  # views, frames_used, frames_rejected


class CalibrationFileError(ValueError):
    """A calibration file is missing, unreadable, garbled, or of another format version."""


@dataclass(frozen=True)
class StationCalibration:
    """Everything a station needs to turn pixels into millimetres."""

    camera: CameraIntrinsics
    manikin: ManikinCalibration | None = None  # None: camera only (hand-size fallback)
    created: str = ""
    note: str = ""

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "created": self.created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "note": self.note,
            "camera": self.camera.to_dict(),
            "manikin": None if self.manikin is None else self.manikin.to_dict(),
        }


def save_calibration(cal: StationCalibration, path: str | os.PathLike[str]) -> Path:
    """Write atomically (temp file + rename), so a crash never leaves half a file."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise CalibrationFileError(f"cannot write {p}: folder {p.parent} does not exist")
    data = _finite(cal.to_dict())
    tmp = p.with_name(p.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:
        raise CalibrationFileError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p


def _finite(x):
    """NaN/inf are not JSON: write null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def load_calibration(path: str | os.PathLike[str]) -> StationCalibration:
    """Read and validate a calibration file; every failure is one ``CalibrationFileError`` line."""
    p = Path(path)
    if not p.exists():
        raise CalibrationFileError(f"calibration file {p} not found (create it with: cpr-coach calibrate manikin ...)")
    if p.is_dir():
        raise CalibrationFileError(f"calibration file {p} is a folder, not a file")
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CalibrationFileError(f"calibration file {p} is {size} bytes; a calibration is at most {MAX_FILE_BYTES}")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationFileError(f"cannot read calibration file {p}: {exc}") from None
    if not text.strip():
        raise CalibrationFileError(f"calibration file {p} is empty")
    try:
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise CalibrationFileError(f"calibration file {p} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except RecursionError:
        raise CalibrationFileError(f"calibration file {p} nests deeper than {MAX_DEPTH} levels") from None
    _check_values(p, data)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CalibrationFileError(f"{p} is not a cpr-coach calibration file (no \"format\": \"{FORMAT}\")")
    ver = data.get("version")
    if not isinstance(ver, int) or isinstance(ver, bool):
        raise CalibrationFileError(f"{p}: field 'version' must be an integer, got {ver!r}")
    if ver != VERSION:
        newer = "a newer" if ver > VERSION else "an older"
        raise CalibrationFileError(
            f"{p} has calibration format version {ver}, this cpr-coach reads version {VERSION} "
            f"({newer} format): re-run cpr-coach calibrate, or use a matching cpr-coach"
        )
    cam_d = data.get("camera")
    if not isinstance(cam_d, dict):
        raise CalibrationFileError(f"{p}: field 'camera' is missing or not an object")
    camera = _section(p, "camera", cam_d, CameraIntrinsics.from_dict)
    _check_camera(p, camera)
    manikin = None
    man_d = data.get("manikin")
    if man_d is not None:
        if not isinstance(man_d, dict):
            raise CalibrationFileError(f"{p}: field 'manikin' must be an object or null")
        manikin = _section(p, "manikin", man_d, ManikinCalibration.from_dict)
        _check_manikin(p, manikin)
    return StationCalibration(camera, manikin, str(data.get("created", "")), str(data.get("note", "")))


class _TooLong(float):
    """A number literal too long to be a measurement: kept as a marker so the error can name its field."""


def _parse_int(text: str):
    return _TooLong("inf") if len(text) > MAX_NUMBER_CHARS else int(text)


def _parse_float(text: str):
    return _TooLong("inf") if len(text) > MAX_NUMBER_CHARS else float(text)


def _check_values(p: Path, data) -> None:
    """Depth, then every number finite and of sane length; the error names the dotted field path.

    Why a walk (iterative: a recursive one is what deep nesting overflows): JSON
    ``Infinity``/``NaN`` and 5000-digit integers parse, and would surface later
    as OverflowError or a plausible but wrong millimetre.
    """
    stack = [("", data, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CalibrationFileError(f"{p}: field {path or '(top)'!r} nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v, depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(node))
        elif isinstance(node, _TooLong):
            raise CalibrationFileError(f"{p}: field {path!r} holds a number longer than {MAX_NUMBER_CHARS} characters")
        elif isinstance(node, float) and not math.isfinite(node):
            raise CalibrationFileError(f"{p}: field {path!r} is {node!r}; calibration values must be finite numbers")


def _refuse(p: Path, field: str, why: str):
    raise CalibrationFileError(f"{p}: field {field!r} {why}")


def _check_camera(p: Path, cam: CameraIntrinsics) -> None:
    for name in ("width_px", "height_px"):
        if not 0 < getattr(cam, name) <= MAX_IMAGE_PX:
            _refuse(p, f"camera.{name}", f"must be 1..{MAX_IMAGE_PX} pixels, got {getattr(cam, name)}")
    if cam.views is not None and not 0 <= cam.views <= MAX_COUNT:
        _refuse(p, "camera.views", f"must be 0..{MAX_COUNT}, got {cam.views}")


def _check_manikin(p: Path, man: ManikinCalibration) -> None:
    import numpy as np

    markers = [("manikin.marker", man.marker)] + ([("manikin.anchor.marker", man.anchor.marker)] if man.anchor else [])
    for field, m in markers:
        if not 0 < m.size_mm <= MAX_MARKER_MM:
            _refuse(p, f"{field}.size_mm", f"must be 0..{MAX_MARKER_MM:g} mm, got {m.size_mm:g}")
        if not 0 <= m.marker_id < 100_000:
            _refuse(p, f"{field}.id", f"must be a marker id 0..99999, got {m.marker_id}")
    dist = float(np.linalg.norm(man.cam_from_manikin.translation_mm))
    if not MIN_CAMERA_DISTANCE_MM <= dist <= MAX_CAMERA_DISTANCE_MM:
        _refuse(p, "manikin.cam_from_manikin.translation_mm",
                f"puts the camera {dist:g} mm from the manikin; expected {MIN_CAMERA_DISTANCE_MM:g}..{MAX_CAMERA_DISTANCE_MM:g} mm")
    for name in ("frames_used", "frames_rejected"):
        if not 0 <= getattr(man, name) <= MAX_COUNT:
            _refuse(p, f"manikin.{name}", f"must be 0..{MAX_COUNT}, got {getattr(man, name)}")


def _section(p: Path, name: str, d: dict, from_dict):
    """``from_dict(d)``; a missing or bad field becomes one line naming the file and the section."""
    try:
        return from_dict(d)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        why = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else (str(exc) or type(exc).__name__)
        raise CalibrationFileError(f"{p}: field {name!r} is invalid: {why}") from None
