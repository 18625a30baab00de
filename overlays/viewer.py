"""The monitor viewer: overlays drawn over video, in a window or to files.

Why it only subscribes: a monitor next to the manikin, an instructor's laptop
across the room and a recording box all run the same viewer against the
station's PUB socket. Video comes from a local camera (``camera``) or from the
station's ``cpr.frame`` messages. With a display it opens an OpenCV window;
headless it writes an annotated video and/or PNG snapshots.

The loop takes a clock and a sleep (tests run it faster than real time) and
never blocks on the network: each output frame drains what has arrived.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from .protocol import (
    DEFAULT_PUB_ENDPOINT,
    TOPIC_FEEDBACK,
    TOPIC_FRAME,
    TOPIC_HEARTBEAT,
    TOPIC_OVERLAY,
    TOPIC_SESSION,
    TOPIC_STATE,
)
from .render import RenderStyle, draw_overlay, draw_posture, put_text
from .security import CurveClientOptions
from .subscriber import SILENCE_HINT_S, Subscriber, SubscriberOptions, silence_hint


# How the summary words the core's CCF rating (the thresholds live in the guideline profile).
_CCF_WORDS = {"below_min": "(below minimum)", "ok": "(ok)", "goal": "(goal met)"}


class ViewerError(RuntimeError):
    """The viewer cannot start (bad output path, camera that will not open)."""


@dataclass(frozen=True)
class ViewerOptions:
    connect: str = DEFAULT_PUB_ENDPOINT
    curve: CurveClientOptions | None = None
    size: tuple[int, int] = (1280, 720)  # output (width, height) in px
    fps: float = 30.0
    camera: str | int | None = None  # a local camera/stream to draw over (instead of cpr.frame)
    window: bool = False  # an OpenCV window (needs a display)
    video_path: Path | None = None  # write an annotated video (.mp4 or .avi)
    snapshot_dir: Path | None = None  # write PNG snapshots here
    snapshot_every_s: float = 1.0
    duration_s: float | None = None  # stop after this long (None: until the window closes / Ctrl-C)
    stale_frame_s: float = 2.0  # remote video older than this is not shown
    no_signal_s: float = 3.0  # no heartbeat/state for this long: "no signal"


@dataclass
class ViewerStats:
    frames: int = 0
    snapshots: list[Path] = field(default_factory=list)
    messages: int = 0
    video_frames_in: int = 0
    last_depth_mm: float | None = None
    last_prompt: str | None = None
    session_events: list[str] = field(default_factory=list)
    bad_messages: int = 0  # decoded but malformed (against the schema): skipped, the viewer goes on
    hints: list[str] = field(default_factory=list)  # "why nothing arrives" lines said so far


class MonitorViewer:
    def __init__(self, options: ViewerOptions = ViewerOptions(), *, clock: Callable[[], float] = time.monotonic,
                 log: Callable[[str], None] | None = None) -> None:
        self.options = options
        self._clock = clock
        self._log = log  # where the "why nothing arrives" line goes (the CLI: stderr)
        self._quiet_since = clock()
        self._hint: str | None = None
        self.style = RenderStyle()
        self.stats = ViewerStats()
        self.sub = Subscriber(SubscriberOptions(connect=options.connect, curve=options.curve,
                                                topics=(TOPIC_STATE, TOPIC_OVERLAY, TOPIC_FEEDBACK, TOPIC_FRAME,
                                                        TOPIC_SESSION, TOPIC_HEARTBEAT)))
        self._overlay: dict[str, Any] | None = None
        self._state: dict[str, Any] | None = None
        self._heartbeat: dict[str, Any] | None = None
        self._video: np.ndarray | None = None
        self._video_at = -math.inf
        self._last_msg_at = -math.inf
        self._summary: dict[str, Any] | None = None
        self._summary_at = -math.inf
        self._cap = None
        self._writer = None
        if options.camera is not None:
            cam = int(options.camera) if isinstance(options.camera, str) and options.camera.isdigit() else options.camera
            self._cap = cv2.VideoCapture(cam)
            if not self._cap.isOpened():
                self.close()
                raise ViewerError(f"cannot open camera {options.camera!r}")
        if options.video_path is not None:
            p = Path(options.video_path)
            if not p.parent.is_dir():
                self.close()
                raise ViewerError(f"folder {p.parent} for the video does not exist")
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if p.suffix.lower() == ".avi" else "mp4v"))
            self._writer = cv2.VideoWriter(str(p), fourcc, options.fps, options.size)
            if not self._writer.isOpened():
                self.close()
                raise ViewerError(f"cannot write video {p} (use .mp4 or .avi)")
        if options.snapshot_dir is not None:
            Path(options.snapshot_dir).mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------- input
    def poll(self) -> None:
        """Take in everything that has arrived (never waits)."""
        now = self._clock()
        for m in self.sub.drain(max_n=2000):
            self.stats.messages += 1
            self._last_msg_at = self._quiet_since = now
            self._hint = None
            try:
                self._take(m, now)
            except (AttributeError, KeyError, TypeError, ValueError, cv2.error):
                self.stats.bad_messages += 1  # one malformed message never stops the viewer
        if self._hint is None and now - self._quiet_since >= SILENCE_HINT_S:
            self._hint = silence_hint(self.options.connect, self.options.curve)  # once per silence
            self.stats.hints.append(self._hint)
            if self._log is not None:
                self._log(self._hint)

    def _take(self, m, now: float) -> None:
        """Keep what one message says (raises on a message that breaks the schema)."""
        if m.topic == TOPIC_OVERLAY:
            prims = m.payload.get("primitives")
            if not isinstance(prims, list) or not all(isinstance(p, dict) for p in prims):
                raise ValueError("cpr.overlay: 'primitives' must be a list of objects")
            self._overlay = m.payload
        elif m.topic == TOPIC_STATE:
            for k in ("t_s", "displacement_mm"):
                v = m.payload.get(k)
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    raise ValueError(f"cpr.state: {k!r} must be a number")
            self._state = m.payload
            if m.payload.get("last_depth_mm") is not None:
                self.stats.last_depth_mm = m.payload["last_depth_mm"]
        elif m.topic == TOPIC_HEARTBEAT:
            if not isinstance(m.payload.get("source") or {}, dict):
                raise ValueError("cpr.heartbeat: 'source' must be an object")
            self._heartbeat = m.payload
        elif m.topic == TOPIC_FEEDBACK:
            pr = m.payload.get("prompt")
            self.stats.last_prompt = None if pr is None else pr.get("text")
        elif m.topic == TOPIC_SESSION:
            self.stats.session_events.append(m.payload.get("event", "?"))
            if m.payload.get("event") == "stop":
                summary = m.payload.get("summary")
                self._summary = summary if isinstance(summary, dict) else None
                self._summary_at = now
                if self._overlay is not None:  # the session is over: no live prompt or timer stays up
                    self._overlay = dict(self._overlay, primitives=[
                        p for p in self._overlay.get("primitives", ())
                        if not (p.get("kind") == "text" and p.get("role") in ("prompt", "status"))
                        and p.get("kind") != "metronome"])
            else:
                self._summary = None
        elif m.topic == TOPIC_FRAME and m.extra and m.extra[0]:
            img = cv2.imdecode(np.frombuffer(m.extra[0], np.uint8), cv2.IMREAD_COLOR)
            if img is not None:
                self._video, self._video_at = img, now
                self.stats.video_frames_in += 1

    # ----------------------------------------------------------- output
    def _background(self, now: float) -> np.ndarray:
        w, h = self.options.size
        if self._cap is not None:
            ok, img = self._cap.read()
            if ok and img is not None and img.size:
                if img.ndim == 2:
                    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
                elif img.shape[2] == 4:
                    img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
                return _fit(img, w, h)
        if self._video is not None and now - self._video_at <= self.options.stale_frame_s:
            return _fit(self._video, w, h)
        bg = np.zeros((h, w, 3), np.uint8)
        bg[:] = (40, 36, 34)
        return bg

    def compose(self) -> np.ndarray:
        """One output frame from what is known now."""
        now = self._clock()
        img = self._background(now)
        H = img.shape[0]
        t_station = None
        live = None
        if self._state is not None:
            t_station = self._state.get("t_s")
            live = self._state.get("displacement_mm")
            if t_station is not None and self._last_msg_at > -math.inf:
                t_station += now - self._last_msg_at  # animate the metronome between messages
        posture = (self._state or {}).get("posture")
        if isinstance(posture, dict):
            try:
                draw_posture(img, posture, self.style)
            except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, cv2.error):
                self.stats.bad_messages += 1  # a malformed posture is not drawn; the viewer goes on
        if self._overlay is not None:
            draw_overlay(img, self._overlay, t_s=t_station, live_depth_mm=live, style=self.style)
        if self._summary is not None and now - self._summary_at < 30.0:
            try:
                self._draw_summary(img, self._summary)
            except (TypeError, ValueError):  # a summary with non-numbers: not drawn, the viewer goes on
                self.stats.bad_messages += 1
                self._summary = None
        # status bar: who we listen to, and whether it is alive
        alive = now - self._last_msg_at <= self.options.no_signal_s
        station = (self._heartbeat or self._state or {}).get("station", "?")
        src = ((self._heartbeat or {}).get("source") or {}).get("kind", "")
        bar = f"{station}  {src}  {self.options.connect}"
        put_text(img, bar, (10, H - int(0.03 * H)), 0.022 * H, self.style.neutral, align="left")
        if not alive:
            put_text(img, "NO SIGNAL", (img.shape[1] // 2, H // 2), 0.1 * H, self.style.alert, backing=self.style)
            why = f"waiting for {self.options.connect}"
            if self._hint is not None:
                why = self._hint.split(": ", 1)[-1][:110]  # the likely cause, drawn where the operator looks
            put_text(img, why, (img.shape[1] // 2, H // 2 + int(0.1 * H)),
                     0.03 * H, self.style.text, backing=self.style)
        return img

    def _draw_summary(self, img: np.ndarray, s: dict[str, Any]) -> None:
        H, W = img.shape[:2]

        def f(k: str, fmt: str) -> str:
            v = s.get(k)
            return "--" if v is None else format(v, fmt)

        lines = [
            "Session summary",
            f"{s.get('compressions', 0)} compressions   depth {f('mean_depth_mm', '.0f')} mm   rate {f('mean_rate_cpm', '.0f')}/min",
            f"depth ok {f('pct_depth_ok', '.0f')}%   rate ok {f('pct_rate_ok', '.0f')}%   recoil ok {f('pct_recoil_ok', '.0f')}%",
            f"CCF {f('ccf', '.2f')} {_CCF_WORDS.get(s.get('ccf_rating') or '', '')}   "
            f"pauses too long {s.get('pauses_too_long', 0)}",
        ]
        top, step0, step = int(H * 0.3), int(H * 0.11), int(H * 0.085)
        box_h = step0 + step * (len(lines) - 1) + int(H * 0.06)
        x0, x1 = int(W * 0.18), int(W * 0.82)
        y0 = top - int(H * 0.06)
        roi = img[y0:y0 + box_h, x0:x1]
        roi[:] = (roi * 0.15 + np.array(self.style.panel) * 0.85).astype(np.uint8)  # one solid card
        y = top
        for i, line in enumerate(lines):
            put_text(img, line, (W // 2, y), (0.06 if i == 0 else 0.042) * H, self.style.text)
            y += step0 if i == 0 else step

    # ----------------------------------------------------------- loop
    def snapshot(self, img: np.ndarray) -> Path:
        d = Path(self.options.snapshot_dir or ".")
        path = d / f"cpr-view-{len(self.stats.snapshots):05d}.png"
        cv2.imwrite(str(path), img)
        self.stats.snapshots.append(path)
        return path

    def run(self, *, sleep: Callable[[float], None] = time.sleep, should_stop: Callable[[], bool] = lambda: False) -> ViewerStats:
        """Compose at ``fps`` until ``duration_s``, the window closes, or ``should_stop()``."""
        o = self.options
        period = 1.0 / o.fps
        t0 = self._clock()
        next_frame = t0
        next_snap = t0 + o.snapshot_every_s
        try:
            while not should_stop():
                now = self._clock()
                if o.duration_s is not None and now - t0 >= o.duration_s:
                    break
                self.poll()
                img = self.compose()
                self.stats.frames += 1
                if self._writer is not None:
                    self._writer.write(img)
                if o.snapshot_dir is not None and now >= next_snap:
                    next_snap += o.snapshot_every_s
                    self.snapshot(img)
                if o.window:
                    cv2.imshow("cpr-coach view", img)
                    key = cv2.waitKey(1) & 0xFF
                    if key in (27, ord("q")):
                        break
                    if key == ord("s"):
                        self.snapshot(img)
                    if cv2.getWindowProperty("cpr-coach view", cv2.WND_PROP_VISIBLE) < 1:
                        break
                next_frame += period
                wait = next_frame - self._clock()
                if wait > 0:
                    sleep(wait)
                else:
                    next_frame = self._clock()  # fell behind: do not try to catch up
        finally:
            if o.window:
                cv2.destroyAllWindows()
        return self.stats

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if getattr(self, "sub", None) is not None:
            self.sub.close()
            self.sub = None  # type: ignore[assignment]

    def __enter__(self) -> "MonitorViewer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fit(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """Letterbox ``img`` into (w, h) without distorting it."""
    ih, iw = img.shape[:2]
    if (iw, ih) == (w, h):
        return img.copy()
    s = min(w / iw, h / ih)
    nw, nh = max(1, int(iw * s)), max(1, int(ih * s))
    out = np.zeros((h, w, 3), np.uint8)
    x, y = (w - nw) // 2, (h - nh) // 2
    out[y:y + nh, x:x + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out
