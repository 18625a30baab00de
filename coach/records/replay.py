"""Replaying a recorded session through the real station: its samples, at their own pace, on the protocol.

Why through ``Station`` and not by re-sending stored messages: a viewer joining a replay sees every
topic (state, overlay, feedback, heartbeat), built by the code that built them live. The streaming
core is deterministic, so the same samples give the same compressions; ``replay_samples`` yields
them with their recorded times and visibility.
"""
from __future__ import annotations

from typing import Iterator

from coach.records.reader import SessionLog


def replay_samples(log: SessionLog) -> Iterator["Sample"]:  # noqa: F821 (coach.station.Sample)
    """One ``coach.station.Sample`` per recorded sample, with the rest's moves (``rest_moved`` events) where they were
    made live: before the first sample at or after the event's time."""
    from coach.station import Sample

    moves = sorted((float(e["t_s"]), float((e.get("data") or {}).get("mm", 0.0))) for e in log.events
                   if e.get("event") == "rest_moved" and e.get("t_s") is not None)
    k = 0
    for t, h, v in zip(log.t_s.tolist(), log.height_mm.tolist(), log.hands_visible.tolist()):
        mm = 0.0
        while k < len(moves) and moves[k][0] <= t:
            mm += moves[k][1]
            k += 1
        yield Sample(t_s=t, height_mm=h, hands_visible=bool(v), rest_move_mm=mm)


def thinned(log: SessionLog) -> int:
    """Samples the writer dropped while recording (replayed compressions may then differ slightly)."""
    ev = [e for e in log.events if e["event"] == "samples_thinned"]
    return int(ev[-1]["data"].get("dropped_total", 0)) if ev else 0
