"""The bookmark titles the builder writes and the check reads (tasks/packets/build.py ``outline_for``; check
``outline``): the front and back matter's by template, the section pages', an exhibit's children's and the mark of
an exhibit continued in the next part of a split packet. At the bottom of the check's modules: it imports none.
"""

from __future__ import annotations

FRONT_TITLES = {  # bookmark titles of the template pages, by template
    "packet/cover_page.html.j2": "Cover page",
    "packet/uscis_cover_letter.html.j2": "Cover letter",
    "packet/certificate_of_service.html.j2": "Certificate of service",
}
# Section pages the builder places between exhibits (not exhibits themselves): the country-conditions index, before
# the bundle's numbered exhibits. Their bookmarks end the exhibit before them, like any top-level bookmark.
SECTION_TITLES = {"conditions/index.html.j2": "Country conditions index"}
CHILD_DOCUMENT = "Document"
CHILD_TRANSLATION = "English translation"
CHILD_CERTIFICATE = "Translator's certificate"
CONTINUED = " (continued)"
