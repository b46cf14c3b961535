"""The check's reading of a filing profile (``CheckConfig.from_profile``): the page size and size limit, where the
page numbers and exhibit labels are and how they read (as patterns), and the bookmark titles of the builder's
front and back matter."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import ConfigError
from ..profile import LIST_TEMPLATE, FilingProfile
from .titles import FRONT_TITLES


def _format_regex(fmt: str, fields: Mapping[str, str], what: str) -> re.Pattern[str]:
    """A regex that matches ``fmt`` filled in, with whitespace normalised to single spaces."""
    parts: list[str] = []
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise ConfigError(f"The filing profile's {what} {fmt!r} is not a valid format ({exc}).") from None
    seen: set[str] = set()
    for literal, name, _spec, _conv in parsed:
        for token in re.split(r"(\s+)", literal):
            if token:
                parts.append(r"\s+" if token.isspace() else re.escape(token))
        if name is not None:
            if name not in fields:
                raise ConfigError(
                    f"The filing profile's {what} {fmt!r} uses {{{name}}}; it may use {', '.join(fields)}."
                )
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>{fields[name]})")
            seen.add(name)
    return re.compile("".join(parts).strip())


@dataclass(frozen=True)
class Band:
    top: bool  # the band along the viewed page's top edge (position "top-right"), else the bottom edge
    depth: float  # points from that edge


@dataclass(frozen=True)
class CheckConfig:
    name: str
    size_name: str
    size: tuple[float, float]
    max_bytes: int
    numbers: bool
    number_start: int
    number_rx: re.Pattern[str] | None
    number_band: Band
    stamp: bool
    stamp_rx: re.Pattern[str] | None
    stamp_band: Band
    stamp_front_matter: bool
    tab_pages: bool
    tab_label: str
    list_title: str
    bookmarks: bool
    page_labels: bool
    translations_required: bool
    certificate: bool
    languages: tuple[str, ...]
    front_titles: tuple[str, ...]
    back_titles: tuple[str, ...]
    service_certificate: bool = False  # the packet ends with a certificate of service (it must be signed)
    wet_signatures: bool = False  # [signatures] wet_after_printing: an unsigned certificate is a warning
    list_counts: bool = False  # the exhibit list gives each exhibit's number of pages (no printed page numbers)

    @staticmethod
    def from_profile(profile: FilingProfile) -> CheckConfig:
        numbers, stamp, exhibits = profile.page_numbers, profile.stamp, profile.exhibits
        digits = r"\d{1,6}"
        templates = profile.templates.pages
        titles = [exhibits.list_title if t == LIST_TEMPLATE else FRONT_TITLES.get(t, Path(t).stem) for t in templates]
        cut = len(profile.templates.front)
        return CheckConfig(
            name=profile.name,
            size_name=profile.page.size,
            size=(profile.page.width_pt, profile.page.height_pt),
            max_bytes=profile.size_limit.max_bytes,
            numbers=numbers.enabled,
            number_start=numbers.start,
            number_rx=(
                _format_regex(numbers.format, {"n": digits, "total": digits}, "[page_numbers] format")
                if numbers.enabled
                else None
            ),
            number_band=Band(numbers.on_top, numbers.band_pt),
            stamp=stamp.enabled,
            stamp_rx=(
                _format_regex(stamp.format, {"label": r"[A-Za-z0-9]{1,6}", "i": digits, "n": digits}, "[stamp] format")
                if stamp.enabled
                else None
            ),
            stamp_band=Band(stamp.on_top, stamp.band_pt) if stamp.enabled else Band(numbers.on_top, numbers.band_pt),
            stamp_front_matter=stamp.stamp_front_matter,
            tab_pages=exhibits.tab_pages,
            tab_label=exhibits.tab_label,
            list_title=exhibits.list_title,
            bookmarks=exhibits.bookmarks,
            page_labels=exhibits.page_labels,
            translations_required=profile.translations.required,
            certificate=profile.translations.certificate,
            languages=profile.translations.languages or _default_languages(),
            front_titles=tuple(titles[:cut]),
            back_titles=tuple(titles[cut:]),
            service_certificate="packet/certificate_of_service.html.j2" in templates,
            wet_signatures=profile.signatures.wet_after_printing,
            list_counts=not numbers.enabled,
        )


def _default_languages() -> tuple[str, ...]:
    from ...documents.language import DEFAULT_LANGUAGES

    return DEFAULT_LANGUAGES
