"""Source 2: build a ``.task`` bundle from a MediaPipe wheel obtained with pip.

Why: MediaPipe 1.x ships no model files and its official download host is
unreachable from many labs and CI machines, but every such machine can reach
a Python package index (that is how it installed cpr-coach). The 0.10.x
wheels carry the same TFLite models; we take the two the Hand Landmarker
needs, check each against its pin, and bundle them deterministically so the
result has a pinned sha256 too.

We never name an index host: ``pip download`` uses whatever index, mirror or
``--find-links`` the user's pip is configured with.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Sequence

from models.bundle import build_bundle_bytes
from models.errors import ChecksumError, SourceUnavailable
from models.integrity import sha256_bytes, short
from models.paths import write_atomic
from models.registry import Source
from models.tflite_metadata import apply_transform


def pip_download_command(source: Source, dest_dir: Path, pip_args: Sequence[str] = ()) -> list[str]:
    """The exact pip command: one wheel, no dependencies, for a fixed platform (the models inside are portable)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input",  # never wait for a password prompt
    ]
    if source.python_version:
        cmd += ["--python-version", source.python_version]
    if source.platform:
        cmd += ["--platform", source.platform]
    cmd += ["-d", str(dest_dir), *pip_args, str(source.requirement)]
    return cmd


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # pip puts the useful reason in its last ERROR line.
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors[-1] if errors else lines[-1] if lines else "no output")[:300]


def pip_download(
    source: Source,
    dest_dir: Path,
    *,
    pip_args: Sequence[str] = (),
    show_output: bool = False,
    timeout_s: float = 600.0,
) -> Path:
    """Run ``pip download`` for the source's requirement into ``dest_dir``; return the wheel path."""
    cmd = pip_download_command(source, dest_dir, pip_args)
    try:
        if show_output:  # pip draws its own progress bar on the user's terminal
            proc = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True, timeout=timeout_s)
        else:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise SourceUnavailable(f"pip download {source.requirement} took longer than {timeout_s:.0f} s") from None
    except OSError as exc:
        raise SourceUnavailable(f"could not run pip ({exc})") from None
    if proc.returncode != 0:
        out = (proc.stderr or "") + (proc.stdout or "")
        raise SourceUnavailable(f"pip download {source.requirement} failed: {_last_line(out)}")
    wheels = sorted(dest_dir.glob("*.whl"))
    if not wheels:
        raise SourceUnavailable(f"pip download {source.requirement} produced no wheel")
    return wheels[0]


def bundle_from_wheel(wheel: Path, source: Source) -> bytes:
    """Take the source's members out of ``wheel``, check each pin, return the deterministic bundle bytes."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = []
            for m in source.members:
                try:
                    data = zf.read(m.path)
                except KeyError:
                    raise ChecksumError(f"{wheel.name} has no {m.path}: not the expected wheel, refused") from None
                got = sha256_bytes(data)
                if got != m.sha256:
                    raise ChecksumError(
                        f"{m.path} in {wheel.name} has sha256 {short(got)}..., expected {short(m.sha256)}...: refused"
                    )
                members.append((m.name, apply_transform(m.transform, data)))
    except zipfile.BadZipFile:
        raise ChecksumError(f"{wheel.name} is not a valid wheel (zip): refused") from None
    bundle = build_bundle_bytes(members)
    got = sha256_bytes(bundle)
    if got != source.sha256:
        raise ChecksumError(
            f"bundle built from {wheel.name} has sha256 {short(got)}..., expected {short(source.sha256)}...: refused"
        )
    return bundle


def build_from_wheel(
    source: Source,
    dest: Path,
    *,
    pip_args: Sequence[str] = (),
    show_pip_output: bool = False,
) -> Path:
    """Obtain the wheel with pip, build the bundle, verify, and move it atomically to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cpr-coach-wheel-") as tmp:
        wheel = pip_download(source, Path(tmp), pip_args=pip_args, show_output=show_pip_output)
        write_atomic(dest, bundle_from_wheel(wheel, source))
    return dest
