"""``qpdf-check``: ``qpdf --check`` passes (exit 0) for every file; otherwise a finding that carries every problem
line qpdf printed, whole (with the path reduced to the file name; qpdf prints object numbers and offsets, never
document text), the page that uses the damaged object and the exhibit that page is in, and what to do: re-save that
exhibit's document when the damage is in an exhibit's pages, report it when it is in pages casefile made.

``QpdfRuns`` starts ``python -m casefile.tasks.packets.qpdf_child FILE`` (QPDFJob of the libqpdf pikepdf bundles;
see that module for why not Debian's qpdf) once per file, all at once, so they run while the check reads the
pages; ``results()`` waits for their answers within ``QPDF_TIMEOUT``.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...core.errors import ToolError, ToolMissing, ToolTimeout
from ...core.processes import module_command, module_env

log = logging.getLogger(__name__)

QPDF_CHILD = "casefile.tasks.packets.qpdf_child"
QPDF_TIMEOUT = 300.0  # seconds for `qpdf --check` of one file (benchmarks/README.md has what it takes)


_OBJECT = re.compile(r"\bobject (\d+) (\d+)\b")


def object_pages(path: Path, objects: set[int]) -> dict[int, int]:
    """For each object number in ``objects``, the first 1-based page of the PDF at ``path`` that reaches it (through
    its content, resources, annotations...); objects no page reaches are left out."""
    import pikepdf

    found: dict[int, int] = {}
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PdfError:
        return found
    with pdf:
        seen: set[tuple[int, int]] = set()
        for number, page in enumerate(pdf.pages, start=1):
            stack: list[Any] = [page.obj]
            while stack and len(found) < len(objects):
                obj = stack.pop()
                if obj.is_indirect:
                    if obj.objgen in seen:
                        continue
                    seen.add(obj.objgen)
                    if obj.objgen[0] in objects:
                        found.setdefault(obj.objgen[0], number)
                container = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
                if isinstance(container, pikepdf.Dictionary):
                    values: Any = [v for k, v in container.items() if k != "/Parent"]
                elif isinstance(container, pikepdf.Array):
                    values = list(container)
                else:
                    continue
                stack.extend(v for v in values if isinstance(v, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)))
    return found


def report_qpdf(
    path: Path,
    name: str,
    code: int,
    problems: Sequence[str],
    exhibit_of: Callable[[int], tuple[str, str] | None],
    out: Any,
) -> None:
    """The ``qpdf-check`` finding of one file. ``exhibit_of(page)`` gives, for a 1-based page of this file, the label
    of the exhibit whose document holds it and how to say where it is ("Exhibit C, page 4 of the packet"), or
    None for the pages casefile made (cover, lists, tabs, certificates)."""
    from .report import ERROR

    objects = {int(m.group(1)) for line in problems for m in _OBJECT.finditer(line)}
    pages = object_pages(path, objects) if objects else {}
    page = min(pages.values()) if pages else None
    located = exhibit_of(page) if page is not None else None
    lines = "\n".join(f"    {line}" for line in problems) or f"    exit status {code}"
    where = f"{name}, page {page}" if page is not None else name
    if located is not None:
        label, said = located
        remedy = (
            f"The damaged data comes from a document of {said} (the exhibit's document or its translation): open "
            "that document and print it to a new PDF (or scan the paper again), add the new file with `casefile "
            "add`, put its document id in the exhibit list in place of the old one (`casefile exhibits plan` / "
            "`set`), and build again."
        )
    else:
        label = None
        remedy = (
            "Build the packet again; if the check fails the same way, this is a bug in casefile (or in a template "
            "override): report it with the build id and these lines."
        )
    out.add(
        "qpdf-check",
        ERROR,
        name,
        page,
        f"{where}: `qpdf --check` found problems in the file's structure:\n{lines}\n{remedy}",
        exhibit=label,
    )


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
                missing = [str(m) for m in answer.get("missing_decoders", [])]
                results.append((int(answer["exit"]), [str(p) for p in answer["problems"]]))
            except (ValueError, KeyError, TypeError) as exc:  # the process died (memory, signal): not a verdict
                raise ToolError(
                    f"The qpdf check of {path.name} ended without an answer (exit status {proc.returncode}); try "
                    "again, and report it if it persists."
                ) from exc
            if missing:  # not a verdict on the file either: this machine cannot decode what it holds
                self.close()
                raise ToolMissing(
                    f"{path.name} holds JBIG2 images (scans as office copiers make them) and checking them needs the "
                    f"program {missing[0]}, which is not installed. Install it (sudo apt-get install {missing[0]}, or "
                    "./bootstrap.sh setup) and run the same command again."
                )
            log.debug("qpdf --check: file %d of %d, exit %s", len(results), len(self.paths), results[-1][0])
        return results

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
