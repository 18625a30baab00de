"""Test renderer: synthetic manikin scenes seen by known cameras, with ground truth.

As graphics projects test their vision code: render what a camera would see
from a known pose, run the real product on it, compare with the truth.

- :mod:`camera`: the known pinhole camera (written apart from calibration/, on purpose);
- :mod:`scene`: a ray-cast manikin on a floor, printed ArUco markers on paper;
- :mod:`hand`: a real hand photo (shared test data) cut out and composited as a planar patch;
- :mod:`scenario`: the protocol around the core simulator's waveform (rest hold, sets, breaths);
- :mod:`clips`: calibration and compression clips written as real video files, per view;
- :mod:`boards`: photos of chessboard / ChArUco boards for camera calibration;
- :mod:`accuracy`: render, run the CLI, score against the truth (``python -m tests.render.accuracy``).

Test files import it as ``render`` (pytest puts tests/ on sys.path, as for the other helpers).
"""
