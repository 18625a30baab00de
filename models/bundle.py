"""MediaPipe Tasks model bundles (``.task``): build deterministically, inspect.

A ``.task`` file is a plain zip of TFLite models, stored uncompressed so
MediaPipe can mmap them. We write the zip by hand rather than with
``zipfile`` because the bytes must be identical on every machine and Python
version: the cache verifies the built bundle against a pinned sha256.
Determinism: fixed member order (as given), DOS timestamp 1980-01-01 00:00,
no compression, Unix permissions 0644, data aligned to 4 bytes with a
zipalign-style extra field (like MediaPipe's own bundler, for mmap).
"""
from __future__ import annotations

import os
import struct
import zipfile
import zlib
from typing import Iterable

_LOCAL = 0x04034B50
_CENTRAL = 0x02014B50
_EOCD = 0x06054B50
_VERSION = 20  # 2.0: stored files
_MADE_BY = (3 << 8) | _VERSION  # Unix, so external_attr carries permissions
_DOS_TIME = 0
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_EXTERNAL_ATTR = (0o100644 << 16)
_ALIGN = 4
_PAD_ID = 0xD935  # the extra-field id Android's zipalign uses for padding


def build_bundle_bytes(members: Iterable[tuple[str, bytes]]) -> bytes:
    """Bytes of a deterministic stored zip holding ``members`` in the given order."""
    out = bytearray()
    central = bytearray()
    count = 0
    for name, data in members:
        name_b = name.encode("utf-8")
        crc = zlib.crc32(data) & 0xFFFFFFFF
        size = len(data)
        if size >= 0xFFFFFFFF or len(out) >= 0xFFFFFFFF:
            raise ValueError("bundle members above 4 GiB are not supported")
        offset = len(out)
        # Pad (with a well-formed extra field) so the member's data starts on a 4-byte boundary.
        base = offset + 30 + len(name_b) + 4
        pad = (-base) % _ALIGN
        extra = struct.pack("<HH", _PAD_ID, pad) + b"\0" * pad
        out += struct.pack(
            "<IHHHHHIIIHH", _LOCAL, _VERSION, 0, 0, _DOS_TIME, _DOS_DATE, crc, size, size, len(name_b), len(extra)
        )
        out += name_b + extra
        out += data
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            _CENTRAL, _MADE_BY, _VERSION, 0, 0, _DOS_TIME, _DOS_DATE, crc, size, size,
            len(name_b), 0, 0, 0, 0, _EXTERNAL_ATTR, offset,
        )
        central += name_b
        count += 1
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", _EOCD, 0, 0, count, count, len(central), cd_offset, 0)
    return bytes(out)


def bundle_members(path: str | os.PathLike[str]) -> list[str]:
    """Member names of a ``.task`` bundle; raises ``zipfile.BadZipFile``/``OSError`` when it is not one."""
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def read_members(path: str | os.PathLike[str], names: Iterable[str]) -> dict[str, bytes]:
    """Read named members of a zip (a ``.task`` bundle or a wheel)."""
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in names}
