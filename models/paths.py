"""Where cached model files live.

Why a path helper reads the environment: the guide allows only the CLI and
path helpers to do so, and the cache location is exactly that kind of setting
(CI points ``CPR_COACH_MODELS`` at a shared folder; users keep the default).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ENV_VAR = "CPR_COACH_MODELS"
APP_NAME = "cpr-coach"


def user_cache_root() -> Path:
    """The platform's per-user cache folder (XDG on Linux, Caches on macOS, LOCALAPPDATA on Windows)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        if base:
            return Path(base)
        return Path.home() / "AppData" / "Local"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec says relative values must be ignored
        return Path(xdg)
    return Path.home() / ".cache"


def default_cache_dir() -> Path:
    """``$CPR_COACH_MODELS`` if set, else ``<user cache>/cpr-coach/models``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return user_cache_root() / APP_NAME / "models"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """An explicit folder wins; ``None`` means the default."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def write_atomic(dest: Path, data: bytes) -> None:
    """Write ``dest`` through a temporary file in its folder and a rename: readers never see half a file."""
    fd, part = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(part, dest)
    finally:
        if os.path.exists(part):
            os.unlink(part)
