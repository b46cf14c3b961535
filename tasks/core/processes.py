"""Child processes: running casefile's own modules, and making every process casefile starts end with its owner.

``module_command`` and ``module_env`` give the command line and an environment in which the child imports the same
casefile as this process, whether it runs from a checkout or from an installed package.

A ``kill -9`` of a `casefile` command gives it no chance to stop what it started, so each child arranges to end
with its owner by itself (Linux; elsewhere these are no-ops):

- ``dies_with_parent(sig)``: a ``preexec_fn`` for ``subprocess.Popen`` of a program we do not control (the Prefect
  server): ``PR_SET_PDEATHSIG``, so the kernel sends ``sig`` to the child when the *thread* that started it ends.
  Start such children from the main thread only.
- ``end_with(pid)``: for a Python process of ours whose owner is not its parent (an OCR pool worker started by
  multiprocessing's forkserver, which outlives the command) or that has children of its own (the runner of
  `casefile serve`): the process leads its own process group, and a watchdog thread waits on a pidfd of the owner;
  when the owner ends, the whole group (the process and, say, the Tesseract it runs) is killed at once.
- ``children`` / ``kill_tree``: what a supervisor uses to find and stop what is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_libc: ctypes.CDLL | None = None


def import_root() -> str:
    """The sys.path entry that holds the ``casefile`` package this process imported."""
    import casefile

    return str(Path(next(iter(casefile.__path__))).parent)


def module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def module_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with PYTHONPATH led by :func:`import_root`."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [import_root(), env.get("PYTHONPATH")]))
    return env


# Linux process control -----------------------------------------------------------------------------------------
def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _prctl(option: int, value: int) -> bool:
    """``prctl(option, value)``; False where it does not exist (not Linux) or fails."""
    libc = _load_libc()
    return libc is not None and int(libc.prctl(option, value, 0, 0, 0)) == 0


def dies_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the thread that started it ends (and exits at once if its
    parent is already gone). Resolves libc here, in the parent, so the child only makes the call."""
    parent = os.getpid()
    _load_libc()  # now, in the parent: nothing to import or look up between fork and exec
    if threading.current_thread() is not threading.main_thread():
        # The signal comes when the *thread* that started the child ends: from another thread, that would stop
        # the child too early. Such a child only gets the check below.
        log.debug("child started from thread %s: no parent-death signal", threading.current_thread().name)
        sig = 0

    def preexec() -> None:
        if sig:
            _prctl(_PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:  # the parent died before the call above
            os._exit(1)

    return preexec


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process (not to init), so a supervisor can find and stop
    what its children left behind."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _kill_own_group() -> None:
    """SIGKILL this process's group if it leads one (never a group it merely belongs to: that may be the shell's
    job or a test runner's), else this process and its children."""
    if os.getpgrp() == os.getpid():
        with contextlib.suppress(OSError):
            os.killpg(os.getpid(), signal.SIGKILL)
    kill_tree(os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


def _watch(owner: int, pidfd: int | None) -> None:
    try:
        if pidfd is not None:
            select.select([pidfd], [], [])  # readable when the owner has ended
        else:  # no pidfd (old kernel, not Linux): look every second
            while _alive(owner):
                time.sleep(1.0)
    finally:
        _kill_own_group()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_with(owner: int, *, own_group: bool = True, take_sigterm: bool = True) -> None:
    """Make this process, and its process group, end when process ``owner`` ends.

    With ``own_group`` this process first becomes the leader of a new process group, so that what it starts
    (Tesseract, Prefect's flow-run processes) is killed with it. The watchdog is a daemon thread blocked on a pidfd
    of the owner. With ``take_sigterm``, a SIGTERM (ProcessPoolExecutor terminates a broken pool's workers with it)
    also takes the group. If the owner is already gone, the process ends now."""
    if own_group:
        with contextlib.suppress(OSError):  # already a group or session leader
            os.setpgid(0, 0)
    pidfd: int | None = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(owner)
        except ProcessLookupError:
            _kill_own_group()
        except OSError:
            pidfd = None
    if pidfd is None and not _alive(owner):
        _kill_own_group()
    if take_sigterm and os.getpgrp() == os.getpid() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _sig, _frame: _kill_own_group())
    threading.Thread(target=_watch, args=(owner, pidfd), name=f"end-with-{owner}", daemon=True).start()


def pool_worker_start(owner: int) -> None:
    """The ``initializer`` of a ProcessPoolExecutor: the worker (and what it runs) ends with process ``owner``, the
    process that made the pool, even when that one is killed with SIGKILL. (``PR_SET_PDEATHSIG`` alone would not
    do: a forkserver worker's parent is the forkserver, which lives on while any worker does.)"""
    end_with(owner)


# Finding and stopping what is left ---------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc; empty where there is none)."""
    found: list[int] = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, parents before their children."""
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """Send ``sig`` to every descendant of ``pid`` (not to ``pid``); the pids signalled."""
    hit = []
    for child in descendants(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, sig)
            hit.append(child)
    return hit


def reap_children(keep: Collection[int] = ()) -> None:
    """Collect the exit status of children that ended (orphans re-parented to a subreaper, too), except those in
    ``keep`` (children a ``subprocess.Popen`` waits for itself)."""
    for pid in children(os.getpid()):
        if pid not in keep:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
