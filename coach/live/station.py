"""The Station as the live loop uses it: sessions on the pipeline's rest baseline, the rest hold
shown before a session, and the source's own state in the heartbeat.

Why a subclass and not options on ``Station``: the simulator's and replay's stations have no rest
hold and no camera to lose; only the live loop has both, and it keeps that knowledge here.
"""
from __future__ import annotations

import math
from dataclasses import replace

from coach.feedback.prompts import REST_HANDS
from coach.station import Sample, Station
from overlays.scene import SceneInputs, build_overlay


class LiveStation(Station):
    """A ``Station`` whose session analyzer starts from the measured rest baseline.

    Set ``rest_height_mm`` (the pipeline's, once its rest hold is found) before the first
    ``process``: the session that then starts analyses exactly the signal the pipeline's own core
    sees, so the published compressions equal ``analyze``'s on the same frames.
    """

    def __init__(self, *args, **kwargs) -> None:
        self.source_lost = False  # the camera is gone: the heartbeat says "lost"
        super().__init__(*args, **kwargs)

    @property
    def rest_height_mm(self) -> float | None:
        """The rest baseline the next session's core starts from (``StationOptions.rest_height_mm``)."""
        return self.options.rest_height_mm

    @rest_height_mm.setter
    def rest_height_mm(self, value: float | None) -> None:
        self.options = replace(self.options, rest_height_mm=value)

    def _tracker_status(self) -> tuple[str, float | None]:
        return ("lost", None) if self.source_lost else super()._tracker_status()

    def rest_hold(self, sample: Sample, waited_s: float) -> None:
        """Before the session: the prompt to rest the hands (``waited_s`` since the first hand was seen),
        the overlay with it, and the frame's picture; no analysis yet (the baseline is not known)."""
        t = sample.t_s
        if math.isfinite(self._t_last) and t <= self._t_last:
            return
        prompt = REST_HANDS.at(t, waited_s=round(waited_s, 1))
        self._last_sample = sample  # the heartbeat says whether the hands are seen
        pub = self.publisher
        if t - self._last_fb_t >= self.options.feedback_repeat_s:  # (-inf before the first prompt)
            self._last_fb_t = t
            pub.publish_feedback(prompt, t_s=t)
        if t - self._last_overlay_t >= 0.9 / self.options.overlay_hz:
            self._last_overlay_t = t
            scene = SceneInputs(t_s=t, profile=self.profile, prompt=prompt.to_dict(),
                                placement_mm=sample.placement_mm, hands_visible=bool(sample.visible))
            self._last_overlay = build_overlay(scene, self.options.layout, self.project)
            pub.publish_overlay(self._last_overlay, t_s=t)
        self._publish_picture(sample, t)
        self.idle(t)

    def held(self, sample: Sample) -> None:
        """A frame the pipeline holds back (the hands being located again after a pause): its picture goes out now,
        its analysis once the pipeline has re-measured it (``process``, in order, possibly a second or two later)."""
        self._publish_picture(sample, sample.t_s)
        self.idle(sample.t_s)

    @property
    def last_overlay(self):
        """The newest overlay message body (for the preview)."""
        return self._last_overlay
