"""The printable marker PDF: a valid file, true scale (1 pt = 1/72 in), a decodable marker, a ruler."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from calibration.marker_sheet import MarkerSheet, marker_pdf_bytes
from calibration.markers import MarkerError
from calibration.pdf import PT_PER_MM

_NUM = r"-?\d+(?:\.\d+)?"


def _parse(pdf: bytes):
    """A strict little reader for our own PDF: checks the xref table, returns (mediabox, content)."""
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF", pdf).group(1))
    assert pdf[startxref:startxref + 4] == b"xref"
    m = re.match(rb"xref\n0 (\d+)\n", pdf[startxref:])
    n = int(m.group(1))
    table = pdf[startxref + m.end():startxref + m.end() + 20 * n]
    entries = [table[i * 20:(i + 1) * 20] for i in range(n)]
    assert entries[0] == b"0000000000 65535 f \n"
    for i, e in enumerate(entries[1:], start=1):
        assert len(e) == 20 and e.endswith(b" n \n")
        off = int(e[:10])
        assert pdf[off:].startswith(f"{i} 0 obj".encode()), f"xref entry {i} points at the wrong place"
    trailer = pdf[startxref + m.end() + 20 * n:]
    assert re.search(rb"/Size %d\b" % n, trailer) and b"/Root 1 0 R" in trailer
    box = [float(x) for x in re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf).groups()]
    sm = re.search(rb"<< /Length (\d+) >>\nstream\n", pdf)
    length = int(sm.group(1))
    content = pdf[sm.end():sm.end() + length]
    assert pdf[sm.end() + length:sm.end() + length + 9] == b"endstream"
    return box, content.decode("ascii")


def _black_rects(content: str) -> list[tuple[float, float, float, float]]:
    """The rectangles of the (single) filled path, in pt (x, y, w, h with y up)."""
    block = re.search(r"0 g\n((?:.* re\n)+)f\n", content).group(1)
    return [tuple(float(v) for v in ln.split()[:4]) for ln in block.strip().splitlines()]


def test_a4_marker_is_true_scale_and_decodes():
    pdf = marker_pdf_bytes(MarkerSheet("DICT_4X4_50", 0, 120.0, "a4"))
    box, content = _parse(pdf)
    assert box == pytest.approx([210.0 * 72 / 25.4, 297.0 * 72 / 25.4], abs=1e-3)  # A4 in points
    rects = _black_rects(content)
    xs0 = min(r[0] for r in rects)
    xs1 = max(r[0] + r[2] for r in rects)
    ys0 = min(r[1] for r in rects)
    ys1 = max(r[1] + r[3] for r in rects)
    side_pt = 120.0 * 72.0 / 25.4  # 340.157 pt
    assert xs1 - xs0 == pytest.approx(side_pt, abs=1e-3)
    assert ys1 - ys0 == pytest.approx(side_pt, abs=1e-3)
    assert (xs0 + xs1) / 2 == pytest.approx(box[0] / 2, abs=1e-3)  # centred on the page
    # rasterise the vector cells at 10 px/mm with a white margin and decode them with ArUco
    s = 10.0 / PT_PER_MM
    pad = 200
    size = int(round(side_pt * s)) + 2 * pad
    img = np.full((size, size), 255, np.uint8)
    for x, y, w, h in rects:
        x0 = int(round((x - xs0) * s)) + pad
        x1 = int(round((x + w - xs0) * s)) + pad
        y1 = size - (int(round((y - ys0) * s)) + pad)
        y0 = size - (int(round((y + h - ys0) * s)) + pad)
        img[y0:y1, x0:x1] = 0
    det = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50))
    corners, ids, _ = det.detectMarkers(img)
    assert ids is not None and ids.reshape(-1).tolist() == [0]
    c = corners[0].reshape(4, 2)
    # ArUco's first corner is the marker's top-left: the printed top edge is up on the page (toward the head)
    assert c[0][1] < c[3][1] and c[0][0] < c[1][0]
    assert np.linalg.norm(c[1] - c[0]) == pytest.approx(1200.0, abs=3.0)  # 120 mm at 10 px/mm


def test_ruler_ticks_are_millimetres():
    _, content = _parse(marker_pdf_bytes(MarkerSheet(size_mm=100.0)))
    lines = re.findall(rf"({_NUM}) w 0 J ({_NUM}) ({_NUM}) m ({_NUM}) ({_NUM}) l S", content)
    verticals = [(float(x0), float(y0), float(y1)) for _, x0, y0, x1, y1 in lines if x0 == x1 and y0 != y1]
    # the ruler: many vertical ticks sharing a base line
    bases: dict[float, list[float]] = {}
    for x, y0, _ in verticals:
        bases.setdefault(round(y0, 3), []).append(x)
    xs = sorted(max(bases.values(), key=len))
    assert len(xs) == 151  # 0..150 mm
    steps = np.diff(xs)
    np.testing.assert_allclose(steps, 72.0 / 25.4, atol=2e-4)  # 1 mm = 2.8346 pt
    assert xs[-1] - xs[0] == pytest.approx(150.0 * 72.0 / 25.4, abs=1e-3)
    assert "(15) Tj" in content and "cm" in content
    assert "actual size" in content and "--marker-mm" in content


def test_letter_and_other_dictionaries():
    box, content = _parse(marker_pdf_bytes(MarkerSheet("DICT_5X5_100", 42, 80.0, "letter")))
    assert box == pytest.approx([612.0, 792.0], abs=1e-3)  # US letter is 8.5 x 11 in
    assert "DICT_5X5_100 id 42" in content
    rects = _black_rects(content)
    cell = 80.0 / 7 * PT_PER_MM  # 5x5 bits + border = 7 cells
    assert min(r[3] for r in rects) == pytest.approx(cell, abs=1e-3)


@pytest.mark.parametrize(
    "sheet,match",
    [
        (MarkerSheet(size_mm=200.0), "does not fit on A4.*--paper a3"),
        (MarkerSheet(size_mm=5.0), "between 10 and 400"),
        (MarkerSheet(dictionary="DICT_9X9_1"), "unknown ArUco dictionary"),
        (MarkerSheet(marker_id=50), "not in DICT_4X4_50 \\(ids 0..49\\)"),
        (MarkerSheet(paper="a5"), "unknown paper"),
    ],
)
def test_bad_requests(sheet, match):
    with pytest.raises(MarkerError, match=match):
        marker_pdf_bytes(sheet)
