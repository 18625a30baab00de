"""The printable marker sheet: the ArUco marker at true scale, a ruler and instructions.

Why a ruler: printers and PDF viewers love "fit to page", which silently
shrinks the marker by a few percent, and every percent of marker size is a
percent of depth error. The ruler (and the printed side length) let the user
check the print with any ruler, and pass the measured size to calibration.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.markers import DEFAULT_DICTIONARY, MarkerError, marker_bits
from calibration.pdf import PAPER_MM, PdfPage, text_width_mm

MARGIN_MM = 12.0


@dataclass(frozen=True)
class MarkerSheet:
    dictionary: str = DEFAULT_DICTIONARY
    marker_id: int = 0
    size_mm: float = 120.0
    paper: str = "a4"


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of the True runs in a bool row."""
    out = []
    i, n = 0, len(row)
    while i < n:
        if row[i]:
            j = i
            while j < n and row[j]:
                j += 1
            out.append((i, j - i))
            i = j
        else:
            i += 1
    return out


def marker_rects_mm(bits: np.ndarray, x0: float, y0: float, size_mm: float) -> list[tuple[float, float, float, float]]:
    """The black cells as rectangles (x, y_top, w, h), merged into horizontal runs per row."""
    cells = bits.shape[0]
    c = size_mm / cells
    rects = []
    for r in range(cells):
        for start, length in _runs(bits[r]):
            rects.append((x0 + start * c, y0 + r * c, length * c, c))
    return rects


def build_marker_page(sheet: MarkerSheet) -> PdfPage:
    if sheet.paper not in PAPER_MM:
        raise MarkerError(f"unknown paper {sheet.paper!r}; choose one of: {', '.join(PAPER_MM)}")
    if not (10.0 <= sheet.size_mm <= 400.0):
        raise MarkerError(f"marker size must be between 10 and 400 mm, got {sheet.size_mm:g}")
    bits = marker_bits(sheet.dictionary, sheet.marker_id)
    cells = bits.shape[0]
    cell = sheet.size_mm / cells
    pw, ph = PAPER_MM[sheet.paper]
    quiet = max(cell, 5.0)  # white border ArUco needs around the black square
    ruler_len = float(min(150.0, 10.0 * np.floor((pw - 2 * MARGIN_MM) / 10.0)))
    need_w = sheet.size_mm + 2 * quiet + 2 * MARGIN_MM
    need_h = MARGIN_MM + 16 + quiet + sheet.size_mm + quiet + 8 + 20 + 30 + MARGIN_MM
    if need_w > pw or need_h > ph:
        bigger = [p for p, (w, h) in PAPER_MM.items() if w >= need_w and h >= need_h]
        hint = f"use --paper {bigger[0]}" if bigger else "use a smaller marker"
        raise MarkerError(
            f"a {sheet.size_mm:g} mm marker with its ruler does not fit on {sheet.paper.upper()} "
            f"({pw:g}x{ph:g} mm): {hint}"
        )
    page = PdfPage(pw, ph, title=f"cpr-coach marker {sheet.dictionary} id {sheet.marker_id} {sheet.size_mm:g} mm")
    cx = pw / 2.0
    y = MARGIN_MM + 5
    page.text(cx, y, f"cpr-coach manikin marker - {sheet.dictionary} id {sheet.marker_id} - "
                     f"black square {sheet.size_mm:g} mm per side", 11, center=True)
    y += 7
    page.text(cx, y, "HEAD: lay this edge toward the manikin's head", 9, gray=0.25, center=True)
    # arrow pointing up (toward the head)
    ay = y + 2.5
    page.line(cx, ay + 6, cx, ay, 0.4)
    page.line(cx - 2, ay + 2, cx, ay, 0.4)
    page.line(cx + 2, ay + 2, cx, ay, 0.4)
    y = ay + 6 + quiet
    mx0, my0 = cx - sheet.size_mm / 2.0, y
    page.rects(marker_rects_mm(bits, mx0, my0, sheet.size_mm))
    # centre ticks in the margin (never touching the quiet zone): align with the compression point
    t0 = quiet * 0.85
    for sx in (-1, 1):
        xe = cx + sx * (sheet.size_mm / 2.0 + t0)
        page.line(xe, my0 + sheet.size_mm / 2.0, xe + sx * 6, my0 + sheet.size_mm / 2.0, 0.3, 0.3)
    page.line(cx, my0 + sheet.size_mm + t0, cx, my0 + sheet.size_mm + t0 + 6, 0.3, 0.3)
    y = my0 + sheet.size_mm + quiet + 8
    # ruler
    rx0 = cx - ruler_len / 2.0
    base = y + 10
    page.line(rx0, base, rx0 + ruler_len, base, 0.25)
    for mm in range(int(ruler_len) + 1):
        if mm % 10 == 0:
            tick = 6.0
        elif mm % 5 == 0:
            tick = 4.0
        else:
            tick = 2.5
        xm = rx0 + mm
        page.line(xm, base, xm, base - tick, 0.15)
        if mm % 10 == 0:
            lab = str(mm // 10)
            page.text(xm, base - 7.2, lab, 7, center=True)
    page.text(rx0 + ruler_len + 2, base, "cm", 7)
    y = base + 7
    lines = [
        "Print at 100% / \"actual size\" (never \"fit to page\"), on plain paper, and check with a ruler:",
        f"0 to {int(ruler_len // 10)} on the ruler above must measure {ruler_len:g} mm, and the black square "
        f"{sheet.size_mm:g} mm per side.",
        "If it is off, measure the black square and pass the measured size: --marker-mm <measured>.",
        "Lay the sheet flat on the lower half of the sternum, centre ticks on the compression point,",
        "top edge toward the head; then run: cpr-coach calibrate manikin --source ... --marker-mm "
        f"{sheet.size_mm:g} -o station.json",
    ]
    for ln in lines:
        y += 4.6
        fs = 8.0
        while text_width_mm(ln, fs) > pw - 2 * MARGIN_MM and fs > 5:
            fs -= 0.5
        page.text(MARGIN_MM, y, ln, fs, gray=0.15)
    return page


def marker_pdf_bytes(sheet: MarkerSheet) -> bytes:
    return build_marker_page(sheet).to_bytes()
