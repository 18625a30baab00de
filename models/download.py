"""Source 1: download a model file over HTTP(S) (or ``file://``), verified.

Why a short *connect* timeout: many lab machines and CI runners have no
route to the model host, and a fetch that hangs for minutes before falling
back to the wheel build is worse than useless. Once connected, reads get a
longer timeout so a slow link still completes.
"""
from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from models.errors import ChecksumError, SourceUnavailable
from models.integrity import CHUNK, short
from models.progress import ProgressCallback

USER_AGENT = "cpr-coach-models/1"


def _set_read_timeout(resp: object, timeout_s: float) -> None:
    """Lengthen the socket timeout after connecting (http.client keeps the socket at resp.fp.raw._sock)."""
    try:
        sock = resp.fp.raw._sock  # type: ignore[attr-defined]
        sock.settimeout(timeout_s)
    except AttributeError:  # file:// responses and exotic handlers: nothing to adjust
        pass


def download_verified(
    url: str,
    dest: Path,
    sha256: str,
    *,
    size: int | None = None,
    connect_timeout_s: float = 3.0,
    read_timeout_s: float = 60.0,
    progress: ProgressCallback | None = None,
    label: str = "download",
) -> Path:
    """Download ``url`` to ``dest`` only if its sha256 matches; atomic (temp file + rename).

    Raises ``SourceUnavailable`` (unreachable, HTTP error, interrupted) or
    ``ChecksumError`` (bytes arrived but are not the pinned file: refused).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        resp = urllib.request.urlopen(req, timeout=connect_timeout_s)
    except urllib.error.HTTPError as exc:
        raise SourceUnavailable(f"{url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailable(f"{url} is unreachable ({reason})") from None
    limit = (size + (1 << 20)) if size else None  # never fill a disk from a misbehaving server
    h = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with resp, os.fdopen(fd, "wb") as out:
            _set_read_timeout(resp, read_timeout_s)
            total = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
            total_n = int(total) if total and total.isdigit() else size
            if progress:
                progress(label, 0, total_n)
            while True:
                try:
                    block = resp.read(CHUNK)
                except (socket.timeout, TimeoutError, OSError) as exc:
                    raise SourceUnavailable(f"download of {url} was interrupted ({exc})") from None
                if not block:
                    break
                out.write(block)
                h.update(block)
                done += len(block)
                if progress:
                    progress(label, done, total_n)
                if limit is not None and done > limit:
                    raise ChecksumError(
                        f"{url} sent more than the expected {size} bytes: refused (not the pinned file)"
                    )
            if progress and total_n != done:
                progress(label, done, done)
        got = h.hexdigest()
        if got != sha256:
            raise ChecksumError(
                f"{url} delivered a file with sha256 {short(got)}..., expected {short(sha256)}...: refused"
            )
        os.replace(tmp, dest)
        return dest
    finally:
        if tmp.exists():
            tmp.unlink()
