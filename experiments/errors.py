"""Errors a user can cause. The CLI prints their message on one line and exits 2."""

from __future__ import annotations

__all__ = ["DataError", "ScenarioError", "UserError"]


class UserError(Exception):
    """An error caused by the user's input, reported without a traceback (exit code 2).

    The message must name the place: a dotted key path, or a file and line number.
    """

    exit_code: int = 2


class ScenarioError(UserError):
    """A scenario file that cannot be read or does not validate."""


class DataError(UserError):
    """A data file that is missing, wrongly encoded or malformed."""
