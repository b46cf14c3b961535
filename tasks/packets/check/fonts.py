"""``font-not-embedded``: every font in the resources of every page, of the form XObjects and tiling patterns they
use (nested), and of annotation appearance streams has its font program embedded (FontFile, FontFile2, FontFile3;
Type3 fonts are embedded by nature). Fonts listed in resources count as used. One of the 14 standard fonts
(Helvetica, Times, Courier, Symbol, ZapfDingbats; also their Arial/Times New Roman/Courier New aliases) not embedded
is a warning: every reader and printer has them. Any other font is an error (reported in ``packet``, one finding
per font and file)."""

from __future__ import annotations

import re
from typing import Any

MAX_NESTING = 12  # form XObjects inside form XObjects (and number trees): deeper is treated as a loop


def _ref_key(obj: Any) -> tuple[int, int] | None:
    from pypdf.generic import IndirectObject

    return (obj.idnum, obj.generation) if isinstance(obj, IndirectObject) else None


class FontWalker:
    """Non-embedded fonts reachable from a page, memoised per indirect object (resources, forms and fonts are
    shared by every page in a packet, so each is looked at once)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], frozenset[str]] = {}
        self._fonts: dict[tuple[int, int], str | None] = {}

    def page(self, page: Any) -> frozenset[str]:
        bad = set(self._resources(page.raw_get("/Resources") if "/Resources" in page else None, 0))
        annots = page.get("/Annots")
        if annots is not None:
            for annot_ref in annots.get_object():
                annot = annot_ref.get_object()
                appearance = annot.get("/AP") if hasattr(annot, "get") else None
                if appearance is None:
                    continue
                for key in ("/N", "/R", "/D"):
                    raw = appearance.raw_get(key) if key in appearance else None
                    if raw is None:
                        continue
                    value = raw.get_object()
                    if hasattr(value, "get_data"):
                        bad |= self._form(raw, 0)
                    elif hasattr(value, "values"):
                        for state in value.values():  # appearance states (/On, /Off)
                            bad |= self._form(state, 0)
        return frozenset(bad)

    def _memoised(self, raw: Any, compute: Any) -> frozenset[str]:
        key = _ref_key(raw)
        if key is None:
            result: frozenset[str] = compute()
            return result
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = frozenset()  # a loop back to this object adds nothing
        result = compute()
        self._memo[key] = result
        return result

    def _resources(self, raw: Any, depth: int) -> frozenset[str]:
        if raw is None or depth > MAX_NESTING:
            return frozenset()

        def compute() -> frozenset[str]:
            from pypdf.generic import DictionaryObject

            res = raw.get_object()
            if not isinstance(res, DictionaryObject):
                return frozenset()
            bad: set[str] = set()
            fonts = res.get("/Font")
            if isinstance(fonts, DictionaryObject):
                for key in fonts:
                    name = self._font(fonts.raw_get(key))
                    if name is not None:
                        bad.add(name)
            for table in ("/XObject", "/Pattern"):
                entries = res.get(table)
                if isinstance(entries, DictionaryObject):
                    for key in entries:
                        bad |= self._form(entries.raw_get(key), depth + 1)
            return frozenset(bad)

        return self._memoised(raw, compute)

    def _form(self, raw: Any, depth: int) -> frozenset[str]:
        """A form XObject, tiling pattern or appearance stream: the fonts of its own resources."""
        if depth > MAX_NESTING:
            return frozenset()

        def compute() -> frozenset[str]:
            obj = raw.get_object()
            if not hasattr(obj, "get") or obj.get("/Subtype") == "/Image" or "/Resources" not in obj:
                return frozenset()
            return self._resources(obj.raw_get("/Resources"), depth + 1)

        return self._memoised(raw, compute)

    def _font(self, raw: Any) -> str | None:
        key = _ref_key(raw)
        if key is not None and key in self._fonts:
            return self._fonts[key]
        result = _not_embedded(raw.get_object())
        if key is not None:
            self._fonts[key] = result
        return result


def _not_embedded(font: Any) -> str | None:
    """The font's BaseFont name when its program is not embedded, else None."""
    if not hasattr(font, "get"):
        return None
    name = str(font.get("/BaseFont", "/(unnamed font)")).lstrip("/")
    subtype = font.get("/Subtype")
    if subtype == "/Type3":  # glyphs are content streams in the file itself
        return None
    target = font
    if subtype == "/Type0":
        descendants = font.get("/DescendantFonts")
        if not descendants:
            return name
        target = descendants[0].get_object()
    descriptor = target.get("/FontDescriptor")
    if descriptor is None:
        return name
    descriptor = descriptor.get_object()
    if any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
        return None
    return name


_STANDARD_FONTS = re.compile(
    r"^/?(?:[A-Z]{6}\+)?(?:Helvetica|Arial|Times|TimesNewRoman|Courier|CourierNew|Symbol|ZapfDingbats)"
    r"(?:[-,](?:Bold|Italic|Oblique|BoldItalic|BoldOblique|Roman|MT|PSMT|BoldMT|ItalicMT))*$",
    re.I,
)


def standard_font(name: str) -> bool:
    return bool(_STANDARD_FONTS.match(name.strip()))
