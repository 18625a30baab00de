"""The class as the instructor sees it: one ``StationView`` per station, fed by protocol messages.

Why a plain model apart from the server: the tiles' rules (lost, silent,
alerts, CCF so far) are decided here from messages and a clock passed in, so
tests drive them without sockets, and the page only draws what it is sent.
Stations are keyed by the ``station`` id of the envelope (ids must be unique
in a class). Thresholds come from the station's guideline profile.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from coach.core.profiles import Profile, ProfileError, load_profile

from ..protocol import TOPIC_COMPRESSION, TOPIC_FEEDBACK, TOPIC_HEARTBEAT, TOPIC_SESSION, TOPIC_STATE, Message


@dataclass(frozen=True)
class ClassOptions:
    lost_after_s: float = 2.0  # no message at all for this long: the tile says "lost" (heartbeats come every 1 s)
    silent_after_s: float = 2.0  # heartbeats but no cpr.state for this long: "station silent"
    depth_run: int = 10  # depth out of band for this many compressions in a row: alert
    history: int = 600  # compressions kept per station for the detail view
    prompt_history: int = 50


@dataclass
class StationView:
    station: str
    trainee: str = ""
    profile: str = ""
    running: bool = False
    session: str | None = None
    source: str = ""
    tracker_status: str = ""
    tracker_fps: float | None = None
    latency_ms: float | None = None
    displacement_mm: float | None = None
    last_depth_mm: float | None = None
    rate_cpm: float | None = None
    compressions: int = 0
    phase: str = ""
    since_last_s: float | None = None
    prompt: dict | None = None
    last_msg_s: float = -math.inf  # monotonic time of the last message of any topic
    last_state_s: float = -math.inf
    t_s: float | None = None  # the station's clock in its last message
    comps: deque = field(default_factory=deque)  # compression bodies of the current session (detail view)
    prompts: deque = field(default_factory=deque)  # (t_s, text) prompt history
    record: list = field(default_factory=list)  # compression bodies for the class record (current session)
    started_at: str | None = None  # ISO wall time of the session start (set by the server)
    summary: dict | None = None  # the last stopped session's summary
    feedback_level: str | None = None  # the session's adaptive coaching level (cpr.session; None: not sent)
    seen_seq: int = 0


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


class ClassRoom:
    """Feed with ``update(msg, now_s)``; read ``tiles(now_s)`` and ``detail(station)``."""

    def __init__(self, options: ClassOptions = ClassOptions(), wall_iso=None) -> None:
        from datetime import datetime, timezone

        self.options = options
        self.wall_iso = wall_iso or (lambda: datetime.now(timezone.utc).isoformat())  # session start times (wall clock)
        self.stations: dict[str, StationView] = {}
        self.trainees: dict[str, str] = {}  # station -> trainee assigned by the instructor
        self._profiles: dict[str, Profile] = {}

    def view(self, station: str) -> StationView:
        v = self.stations.get(station)
        if v is None:
            o = self.options
            v = StationView(station, comps=deque(maxlen=o.history), prompts=deque(maxlen=o.prompt_history))
            v.trainee = self.trainees.get(station, "")
            self.stations[station] = v
        return v

    def profile(self, name: str) -> Profile:
        if name not in self._profiles:
            try:
                self._profiles[name] = load_profile(name or None)
            except ProfileError:
                self._profiles[name] = load_profile(None)
        return self._profiles[name]

    def set_trainee(self, station: str, trainee: str) -> None:
        self.trainees[station] = trainee
        self.view(station).trainee = trainee

    def station_trainee(self, station: str, trainee: str | None) -> None:
        """Who the station itself says trains (cpr.session, remote status): shown unless the instructor named one."""
        if trainee and not self.trainees.get(station):
            self.view(station).trainee = str(trainee)[:64]

    # ----------------------------------------------------------- messages
    def update(self, msg: Message, now_s: float) -> dict | None:
        """Apply one message. Returns a finished session (for the class record) on ``cpr.session stop``."""
        p = msg.payload
        v = self.view(str(p.get("station", "")))
        v.last_msg_s = now_s
        v.t_s = _num(p.get("t_s"))
        t = msg.topic
        if t == TOPIC_STATE:
            v.last_state_s = now_s
            v.displacement_mm = _num(p.get("displacement_mm"))
            v.last_depth_mm = _num(p.get("last_depth_mm"))
            v.rate_cpm = _num(p.get("rate_cpm"))
            v.compressions = int(p.get("compressions") or 0)
            v.phase = str(p.get("phase") or "")
            v.since_last_s = _num(p.get("since_last_compression_s"))
            v.tracker_fps = _num(p.get("tracker_fps"))
            v.latency_ms = _num(p.get("latency_ms"))
        elif t == TOPIC_COMPRESSION:
            if p.get("session") is not None and p.get("session") == v.session:
                v.comps.append(p)
                v.record.append(p)
        elif t == TOPIC_FEEDBACK:
            pr = p.get("prompt")
            v.prompt = pr if isinstance(pr, dict) else None
            if v.prompt is not None and (not v.prompts or v.prompts[-1][1] != v.prompt.get("text")):
                v.prompts.append((v.t_s, str(v.prompt.get("text", ""))))
        elif t == TOPIC_HEARTBEAT:
            src, tr, se = p.get("source") or {}, p.get("tracker") or {}, p.get("session") or {}
            v.source = str(src.get("kind", ""))
            v.tracker_status = str(tr.get("status", ""))
            v.tracker_fps = _num(tr.get("fps")) if tr.get("fps") is not None else v.tracker_fps
            v.profile = str(se.get("profile") or v.profile)
            running = bool(se.get("running"))
            if running and not v.running:  # joined mid-session: adopt it (the record holds what was seen)
                v.session = se.get("id")
                v.started_at = v.started_at or self.wall_iso()
            v.running = running
        elif t == TOPIC_SESSION:
            v.profile = str(p.get("profile") or v.profile)
            if p.get("trainee"):  # the station's own word on who trains this session wins
                v.trainee = str(p["trainee"])[:64]
            v.feedback_level = p.get("feedback_level") or (None if p.get("event") == "start" else v.feedback_level)
            if p.get("event") == "start":
                v.running, v.session = True, p.get("session")
                v.comps.clear()
                v.record = []
                v.prompts.clear()
                v.summary = None
                v.started_at = self.wall_iso()
            elif p.get("event") == "stop":
                done = {"station": v.station, "trainee": v.trainee, "session": p.get("session") or v.session,
                        "profile": v.profile, "started_at": v.started_at, "summary": p.get("summary"),
                        "compressions": list(v.record), "feedback_level": v.feedback_level}
                v.running, v.summary, v.record = False, p.get("summary"), []
                return done
        return None

    # ----------------------------------------------------------- views
    def _ccf(self, comps) -> float | None:
        """The core's CCF so far: 1 - pauses between sets / first start to last release."""
        if len(comps) < 2:
            return None
        period = comps[-1]["t_release_s"] - comps[0]["t_start_s"]
        pauses = sum(b["t_start_s"] - a["t_release_s"] for a, b in zip(comps, list(comps)[1:])
                     if b["set_index"] != a["set_index"])
        return None if period <= 0 else max(0.0, 1.0 - pauses / period)

    def tile(self, v: StationView, now_s: float) -> dict[str, Any]:
        o, prof = self.options, self.profile(v.profile)
        lost = now_s - v.last_msg_s > o.lost_after_s
        alerts: list[str] = []
        if not lost:
            if now_s - v.last_state_s > o.silent_after_s:
                alerts.append("station silent")
            if v.tracker_status in ("lost", "none"):
                alerts.append("source lost")
            if v.running and v.compressions and v.since_last_s is not None and v.since_last_s > prof.pause_max_s:
                alerts.append(f"pause > {prof.pause_max_s:g} s")
            last = list(v.comps)[-o.depth_run:]
            if len(last) == o.depth_run and all(not prof.depth_mm.contains(c["depth_mm"] or 0.0) for c in last):
                alerts.append(f"depth out of band ({o.depth_run})")
        status = "lost" if lost else ("alert" if alerts else ("running" if v.running else "idle"))
        return {
            "station": v.station, "trainee": v.trainee, "status": status, "alerts": alerts,
            "feedback_level": v.feedback_level,
            "running": v.running, "session": v.session, "profile": v.profile,
            "depth_mm": v.last_depth_mm, "displacement_mm": v.displacement_mm, "rate_cpm": v.rate_cpm,
            "band_mm": [prof.depth_mm.min, prof.depth_mm.max], "band_cpm": [prof.rate_cpm.min, prof.rate_cpm.max],
            "depth_ok": None if v.last_depth_mm is None else prof.depth_mm.contains(v.last_depth_mm),
            "rate_ok": None if v.rate_cpm is None else prof.rate_cpm.contains(v.rate_cpm),
            "prompt": None if v.prompt is None else v.prompt.get("text"),
            "compressions": v.compressions, "ccf": self._ccf(v.comps), "fps": v.tracker_fps, "latency_ms": v.latency_ms,
            "source": v.source, "t_s": v.t_s, "silent_s": None if v.last_msg_s == -math.inf else round(now_s - v.last_msg_s, 2),
        }

    def tiles(self, now_s: float) -> list[dict[str, Any]]:
        return [self.tile(v, now_s) for _, v in sorted(self.stations.items())]

    def detail(self, station: str, now_s: float, last: int = 120) -> dict[str, Any] | None:
        v = self.stations.get(station)
        if v is None:
            return None
        comps = list(v.comps)[-last:]
        return {"tile": self.tile(v, now_s),
                "compressions": [[c["index"], c["t_bottom_s"], c["depth_mm"], c["rate_cpm"]] for c in comps],
                "prompts": list(v.prompts), "summary": v.summary}
