"""Work folders: where files that hold client data live while a stage runs (staged copies, rendered pages, half-built
packets, page images for OCR), always under the home's ``work/`` folder, and what a full or broken disk means.

- ``work_folder(root, prefix)``: a new folder under ``root``, owned by this process while the block runs (an exclusive
  ``flock`` on its ``.owner`` file) and removed when the block ends, however it ends.
- ``clean_work(root)``: removes the folders whose owner is gone. A lock dies with its process, ``kill -9`` included,
  so a folder is removed only when no live process holds it: never a live run's, whatever its age.
- ``owner_lock(path)`` / ``lock_is_held(path)``: the same kind of lock on a plain file (an intake batch while it runs).
- ``process_tempdir(root)``: this process's temporary folder (``tempfile`` and the ``TMPDIR`` of its children: pikepdf's
  JBIG2 decoder, Tesseract, the qpdf check), a work folder like the others, so nothing is left outside the home.
- ``workspace_error(exc, where)``: an ``OSError`` of the machine (disk full, over quota, read-only, I/O error) as a
  ``WorkspaceError`` (exit 75): such errors are never recorded as a property of the file being processed.

Locks are POSIX ``flock``s on the local file system the home is on.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import WorkspaceError

log = logging.getLogger(__name__)

OWNER_FILE = ".owner"
# An owner file is created empty, locked, then given its owner's pid: one that nobody holds and that has the pid was
# left by a dead owner; an empty one may be between creation and locking (microseconds) and is left this long.
GRACE_SECONDS = 60.0
# A folder without an owner file was not made by ``work_folder`` (older code, or a folder made by hand): it is left
# this long, as before locks existed.
UNOWNED_STALE_SECONDS = 6 * 3600.0
CLEAN_EVERY_SECONDS = 600.0  # a long-running process (a worker) cleans again after this long

# Errors of the machine, not of a file: retrying later (after freeing space, remounting...) succeeds.
ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EFBIG}
)
# Also the machine's when they happen in our own folders (a work folder or the store we write to).
_OWN_FOLDER_ERRNOS = ENVIRONMENT_ERRNOS | {errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR}

_CAUSES = {
    errno.ENOSPC: ("the disk is full", "Free disk space, or set CASEFILE_HOME to a folder on a larger disk."),
    errno.EDQUOT: ("the disk quota is exceeded", "Free space in your quota, or ask for a larger one."),
    errno.EROFS: ("it is on a read-only file system", "Remount it read-write, or set CASEFILE_HOME elsewhere."),
    errno.EIO: ("the disk reported an input/output error", "Check the disk (it may be failing or disconnected)."),
    errno.EMFILE: ("too many files are open", "Close other programs, or raise the open-file limit (ulimit -n)."),
    errno.ENFILE: ("too many files are open on this machine", "Close other programs and try again."),
    errno.ENOMEM: ("the machine is out of memory", "Close other programs, or run with fewer workers."),
    errno.EFBIG: ("a file grew past the file system's size limit", "Set CASEFILE_HOME to another file system."),
    errno.EACCES: ("permission was denied", "Make it writable by the user who runs casefile."),
    errno.EPERM: ("permission was denied", "Make it writable by the user who runs casefile."),
    errno.ENOENT: ("it disappeared while in use", "Check that nothing else removes files under the home."),
    errno.ENOTDIR: ("a part of its path is not a folder", "Check the home folder (CASEFILE_HOME)."),
}


def is_environment_error(exc: BaseException, *, own_folder: bool = False) -> bool:
    """True for an ``OSError`` that says something about the machine (or, with ``own_folder``, about a folder that
    casefile itself writes), not about the file being read."""
    if not isinstance(exc, OSError) or exc.errno is None:
        return False
    return exc.errno in (_OWN_FOLDER_ERRNOS if own_folder else ENVIRONMENT_ERRNOS)


def workspace_error(exc: OSError, where: Path | str) -> WorkspaceError:
    """The typed, retryable error for an ``OSError`` of the machine while using ``where`` (a folder of the home)."""
    cause, remedy = _CAUSES.get(exc.errno or 0, (exc.strerror or type(exc).__name__, "Check the disk."))
    return WorkspaceError(
        f"The folder {where} cannot be used: {cause}. {remedy} Then run the same command again: nothing was "
        "recorded about the files it was working on."
    )


# Locks ---------------------------------------------------------------------------------------------------------
def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def owner_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the block: ``lock_is_held`` says so to any
    process, this one included. Waits for the lock if another holder has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        os.close(fd)


def lock_is_held(path: Path) -> bool:
    """Whether a live process holds ``owner_lock(path)`` (a missing file: no)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def folder_is_live(folder: Path, grace: float = GRACE_SECONDS) -> bool:
    """A work folder in use: its owner's lock is held, or it is too young to tell."""
    owner = folder / OWNER_FILE
    try:
        fd = os.open(owner, os.O_RDWR)
    except FileNotFoundError:
        return _age(folder) < max(grace, UNOWNED_STALE_SECONDS)
    except OSError:
        return True  # cannot tell: leave it
    try:
        if not _try_lock(fd):
            return True
        return os.fstat(fd).st_size == 0 and _age(owner) < grace  # its owner may be about to lock it
    finally:
        os.close(fd)


# Work folders --------------------------------------------------------------------------------------------------
_cleaned: dict[Path, float] = {}
_cleaned_lock = threading.Lock()


def stale_folders(root: Path, grace: float = GRACE_SECONDS) -> list[Path]:
    """The folders under ``root`` no live process owns (left by killed runs)."""
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.is_symlink() and not folder_is_live(entry, grace):
            found.append(entry)
    return found


def clean_work(root: Path, grace: float = GRACE_SECONDS) -> int:
    """Remove the folders under ``root`` that no live process owns; returns how many were removed."""
    removed = 0
    for folder in stale_folders(root, grace):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed += 1
    if removed:
        log.info("removed %d work folder(s) left by interrupted runs", removed)
    return removed


def _clean_now_and_then(root: Path) -> None:
    now = time.monotonic()
    with _cleaned_lock:
        last = _cleaned.get(root)
        if last is not None and now - last < CLEAN_EVERY_SECONDS:
            return
        _cleaned[root] = now
    try:
        clean_work(root)
    except OSError as exc:  # cleaning is a courtesy: never what fails a run
        log.warning("work folders not cleaned (%s)", type(exc).__name__)


def _new_owned_folder(root: Path, prefix: str) -> tuple[Path, int]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        fd = os.open(path / OWNER_FILE, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise workspace_error(exc, root) from exc
    fcntl.flock(fd, fcntl.LOCK_EX)  # a new file nobody else has opened: never blocks
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    return path, fd


@contextmanager
def work_folder(root: Path, prefix: str) -> Iterator[Path]:
    """A new folder under ``root`` (``prefix`` + random; the prefix holds ids only, never client data), owned by this
    process for the block and removed at its end. The first call of a process (and one every few minutes after)
    first removes the folders that killed runs left. A full or read-only disk raises ``WorkspaceError``."""
    _clean_now_and_then(root)
    path, fd = _new_owned_folder(root, prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


# The process's temporary folder --------------------------------------------------------------------------------
_process_tmp: dict[str, tuple[Path, int]] = {}


_SOCKET_BASE = "/tmp"  # noqa: S108 - mkdtemp makes a private (0700) folder there, for sockets only


def short_socket_dir() -> None:
    """multiprocessing keeps its sockets (the OCR pool's forkserver) in a folder of the temporary folder, and a Unix
    socket's path must fit in 107 bytes, which a home's work folder (or an inherited TMPDIR) may not: its folder is
    made, once per process, in the machine's /tmp (a socket holds no data; multiprocessing removes it at exit)."""
    import multiprocessing.util

    saved = tempfile.tempdir
    try:
        if os.access(_SOCKET_BASE, os.W_OK):
            tempfile.tempdir = _SOCKET_BASE
        multiprocessing.util.get_temp_dir()
    finally:
        tempfile.tempdir = saved


def process_tempdir(root: Path) -> Path:
    """Make a work folder under ``root`` this process's temporary folder (``tempfile.tempdir`` and ``TMPDIR`` for
    the programs it starts), so temporary files of libraries and tools (pikepdf's JBIG2 decoder, Tesseract's) stay in
    the home and are removed even after a kill. Idempotent; removed when the process exits."""
    current = _process_tmp.get("folder")
    if current is not None and current[0].parent == root and current[0].is_dir():
        return current[0]
    short_socket_dir()
    _clean_now_and_then(root)
    path, fd = _new_owned_folder(root, f"tmp-{os.getpid()}-")
    if current is not None:
        _release(current)
    _process_tmp["folder"] = (path, fd)
    tempfile.tempdir = str(path)
    os.environ["TMPDIR"] = str(path)
    return path


def _release(owned: tuple[Path, int]) -> None:
    shutil.rmtree(owned[0], ignore_errors=True)
    with suppress(OSError):
        os.close(owned[1])


@atexit.register
def release_process_tempdir() -> None:
    """Remove this process's temporary folder (at exit; also called by a command that ends with ``os._exit``)."""
    owned = _process_tmp.pop("folder", None)
    if owned is not None:
        _release(owned)
