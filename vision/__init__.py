"""Camera side of cpr-coach: frame sources, MediaPipe hand tracking, the compression point.

Modules (import what you need; this package imports nothing heavy by itself):

- ``vision.sources``: ``open_source(spec)`` -> ``FrameSource`` of ``Frame`` (camera index,
  RTSP/HTTP URL, video file, image folder); live sources never raise, they yield lost markers.
- ``vision.tracker``: ``HandTracker`` / ``HandTrackerOptions`` (MediaPipe HandLandmarker,
  landmarks in frame pixels, low-contrast recovery through regions of interest).
- ``vision.observations``: ``HandObservation``, ``HandTrackingResult``.
- ``vision.compression_point``: ``CompressionPointTracker`` -> ``CompressionPoint``.
- ``vision.hand_geometry``: palm centre, heel, palm size, pixels-per-metre from world landmarks.
- ``vision.roi``: crop geometry. ``vision.bench``: ``cpr-coach bench tracker``.

Layering: may import ``models``; never calibration, coach, overlays or zmq.
"""
