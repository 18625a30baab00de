"""Shared helpers for the session-record tests: a free port, a hand-built session."""
from __future__ import annotations

import math
import socket

from coach.core.types import Compression, INCOMPLETE_RECOIL


def free_tcp_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def comp(i: int, set_index: int, t_start_s: float, depth_mm: float, rate_cpm: float, residual_mm: float,
         flags: tuple[str, ...] = ()) -> Compression:
    """A compression 0.5 s long, bottom at +0.25 s."""
    return Compression(index=i, set_index=set_index, t_start_s=t_start_s, t_bottom_s=t_start_s + 0.25,
                       t_release_s=t_start_s + 0.5, depth_mm=depth_mm, rate_cpm=rate_cpm, duty_cycle=0.5,
                       recoil_residual_mm=residual_mm, flags=flags)


def as_dicts(comps) -> list[dict]:
    """Compressions as plain dicts (NaN-safe equality)."""
    return [c.to_dict() for c in comps]


NAN = math.nan
__all__ = ["INCOMPLETE_RECOIL", "NAN", "as_dicts", "comp", "free_tcp_endpoint"]
