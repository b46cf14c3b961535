"""The worker processes of one packet build.

A build hands its heavy, independent work to a few processes (the ``packet_workers`` setting, default 2): preparing
each stored document's pages (``prepare.prepare_source``: placed, cleaned, images resampled), verifying its pictures
once (``qpdf_child.verify_pictures``), and checking each finished part (``check.files.check_file``), while the
build's own process lays out the template pages and assembles the parts. Jobs are plain functions of files and
values, never of the object store, the catalog or the environment: what the workers need travels with the job.

With ``packet_workers = 1`` every job runs in the build's own process, one after another (the same results; tests
that replace a function to inject a fault use that). Workers start from a small server process (forkserver; spawn
where there is none), never as a copy of the build with its open files and threads, and end with the build even
when it is killed (``core.processes.pool_worker_start``).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ..core.errors import ToolError
from ..core.processes import pool_worker_start

log = logging.getLogger(__name__)

T = TypeVar("T")

# Imported once by the server the workers start from, so a worker's first job does not import them.
PRELOAD = ["casefile.tasks.packets.prepare", "casefile.tasks.packets.check.files"]


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # no effect once the server runs (OCR may have started it)
    return context


class _Done(cf.Future[Any]):
    """A job run in this process, as a finished future."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        super().__init__()
        try:
            self.set_result(fn(*args))
        except BaseException as exc:  # delivered by result(), as a pool would
            self.set_exception(exc)


class BuildPool:
    """A process pool for one build (started with its first job); ``workers == 1`` runs jobs in this process."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.executor: cf.ProcessPoolExecutor | None = None

    def __enter__(self) -> BuildPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def submit(self, fn: Callable[..., T], *args: Any) -> cf.Future[T]:
        if self.workers == 1:
            return _Done(fn, args)
        if self.executor is None:
            self.executor = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_context(),
                initializer=pool_worker_start,
                initargs=(os.getpid(),),
            )
        return self.executor.submit(fn, *args)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def result(future: cf.Future[T], what: str) -> T:
    """The job's result; a worker that died (killed for memory, a crash in a library) is a ``ToolError`` that says
    so, not a verdict on the files."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise ToolError(
            f"A worker process of the packet build died while {what} (out of memory, or a crash in a PDF library). "
            "Try again; if it happens again, set CASEFILE_PACKET_WORKERS=1 and report it."
        ) from exc
