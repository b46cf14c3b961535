"""What the packet builder asks of a case's country-conditions bundle (tasks/packets/build.py calls these).

``bundle_for_packet(rt, case_id)`` reads the case's active bundle from its manifest in the object store (never the
library, so later changes to the library never change a packet): its exhibits, numbered after the lettered client
exhibits (``labels_after``: EOIR numbers them; a profile that letters every exhibit, USCIS, continues the letters),
each with the English translation a Spanish source has in the library (the packet's translation gate applies to
them like to client documents). ``PacketBundle.index_context`` gives the bundle's index with the page numbers of
the final packet, computed by the builder from its page plan (never typed), and ``pin_table`` records them in the
packet's manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from ..core.errors import BundleNotFound, IntegrityError
from ..packets.check import SECTION_TITLES
from ..packets.exhibits import COUNTRY, DEFAULT_SCHEMES, assign_labels, letter_label
from .bundle import INDEX_TEMPLATE, TEMPLATES, active_bundle, index_context
from .config import load_bundle_style, load_topics

if TYPE_CHECKING:
    from ..core.runtime import Runtime

INDEX_TITLE = SECTION_TITLES[INDEX_TEMPLATE]


@dataclass(frozen=True)
class BundleDocument:
    """One numbered exhibit of the bundle: the marked excerpt of one source (and its translation, if any)."""

    source_id: str
    title: str
    date: date
    source_name: str  # the publisher, for the exhibit list's "Source" column
    language: str
    key: str
    sha256: str
    pages: int
    translation: dict[str, Any] | None


@dataclass
class PacketBundle:
    bundle_id: str
    manifest_sha256: str
    manifest: dict[str, Any]
    documents: list[BundleDocument]
    title: str
    quote_words: int
    element_order: list[str]
    template: str = INDEX_TEMPLATE
    templates: tuple[str, ...] = TEMPLATES
    first_exhibit: int = 0  # index of its first exhibit among the packet's exhibits (set by the builder)
    labels: list[str] = field(default_factory=list)  # the packet's labels of its exhibits (set by the builder)

    def fingerprint(self) -> dict[str, Any]:
        """What of the bundle goes into the packet's build id (its exhibits' hashes are there already)."""
        return {"bundle": self.bundle_id, "manifest": self.manifest_sha256, "title": self.title}

    def _pin(
        self, i: int, page: int, firsts: Mapping[int, int], ranges: Mapping[int, tuple[int, int]], numbered: bool
    ) -> str:
        g = self.first_exhibit + i
        first_doc = firsts.get(g, 0)
        if not first_doc:  # the first layout pass: no page plan yet
            return "0"
        n = first_doc + page - 1
        return str(n) if numbered else str(n - ranges.get(g, (first_doc, 0))[0] + 1)

    def pins(self, firsts: Mapping[int, int], ranges: Mapping[int, tuple[int, int]], numbered: bool) -> list[str]:
        """The printed page of each cited passage, in manifest order: the packet's page number (EOIR), or, in a
        packet without page numbers (USCIS), the page of the exhibit as its label stamp counts it. ``firsts`` maps
        an exhibit (index among the packet's exhibits) to the first page of its document, ``ranges`` to its pages."""
        return [
            self._pin(i, passage["exhibit_page"], firsts, ranges, numbered)
            for i, exhibit in enumerate(self.manifest["exhibits"])
            for passage in exhibit["passages"]
        ]

    def index_context(
        self,
        base: Mapping[str, Any],
        firsts: Mapping[int, int],
        ranges: Mapping[int, tuple[int, int]],
        *,
        numbered: bool,
    ) -> dict[str, Any]:
        """The index template's context: ``base`` (the packet's shared context: page, client, tab label) with the
        bundle's sources, their printed ranges and every passage's printed page (see ``pins``)."""
        count = len(self.manifest["exhibits"])
        numbering = (
            "Page numbers are the page numbers printed at the foot of this filing."
            if numbered
            else "Page numbers count the pages of each exhibit, as its label on every page does."
        )
        context = index_context(
            self.manifest,
            labels=self.labels,
            ranges=[ranges.get(self.first_exhibit + i, (0, 0)) for i in range(count)],
            pin=lambda i, page: self._pin(i, page, firsts, ranges, numbered),
            tab_label=str(base["tab_label"]),
            title=self.title,
            numbering=numbering,
            quote_words=self.quote_words,
            client=base.get("client"),
            element_order=self.element_order,
        )
        return {**base, **context}

    def pin_table(self, pins: Sequence[str]) -> list[dict[str, Any]]:
        """For the packet's manifest: every cited passage with its exhibit, source page and printed page."""
        rows = []
        flat = iter(pins)
        for i, exhibit in enumerate(self.manifest["exhibits"]):
            for passage in exhibit["passages"]:
                rows.append(
                    {
                        "label": self.labels[i] if i < len(self.labels) else "",
                        "source_id": exhibit["source_id"],
                        "source_page": passage["page"],
                        "exhibit_page": passage["exhibit_page"],
                        "element": passage["element"],
                        "pin": next(flat, ""),
                        "quote": passage["quote"],
                    }
                )
        return rows


def bundle_for_packet(rt: Runtime, case_id: str) -> PacketBundle | None:
    """The case's active bundle as the packet needs it, or None when the case has none."""
    row = active_bundle(rt, case_id)
    if row is None:
        return None
    try:
        payload = rt.store.get_bytes(row.manifest_key)
    except FileNotFoundError:
        raise BundleNotFound(case_id, row.id) from None
    manifest = json.loads(payload)
    if manifest.get("bundle_id") != row.id or hashlib.sha256(payload).hexdigest() != row.manifest_sha256:
        raise IntegrityError(
            f"The manifest of bundle {row.id} of case {case_id} does not match the one recorded when it was rendered; "
            f"render it again (`casefile conditions bundle {case_id} selection.yaml`) or detach it."
        )
    style = rt.config(load_bundle_style)
    documents = []
    for e in manifest["exhibits"]:
        pages = "" if e["excerpt"].startswith("Complete") else ", excerpt"
        documents.append(
            BundleDocument(
                source_id=e["source_id"],
                title=f"{e['title']} ({e['edition']} edition{pages})",
                date=date.fromisoformat(e["published"]),
                source_name=e["publisher"],
                language=e["language"],
                key=e["key"],
                sha256=e["sha256"],
                pages=e["page_count"],
                translation=e.get("translation"),
            )
        )
    return PacketBundle(
        bundle_id=row.id,
        manifest_sha256=hashlib.sha256(payload).hexdigest(),
        manifest=manifest,
        documents=documents,
        title=style.index_title,
        quote_words=style.quote_words,
        element_order=list(rt.config(load_topics).elements),
    )


def labels_after(existing: Sequence[str], sections: Sequence[str], count: int, country_scheme: str) -> list[str]:
    """Labels for ``count`` bundle exhibits after the case's own exhibits. When the case's labels are the default
    ones, the defaults continue (the builder then applies the profile's schemes to all of them); when the advocate
    chose labels, the country-conditions series continues after the highest label of the profile's scheme."""
    defaults = assign_labels([*sections, *[COUNTRY] * count], DEFAULT_SCHEMES)
    if list(existing) == defaults[: len(existing)]:
        return defaults[len(existing) :]
    if country_scheme == "numbers":
        start = max((int(label) for label in existing if label.isdigit()), default=0)
        return [str(start + k) for k in range(1, count + 1)]

    def letters_value(label: str) -> int:
        value = 0
        for ch in label:
            value = value * 26 + (ord(ch) - ord("A") + 1)
        return value

    start = max((letters_value(label) for label in existing if label.isalpha() and label.isupper()), default=0)
    return [letter_label(start + k) for k in range(1, count + 1)]
