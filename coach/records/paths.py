"""Where session records live: ``--data-dir``, else ``CPR_COACH_DATA``, else the platform's user data folder.

Why one helper: the architecture lets only the CLI and the path helpers read the environment; every
other part takes the folder as a parameter, so tests point it at a temporary folder.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping

ENV_VAR = "CPR_COACH_DATA"
APP_DIR = "cpr-coach"


def platform_data_dir(env: Mapping[str, str] | None = None, platform: str | None = None,
                      home: Path | None = None) -> Path:
    """The user data folder of this platform (XDG on Linux, Application Support on macOS, %LOCALAPPDATA%)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if platform.startswith("win"):
        base = env.get("LOCALAPPDATA") or env.get("APPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / APP_DIR
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_DIR
    xdg = env.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share") / APP_DIR


def resolve_data_dir(explicit: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``explicit`` (the --data-dir flag) first, then $CPR_COACH_DATA, then the platform folder."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ if env is None else env
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser()
    return platform_data_dir(env)
