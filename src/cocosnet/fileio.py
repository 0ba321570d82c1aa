"""Atomic file writes: a temp file beside the target, fsync, then a rename — never a half-written output.

Every writer of the package (images, arrays, JSON, checkpoints, safetensors) goes through `atomic_write`, so the
rule for what an output path may be lives here: a regular file or a new path, with symlinks followed (the link is
kept, its target is rewritten). A device, FIFO, socket or directory is refused with `OutputPathError` instead of
being renamed over — `--out /dev/full` as root would otherwise replace the device node with a PNG.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_KINDS = {stat.S_IFREG: "a regular file", stat.S_IFDIR: "a directory", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
          stat.S_IFLNK: "a symlink that cannot be resolved (a loop)"}


class OutputPathError(ValueError):
    """An output path that cannot be written as a regular file; the message names the path and the reason."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"cannot write {os.fspath(path)}: {problem}")
        self.path, self.problem = Path(path), problem


def check_output_path(path: str | os.PathLike) -> Path:
    """The file a write to `path` would replace (symlinks followed), or `OutputPathError` if it may not be written.

    Commands call it for each output before loading a model, so a bad `--warp-out` fails before `--out` is written.
    """
    if os.fspath(path).endswith(os.sep):
        raise OutputPathError(path, "the path names a directory (it ends with a slash), not a file")
    target, mode = _resolve(path)
    if mode is None:
        return target
    if not stat.S_ISREG(mode):
        raise OutputPathError(path, f"it is {_kind(mode)}{_resolved(path, target)}; outputs are written only as "
                                    "regular files")
    if not os.access(target.parent, os.W_OK | os.X_OK):  # the rename needs the folder, not the old file
        raise OutputPathError(path, f"permission denied in {target.parent}")
    return target


def check_output_dir(path: str | os.PathLike) -> Path:
    """The directory that outputs under `path` go to (symlinks followed): an existing one or one that can be made."""
    target, mode = _resolve(path)
    if mode is None:
        return target
    if not stat.S_ISDIR(mode):
        raise OutputPathError(path, f"it is {_kind(mode)}{_resolved(path, target)}, not a directory")
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputPathError(path, "permission denied")
    return target


def _resolve(path: str | os.PathLike) -> tuple[Path, int | None]:
    """`path` with symlinks followed and its file mode; None for a new path, once it is known it can be created."""
    target = Path(os.path.realpath(path))
    if not os.path.lexists(target):
        _check_creatable(path, target)
        return target, None
    return target, os.lstat(target).st_mode


def _check_creatable(path: str | os.PathLike, target: Path) -> None:
    """A new path needs its nearest existing ancestor to be a directory we may write in (missing ones are created)."""
    ancestor = target.parent
    while not os.path.lexists(ancestor):
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(path, f"{ancestor} is {_kind(os.lstat(ancestor).st_mode)}, so nothing can be "
                                    "created under it")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(path, f"permission denied in {ancestor}")


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file or directory")


def _resolved(path: str | os.PathLike, target: Path) -> str:
    return "" if target == Path(os.path.abspath(path)) else f" (it resolves to {target})"


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call `write(file)` on a temporary file in the target's folder, then rename it over the target.

    The target is `path` with symlinks followed; an existing target keeps its permission bits. Returns `path`.
    """
    target = check_output_path(path)
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:  # e.g. a read-only file system: say which output, without a traceback
        raise OutputPathError(path, exc.strerror or str(exc)) from exc
    try:
        if old_mode is None:
            umask = os.umask(0)
            os.umask(umask)
            old_mode = 0o666 & ~umask  # mkstemp's 0600 would make outputs private to the writer
        os.fchmod(fd, old_mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:  # e.g. disk full (ENOSPC) mid-write: the target was never touched
        Path(tmp).unlink(missing_ok=True)
        raise OutputPathError(path, f"{exc.strerror or exc}; the partial write was removed and the previous "
                                    f"file, if any, is unchanged") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))
