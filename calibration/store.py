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
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationFileError(f"cannot read calibration file {p}: {exc}") from None
    if not text.strip():
        raise CalibrationFileError(f"calibration file {p} is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationFileError(f"calibration file {p} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
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
    manikin = None
    man_d = data.get("manikin")
    if man_d is not None:
        if not isinstance(man_d, dict):
            raise CalibrationFileError(f"{p}: field 'manikin' must be an object or null")
        manikin = _section(p, "manikin", man_d, ManikinCalibration.from_dict)
    return StationCalibration(camera, manikin, str(data.get("created", "")), str(data.get("note", "")))


def _section(p: Path, name: str, d: dict, from_dict):
    """``from_dict(d)``; a missing or bad field becomes one line naming the file and the section."""
    try:
        return from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        why = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else (str(exc) or type(exc).__name__)
        raise CalibrationFileError(f"{p}: field {name!r} is invalid: {why}") from None
