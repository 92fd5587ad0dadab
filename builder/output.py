"""Write the site: a staging directory beside the output, then one atomic swap.

Two ways to publish, both never rewriting a file whose bytes are unchanged:

- :func:`write_site` (a first build, or one adding a search index): every file goes into
  ``.<output>.<random>/`` next to the output directory (the reserve, below, renamed
  there and brought up to date, when there is one), and the two directories are
  exchanged with ``renameat2(RENAME_EXCHANGE)`` on Linux (a rename pair elsewhere), so a
  reader sees either the previous site or the new one, never a mix. A file whose bytes did
  not change is hard-linked from the previous site rather than rewritten. If anything
  fails, the staging directory is removed and the old site is untouched.
- :func:`update_site` (an incremental rebuild that changes few files): the changed files
  are written in full beside the output first, then renamed into place in one burst with
  Ctrl-C held back, and files the new site lacks are deleted. Only a ``kill -9`` landing
  in that burst of milliseconds could leave a mix; never a half-written file. Even with
  the reserve (below), :func:`write_site` walks the previous site and stats every file
  (about half a second at 27,000 files); an edit that changes twenty pages need not.

The reserve (double buffering). After the swap the staging path holds the previous site;
instead of deleting it, :func:`write_site` keeps it as ``.<output>-reserve/`` beside the
output (never inside it, so never served; a name outside the ``.<output>.*`` glob whose
leftovers every build sweeps). The next :func:`write_site` renames the reserve to its
staging path and brings it up to date in one walk: files the new site lacks (and anything
not a regular file) are removed, a file still linked to the live site's is kept, and any
other is unlinked and linked or written anew, never opened for writing, since the
reserve's files are mostly hard links shared with the live site. So a build that changes
25 of 27,000 files costs a walk and a few dozen writes (~0.5 s), not 27,000 links and the
removal of a whole tree (~5 s). Nothing in the reserve is trusted: a kept file must be
the live file itself (same inode) or hold the wanted bytes. A failure before the swap
removes the half-updated staging; a kill leaves it to be swept by the next build; either
way that build starts from scratch. The cost is disk: the previous site, mostly hard
links to the live site's files (only files changed since then take space of their own)
plus its folders (one block each: ~70 MB for 17,500 folders on ext4). Deleting the
reserve is always safe; the next build then makes its staging tree from scratch.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import glob
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import BuildError

__all__ = ["FileIdentity", "UpdateResult", "WriteResult", "exchange", "identity",
           "reserve_path", "snapshot", "update_site", "write_site"]

FileIdentity = tuple[int, int, int]
"""(size, modification time in ns, inode) of a file: changes whenever the file is replaced
or written to, so an unchanged identity means the bytes last published are still there."""
_NOT_A_FILE: FileIdentity = (-1, -1, -1)

_RESERVE_SUFFIX = "-reserve"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What writing the site did."""

    written: int
    """Files whose bytes were new or changed."""
    linked: int
    """Files unchanged since the previous site, hard-linked instead of rewritten."""
    identities: dict[str, FileIdentity] = field(default_factory=dict, compare=False,
                                                repr=False)
    """Every file of the site as it now is: what :func:`snapshot` of the output would
    return right after the write, without walking it again."""


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """What updating a site in place did."""

    written: int
    """Files whose bytes were new or changed."""
    kept: int
    """Files left as they were."""
    deleted: int
    identities: dict[str, FileIdentity]
    """Every file of the site as it now is."""


def write_site(files: Iterable[tuple[str, bytes]], output: Path,
               copies: Iterable[tuple[str, Path]] = (),
               before_swap: Callable[[Path], None] | None = None,
               kept: Iterable[str] = ()) -> WriteResult:
    """Publish ``files`` (relative path, bytes) and ``copies`` (relative path, source file)
    as the whole content of ``output``, atomically. ``kept`` names files of the current
    ``output`` that stay as they are: they are hard-linked into the new site unread.

    ``before_swap(staging_dir)`` runs once every file is staged, e.g. to add a search
    index; if it raises, nothing is published.

    Paths must already be safe relative paths (see :func:`builder.urls.output_path`).
    Raises :class:`BuildError` with a one-line message if the site cannot be written.
    """
    output = Path(os.path.abspath(output))
    with _locked(output):
        wanted = dict(files)
        wanted.update((relative, source.read_bytes()) for relative, source in copies)
        unchanged = [relative for relative in kept if relative not in wanted]
        if before_swap is None and not unchanged and _already_published(wanted, output):
            return WriteResult(written=0, linked=len(wanted), identities=snapshot(output))
        return _write_locked(wanted, unchanged, output, before_swap)


def update_site(files: Iterable[tuple[str, bytes]], output: Path,
                present: Mapping[str, FileIdentity], copies: Iterable[tuple[str, Path]] = (),
                kept: Iterable[str] = ()) -> UpdateResult:
    """Make the existing ``output`` hold exactly ``files``, ``copies`` and ``kept`` (names
    of its files that stay as they are), changing only what differs.

    ``present`` is :func:`snapshot` of ``output`` as the caller found it. First every new
    or changed file is written in full into a staging folder beside ``output`` (a failure
    or a kill then leaves the site as it was; the next build sweeps the folder away); then,
    with Ctrl-C held back, stale files are deleted and the new ones renamed into place:
    a burst of renames, so a reader or a ``kill -9`` can meet a mix of two builds only
    within those milliseconds. Meant for small changes; :func:`write_site` for large ones.
    """
    output = Path(os.path.abspath(output))
    identities = {relative: present[relative] for relative in kept}
    with _locked(output), _as_build_error(f"cannot update the site in {output}; "
                                          f"the previous site is unchanged"):
        wanted = dict(files)
        wanted.update((relative, source.read_bytes()) for relative, source in copies)
        changed = []
        for relative, data in wanted.items():
            before = present.get(relative)
            if before is not None and before != _NOT_A_FILE and before[0] == len(data) \
                    and (output / relative).read_bytes() == data:
                identities[relative] = before
            else:
                changed.append(relative)
        stale = sorted(present.keys() - wanted.keys() - identities.keys(), reverse=True)
        if not changed and not stale:
            return UpdateResult(written=0, kept=len(identities), deleted=0,
                                identities=identities)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
        try:
            for number, relative in enumerate(changed):
                with open(staging / str(number), "wb") as stream:
                    stream.write(wanted[relative])
                os.chmod(staging / str(number), 0o644)  # served: readable by the web server
            with _interrupts_held():
                for relative in stale:  # first, so a file may give way to a folder
                    (output / relative).unlink(missing_ok=True)
                    _remove_empty_parents((output / relative).parent, output)
                for number, relative in enumerate(changed):
                    target = output / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging / str(number), target)
        finally:
            _remove_tree(staging)
        for relative in changed:
            identities[relative] = identity(output / relative)
    return UpdateResult(written=len(changed), kept=len(identities) - len(changed),
                        deleted=len(stale), identities=identities)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Defer SIGINT and SIGTERM until the block is done (main thread only; elsewhere the
    signals go to the main thread anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def _locked(output: Path) -> Iterator[None]:
    """One writer at a time per output directory; whatever staging folders exist once the
    lock is held were left by a killed build (SIGKILL cannot be caught) and are removed."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        lock = open(output.parent / f".{output.name}.lock", "a")
    except OSError as exc:
        raise BuildError(f"cannot write beside {output}: {exc.strerror or exc}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_leftovers(output)
        yield


@contextlib.contextmanager
def _as_build_error(doing: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise BuildError(f"{doing}: {exc.strerror or exc}{where}") from None


def snapshot(output: Path) -> dict[str, FileIdentity]:
    """Every entry under ``output`` (relative posix path → identity); anything but a
    regular file (a symlink, a socket) gets an identity no file has. Empty when
    ``output`` does not exist."""
    found: dict[str, FileIdentity] = {}

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                relative = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, relative + "/")
                    continue
                found[relative] = _identity_of(entry.stat(follow_symlinks=False))
    try:
        walk(os.fspath(output), "")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return found


def identity(path: Path) -> FileIdentity:
    return _identity_of(os.lstat(path))


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone): its parents are not empty either
            return
        folder = folder.parent


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
            _remove_tree(leftover)


def _remove_tree(path: Path) -> None:
    """Remove a directory tree, best effort, including folders made read-only (a deploy
    tool's ``chmod -R a-w site``): their owner may delete them once they are writable
    again. Without this the previous site would stay beside the new one, one whole copy
    per build."""
    def make_writable_and_retry(function: Callable[..., object], failed: str,
                                _info: object) -> None:
        try:
            folder = os.path.dirname(failed)
            os.chmod(folder, stat.S_IMODE(os.lstat(folder).st_mode) | stat.S_IRWXU)
            function(failed)
        except OSError:
            pass  # not ours to remove: left as it is

    shutil.rmtree(path, onerror=make_writable_and_retry)


def _write_locked(wanted: dict[str, bytes], unchanged: list[str], output: Path,
                  before_swap: Callable[[Path], None] | None) -> WriteResult:
    staging = _new_staging(output)
    retired = None
    try:
        reused = _adopt_reserve(output, staging)
        try:
            written, linked, identities = _fill(staging, output, wanted, unchanged,
                                                reused=reused)
        except OSError:
            if not reused:
                raise
            # The reserve could not be brought up to date (a folder made read-only, say):
            # build the staging tree from scratch instead, as without a reserve.
            _remove_tree(staging)
            staging = _new_staging(output)
            written, linked, identities = _fill(staging, output, wanted, unchanged,
                                                reused=False)
        if before_swap is not None:
            before_swap(staging)
            identities = snapshot(staging)  # it may have added, replaced or removed files
        _make_world_readable(staging)
        retired = _swap_in(staging, output)
        if retired is not None:
            _keep_as_reserve(retired, output)
    except BaseException as exc:
        # Half updated, or (Ctrl-C right after the swap) the previous site not yet made
        # the reserve: never kept. Whichever of these paths exists is ours to remove.
        for path in {staging, retired} - {None}:
            if os.path.lexists(path):
                _remove_tree(path)
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            raise BuildError(f"cannot write the site to {output}: "
                             f"{exc.strerror or exc}{where}; the previous site is unchanged"
                             ) from None
        raise
    return WriteResult(written=written, linked=linked, identities=identities)


def _new_staging(output: Path) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    except OSError as exc:
        raise BuildError(f"cannot create a staging directory beside {output}: "
                         f"{exc.strerror or exc}") from None


def reserve_path(output: Path) -> Path:
    """Where the previous site is kept between builds: ``.<output>-reserve`` beside the
    output, a name outside the ``.<output>.*`` staging glob swept by every build."""
    return output.parent / f".{output.name}{_RESERVE_SUFFIX}"


def _adopt_reserve(output: Path, staging: Path) -> bool:
    """Move the reserve, if there is one, to ``staging`` (an empty folder it replaces);
    True if it was moved. From then on a kill leaves it to be swept as staging."""
    reserve = reserve_path(output)
    try:
        if not stat.S_ISDIR(os.lstat(reserve).st_mode):
            return False  # not ours (a file, a symlink): left alone, never followed
        os.rename(reserve, staging)
    except OSError:
        return False
    return True


def _keep_as_reserve(retired: Path, output: Path) -> None:
    """Keep the previous site, just swapped out, as the reserve the next build starts from;
    remove it instead if it cannot be kept or updated (its top folder is not writable)."""
    try:
        if os.access(retired, os.W_OK | os.X_OK):
            os.rename(retired, reserve_path(output))
            return
    except OSError:
        pass
    _remove_tree(retired)


def _fill(staging: Path, output: Path, wanted: dict[str, bytes], unchanged: list[str],
          *, reused: bool) -> tuple[int, int, dict[str, FileIdentity]]:
    """Make ``staging`` hold exactly ``wanted`` (path → bytes) and the ``unchanged`` files
    of ``output``; return (written, linked, identity of every file).

    When ``reused`` the folder holds an older site (the reserve): it is walked once, and
    whatever is not wanted there (or is not a regular file) is removed; a file is kept
    when it already is the wanted one (the same inode as the current output's file, or
    the same bytes). Any other file is unlinked and then linked or written anew, never
    opened for writing: the reserve's files may be hard links into the live site.
    """
    root = os.fspath(staging)
    previous_root = os.fspath(output)
    present: dict[str, os.stat_result] = {}
    made: set[str] = {""}
    if reused:
        present = _sweep(root, set(wanted).union(unchanged), made)
    written = linked = 0
    identities: dict[str, FileIdentity] = {}
    for relative, data in wanted.items():
        target = f"{root}/{relative}"
        previous = f"{previous_root}/{relative}"
        have = present.get(relative)
        info = _lstat(previous)
        same_size = info is not None and stat.S_ISREG(info.st_mode) \
            and info.st_size == len(data)
        if have is not None and same_size and _same_file(have, info):
            if _read(previous) == data:  # already linked to the published file
                identities[relative] = _identity_of(info)
                linked += 1
                continue
            same_size = False  # and the reserve's copy, the same file, differs too
        if same_size and _read(previous) == data:
            if have is not None:
                os.unlink(target)
            else:
                _make_parent(root, relative, made)
            identities[relative] = _link(previous, target, info)
            linked += 1
            continue
        written += 1
        if have is not None:
            if have.st_size == len(data) and _read(target) == data:
                identities[relative] = _identity_of(have)  # the reserve has these bytes
                continue
            os.unlink(target)
        else:
            _make_parent(root, relative, made)
        identities[relative] = _write_new(target, data)
    for relative in unchanged:
        target = f"{root}/{relative}"
        previous = f"{previous_root}/{relative}"
        info = os.lstat(previous)
        have = present.get(relative)
        if have is not None:
            if _same_file(have, info):
                identities[relative] = _identity_of(info)
                linked += 1
                continue
            os.unlink(target)
        else:
            _make_parent(root, relative, made)
        identities[relative] = _link(previous, target, info)
        linked += 1
    return written, linked, identities


def _sweep(root: str, targets: set[str], made: set[str]) -> dict[str, os.stat_result]:
    """Walk the reused staging tree once: remove every entry that is not a wanted regular
    file or a folder on the way to one; return the status of the wanted files found, and
    add the folders kept to ``made``."""
    folders = set()
    for relative in targets:
        parent = relative.rpartition("/")[0]
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    found: dict[str, os.stat_result] = {}
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as entries:
            listed = list(entries)
        for entry in listed:
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if relative in folders:
                    made.add(relative)
                    pending.append((relative + "/", entry.path))
                else:  # nothing wanted below it (or a folder where a file must go)
                    shutil.rmtree(entry.path)
            elif relative in targets and entry.is_file(follow_symlinks=False):
                found[relative] = entry.stat(follow_symlinks=False)
            else:  # not wanted, or a symlink, socket, ... where a file must go
                os.unlink(entry.path)
    return found


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    """One file under two names (hard links to one inode): the same bytes, the same type."""
    return a.st_ino == b.st_ino and a.st_dev == b.st_dev


def _identity_of(info: os.stat_result) -> FileIdentity:
    """The identity of a file from its status; anything but a regular file gets one no
    file has."""
    return (info.st_size, info.st_mtime_ns, info.st_ino) if stat.S_ISREG(info.st_mode) \
        else _NOT_A_FILE


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def _make_parent(root: str, relative: str, made: set[str]) -> None:
    """Create the folder of ``relative`` under ``root``; ``made`` remembers the folders
    that exist, saving a system call per file."""
    parent = relative.rpartition("/")[0]
    if parent not in made:
        os.makedirs(f"{root}/{parent}", exist_ok=True)
        while parent and parent not in made:
            made.add(parent)
            parent = parent.rpartition("/")[0]


def _write_new(target: str, data: bytes) -> FileIdentity:
    """Create ``target`` (it must not exist: never a write through a link) with ``data``."""
    with open(target, "wb", opener=_create_exclusive) as stream:
        stream.write(data)
        stream.flush()
        return _identity_of(os.fstat(stream.fileno()))


def _create_exclusive(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_EXCL, 0o666)


def _link(previous: str, target: str, info: os.stat_result) -> FileIdentity:
    """Hard-link ``previous`` (whose status is ``info``) to ``target``; a copy where the
    file system has no hard links."""
    try:
        os.link(previous, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copyfile(previous, target)  # no hard links here: a copy keeps the bytes
        return identity(Path(target))
    return _identity_of(info)  # a hard link shares the status of what it links


def _make_world_readable(staging: Path) -> None:
    # mkdtemp creates the directory 0700; a served site must be readable by the web server.
    staging.chmod(0o755)


def _swap_in(staging: Path, output: Path) -> Path | None:
    """Make ``staging`` the output directory; return where the previous site now is (for
    the caller to keep as the reserve or remove), None if there was none."""
    if not output.exists():
        os.rename(staging, output)
        return None
    if not output.is_dir() or output.is_symlink():
        raise BuildError(f"output {output} exists and is not a directory; move it away")
    if exchange(staging, output):
        return staging  # now holds the previous site
    # No atomic exchange here: two renames, with a moment where the output is missing.
    retired = Path(tempfile.mkdtemp(prefix=f".{output.name}.old.", dir=output.parent))
    retired.rmdir()
    os.rename(output, retired)
    try:
        os.rename(staging, output)
    except OSError:
        os.rename(retired, output)
        raise
    return retired


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
