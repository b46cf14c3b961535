"""Files uploaded from the staff page, on their way into a case through the one ingest path.

An upload is written, as it arrives, into its own folder under the home's work folder (never the system's temporary
folder: client files stay under the home), each file under a cleaned name that keeps its extension (intake checks the
content against it). Limits hold while writing: a file over ``max_file_bytes``, an upload over
``web_upload_max_bytes`` or more than ``web_upload_max_files`` files stops the upload, removes what was written and
says so. The files then become an intake batch (``documents.pipeline.new_batch``), exactly as `casefile add` makes
one; the folder is removed once the batch's flow run has finished.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..core.catalog import new_id
from ..core.errors import ValidationError

if TYPE_CHECKING:
    from ..core.runtime import Runtime

UPLOADS = "uploads"
MAX_NAME = 120
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


class UploadRefused(ValidationError):
    """The upload broke a limit or had nothing in it; nothing of it was kept."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def clean_filename(raw: str) -> str:
    """A browser's file name made safe to write: its last path part, no control or reserved characters, no leading
    dot (intake skips hidden files), at most ``MAX_NAME`` characters with the extension kept."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if not name:
        return "upload"
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10:
        stem, ext = name, ""
    limit = MAX_NAME - (len(ext) + 1 if ext else 0)
    stem = stem[:limit] or "upload"
    return f"{stem}.{ext}" if ext else stem


class UploadFolder:
    """One upload's files, written under limits. ``files`` are the paths written, in order."""

    def __init__(self, rt: Runtime) -> None:
        self.max_file = rt.settings.max_file_bytes
        self.max_total = rt.settings.web_upload_max_bytes
        self.max_files = rt.settings.web_upload_max_files
        self.root = rt.settings.work_dir / UPLOADS / new_id("U", 10)
        self.root.mkdir(parents=True, mode=0o700)
        self.files: list[Path] = []
        self.total = 0
        self._current: IO[bytes] | None = None
        self._current_bytes = 0

    def start_file(self, filename: str) -> None:
        self.end_file()
        if len(self.files) >= self.max_files:
            raise UploadRefused(f"Too many files in one upload: send at most {self.max_files} at a time.")
        folder = self.root / f"{len(self.files):04d}"
        folder.mkdir(mode=0o700)
        path = folder / clean_filename(filename)
        self.files.append(path)
        self._current = path.open("xb")
        self._current_bytes = 0

    def write(self, data: bytes) -> None:
        if self._current is None:
            raise UploadRefused("The upload's form is not in the expected shape; reload the page and try again.")
        self._current_bytes += len(data)
        self.total += len(data)
        if self._current_bytes > self.max_file:
            raise UploadRefused(
                f"A file is larger than the limit of {self.max_file:,} bytes (setting max_file_bytes); nothing was "
                "added. Split it, or ask an admin to raise the limit.",
                too_large=True,
            )
        if self.total > self.max_total:
            raise UploadRefused(
                f"The upload is larger than {self.max_total:,} bytes in all (setting web_upload_max_bytes); nothing "
                "was added. Send fewer files at a time.",
                too_large=True,
            )
        self._current.write(data)

    def end_file(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None

    def finish(self) -> list[Path]:
        """The files written; ``UploadRefused`` when there are none (or only empty file inputs)."""
        self.end_file()
        self.files = [p for p in self.files if p.stat().st_size > 0 or p.name != "upload"]
        if not self.files:
            raise UploadRefused("No file was chosen. Choose one or more files (or take a photo) and send again.")
        return self.files

    def discard(self) -> None:
        self.end_file()
        shutil.rmtree(self.root, ignore_errors=True)


def remove_upload(path: Path) -> None:
    """Remove an upload's folder once its batch has been taken in (``path`` is one of its files or the folder)."""
    for parent in (path, *path.parents):
        if parent.parent.name == UPLOADS:
            shutil.rmtree(parent, ignore_errors=True)
            return


def upload_folder_of(paths: list[str]) -> Path | None:
    for raw in paths:
        for parent in Path(raw).parents:
            if parent.parent.name == UPLOADS:
                return parent
    return None
