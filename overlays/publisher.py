"""The publisher: one PUB socket that never stalls its caller.

Why these choices:
- A small send high-water mark (per subscriber) and non-blocking sends: a slow,
  stalled or dead subscriber costs the camera loop nothing; ZeroMQ drops its
  messages once its queue is full, and the station's memory stays bounded.
- ``cpr.state`` is capped at ``max_state_hz`` and ``cpr.frame`` at ``frame_hz``
  here, so every caller (simulator, live camera, replay) obeys the protocol.
- ``conflate_endpoint``: libzmq's CONFLATE keeps only the last *frame* of a
  message and breaks topic filtering on multipart messages, so a second PUB
  socket carries ``cpr.state`` as single-frame JSON for latest-only subscribers.
- One lock around the sockets: the live pipeline may publish from its camera
  thread and heartbeat from another without sharing a socket unsafely.

Usage (the live pipeline)::

    pub = Publisher(PublisherOptions(station_id="bench-1"))
    pub.publish_session("start", profile="adult")
    pub.publish_state(core_state, hands_visible=True, tracker_fps=30.0, latency_ms=12.0)
    for c in new_compressions: pub.publish_compression(c)
    pub.publish_feedback(coach.active)   # None clears
    pub.publish_overlay(overlay_body)
    pub.publish_frame(jpeg_bytes, width_px=640, height_px=360)
    pub.heartbeat(source_kind="camera", source_name="/dev/video0", tracker_status="ok", tracker_fps=30.0)
"""
from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import zmq

from coach.core.types import Compression, CoreState, SessionSummary

from . import messages
from .endpoints import EndpointError, check
from .protocol import (
    DEFAULT_PUB_ENDPOINT,
    TOPIC_COMPRESSION,
    TOPIC_FEEDBACK,
    TOPIC_FRAME,
    TOPIC_HEARTBEAT,
    TOPIC_OVERLAY,
    TOPIC_SESSION,
    TOPIC_STATE,
    TOPICS,
    encode,
)
from .security import CurveServerOptions, serve_secure, term_context


class PublisherError(RuntimeError):
    """The publisher cannot start (bad endpoint, address in use, bad keys)."""


@dataclass(frozen=True)
class PublisherOptions:
    endpoint: str = DEFAULT_PUB_ENDPOINT
    station_id: str = "station"
    sndhwm: int = 100  # messages queued per subscriber (~1 s of traffic) before ZeroMQ drops for it
    sndbuf_bytes: int = 256 * 1024  # kernel send buffer per connection: bounds memory per stalled peer
    max_state_hz: float = 60.0  # cpr.state cap (protocol: up to 60 Hz)
    frame_hz: float = 5.0  # cpr.frame cap ("reduced rate")
    conflate_endpoint: str | None = None  # extra PUB with single-frame cpr.state for CONFLATE subscribers
    curve: CurveServerOptions | None = None
    close_linger_ms: int = 500  # on close, flush what is queued (the session summary) for at most this long


@dataclass
class PublisherStats:
    sent: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TOPICS})
    refused: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TOPICS})  # EAGAIN on send
    throttled: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TOPICS})  # over the topic's rate cap

    @property
    def dropped(self) -> int:
        return sum(self.refused.values())


class Publisher:
    """Publishes every topic of the protocol on one PUB socket (see the module docstring)."""

    def __init__(
        self,
        options: PublisherOptions = PublisherOptions(),
        *,
        context: zmq.Context | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self._clock = clock
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self._lock = threading.Lock()
        self._seq = {t: 0 for t in TOPICS}
        self._caps = {TOPIC_STATE: options.max_state_hz, TOPIC_FRAME: options.frame_hz}  # topic -> rate cap (Hz)
        self._last_t = {TOPIC_STATE: -math.inf, TOPIC_FRAME: -math.inf}
        self.stats = PublisherStats()
        self.session_id: str | None = None
        self.profile_name: str | None = None
        self._sock: zmq.Socket | None = None
        self._latest: zmq.Socket | None = None
        try:
            self._sock = self._make_socket(options.endpoint)
            self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
            self.conflate_endpoint: str | None = None
            if options.conflate_endpoint:
                self._latest = self._make_socket(options.conflate_endpoint, conflate=True)
                self.conflate_endpoint = self._latest.getsockopt_string(zmq.LAST_ENDPOINT)
        except Exception:
            self.close()
            raise

    def _make_socket(self, endpoint: str, conflate: bool = False) -> zmq.Socket:
        try:
            ep = check(endpoint, bind=True)
        except EndpointError as exc:
            raise PublisherError(str(exc)) from None
        sock = self._ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.LINGER, 0)
        if conflate:  # keep the newest queued message, not the oldest (single-frame stream only)
            sock.setsockopt(zmq.CONFLATE, 1)
        else:
            sock.setsockopt(zmq.SNDHWM, self.options.sndhwm)
        sock.setsockopt(zmq.SNDBUF, self.options.sndbuf_bytes)
        serve_secure(self._ctx, sock, ep, self.options.curve, PublisherError, "publisher")
        return sock

    # ------------------------------------------------------------------ core
    def now(self) -> float:
        return self._clock()

    def _due(self, topic: str, t_s: float) -> bool:
        """Does a message of a rate-capped topic at ``t_s`` pass its cap?"""
        cap = self._caps[topic]
        if not cap:
            return topic != TOPIC_FRAME  # frame_hz 0: video off; max_state_hz 0: no cap
        # a small tolerance so a 60 Hz source is not throttled by timestamp jitter
        return t_s - self._last_t[topic] >= 0.9 / cap

    def frame_due(self, t_s: float) -> bool:
        """Would a cpr.frame at ``t_s`` pass the frame-rate cap? (Skip the JPEG encoding when not.)"""
        return self._due(TOPIC_FRAME, t_s)

    def publish(self, topic: str, body: Mapping[str, Any], *, t_s: float | None = None, extra: tuple[bytes, ...] = ()) -> bool:
        """Encode and send one message without blocking; False if dropped or throttled."""
        t = self.now() if t_s is None else float(t_s)
        if topic in self._caps:
            if not self._due(topic, t):
                self.stats.throttled[topic] += 1
                return False
            self._last_t[topic] = t
        with self._lock:
            if self._sock is None:
                return False
            seq = self._seq[topic]
            self._seq[topic] = seq + 1
            payload = encode(topic, body, station=self.options.station_id, t_s=t, seq=seq)
            try:
                self._sock.send_multipart([topic.encode("ascii"), payload, *extra], flags=zmq.NOBLOCK)
            except zmq.Again:
                self.stats.refused[topic] += 1
                return False
            self.stats.sent[topic] += 1
            if topic == TOPIC_STATE and self._latest is not None:
                try:
                    self._latest.send(payload, flags=zmq.NOBLOCK)
                except zmq.Again:
                    pass
            return True

    # ------------------------------------------------------------- topics
    def publish_state(
        self,
        state: CoreState,
        *,
        hands_visible: bool | None = None,
        tracker_fps: float | None = None,
        latency_ms: float | None = None,
        placement_mm: float | None = None,
        extras: Mapping[str, Any] | None = None,
        t_s: float | None = None,
        posture: Mapping[str, Any] | None = None,
    ) -> bool:
        """``cpr.state`` (throttled to ``max_state_hz``). ``hands_visible`` defaults to 'height is finite'."""
        if hands_visible is None:
            hands_visible = math.isfinite(state.height_mm)
        body = messages.state_body(
            state,
            hands_visible=hands_visible,
            tracker_fps=tracker_fps,
            latency_ms=latency_ms,
            placement_mm=placement_mm,
            session=self.session_id,
            extras=extras,
            posture=posture,
        )
        return self.publish(TOPIC_STATE, body, t_s=state.t_s if t_s is None else t_s)

    def publish_compression(
        self,
        c: Compression,
        *,
        placement_mm: float | None = None,
        t_s: float | None = None,
        posture: Mapping[str, Any] | None = None,
    ) -> bool:
        body = messages.compression_body(c, placement_mm=placement_mm, session=self.session_id, posture=posture)
        return self.publish(TOPIC_COMPRESSION, body, t_s=c.t_bottom_s if t_s is None else t_s)

    def publish_feedback(self, prompt: Any | None, *, t_s: float | None = None) -> bool:
        """The active prompt (anything with ``to_dict()`` or a mapping); None clears."""
        return self.publish(TOPIC_FEEDBACK, messages.feedback_body(prompt, session=self.session_id), t_s=t_s)

    def publish_overlay(self, overlay: Mapping[str, Any], *, t_s: float | None = None) -> bool:
        """Render primitives (see overlays.scene.build_overlay)."""
        body = dict(overlay)
        body.setdefault("session", self.session_id)
        return self.publish(TOPIC_OVERLAY, body, t_s=t_s)

    def publish_frame(self, jpeg: bytes, *, width_px: int, height_px: int, t_s: float | None = None) -> bool:
        """A JPEG for remote monitors, as a third frame (throttled to ``frame_hz``)."""
        body = messages.frame_body(width_px=width_px, height_px=height_px, nbytes=len(jpeg), session=self.session_id)
        return self.publish(TOPIC_FRAME, body, t_s=t_s, extra=(bytes(jpeg),))

    def publish_session(
        self,
        event: str,
        *,
        profile: str,
        summary: SessionSummary | Mapping[str, Any] | None = None,
        session_id: str | None = None,
        reason: str | None = None,
        t_s: float | None = None,
        trainee: str | None = None,
        feedback_level: str | None = None,
    ) -> str:
        """``start`` opens a session (a new id unless given); ``stop`` closes it with the summary."""
        if event == "start":
            self.session_id = session_id or uuid.uuid4().hex[:12]
            self.profile_name = profile
            sid = self.session_id
        else:
            sid = session_id or self.session_id or "none"
        body = messages.session_body(event, session=sid, profile=profile, summary=summary, reason=reason,
                                     trainee=trainee, feedback_level=feedback_level)
        self.publish(TOPIC_SESSION, body, t_s=t_s)
        if event == "stop":
            self.session_id = None
        return sid

    def heartbeat(
        self,
        *,
        source_kind: str,
        source_name: str,
        tracker_status: str,
        tracker_fps: float | None = None,
        profile: str | None = None,
        uptime_s: float = 0.0,
        t_s: float | None = None,
    ) -> bool:
        body = messages.heartbeat_body(
            source_kind=source_kind,
            source_name=source_name,
            tracker_status=tracker_status,
            tracker_fps=tracker_fps,
            running=self.session_id is not None,
            session=self.session_id,
            profile=profile or self.profile_name or "",
            uptime_s=uptime_s,
            dropped=self.stats.dropped,
        )
        return self.publish(TOPIC_HEARTBEAT, body, t_s=t_s)

    # ------------------------------------------------------------- lifecycle
    def close(self) -> None:
        with self._lock:
            for s in (self._sock, self._latest):
                if s is not None:
                    s.close(linger=self.options.close_linger_ms)  # bounded: a dead peer cannot hold us
            self._sock = self._latest = None
        if self._own_context:
            term_context(self._ctx)
            self._own_context = False

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
