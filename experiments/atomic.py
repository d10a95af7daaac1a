"""Atomic file output: write to a temporary sibling, then ``os.replace`` it into place.

A reader (or a run interrupted mid-write) therefore sees either the previous complete
file or the new complete file, never a truncated one. Temporary files are named
``.<name>.<random>.tmp`` in the target's directory (same filesystem, so the rename is
atomic) and are removed if writing fails. The file gets the mode a plain ``open`` would
give it (``0o666`` minus the process umask), not ``mkstemp``'s private ``0o600``, so
colleagues on a shared machine can read results when the umask allows it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "new_file_mode",
]


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read by setting it, then restore at once
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Mode of a newly created regular file under the current umask (``0o666 & ~umask``)."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` atomically.

    Use this for writers that insist on a file name (``pyarrow.parquet.write_table``,
    ``numpy.savez``, ``matplotlib``'s ``savefig``). If the body raises, the temporary
    file is deleted and ``target`` is left untouched.

    Args:
        target: Final path. Its parent directory is created if missing.

    Yields:
        A path in the same directory as ``target`` whose suffix equals ``target``'s
        (some writers choose the format from the suffix).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, new_file_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (flushed and fsynced before the rename)."""
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON (with a final newline) atomically."""
    atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
