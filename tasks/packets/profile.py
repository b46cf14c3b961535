"""Filing profiles (``config/profiles/<name>.toml``): what a court or agency wants of a packet, as one typed model.

``load_profile(settings, name)`` reads and validates a profile into a ``FilingProfile`` (use it as
``rt.config(load_profile, name)``, so it is read once per runtime); an unknown name is a ConfigError listing the
profiles there are, and every bad value one that names the file, the key and how to write it. The builder, the page
layout (``PageLayout.from_profile``) and the pre-filing check all take this model. Lengths are CSS lengths, read by
the one parser here (``css_points``); page sizes come from the one table here (``PAGE_SIZES``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.config import TomlTable, load_toml
from ..core.errors import ConfigError

if TYPE_CHECKING:
    from ..core.settings import Settings

PROFILES_DIR = "profiles"
PAGE_SIZES: dict[str, tuple[float, float]] = {  # portrait width x height in points (1/72 in)
    "letter": (612.0, 792.0),
    "legal": (612.0, 1008.0),
    "a4": (210 * 72 / 25.4, 297 * 72 / 25.4),
}
CSS_UNITS: dict[str, float] = {"in": 72.0, "cm": 72.0 / 2.54, "mm": 72.0 / 25.4, "pt": 1.0, "pc": 12.0, "px": 0.75}
POSITIONS = ("bottom-center", "bottom-right", "top-right")
STAMP_BAND_PT = 54.0  # 0.75 in: the least depth of the margin band that stamps are printed in (and checked in)
LABEL_SCHEMES = ("letters", "numbers")
LIST_TEMPLATE = "packet/exhibit_list.html.j2"  # the exhibit list: the front matter ends with it
_PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_LENGTH = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(in|cm|mm|pt|pc|px)")
_LENGTH_HELP = 'write a length with its unit in quotes, like "0.5in", "1.27cm", "12mm" or "36pt"'


def _points(value: object) -> float | None:
    match = _LENGTH.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    return float(match[1]) * CSS_UNITS[match[2]] if match else None


def css_points(value: object, key: str) -> float:
    """A CSS length ("0.5in", "2.54cm", "72pt", "12mm", "1pc", "96px") in points; ``key`` names it in errors."""
    points = _points(value)
    if points is None:
        raise ConfigError(f"The filing profile's {key} is {value!r}; {_LENGTH_HELP}.")
    return points


# The model --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Templates:
    """[profile] templates, tab_template, translator_certificate_template: the pages rendered from templates."""

    pages: tuple[str, ...]  # in packet order; the exhibits go after LIST_TEMPLATE (or after all of them)
    tab: str = "packet/tab_page.html.j2"
    translator_certificate: str = "packet/translator_certificate.html.j2"

    @property
    def front(self) -> tuple[str, ...]:
        """The templates before the exhibits: up to and including the exhibit list."""
        cut = self.pages.index(LIST_TEMPLATE) + 1 if LIST_TEMPLATE in self.pages else len(self.pages)
        return self.pages[:cut]

    @property
    def back(self) -> tuple[str, ...]:
        """The templates after the exhibits (the certificate of service)."""
        return self.pages[len(self.front) :]


@dataclass(frozen=True)
class Page:
    """[page]: the packet's page size and margins."""

    size: str = "letter"  # a key of PAGE_SIZES
    margin_top: str = "1in"  # the template pages' margins, CSS as written (WeasyPrint reads them)
    margin_right: str = "1in"
    margin_bottom: str = "1in"
    margin_left: str = "1in"
    fit_margin_pt: float = 36.0  # least white border around a scaled-in exhibit page
    image_dpi: int = 300  # page images above this resolution on the printed page are downsampled

    @property
    def width_pt(self) -> float:
        return PAGE_SIZES[self.size][0]

    @property
    def height_pt(self) -> float:
        return PAGE_SIZES[self.size][1]

    def css(self) -> dict[str, str]:
        """What the page templates get as ``page`` (templates/packet/base.css)."""
        return {
            "size": self.size,
            "margin_top": self.margin_top,
            "margin_right": self.margin_right,
            "margin_bottom": self.margin_bottom,
            "margin_left": self.margin_left,
        }


@dataclass(frozen=True)
class Placement:
    """Where a stamp (page numbers, exhibit labels) is printed: an edge, a distance from it, a font size."""

    position: str = "bottom-center"  # one of POSITIONS
    offset_pt: float = 36.0  # page edge -> the stamp's baseline
    font_size_pt: float = 11.0

    @property
    def on_top(self) -> bool:
        return self.position.startswith("top")

    @property
    def band_pt(self) -> float:
        """The margin band the stamp is printed in, that placed exhibit content never enters."""
        return max(STAMP_BAND_PT, self.offset_pt + 1.5 * self.font_size_pt)


@dataclass(frozen=True)
class PageNumbers(Placement):
    """[page_numbers]: one number per page, running across the whole filing (and its parts)."""

    enabled: bool = False
    format: str = "{n}"  # {n}: the page's number; {total}: pages in the filing
    start: int = 1


@dataclass(frozen=True)
class Stamp(Placement):
    """[stamp]: a label on every exhibit page (USCIS); its placement defaults to [page_numbers]'s."""

    enabled: bool = False
    format: str = "Exhibit {label}, page {i} of {n}"
    stamp_front_matter: bool = False


@dataclass(frozen=True)
class SizeLimit:
    """[size_limit]: at most ``max_bytes`` per PDF (0: no limit) on the filing ``channel``; a larger packet is split
    into named parts. ``channels`` ([size_limit.channels]) gives each way of filing its own limit (EOIR: ECAS 25 MB;
    USCIS: online 12 MB per file, paper none); ``FilingProfile.for_channel`` picks one."""

    max_bytes: int = 0
    split_name: str = "{stem}-part{part:02d}.pdf"
    channel: str = "default"
    channels: tuple[tuple[str, int], ...] = ()  # (channel, bytes per file), in the file's order


@dataclass(frozen=True)
class Exhibits:
    """[exhibits]: tab pages, labels, the exhibit list's title, bookmarks and page labels."""

    tab_pages: bool = True
    tab_label: str = "Exhibit"
    client_scheme: str = "letters"  # one of LABEL_SCHEMES
    country_conditions_scheme: str = "numbers"
    list_title: str = "Index of Exhibits"
    bookmarks: bool = True
    page_labels: bool = False


@dataclass(frozen=True)
class Translations:
    """[translations]: whether a foreign-language exhibit needs its translation, and its certificate."""

    required: bool = True
    target_language: str = "English"
    certificate: bool = True
    languages: tuple[str, ...] = ()  # the check's language candidates; empty: documents.language's defaults


PLACEHOLDER = "PLACEHOLDER"  # marks a sample value in config/ that must be replaced before filing


@dataclass(frozen=True)
class Service:
    """[service]: whom the certificate of service names (the DHS office: ICE's Office of the Principal Legal Advisor
    for the court), and how."""

    office: str = ""
    address_lines: tuple[str, ...] = ()
    default_method: str = ""

    @property
    def placeholder(self) -> bool:
        """No office, or the sample office the shipped profile carries (marked PLACEHOLDER)."""
        return not self.office.strip() or any(PLACEHOLDER in v.upper() for v in (self.office, *self.address_lines))


@dataclass(frozen=True)
class Signatures:
    """[signatures]: whether certificates (of service, of translation) may leave the build unsigned, to be signed
    by hand after printing (a paper filing); otherwise each carries "/s/ Name" or a signature image."""

    wet_after_printing: bool = False


@dataclass(frozen=True)
class Cover:
    """[cover]: the defaults of the cover page or cover letter."""

    filing_title_default: str = "Exhibits in Support"
    proceedings: str = "In removal proceedings"  # the cover page's caption: a bond profile says "In bond proceedings"
    subject_default: str = "Supporting evidence"
    intro_default: str = "On behalf of our client, we submit the enclosed evidence, listed below."
    salutation: str = "Dear Sir or Madam:"


@dataclass(frozen=True)
class Recipient:
    """[recipient]: the address a cover letter is sent to."""

    address_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilingProfile:
    """One filing profile, validated; its sections are the file's tables (missing optional ones: their defaults)."""

    name: str  # [profile] name
    label: str
    templates: Templates
    page: Page
    size_limit: SizeLimit
    page_numbers: PageNumbers
    stamp: Stamp
    exhibits: Exhibits
    translations: Translations
    service: Service
    cover: Cover
    recipient: Recipient
    signatures: Signatures = Signatures()

    def for_channel(self, channel: str | None) -> FilingProfile:
        """This profile with the size limit of filing ``channel`` (None: the profile's default channel)."""
        if channel is None or channel == self.size_limit.channel:
            return self
        limits = dict(self.size_limit.channels)
        if channel not in limits:
            known = ", ".join(limits) or self.size_limit.channel
            raise ConfigError(
                f"The {self.name} profile has no filing channel {channel!r}; it has: {known} "
                "([size_limit.channels] in its file)."
            )
        return replace(self, size_limit=replace(self.size_limit, channel=channel, max_bytes=limits[channel]))


# Loading ----------------------------------------------------------------------------------------------------------
def available_profiles(config_dir: Path) -> list[str]:
    return sorted(p.stem for p in (config_dir / PROFILES_DIR).glob("*.toml"))


def load_profile(settings: Settings, name: str) -> FilingProfile:
    """The profile ``name`` of the settings' config folder (for ``rt.config(load_profile, name)``)."""
    return read_profile(settings.config_dir, name)


def read_profile(config_dir: Path, name: str) -> FilingProfile:
    """``config_dir/profiles/<name>.toml``; an unknown name is a ConfigError listing the profiles there are."""
    if not _PROFILE_NAME.match(name) or not (config_dir / PROFILES_DIR / f"{name}.toml").is_file():
        raise ConfigError(
            f"There is no filing profile {name!r}. Profiles: {', '.join(available_profiles(config_dir)) or 'none'} "
            f"(files in {config_dir / PROFILES_DIR})."
        )
    path = config_dir / PROFILES_DIR / f"{name}.toml"
    return parse_profile(load_toml(config_dir, f"{PROFILES_DIR}/{name}.toml"), path)


def parse_profile(data: Mapping[str, Any], path: Path) -> FilingProfile:
    """A profile from the TOML data of the file at ``path`` (named in every error)."""
    root = TomlTable(path, dict(data))
    for section in ("profile", "page", "exhibits", "translations"):
        if not isinstance(root.data.get(section), dict):
            raise ConfigError(f"The filing profile {path} has no [{section}].")
    info = root.table("profile")
    name = info.get("name", str, path.stem)
    page = _page(root.table("page"))
    numbers_table = root.table("page_numbers", {})
    numbers = _placement(numbers_table, Placement(), page)
    stamp_table = root.table("stamp", {})
    stamp = _placement(stamp_table, numbers, page)
    limit = root.table("size_limit", {})
    exhibits = root.table("exhibits")
    translations = root.table("translations")
    service = root.table("service", {})
    cover = root.table("cover", {})
    defaults = Cover()
    return FilingProfile(
        name=name,
        label=info.get("label", str, name),
        templates=Templates(
            pages=info.strings("templates", ()),
            tab=info.get("tab_template", str, Templates.tab),
            translator_certificate=info.get("translator_certificate_template", str, Templates.translator_certificate),
        ),
        page=page,
        size_limit=_size_limit(limit),
        page_numbers=PageNumbers(
            position=numbers.position,
            offset_pt=numbers.offset_pt,
            font_size_pt=numbers.font_size_pt,
            enabled=numbers_table.get("enabled", bool, False),
            format=_format(numbers_table, "format", PageNumbers.format, ("n", "total")),
            start=numbers_table.get("start", int, 1),
        ),
        stamp=Stamp(
            position=stamp.position,
            offset_pt=stamp.offset_pt,
            font_size_pt=stamp.font_size_pt,
            enabled=stamp_table.get("enabled", bool, False),
            format=_format(stamp_table, "format", Stamp.format, ("label", "i", "n")),
            stamp_front_matter=stamp_table.get("stamp_front_matter", bool, False),
        ),
        exhibits=Exhibits(
            tab_pages=exhibits.get("tab_pages", bool, True),
            tab_label=exhibits.get("tab_label", str, "Exhibit"),
            client_scheme=exhibits.choice("client_scheme", LABEL_SCHEMES, "letters"),
            country_conditions_scheme=exhibits.choice("country_conditions_scheme", LABEL_SCHEMES, "numbers"),
            list_title=exhibits.get("list_title", str, "Index of Exhibits"),
            bookmarks=exhibits.get("bookmarks", bool, True),
            page_labels=exhibits.get("page_labels", bool, False),
        ),
        translations=Translations(
            required=translations.get("required", bool, True),
            target_language=translations.get("target_language", str, "English"),
            certificate=translations.get("certificate", bool, True),
            languages=translations.strings("languages", ()),
        ),
        service=Service(
            office=service.get("office", str, ""),
            address_lines=service.strings("address_lines", ()),
            default_method=service.get("default_method", str, ""),
        ),
        cover=Cover(
            filing_title_default=cover.get("filing_title_default", str, defaults.filing_title_default),
            proceedings=cover.get("proceedings", str, defaults.proceedings),
            subject_default=cover.get("subject_default", str, defaults.subject_default),
            intro_default=cover.get("intro_default", str, defaults.intro_default),
            salutation=cover.get("salutation", str, defaults.salutation),
        ),
        recipient=Recipient(address_lines=root.table("recipient", {}).strings("address_lines", ())),
        signatures=Signatures(
            wet_after_printing=root.table("signatures", {}).get("wet_after_printing", bool, False),
        ),
    )


def _size_limit(limit: TomlTable) -> SizeLimit:
    """[size_limit]: ``channels`` (bytes per file for each way of filing) with ``channel`` the default one, or a
    single ``max_bytes``."""
    split_name = _format(limit, "split_name", SizeLimit.split_name, ("stem", "part"), required="part")
    if "channels" not in limit.data:
        return SizeLimit(max_bytes=limit.nonneg("max_bytes", 0), split_name=split_name)
    table = limit.table("channels")
    channels = tuple((str(name), table.nonneg(str(name))) for name in table.data)
    if not channels:
        raise limit.fail("channels", "is empty; give each way of filing its limit, like ecas = 26_214_400")
    default = limit.get("channel", str, channels[0][0])
    if default not in dict(channels):
        raise limit.fail("channel", f"is {default!r}, which is not in [size_limit.channels]")
    return SizeLimit(max_bytes=dict(channels)[default], split_name=split_name, channel=default, channels=channels)


def _length(table: TomlTable, key: str, default: float) -> float:
    if key not in table.data:
        return default
    value = table.data[key]
    points = _points(value)
    if points is None:
        raise table.fail(key, f"is {value!r}; {_LENGTH_HELP}")
    return points


def _page(table: TomlTable) -> Page:
    size = table.data.get("size", "letter")
    if not isinstance(size, str) or size.strip().lower() not in PAGE_SIZES:
        *others, last = (f'"{s}"' for s in PAGE_SIZES)
        raise table.fail("size", f"is {size!r}; write {', '.join(others)} or {last}")
    dpi = table.data.get("image_dpi", 300)
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 72 <= dpi <= 2400:
        raise table.fail(
            "image_dpi",
            f"is {dpi!r}; write a whole number of dots per inch between 72 and 2400 without quotes, like 300",
        )
    return Page(
        size=size.strip().lower(),
        margin_top=table.get("margin_top", str, "1in"),
        margin_right=table.get("margin_right", str, "1in"),
        margin_bottom=table.get("margin_bottom", str, "1in"),
        margin_left=table.get("margin_left", str, "1in"),
        fit_margin_pt=_length(table, "fit_margin", 36.0),
        image_dpi=dpi,
    )


def _placement(table: TomlTable, default: Placement, page: Page) -> Placement:
    position = table.data.get("position", default.position)
    if position not in POSITIONS:
        raise table.fail("position", f"is {position!r}; write one of {', '.join(repr(p) for p in POSITIONS)}")
    offset = _length(table, "offset", default.offset_pt)
    font_size = _length(table, "font_size", default.font_size_pt)
    if not 4 <= font_size <= 36:
        raise table.fail("font_size", f'is {font_size:g}pt; write a size between "4pt" and "36pt", like "11pt"')
    if offset < 6 or offset + font_size > min(page.width_pt, page.height_pt) / 4:
        raise table.fail(
            "offset",
            f'is {offset:g}pt; write a distance from the page edge between "6pt" and about 2 inches, like "0.5in"',
        )
    return Placement(str(position), offset, font_size)


def _format(table: TomlTable, key: str, default: str, fields: tuple[str, ...], required: str | None = None) -> str:
    """A format string that may use only ``fields`` (and must use ``required``)."""
    fmt: str = table.get(key, str, default)
    allowed = ", ".join(f"{{{f}}}" for f in fields)
    try:
        names = [name for _literal, name, _spec, _conversion in string.Formatter().parse(fmt) if name is not None]
    except ValueError as exc:
        raise table.fail(key, f"is {fmt!r}, not a valid format ({exc}); write it like {default!r}") from None
    for name in names:
        if name not in fields:
            raise table.fail(key, f"uses {{{name}}}; it may use {allowed}, like {default!r}")
    if required is not None and required not in names:
        raise table.fail(key, f"does not use {{{required}}}; write it like {default!r}")
    return fmt
