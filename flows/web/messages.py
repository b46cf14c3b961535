"""Texts from the library that the page shows, marked here for the message catalog (Babel extracts ``_()`` calls
from this file): why a file was quarantined, in words. tests/test_web.py checks that they still read exactly as
tasks/core/errors.py says them in English."""

from __future__ import annotations

from ...tasks.core.errors import QuarantineReason
from .i18n import _


def quarantine_remedy(reason: str | None) -> str | None:
    """What to do about a quarantined file, in the current language; None for no (or an unknown) reason."""
    texts = {
        QuarantineReason.UNSUPPORTED_TYPE: _("Convert it to PDF, JPEG, PNG or TIFF and add it again."),
        QuarantineReason.EXTENSION_MISMATCH: _("Its content does not match its file name; rename it and add it again."),
        QuarantineReason.CORRUPT: _("The file is damaged. Ask the sender for a new copy, or re-scan the paper."),
        QuarantineReason.TRUNCATED: _("The file is cut off (an incomplete download or copy). Get a complete copy."),
        QuarantineReason.ENCRYPTED: _(
            "The PDF is password-protected. Ask the sender for an unprotected copy, or remove the password (qpdf "
            "--decrypt --password=PASSWORD in.pdf out.pdf) and add the result."
        ),
        QuarantineReason.TOO_LARGE: _(
            "It is over the size limit (setting max_file_bytes). Split it, or raise the limit."
        ),
        QuarantineReason.TOO_MANY_PAGES: _("The PDF has more pages than allowed (setting max_pages). Split it first."),
        QuarantineReason.TOO_MANY_PIXELS: _(
            "The image is larger than allowed (setting max_image_pixels); it may be a decompression bomb. Re-save"
            " it at a normal resolution."
        ),
        QuarantineReason.EMPTY: _("The file is empty. Get a complete copy."),
        QuarantineReason.UNREADABLE: _("The file could not be read from disk. Check that it exists and is readable."),
        QuarantineReason.TOO_COMPLEX: _(
            "Its structure goes past the safety limits of the PDF reader (nesting, loops or object counts no real"
            " document needs); it may be hostile. Open it and print it to a new PDF (or scan the paper), and add "
            "that."
        ),
        QuarantineReason.DECOMPRESSION_BOMB: _(
            "A compressed part of it expands to far more data than any real document holds (a decompression "
            "bomb). Do not open it; ask the sender for a new copy, or scan the paper."
        ),
        QuarantineReason.UNSUPPORTED_ENCODING: _(
            "It uses a compression or encryption method that cannot be decoded here. Open it and print it to a "
            "new PDF (or ask the sender for a standard PDF), and add that; if a decoder was missing from this "
            "machine, install it (./bootstrap.sh setup) and add the same file again: its quarantine is lifted."
        ),
        QuarantineReason.SYMLINK: _(
            "It is a symbolic link: casefile copies only the files you name, not what a link points to. Add the "
            "file it points to, or run the same `casefile add` with --follow-symlinks."
        ),
    }
    try:
        return texts[QuarantineReason(reason)] if reason else None
    except ValueError:
        return None
