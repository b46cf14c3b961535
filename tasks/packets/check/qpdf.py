"""``qpdf-check``: ``qpdf --check`` passes (exit 0) for every file; otherwise its first problem line (its fatal
error, when there is one), with the path reduced to the file name (qpdf prints no document text).

``QpdfRuns`` starts ``python -m casefile.tasks.packets.qpdf_child FILE`` (QPDFJob of the libqpdf pikepdf bundles;
see that module for why not Debian's qpdf) once per file, all at once, so they run while the check reads the
pages; ``results()`` waits for their answers within ``QPDF_TIMEOUT``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ...core.errors import ToolError, ToolTimeout
from ...core.processes import module_command, module_env

log = logging.getLogger(__name__)

QPDF_CHILD = "casefile.tasks.packets.qpdf_child"
QPDF_TIMEOUT = 300.0  # seconds for `qpdf --check` of one file (benchmarks/README.md has what it takes)


def qpdf_problem(code: int, problems: Sequence[str]) -> str:
    """The line to report: qpdf's fatal error (the last line, exit status 2), else its first warning. The lines
    already name the file only (the child reduces the path)."""
    if not problems:
        return f"exit status {code}"
    return problems[-1] if code == 2 else problems[0]


class QpdfRuns:
    """`qpdf --check` of every file, one ``QPDF_CHILD`` process per file, started at once so they run while this
    process reads the pages."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.procs: list[subprocess.Popen[str]] = []
        self.started = time.monotonic()
        env = module_env()
        try:
            for path in self.paths:
                self.procs.append(
                    subprocess.Popen(
                        module_command(QPDF_CHILD, str(path)),
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        stdin=subprocess.DEVNULL,
                        text=True,
                        errors="replace",
                        env=env,
                    )
                )
        except OSError as exc:
            self.close()
            raise ToolError(f"The qpdf check could not be started ({type(exc).__name__}).") from exc

    def results(self) -> list[tuple[int, list[str]]]:
        """qpdf's exit status (0 clean, 2 errors, 3 warnings) and problem lines, per file in order."""
        results: list[tuple[int, list[str]]] = []
        for path, proc in zip(self.paths, self.procs, strict=True):
            remaining = max(1.0, QPDF_TIMEOUT - (time.monotonic() - self.started))
            try:
                stdout, _stderr = proc.communicate(timeout=remaining)
            except subprocess.TimeoutExpired as exc:
                self.close()
                raise ToolTimeout(
                    f"`qpdf --check` of {path.name} did not finish in {QPDF_TIMEOUT:g} s; try again on a less busy "
                    "machine."
                ) from exc
            try:
                answer = json.loads(stdout)
                results.append((int(answer["exit"]), [str(p) for p in answer["problems"]]))
            except (ValueError, KeyError, TypeError) as exc:  # the process died (memory, signal): not a verdict
                raise ToolError(
                    f"The qpdf check of {path.name} ended without an answer (exit status {proc.returncode}); try "
                    "again, and report it if it persists."
                ) from exc
            log.debug("qpdf --check: file %d of %d, exit %s", len(results), len(self.paths), results[-1][0])
        return results

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
