"""Errors of the model layer.

Why one-line messages: every user-facing failure ends as one line on stderr
(the CLI prints a ``ModelError`` as its one-line error), so the message itself must
say what happened and what to do next.
"""
from __future__ import annotations


class ModelError(Exception):
    """A model could not be provided. The message is one actionable line."""


class ChecksumError(ModelError):
    """Bytes were obtained but their sha256 is not the pinned one: refused."""


class SourceUnavailable(ModelError):
    """One source could not deliver (offline, blocked, pip failed)."""
