"""sha256 helpers: every file that enters or is read from the cache is hashed."""
from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def short(sha: str) -> str:
    """First 12 hex digits: enough to tell files apart in one-line messages."""
    return sha[:12]
