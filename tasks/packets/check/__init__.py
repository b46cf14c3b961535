"""The pre-filing check of a packet (`casefile packet check`): a PDF, or the parts of one split packet in order,
against a filing profile (config/profiles/<name>.toml).

``check_packet(paths, profile)`` returns a ``CheckReport`` of ``Finding``s (a stable code, a severity, the file name
and the 1-based page in that file); only a file that cannot be read as a PDF at all raises (``PacketCheckError``).
The packet builder runs the same check on its own output before declaring a build finished. Findings never quote
page text, exhibit titles or names.

One module per concern, each saying what it checks and which conventions of the builder it relies on: ``pages``
(size, orientation, page numbers, exhibit labels, page labels), ``outline`` (bookmarks and the exhibit list's
printed ranges or page counts), ``fonts``, ``translations`` (the language of exhibits), ``signatures`` (signed
certificates of service and translation), ``hidden`` (scripts, actions, embedded and outside files: nothing a reader
does not see) and ``qpdf`` (``qpdf --check``, its lines whole, with the page and exhibit of the damaged object);
``files`` reads each file on its own (its structure, stamp bands, hidden content, ``qpdf --check``), ``packet`` puts
the files together and runs the checks, ``text`` reads the page text they need, ``report`` collects the findings
(each naming the exhibit when the problem is in an exhibit's pages).

Imports run one way: ``report``, ``config``, ``titles`` (the bookmark titles) and ``pdffile`` (a file as read) at the
bottom, the individual checks above them, ``files`` above the checks and ``packet`` on top.
"""

from .packet import check_packet
from .report import CheckReport, Finding
from .titles import CHILD_CERTIFICATE, CHILD_DOCUMENT, CHILD_TRANSLATION, CONTINUED, FRONT_TITLES, SECTION_TITLES

__all__ = [
    "CHILD_CERTIFICATE",
    "CHILD_DOCUMENT",
    "CHILD_TRANSLATION",
    "CONTINUED",
    "FRONT_TITLES",
    "SECTION_TITLES",
    "CheckReport",
    "Finding",
    "check_packet",
]
