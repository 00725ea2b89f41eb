"""Atomic file replacement, so a failed or interrupted write never leaves half a file.

Sinks and the state store write to a temporary file beside the target and rename it over
the target only once it is complete and on disk; readers see the old file or the new one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, durably.

    On any exception the temporary file is removed and a file already at `path` is left
    untouched. The new file keeps the permissions of the one it replaces.
    """
    target = Path(path)
    temp = _create_temp(target)
    try:
        yield temp
        _fsync_file(temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _create_temp(target: Path) -> Path:
    """An empty, new, hidden file in the target's directory (same file system: rename works)."""
    mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else 0o666
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        os.close(fd)
        if target.is_file():
            os.chmod(temp, mode)  # os.open's mode is masked by the umask
        return temp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; some platforms cannot open a directory, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
