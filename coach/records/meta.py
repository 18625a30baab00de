"""What a session's numbers rest on: station, trainee, source, profile and the calibration.

Why in the header: the debrief must say how far to trust a depth ("marker calibration, 30 deg
above the side view, +-2 mm"), and that depends on how the station was set up at the time, not now.
The stated uncertainties are the accuracy statements of docs/calibration.md, kept here in one place.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

# Depth uncertainty stated per geometry mode (docs/calibration.md, "Measured accuracy" and the
# no-marker fallback): (typical, worst) in mm and the sentence the report prints.
DEPTH_UNCERTAINTY: dict[str, tuple[float, float, str]] = {
    "marker": (2.5, 4.0, "printed marker on the chest, markerless hands: depth within about ±2.5-4 mm, by the view and "
                         "the hands (each analyze states its own; bias -3.0 to +3.0 mm on rendered hand families and "
                         "views, more under heavy motion blur)"),
    "anchor": (1.0, 3.0, "static anchor marker, moving camera: depth within about ±3 mm (measured 0.5 mm mean error on rendered clips)"),
    "hand-size": (5.0, 10.0, "no marker, the hand's own size: depth within ±5-17 % (about ±3-10 mm at 55 mm; "
                             "rendered hands of 165-205 mm read -17 to +13 %); "
                            "rate, counts and pauses are unaffected"),
    "trace": (math.nan, math.nan, "a recorded height trace: the uncertainty is that of the device that recorded it"),
    "simulator": (0.0, 0.0, "simulated trainee: the heights are exact by construction"),
}


def calibration_info(mode: str, *, file: str | None = None, station: Any = None,
                     hand_length_mm: float | None = None, depth_uncertainty_mm: float | None = None) -> dict[str, Any]:
    """The header's ``calibration`` section for a geometry ``mode`` ("marker", "anchor", "hand-size", ...).

    ``station`` is a ``calibration.store.StationCalibration`` (duck-typed: its ``manikin.view`` angles and
    ``manikin.marker`` are read when present). ``depth_uncertainty_mm``: the session's own stated uncertainty
    (``PipelineResult.depth_uncertainty_mm``, from its geometry), kept as ``stated_depth_uncertainty_mm`` beside
    the mode's worst case.
    """
    _typical, worst, text = DEPTH_UNCERTAINTY.get(mode, (math.nan, math.nan, "unknown geometry mode"))
    out: dict[str, Any] = {"mode": mode, "file": file, "depth_uncertainty_mm": worst, "uncertainty_text": text}
    if depth_uncertainty_mm is not None and math.isfinite(depth_uncertainty_mm):
        out["stated_depth_uncertainty_mm"] = float(depth_uncertainty_mm)
        out["uncertainty_text"] = f"{text}; this session states ±{depth_uncertainty_mm:.1f} mm (from its geometry)"
    man = getattr(station, "manikin", None)
    view = getattr(man, "view", None)
    if view is not None:
        out["elevation_deg"] = getattr(view, "elevation_deg", None)
        out["azimuth_from_side_deg"] = getattr(view, "azimuth_from_side_deg", None)
        out["distance_mm"] = getattr(view, "distance_mm", None)
    marker = getattr(man, "marker", None)
    if marker is not None:
        out["marker"] = marker.to_dict() if hasattr(marker, "to_dict") else str(marker)
    if hand_length_mm is not None:
        out["hand_length_mm"] = hand_length_mm
    return out


def session_meta(*, station_id: str, profile: str, source_kind: str = "", source_name: str = "",
                 trainee_id: str | None = None, calibration: Mapping[str, Any] | None = None,
                 started_at: str | None = None, t0_s: float | None = None,
                 extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The header's metadata (plain JSON values)."""
    from coach.records.store import utc_now_iso

    meta = {
        "trainee_id": trainee_id, "station_id": station_id, "profile": profile, "source_kind": source_kind,
        "source_name": source_name, "started_at": started_at or utc_now_iso(), "t0_s": t0_s,
        "calibration": None if calibration is None else dict(calibration),
    }
    if extra:
        meta.update(dict(extra))
    return meta
