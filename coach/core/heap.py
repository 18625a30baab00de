"""Keep freed heap memory in the process, so the batch kernel's large temporaries are not page-faulted back.

Why: ``analyze`` on a long trace makes NumPy temporaries of a few MB each. glibc's default gives the top of
the heap back to the OS once more than twice its (adaptive) mmap threshold is free, so a run can fault the
same ~20 MB in again: on the benchmark's hour (214 k samples) ~4 800 minor page faults, and 33 ms instead of
24 ms (``cpr-coach bench core`` prints both figures). Whether it does depends on the heap's layout (a
long-lived allocation above the temporaries keeps them): one 20-minute script measured 1 800-2 800 faults a run
in some starts and none in others. Two ``mallopt`` settings stop it: arrays up to 32 MB come from the heap
(not a fresh ``mmap`` each), and up to 128 MB of free heap is kept. The price is resident memory that stays at
the process's peak, at most 128 MB above what it uses.

A process-wide setting, so the library never applies it on import: the CLI does, once, and an embedding
application may call :func:`keep_freed_heap` itself. Elsewhere than glibc it does nothing and says so.
"""
from __future__ import annotations

import ctypes
import platform
from dataclasses import dataclass

_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h> parameter numbers
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's upper limit on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD_BYTES = 128 << 20


@dataclass(frozen=True)
class HeapSetting:
    """What :func:`keep_freed_heap` did."""

    applied: bool
    detail: str


_applied: HeapSetting | None = None


def keep_freed_heap() -> HeapSetting:
    """Ask glibc to keep freed memory (idempotent; a no-op with a reason on other C libraries)."""
    global _applied
    if _applied is not None:
        return _applied
    libc_name = platform.libc_ver()[0]
    if libc_name != "glibc":
        _applied = HeapSetting(False, f"not glibc ({libc_name or platform.system()}): the C library's default")
        return _applied
    try:
        libc = ctypes.CDLL(None)
        # the mmap threshold first: a trim threshold alone turns glibc's adaptive mmap threshold off and leaves
        # it at 128 kB, so every large array would be a fresh mmap (measured: 6x the page faults)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        ok = ok and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    except (OSError, AttributeError) as exc:
        _applied = HeapSetting(False, f"mallopt unavailable: {exc}")
        return _applied
    _applied = HeapSetting(ok, (f"glibc keeps freed memory (mmap threshold {MMAP_THRESHOLD_BYTES >> 20} MB, "
                                f"trim threshold {TRIM_THRESHOLD_BYTES >> 20} MB)") if ok else "mallopt refused")
    return _applied
