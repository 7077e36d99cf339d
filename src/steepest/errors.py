"""Exceptions raised at the public boundary.

All of them subclass :class:`ValueError` (or :class:`OSError` for file problems), so callers
that already catch the built-in types keep working; the messages always name the offending
value and what is allowed.
"""

from __future__ import annotations


class SteepestError(Exception):
    """Base class of every error steepest raises on purpose."""


class InputError(SteepestError, ValueError):
    """An argument, array or configuration value is not acceptable."""


class DataError(SteepestError, OSError):
    """A dataset file is missing, truncated, corrupted or in the wrong format."""


class ChecksumError(DataError):
    """A downloaded or cached file does not match its published checksum."""


class OutputError(SteepestError, OSError):
    """A result cannot be written: a full disk, a read-only folder, a path that is a file."""


class LockedError(InputError):
    """Another process holds the output folder (its holder is named in the message)."""
