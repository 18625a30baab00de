"""``cpr-coach calibrate print-marker|camera|manikin`` on rendered inputs, through the real CLI."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from coach.cli import main
from render.boards import charuco_texture, chessboard_texture, render_board_photos
from render.clips import ViewSpec, render_calibration_clip


def test_print_marker(tmp_path, capsys):
    out = tmp_path / "marker.pdf"
    assert main(["calibrate", "print-marker", "--mm", "120", "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-1.4") and b"/MediaBox [0 0 595.2756 841.8898]" in data
    assert "black square 120 mm" in capsys.readouterr().out


def test_print_marker_errors_are_one_line(tmp_path, capsys):
    assert main(["calibrate", "print-marker", "--mm", "200", "-o", str(tmp_path / "m.pdf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cpr-coach: error:") and "--paper a3" in err and "\n" not in err
    assert main(["calibrate", "print-marker", "-o", str(tmp_path / "nodir" / "m.pdf")]) == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["chessboard", "charuco"])
def test_camera_intrinsics_from_board_photos(tmp_path, capsys, kind):
    K = np.array([[1000.0, 0.0, 652.0], [0.0, 1000.0, 351.0], [0.0, 0.0, 1.0]])
    if kind == "chessboard":
        tex = chessboard_texture(9, 6)
        photos = render_board_photos(tex, 12 * 25.0, K, (1280, 720), n=12)  # 10 squares + 2 margin squares
        flags = ["--chessboard", "9x6", "--square-mm", "25"]
    else:
        tex = charuco_texture(7, 5, 30.0, 22.0, cv2.aruco.DICT_4X4_50)
        photos = render_board_photos(tex, 8 * 30.0, K, (1280, 720), n=12)  # 7 squares + 2 half-square margins
        flags = ["--charuco", "7x5", "--square-mm", "30", "--charuco-marker-mm", "22"]
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, p in enumerate(photos):
        cv2.imwrite(str(folder / f"img{i:02d}.png"), p)
    cv2.imwrite(str(folder / "blank.png"), np.full((720, 1280, 3), 128, np.uint8))  # no board: rejected, not fatal
    out = tmp_path / "camera.json"
    assert main(["calibrate", "camera", "--images", str(folder), *flags, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "board found in 12 of 13 images" in text and "blank.png" in text
    cam = json.loads(out.read_text())["camera"]
    assert cam["source"] == kind and cam["views"] == 12
    assert cam["fx_px"] == pytest.approx(1000.0, rel=0.01)
    assert cam["fy_px"] == pytest.approx(1000.0, rel=0.01)
    assert cam["cx_px"] == pytest.approx(652.0, abs=6.0)
    assert cam["cy_px"] == pytest.approx(351.0, abs=6.0)
    assert cam["rms_px"] < 0.5


def test_camera_too_few_views(tmp_path, capsys):
    folder = tmp_path / "p"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((480, 640, 3), 128, np.uint8))
    assert main(["calibrate", "camera", "--images", str(folder), "--chessboard", "9x6", "--square-mm", "25",
                 "-o", str(tmp_path / "c.json")]) == 2
    assert "found in 0 image(s), at least 5 are needed" in capsys.readouterr().err


def test_camera_from_a_truncated_video_uses_the_frames_it_has(tmp_path, capsys):
    K = np.array([[600.0, 0.0, 322.0], [0.0, 600.0, 236.0], [0.0, 0.0, 1.0]])
    photos = render_board_photos(chessboard_texture(9, 6), 12 * 25.0, K, (640, 480), n=14)
    full = tmp_path / "board.avi"
    w = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for p in photos:
        w.write(p)
    w.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])  # the recording stopped early
    out = tmp_path / "camera.json"
    rc = main(["calibrate", "camera", "--source", str(cut), "--every", "1", "--chessboard", "9x6", "--square-mm", "25",
               "-o", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "cut.avi ends early" in cap.err and "using the frames read so far" in cap.err
    cam = json.loads(out.read_text())["camera"]
    assert 5 <= cam["views"] < 14
    assert cam["fx_px"] == pytest.approx(600.0, rel=0.03)


@pytest.fixture(scope="module")
def side_clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("calclip")
    return render_calibration_clip(d / "calib.mp4", ViewSpec("vga", 640, 480, elevation_deg=30.0), seconds=1.0)


def test_manikin_from_a_video(tmp_path, capsys, side_clip):
    out = tmp_path / "station.json"
    rc = main(["calibrate", "manikin", "--source", str(side_clip.path), "--hfov", "60", "--marker-mm", "120",
               "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "used 30 frames" in text and "reprojection error" in text
    assert "30.0 deg above the chest" in text or "29.9 deg above the chest" in text or "30.1 deg above the chest" in text
    st = json.loads(out.read_text())
    man = st["manikin"]
    assert man["elevation_deg"] == pytest.approx(30.0, abs=0.3)
    assert man["azimuth_from_side_deg"] == pytest.approx(0.0, abs=0.3)
    assert man["distance_mm"] == pytest.approx(900.0, rel=0.005)
    assert st["camera"]["hfov_deg"] == pytest.approx(60.0)
    assert man["anchor"] is None


def test_manikin_cli_errors(tmp_path, capsys, side_clip):
    # no intrinsics
    assert main(["calibrate", "manikin", "--source", str(side_clip.path), "-o", str(tmp_path / "s.json")]) == 2
    assert "--hfov DEG" in capsys.readouterr().err
    # wrong id
    assert main(["calibrate", "manikin", "--source", str(side_clip.path), "--hfov", "60", "--id", "3",
                 "-o", str(tmp_path / "s.json")]) == 2
    assert "id 3 was found in 0 of 30 frames" in capsys.readouterr().err
    # missing video
    assert main(["calibrate", "manikin", "--source", str(tmp_path / "none.mp4"), "--hfov", "60",
                 "-o", str(tmp_path / "s.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # nothing to average
    assert main(["calibrate", "manikin", "--source", str(side_clip.path), "--hfov", "60", "--frames", "0",
                 "-o", str(tmp_path / "s.json")]) == 2
    assert "--frames and --min-frames must be at least 1" in capsys.readouterr().err
    # garbled intrinsics file
    bad = tmp_path / "cam.json"
    bad.write_text("{ oops")
    assert main(["calibrate", "manikin", "--source", str(side_clip.path), "--camera", str(bad),
                 "-o", str(tmp_path / "s.json")]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and str(bad) in err
    assert not (tmp_path / "s.json").exists()


def test_manikin_refuses_a_view_along_the_body(tmp_path, capsys):
    clip = render_calibration_clip(tmp_path / "along.mp4", ViewSpec("along", 640, 480, elevation_deg=30.0,
                                                                    azimuth_deg=80.0, distance_mm=800.0), seconds=0.5)
    rc = main(["calibrate", "manikin", "--source", str(clip.path), "--hfov", "60", "-o", str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "degenerate view" in err and "along the body axis" in err and "+-45 deg of a side view" in err
    assert math.isfinite(len(err)) and err.count("\n") == 1
