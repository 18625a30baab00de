"""Makes ``docs/img/posture-placements.jpg``: what a camera sees of a rescuer from the placements docs/posture.md names.

Not used at run time (like ``make_hand``). Each panel is the demo's virtual station (the same renderer
as ``cpr-coach demo``: manikin, printed marker) seen from one placement, with a stick-figure rescuer
kneeling on the far side from the camera, arms straight (170 deg) and hands on the chest. The arms are
measured by the coach's own posture geometry (``calibration.posture.measure_posture``, from the
camera-axis landmarks and the sight rays, as the live pose worker does) and drawn by the viewer's own
``draw_posture``: an arm seen end-on says "not visible".

    python -m coach.demo.placement_pictures docs/img/posture-placements.jpg
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

# (title, elevation above the chest, azimuth from the pure side view toward the head)
PLACEMENTS = (
    ("far side, 30 deg toward the head, 20 deg up (recommended)", 20.0, 30.0),
    ("far side, pure side view, 20 deg up", 20.0, 0.0),
    ("high above the rescuer: arms seen end-on", 80.0, 0.0),
)
ELBOW_DEG = 170.0
SIZE_WH = (640, 400)


def rescuer_mm(elbow_deg: float = ELBOW_DEG) -> dict[str, np.ndarray]:
    """A kneeling rescuer on the manikin's +y side facing -y, hands stacked on the chest (manikin mm)."""
    upper, fore = 300.0, 270.0
    reach = math.sqrt(upper**2 + fore**2 - 2 * upper * fore * math.cos(math.radians(elbow_deg)))
    wrists = np.array([[-30.0, 0.0, 60.0], [30.0, 0.0, 60.0]])  # rescuer's left toward the feet (-x)
    shoulders = wrists + np.array([[-150.0, 0.0, 0.0], [150.0, 0.0, 0.0]])
    for s, w in zip(shoulders, wrists):  # shoulders straight over the hands at the arm's reach
        s[2] = w[2] + math.sqrt(reach**2 - float(np.sum((s[:2] - w[:2]) ** 2)))
    elbows = []
    for s, w in zip(shoulders, wrists):
        line = (s - w) / reach
        p = (fore**2 - upper**2 + reach**2) / (2 * reach)
        out = np.array([np.sign(s[0] - w[0]), 0.0, 0.0])  # elbows bend outward
        out -= (out @ line) * line
        elbows.append(w + p * line + math.sqrt(max(0.0, fore**2 - p**2)) * out / np.linalg.norm(out))
    mid = shoulders.mean(axis=0)
    hips = mid + np.array([[-110.0, 200.0, -520.0], [110.0, 200.0, -520.0]])
    return {"shoulders": shoulders, "elbows": np.array(elbows), "wrists": wrists, "hips": hips,
            "head": mid + np.array([0.0, -40.0, 230.0]), "knees": hips + np.array([0.0, -80.0, -330.0])}


def panel(title: str, elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    import cv2

    from calibration.posture import measure_posture, sight_rays_cam
    from coach.demo.scene import CameraSpec, VirtualStation
    from overlays.render import draw_posture, put_text

    cam = CameraSpec(width_px=SIZE_WH[0], height_px=SIZE_WH[1], hfov_deg=75.0, elevation_deg=elevation_deg,
                     azimuth_deg=azimuth_deg, distance_mm=2600.0)
    station = VirtualStation(cam)
    img = station.frame(marker=True)
    r = rescuer_mm()
    pose = cam.pose()
    grey = (70, 70, 70)

    def px(p):
        return tuple(int(round(v)) for v in station.project(np.asarray(p, float).reshape(1, 3))[0])

    for k in (0, 1):  # body first, then the measured arms on top
        cv2.line(img, px(r["shoulders"][k]), px(r["hips"][k]), grey, 3, cv2.LINE_AA)
        cv2.line(img, px(r["hips"][k]), px(r["knees"][k]), grey, 3, cv2.LINE_AA)
    for part in ("shoulders", "hips"):
        cv2.line(img, px(r[part][0]), px(r[part][1]), grey, 3, cv2.LINE_AA)
    head = px(r["head"])
    rad = max(4, int(np.linalg.norm(np.subtract(px(r["head"] + [0, 0, 110]), head))))
    cv2.circle(img, head, rad, grey, 3, cv2.LINE_AA)
    arms_mm = np.stack([r["shoulders"], r["elbows"], r["wrists"]], axis=1)  # (2, 3, 3)
    arms_px = station.project(arms_mm.reshape(-1, 3)).reshape(2, 3, 2)
    cam_m = ((arms_mm - r["hips"].mean(axis=0)) @ pose.rotation.T) / 1000.0  # hip-centred, camera axes: the pose model's world
    m = measure_posture(cam_m, np.ones((2, 3)), cam_from_manikin_rotation=pose.rotation,
                        sight_dirs_cam=sight_rays_cam(arms_px[:, 1], cam.matrix()))
    angles = [round(a) if ok else None for a, ok in zip(m.elbow_deg, m.elbow_visible)]
    draw_posture(img, {"arms_px": arms_px.tolist(), "size_px": list(SIZE_WH), "elbow_deg_lr": angles,
                       "elbow_class": "good"})
    put_text(img, title, (8, 18), 16, (255, 255, 255), align="left")
    end_on = ", ".join(f"{a:.0f}" for a in m.end_on_deg)
    put_text(img, f"camera {elevation_deg:.0f} deg up, {azimuth_deg:.0f} deg round; arms to the line of sight: {end_on} deg",
             (8, SIZE_WH[1] - 14), 13, (255, 255, 255), align="left")
    return img


def main(argv: list[str]) -> int:
    import cv2

    out = Path(argv[0]) if argv else Path("docs/img/posture-placements.jpg")
    panels = [panel(*p) for p in PLACEMENTS]
    sheet = np.vstack([np.pad(p, ((0, 6), (0, 0), (0, 0)), constant_values=255) for p in panels])[:-6]
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise SystemExit(f"cannot write {out}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
