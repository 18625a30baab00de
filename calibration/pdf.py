"""A minimal one-page vector PDF writer (filled rectangles, lines, Helvetica text).

Why write PDF by hand: a marker must print at true scale, and vector shapes in
a PDF are the one format every printer driver honours at "actual size". The
subset needed (a page, a content stream, the built-in Helvetica font) is a
few dozen lines, so no new dependency is taken on.

Drawing units are millimetres with the origin at the page's TOP-left and y
growing downward (like the layout reads); the writer converts to PDF points
(1 pt = 1/72 in = 25.4/72 mm) with y up.
"""
from __future__ import annotations

PT_PER_MM = 72.0 / 25.4

PAPER_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4), "a3": (297.0, 420.0)}


def _num(x: float) -> str:
    s = f"{x:.4f}".rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


def _pdf_text(s: str) -> str:
    """A PDF literal string; only printable ASCII is kept (Helvetica, standard encoding)."""
    out = []
    for ch in s:
        if ch in "\\()":
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append("?")
    return "(" + "".join(out) + ")"


class PdfPage:
    """Collects drawing operations for one page, then serialises the whole file."""

    def __init__(self, width_mm: float, height_mm: float, title: str = "") -> None:
        self.width_mm = float(width_mm)
        self.height_mm = float(height_mm)
        self.title = title
        self._ops: list[str] = []

    # y_mm is measured from the top edge of the page, downward.
    def _y(self, y_mm: float) -> float:
        return (self.height_mm - y_mm) * PT_PER_MM

    def rects(self, rects_mm: list[tuple[float, float, float, float]], gray: float = 0.0) -> None:
        """Fill rectangles (x, y_top, w, h) in one path (no seams between neighbours)."""
        if not rects_mm:
            return
        self._ops.append(f"{_num(gray)} g")
        for x, y, w, h in rects_mm:
            self._ops.append(
                f"{_num(x * PT_PER_MM)} {_num(self._y(y + h))} {_num(w * PT_PER_MM)} {_num(h * PT_PER_MM)} re"
            )
        self._ops.append("f")

    def line(self, x0: float, y0: float, x1: float, y1: float, width_mm: float = 0.2, gray: float = 0.0) -> None:
        self._ops.append(
            f"{_num(gray)} G {_num(width_mm * PT_PER_MM)} w 0 J "
            f"{_num(x0 * PT_PER_MM)} {_num(self._y(y0))} m {_num(x1 * PT_PER_MM)} {_num(self._y(y1))} l S"
        )

    def text(self, x_mm: float, y_mm: float, s: str, size_pt: float = 10.0, gray: float = 0.0, center: bool = False) -> None:
        """Text with its baseline at y_mm; ``center`` centres it on x_mm (Helvetica widths estimated)."""
        x = x_mm
        if center:
            x -= text_width_mm(s, size_pt) / 2.0
        self._ops.append(
            f"BT {_num(gray)} g /F1 {_num(size_pt)} Tf {_num(x * PT_PER_MM)} {_num(self._y(y_mm))} Td {_pdf_text(s)} Tj ET"
        )

    def content(self) -> bytes:
        return ("\n".join(self._ops) + "\n").encode("ascii")

    def to_bytes(self) -> bytes:
        w_pt, h_pt = self.width_mm * PT_PER_MM, self.height_mm * PT_PER_MM
        stream = self.content()
        objs = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(w_pt)} {_num(h_pt)}] "
                f"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            ).encode("ascii"),
            f"<< /Length {len(stream)} >>\nstream\n".encode("ascii") + stream + b"endstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            f"<< /Title {_pdf_text(self.title)} /Producer (cpr-coach) >>".encode("ascii"),
        ]
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(objs, start=1):
            offsets.append(len(out))
            out += f"{i} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objs) + 1}\n".encode("ascii")
        out += b"0000000000 65535 f \n"
        for off in offsets:
            out += f"{off:010d} 00000 n \n".encode("ascii")
        out += (
            f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info {len(objs)} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n"
        ).encode("ascii")
        return bytes(out)


# Helvetica advance widths (1/1000 em) for printable ASCII 32..126 (Adobe AFM).
_HELV = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667,
    556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556,
    556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722,
    500, 500, 500, 334, 260, 334, 584,
]


def text_width_mm(s: str, size_pt: float) -> float:
    units = sum(_HELV[ord(c) - 32] if 32 <= ord(c) < 127 else 556 for c in s)
    return units / 1000.0 * size_pt / PT_PER_MM
