"""Makes the demo's hand cut-out (``assets/hand.png`` + ``assets/hand.json``) from ``hands.jpg``.

Not used at run time: the cut-out ships in the package. Kept so the asset can be made again:

    python -m coach.demo.make_hand ../shared/data/hands

Source: ``hands.jpg`` of the MediaPipe samples (Apache-2.0, see assets/NOTICE). The left hand of the
photo is segmented from its white background, cleaned (largest component, holes filled), given a
soft alpha edge, and saved with its reference landmarks (from ``hands.expected.json``) so the demo
knows where the heel of the hand is and how long the hand is in pixels.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HAND = 1  # the left one in the photo


def cut_out(hands_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(BGRA cut-out, (21, 2) landmarks in its pixels)."""
    import cv2

    img = cv2.imread(str(hands_dir / "hands.jpg"))
    if img is None:
        raise SystemExit(f"cannot read {hands_dir / 'hands.jpg'}")
    ref = json.loads((hands_dir / "hands.expected.json").read_text())
    lm = np.asarray(ref["hands"][HAND], dtype=np.float64)
    other = np.asarray(ref["hands"][1 - HAND], dtype=np.float64)
    split = int(round((lm[:, 0].max() + other[:, 0].min()) / 2))
    crop = img[:, :split]
    dist = np.sqrt(np.sum((255.0 - crop.astype(np.float32)) ** 2, axis=2))
    mask = cv2.morphologyEx((dist > 45).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask)
    mask = (lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    holes = cv2.connectedComponentsWithStats((1 - mask).astype(np.uint8))
    for i in range(1, holes[0]):
        x, y, w, h, _ = holes[2][i]
        if x > 0 and y > 0 and x + w < mask.shape[1] and y + h < mask.shape[0]:
            mask[holes[1] == i] = 1
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    ys, xs = np.nonzero(mask)
    pad = 8
    x0, y0 = max(xs.min() - pad, 0), max(ys.min() - pad, 0)
    x1, y1 = min(xs.max() + pad + 1, crop.shape[1]), min(ys.max() + pad + 1, crop.shape[0])
    alpha = np.clip(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0) * 255.0, 0, 255).astype(np.uint8)
    rgba = np.dstack([crop, alpha])[y0:y1, x0:x1]
    return np.ascontiguousarray(rgba), lm - [x0, y0]


def main(argv: list[str] | None = None) -> int:
    import cv2

    args = sys.argv[1:] if argv is None else argv
    hands_dir = Path(args[0] if args else "../shared/data/hands")
    rgba, lm = cut_out(hands_dir)
    out = Path(__file__).resolve().parent / "assets"
    cv2.imwrite(str(out / "hand.png"), rgba, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    (out / "hand.json").write_text(json.dumps({
        "source": "hands.jpg (MediaPipe samples, Apache-2.0), left hand of the photo",
        "landmarks_px": np.round(lm, 2).tolist(),
    }, indent=1) + "\n")
    print(f"wrote {out / 'hand.png'} ({rgba.shape[1]}x{rgba.shape[0]}, {(out / 'hand.png').stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
