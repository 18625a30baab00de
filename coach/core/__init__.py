"""The NumPy compression core: chest-height signal -> compressions and CPR-quality metrics.

Imports numpy and the standard library only. Public API::

    from coach.core import analyze, StreamingAnalyzer, CoreOptions
    result = analyze(t_s, height_mm, CoreOptions(profile="adult"))   # batch
    an = StreamingAnalyzer(CoreOptions()); new = an.push(t, h); an.state; an.result()

The simulator lives in coach.core.simulator (SimOptions, SimTrace, simulate).
"""
from coach.core.analyzer import StreamingAnalyzer, analyze, analyze_strokes
from coach.core.options import CoreOptions
from coach.core.profiles import Profile, load_profile, profile_names
from coach.core.types import (
    ALL_FLAGS,
    Compression,
    CompressionSet,
    CoreState,
    Pause,
    SessionResult,
    SessionSummary,
)

__all__ = [
    "ALL_FLAGS",
    "Compression",
    "CompressionSet",
    "CoreOptions",
    "CoreState",
    "Pause",
    "Profile",
    "SessionResult",
    "SessionSummary",
    "StreamingAnalyzer",
    "analyze",
    "analyze_strokes",
    "load_profile",
    "profile_names",
]
