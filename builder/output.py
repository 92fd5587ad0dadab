"""Write the site: a staging directory beside the output, then one atomic swap.

A reader, a deploy or the preview server sees either the previous site or the new one,
never a mix: every file goes into ``.<output>.<random>/`` next to the output directory,
and the two directories are exchanged with ``renameat2(RENAME_EXCHANGE)`` on Linux (a
rename pair elsewhere). A file whose bytes did not change is hard-linked from the previous
site rather than rewritten. Files of the old site that the new one does not have vanish
with it. If anything fails, the staging directory is removed and the old site is untouched.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import glob
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError

__all__ = ["WriteResult", "exchange", "write_site"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What writing the site did."""

    written: int
    """Files whose bytes were new or changed."""
    linked: int
    """Files unchanged since the previous site, hard-linked instead of rewritten."""


def write_site(files: Iterable[tuple[str, bytes]], output: Path,
               copies: Iterable[tuple[str, Path]] = (),
               before_swap: Callable[[Path], None] | None = None) -> WriteResult:
    """Publish ``files`` (relative path, bytes) and ``copies`` (relative path, source file)
    as the whole content of ``output``, atomically.

    ``before_swap(staging_dir)`` runs once every file is staged, e.g. to add a search
    index; if it raises, nothing is published.

    Paths must already be safe relative paths (see :func:`builder.urls.output_path`).
    Raises :class:`BuildError` with a one-line message if the site cannot be written.
    """
    output = Path(os.path.abspath(output))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        lock = open(output.parent / f".{output.name}.lock", "a")
    except OSError as exc:
        raise BuildError(f"cannot write beside {output}: {exc.strerror or exc}") from None
    with lock:
        # One writer at a time; whatever staging folders exist now were left by a killed
        # build (SIGKILL cannot be caught) and are removed.
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_leftovers(output)
        wanted = dict(files)
        wanted.update((relative, source.read_bytes()) for relative, source in copies)
        if before_swap is None and _already_published(wanted, output):
            return WriteResult(written=0, linked=len(wanted))
        return _write_locked(wanted, output, before_swap)


def _already_published(wanted: dict[str, bytes], output: Path) -> bool:
    """True if ``output`` holds exactly these files with these bytes and nothing else.

    Then there is nothing to swap: a no-op rebuild costs a walk and a read, not a new
    tree of links and the removal of the old one.
    """
    needed_dirs = {"."} | {os.path.dirname(relative) or "." for relative in wanted}
    needed_dirs |= {parent.as_posix() for d in list(needed_dirs) for parent in Path(d).parents}
    seen = 0
    for folder, dirs, names in os.walk(output):
        here = os.path.relpath(folder, output)
        if here not in needed_dirs:
            return False
        for name in names:
            relative = name if here == "." else f"{here}/{name}"
            path = os.path.join(folder, name)
            if relative not in wanted or os.path.islink(path):
                return False
            with open(path, "rb") as stream:
                if stream.read() != wanted[relative]:
                    return False
            seen += 1
        dirs.sort()
    return seen == len(wanted) and seen > 0


def _remove_leftovers(output: Path) -> None:
    for leftover in output.parent.glob(f".{glob.escape(output.name)}.*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)


def _write_locked(wanted: dict[str, bytes], output: Path,
                  before_swap: Callable[[Path], None] | None) -> WriteResult:
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    except OSError as exc:
        raise BuildError(f"cannot create a staging directory beside {output}: "
                         f"{exc.strerror or exc}") from None
    try:
        written = linked = 0
        made: set[Path] = {staging}
        for relative, data in wanted.items():
            if _stage(staging, output, relative, data, made):
                written += 1
            else:
                linked += 1
        if before_swap is not None:
            before_swap(staging)
        _make_world_readable(staging)
        _swap_in(staging, output)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            raise BuildError(f"cannot write the site to {output}: "
                             f"{exc.strerror or exc}{where}; the previous site is unchanged"
                             ) from None
        raise
    return WriteResult(written=written, linked=linked)


def _stage(staging: Path, previous_root: Path, relative: str, data: bytes,
           made: set[Path]) -> bool:
    """Put one file into the staging tree; True if its bytes had to be written.

    ``made`` remembers the folders already created, saving a system call per file.
    """
    target = staging / relative
    if target.parent not in made:
        target.parent.mkdir(parents=True, exist_ok=True)
        made.add(target.parent)
    previous = previous_root / relative
    try:
        info = os.lstat(previous)
        if stat.S_ISREG(info.st_mode) and info.st_size == len(data) \
                and previous.read_bytes() == data:
            os.link(previous, target)
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        # A file system without hard links (or across devices) just gets a fresh copy.
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP,
                             errno.ENOTDIR):
            raise
    with open(target, "wb") as stream:
        stream.write(data)
    return True


def _make_world_readable(staging: Path) -> None:
    # mkdtemp creates the directory 0700; a served site must be readable by the web server.
    staging.chmod(0o755)


def _swap_in(staging: Path, output: Path) -> None:
    """Make ``staging`` the output directory; the previous site, if any, is removed."""
    if not output.exists():
        os.rename(staging, output)
        return
    if not output.is_dir() or output.is_symlink():
        raise BuildError(f"output {output} exists and is not a directory; move it away")
    if exchange(staging, output):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous site
        return
    # No atomic exchange here: two renames, with a moment where the output is missing.
    retired = Path(tempfile.mkdtemp(prefix=f".{output.name}.old.", dir=output.parent))
    retired.rmdir()
    os.rename(output, retired)
    try:
        os.rename(staging, output)
    except OSError:
        os.rename(retired, output)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux ``renameat2(RENAME_EXCHANGE)``.

    Returns False when the system call is unavailable (not Linux, old kernel, a file system
    without support) so the caller can fall back; raises OSError for any other failure.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the symbols already loaded, libc among them
    except OSError:
        return False
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))
