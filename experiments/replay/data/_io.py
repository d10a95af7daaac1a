"""Line-level file reading that turns every problem into one :class:`DataError`.

Every message names the file and, where there is one, the 1-based line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from experiments.errors import DataError

__all__ = ["parse_int", "read_lines", "require_file", "split_fields"]


def require_file(path: Path, what: str = "data file") -> Path:
    """Return ``path`` if it is an existing file, else raise :class:`DataError`.

    Args:
        path: File to check.
        what: Short description used in the message (e.g. ``"ratings file"``).

    Returns:
        The same path.
    """
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    return path


def read_lines(path: Path, encoding: str, *, skip_blank: bool = True) -> Iterator[tuple[int, str]]:
    r"""Yield ``(line_number, text)`` for each line, without the line end.

    Decoding is done line by line so that a wrong encoding is reported at the
    offending line (``path:line: not valid <encoding> ...``).

    Args:
        path: File to read (must exist).
        encoding: Codec, e.g. ``"utf-8"``, ``"ascii"`` or ``"latin-1"``.
        skip_blank: Skip lines that are empty after stripping.

    Yields:
        1-based line number and decoded text with ``\r\n`` / ``\n`` removed.
    """
    require_file(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot open: {exc.strerror}") from exc
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{lineno}: not valid {encoding} (byte 0x{raw[exc.start]:02x} at "
                    f"column {exc.start + 1})"
                ) from exc
            text = text.rstrip("\r\n")
            if skip_blank and not text.strip():
                continue
            yield lineno, text


def split_fields(path: Path, lineno: int, text: str, sep: str, n_fields: int) -> list[str]:
    r"""Split a line and check its field count.

    Args:
        path: File (for the message).
        lineno: Line number (for the message).
        text: The line.
        sep: Separator string (``"\t"``, ``"|"``, ``"::"``).
        n_fields: Expected number of fields.

    Returns:
        The fields.
    """
    fields = text.split(sep)
    if len(fields) != n_fields:
        raise DataError(
            f"{path}:{lineno}: expected {n_fields} fields separated by {sep!r}, got {len(fields)}"
        )
    return fields


def parse_int(path: Path, lineno: int, value: str, what: str) -> int:
    """Parse an integer field or raise :class:`DataError` naming file and line.

    Args:
        path: File (for the message).
        lineno: Line number (for the message).
        value: Field text.
        what: Field name (for the message), e.g. ``"user id"``.

    Returns:
        The integer.
    """
    try:
        return int(value.strip())
    except ValueError:
        raise DataError(f"{path}:{lineno}: {what} is not an integer: {value!r}") from None
