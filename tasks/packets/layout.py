"""Page layout and stamping primitives of the exhibit-packet builder (tasks/packets/build.py).

The stages over an open ``pikepdf.Pdf`` (the packet being assembled; never a stored original):

- ``place_pages``: exhibit pages become upright layout-size (letter) pages. What a viewer shows of the source page
  (its CropBox, turned by its /Rotate, scaled by its /UserUnit) is drawn as a form XObject, scaled down to fit the
  content box (page minus ``fit_margin_pt`` on every side and minus the stamp band on the stamp edge), centred,
  aspect ratio kept, never enlarged. Page content streams, images and fonts are copied, not re-encoded.
- ``carry_optional_content``: the layers (optional content groups) of a placed document, with the ones it hides by
  default hidden in the packet too.
- ``strip_hidden``: scripts, active actions, embedded and outside files, wherever the placed pages reach them.
- ``downsample_images``: images drawn far above ``image_dpi`` on the printed page (phone photos) are resampled.
- ``stamp_pages``: page numbers / exhibit labels, in an embedded DejaVu Sans subset with a ToUnicode map, inside
  the stamp band, upright on the viewed page, as one text run per page.

Everything is deterministic: the same inputs give the same objects, so a caller that saves with
``deterministic_id=True`` gets byte-identical files. No page is rendered; per-page work is dictionary surgery.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import os
import shutil
import subprocess
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name

from ..core.errors import ConfigError, PacketInputError, ToolMissing, ValidationError
from .profile import POSITIONS, FilingProfile, Placement

log = logging.getLogger(__name__)

DOWNSAMPLE_TOLERANCE = 1.3  # resample only above image_dpi * this: see downsample_images
JPEG_QUALITY = 85
STAMP_FONT_PACKAGE = "fonts-dejavu-core"
STAMP_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),  # Fedora, Arch
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
    Path("/usr/local/share/fonts/DejaVuSans.ttf"),
)
_FONT_RESOURCE = "/CfStamp"
_FONT_BASENAME = "DejaVuSans"
_MAX_FORM_DEPTH = 12

Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


# Layout ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageLayout:
    """Geometry of packet pages, in PDF points (1/72 in)."""

    width_pt: float = 612.0  # US letter
    height_pt: float = 792.0
    fit_margin_pt: float = 36.0  # least white border around placed exhibit content
    stamp_band_pt: float = 54.0  # band along the stamp edge that placed content never enters
    stamp_position: str = "bottom-center"  # bottom-center | bottom-right | top-right
    stamp_offset_pt: float = 36.0  # page edge -> stamp baseline (inside the band); also the right inset
    stamp_font_size_pt: float = 11.0
    image_dpi: int = 300  # images drawn above this resolution on the page are downsampled
    opposite_band_pt: float = 0.0  # a second stamp's band on the opposite edge (numbers below, labels on top)

    def __post_init__(self) -> None:
        if self.stamp_position not in POSITIONS:
            raise ConfigError(f"The page number position {self.stamp_position!r} is not one of {', '.join(POSITIONS)}.")
        numbers = {
            "width_pt": self.width_pt,
            "height_pt": self.height_pt,
            "stamp_font_size_pt": self.stamp_font_size_pt,
            "image_dpi": self.image_dpi,
        }
        for name, value in numbers.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"The page layout's {name} must be a positive number, not {value!r}.")
        for name, value in (
            ("fit_margin_pt", self.fit_margin_pt),
            ("stamp_band_pt", self.stamp_band_pt),
            ("stamp_offset_pt", self.stamp_offset_pt),
            ("opposite_band_pt", self.opposite_band_pt),
        ):
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"The page layout's {name} must be zero or a positive length, not {value!r}.")
        x0, y0, x1, y1 = self.content_box()
        if x1 - x0 < 72 or y1 - y0 < 72:
            raise ConfigError(
                "The page's fit margin and stamp band leave less than one inch for exhibit content; lower "
                "[page] fit_margin or [page_numbers] offset / font_size in the filing profile."
            )

    @property
    def stamp_on_top(self) -> bool:
        return self.stamp_position.startswith("top")

    def content_box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the area placed exhibit content may use: the page minus ``fit_margin_pt`` on every
        side, and minus ``stamp_band_pt`` more on the stamp edge (so the margin also separates content from the
        stamp band), and ``opposite_band_pt`` more on the other edge."""
        m = self.fit_margin_pt
        near, far = self.stamp_band_pt, self.opposite_band_pt
        bottom = m + (far if self.stamp_on_top else near)
        top = m + (near if self.stamp_on_top else far)
        return (m, bottom, self.width_pt - m, self.height_pt - top)

    @classmethod
    def from_profile(cls, profile: FilingProfile, stamp: Placement | None = None) -> PageLayout:
        """The layout of a filing profile: its [page] size, fit margin and image resolution, and the placement of
        its page numbers (or of ``stamp``, such as its [stamp]). The stamp band is ``Placement.band_pt``, the depth
        the pre-filing check looks for the stamp in."""
        page, placement = profile.page, stamp or profile.page_numbers
        return cls(
            width_pt=page.width_pt,
            height_pt=page.height_pt,
            fit_margin_pt=page.fit_margin_pt,
            stamp_band_pt=placement.band_pt,
            stamp_position=placement.position,
            stamp_offset_pt=placement.offset_pt,
            stamp_font_size_pt=placement.font_size_pt,
            image_dpi=page.image_dpi,
        )


# Geometry -------------------------------------------------------------------------------------------------------
def _concat(m: Matrix, n: Matrix) -> Matrix:
    """The transformation that applies ``m`` first, then ``n`` (PDF's row-vector convention: m x n)."""
    a, b, c, d, e, f = m
    aa, bb, cc, dd, ee, ff = n
    return (
        a * aa + b * cc,
        a * bb + b * dd,
        c * aa + d * cc,
        c * bb + d * dd,
        e * aa + f * cc + ee,
        e * bb + f * dd + ff,
    )


def _invert(m: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    det = a * d - b * c
    if det == 0:
        raise ZeroDivisionError("singular matrix")
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return (ia, ib, ic, id_, -(e * ia + f * ic), -(e * ib + f * id_))


def _num(value: float) -> str:
    """A number for a content stream: short, fixed precision, never exponent notation or -0."""
    text = f"{value:.5f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _matrix_op(m: Matrix) -> str:
    return " ".join(_num(v) for v in m) + " cm"


def _number(obj: Any) -> float | None:
    """A PDF number as a float (pikepdf gives int or Decimal); None for anything else."""
    if isinstance(obj, bool):
        return None
    try:
        return float(obj)
    except (TypeError, ValueError, ArithmeticError):
        return None


def _rect(obj: Any) -> tuple[float, float, float, float] | None:
    """A PDF rectangle, normalised (x0 < x1, y0 < y1); None unless four finite numbers with a non-empty area."""
    if not isinstance(obj, Array) or len(obj) != 4:
        return None
    values = [_number(v) for v in obj]
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    a, b, c, d = (float(v) for v in values if v is not None)
    x0, x1 = sorted((a, c))
    y0, y1 = sorted((b, d))
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        return None
    return (x0, y0, x1, y1)


def _inherited(page: Dictionary, key: str) -> Any:
    """A page attribute, looked up through /Parent (MediaBox, CropBox, Rotate and Resources are inheritable)."""
    node: Any = page
    for _ in range(64):
        if not isinstance(node, Dictionary):
            return None
        if key in node:
            return node[key]
        node = node.get("/Parent")
    return None


@dataclass(frozen=True)
class _View:
    """What a viewer shows of a page: the visible box in user space, the rotation and the user unit."""

    x0: float
    y0: float
    x1: float
    y1: float
    rotate: int  # 0, 90, 180 or 270 (clockwise, as displayed)
    unit: float

    @property
    def width(self) -> float:
        """Viewed width in points of 1/72 in."""
        w, h = (self.x1 - self.x0) * self.unit, (self.y1 - self.y0) * self.unit
        return h if self.rotate in (90, 270) else w

    @property
    def height(self) -> float:
        w, h = (self.x1 - self.x0) * self.unit, (self.y1 - self.y0) * self.unit
        return w if self.rotate in (90, 270) else h

    def to_view(self) -> Matrix:
        """User space -> the viewed page (points, origin at its bottom-left corner, upright)."""
        u = self.unit
        w, h = (self.x1 - self.x0) * u, (self.y1 - self.y0) * u
        shift_scale: Matrix = (u, 0.0, 0.0, u, -self.x0 * u, -self.y0 * u)
        turn: Matrix = {
            0: _IDENTITY,
            90: (0.0, -1.0, 1.0, 0.0, 0.0, w),
            180: (-1.0, 0.0, 0.0, -1.0, w, h),
            270: (0.0, 1.0, -1.0, 0.0, h, 0.0),
        }[self.rotate]
        return _concat(shift_scale, turn)


def _view_of(page: Dictionary) -> _View:
    """The page's viewed geometry; ValueError (with a user-facing problem) when it has none."""
    media = _rect(_inherited(page, "/MediaBox"))
    if media is None:
        raise ValueError("it has no valid page size (MediaBox)")
    crop = _rect(_inherited(page, "/CropBox"))
    if crop is not None:  # a viewer shows the CropBox clipped to the MediaBox
        x0, y0 = max(crop[0], media[0]), max(crop[1], media[1])
        x1, y1 = min(crop[2], media[2]), min(crop[3], media[3])
        crop = (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None
        if crop is None:
            raise ValueError("its visible area (CropBox) lies outside its page size (MediaBox)")
    box = crop or media
    rotate_obj = _inherited(page, "/Rotate")
    rotate_value = 0.0 if rotate_obj is None else _number(rotate_obj)
    if rotate_value is None or not rotate_value.is_integer() or int(rotate_value) % 90:
        raise ValueError("its rotation (/Rotate) is not a multiple of 90 degrees")
    unit_obj = page.get("/UserUnit")
    unit = 1.0 if unit_obj is None else _number(unit_obj)
    if unit is None or not math.isfinite(unit) or unit <= 0:
        raise ValueError("its /UserUnit is not a positive number")
    view = _View(box[0], box[1], box[2], box[3], int(rotate_value) % 360, unit)
    if view.width > 200 * 72 * 10 or view.height > 200 * 72 * 10:
        raise ValueError("it is larger than 2,000 inches")
    return view


# Placing pages --------------------------------------------------------------------------------------------------
_ANNOT_INVISIBLE, _ANNOT_HIDDEN, _ANNOT_NOVIEW = 1, 2, 32
_SKIPPED_ANNOTATIONS = ("/Link", "/Popup")


def _copy(dest: pikepdf.Pdf, obj: Any) -> Any:
    """``obj`` of another PDF as an object of ``dest``: indirect objects through qpdf's foreign-object copy (each
    copied once per source PDF; pikepdf copies stream data into memory at once, encoded as it is), direct
    containers member by member (qpdf copies only indirect objects)."""
    if not isinstance(obj, pikepdf.Object):
        return obj
    if obj.is_indirect:
        return dest.copy_foreign(obj)
    if isinstance(obj, Dictionary):
        return Dictionary({key: _copy(dest, obj[key]) for key in obj.keys()})  # noqa: SIM118 (pikepdf keys)
    if isinstance(obj, Array):
        return Array([_copy(dest, item) for item in obj])
    return obj


def _form_for(dest: pikepdf.Pdf, page: Dictionary, view: _View) -> pikepdf.Object:
    """The page's content as a form XObject of ``dest`` (BBox: the visible box, so the form clips to it). A single
    content stream becomes the form itself (its encoded bytes are kept as they are); several are joined."""
    contents = page.get("/Contents")
    bbox = Array([view.x0, view.y0, view.x1, view.y1])
    form: pikepdf.Object
    if isinstance(contents, pikepdf.Stream) and contents.is_indirect:
        form = dest.copy_foreign(contents)
        if "/Subtype" in form and form.get("/BBox") != bbox:
            # this stream already became another page's form with a different box: give this page its own copy
            raw = contents.read_raw_bytes()
            form = dest.make_stream(raw)
            for key in ("/Filter", "/DecodeParms"):
                if key in contents:
                    form[key] = _copy(dest, contents[key])
    else:
        if contents is not None and not isinstance(contents, pikepdf.Stream | Array):
            raise ValueError("its content is not a content stream")
        streams = [] if contents is None else [contents] if isinstance(contents, pikepdf.Stream) else list(contents)
        parts: list[bytes] = []
        for stream in streams:
            if not isinstance(stream, pikepdf.Stream):
                raise ValueError("its content is not a content stream")
            parts.append(stream.read_bytes())
        form = dest.make_stream(b"\n".join(parts))
    form.Type = Name.XObject
    form.Subtype = Name.Form
    form.BBox = bbox
    resources = _inherited(page, "/Resources")
    form.Resources = _copy(dest, resources) if isinstance(resources, Dictionary) else Dictionary()
    group = page.get("/Group")
    if isinstance(group, Dictionary):
        form.Group = _copy(dest, group)
    return form


def _annotation_draws(
    dest: pikepdf.Pdf, page: Dictionary, view: _View, xobjects: Dictionary, properties: Dictionary
) -> list[str]:
    """Content that draws the page's visible annotations (their normal appearance), in the page's user space;
    adds their appearance streams to ``xobjects`` as /A0, /A1, ... Links and pop-ups are dropped. An annotation in
    a layer (/OC) is drawn inside that layer's marked content (its group added to ``properties``), so it shows and
    hides with the layer (see ``carry_optional_content``)."""
    annots = page.get("/Annots")
    if not isinstance(annots, Array):
        return []
    draws: list[str] = []
    for item in annots:
        if not isinstance(item, Dictionary) or item.get("/Subtype") in _SKIPPED_ANNOTATIONS:
            continue
        annot = pikepdf.Annotation(item)
        try:
            appearance = annot.get_appearance_stream(Name.N)
        except pikepdf.PdfError:
            continue
        if not isinstance(appearance, pikepdf.Stream):
            continue
        name = Name(f"/A{len(draws)}")
        content = annot.get_page_content_for_appearance(
            name, view.rotate, forbidden_flags=_ANNOT_INVISIBLE | _ANNOT_HIDDEN | _ANNOT_NOVIEW
        )
        if not content.strip():
            continue
        xobjects[name] = _copy(dest, appearance)
        drawn = content.decode("latin-1")
        layer = item.get("/OC")
        if isinstance(layer, Dictionary) and layer.is_indirect:
            tag = Name(f"/OC{len(draws)}")
            properties[tag] = _copy(dest, layer)
            drawn = f"/OC {tag} BDC\n{drawn}\nEMC"
        draws.append(drawn)
    return draws


def _prepare_source(src: pikepdf.Pdf) -> None:
    """Form fields whose values have no appearance yet (/NeedAppearances true) get appearance streams, so that a
    filled-in form shows its values when flattened. Changes ``src`` in memory only."""
    acroform = src.Root.get("/AcroForm")
    if isinstance(acroform, Dictionary) and bool(acroform.get("/NeedAppearances", False)):
        src.generate_appearance_streams()


def _placed_page(dest: pikepdf.Pdf, page: Dictionary, layout: PageLayout) -> Dictionary:
    view = _view_of(page)
    xobjects = Dictionary()
    properties = Dictionary()
    xobjects.P0 = _form_for(dest, page, view)
    bx0, by0, bx1, by1 = layout.content_box()
    scale = min(1.0, (bx1 - bx0) / view.width, (by1 - by0) / view.height)
    tx = bx0 + ((bx1 - bx0) - view.width * scale) / 2
    ty = by0 + ((by1 - by0) - view.height * scale) / 2
    placement = _concat(_concat(view.to_view(), (scale, 0.0, 0.0, scale, 0.0, 0.0)), (1.0, 0.0, 0.0, 1.0, tx, ty))
    lines = [
        "q",
        _matrix_op(placement),
        # annotation appearances are clipped to the visible box like the page itself (the form's BBox)
        f"{_num(view.x0)} {_num(view.y0)} {_num(view.x1 - view.x0)} {_num(view.y1 - view.y0)} re W n",
        "/P0 Do",
        *_annotation_draws(dest, page, view, xobjects, properties),
        "Q",
        "",
    ]
    size = Array([0, 0, layout.width_pt, layout.height_pt])
    resources = Dictionary(XObject=xobjects)
    if len(properties):
        resources.Properties = properties
    return Dictionary(
        Type=Name.Page,
        MediaBox=size,
        CropBox=size,
        Resources=resources,
        Contents=dest.make_stream("\n".join(lines).encode("latin-1")),
    )


def place_pages(
    dest: pikepdf.Pdf,
    src: pikepdf.Pdf,
    layout: PageLayout,
    pages: Sequence[int] | None = None,
    *,
    fit: bool = True,
    source: str = "the document",
) -> int:
    """Append pages of ``src`` (1-based numbers, default all, in the order given) to ``dest``; returns how many.

    ``fit=True`` (exhibit pages): each becomes a new upright page of the layout size (MediaBox = CropBox = layout
    size, no /Rotate) that draws, as a form XObject, exactly what a viewer shows of the source page (its CropBox
    within its MediaBox, turned by its /Rotate - any multiple of 90, negative or above 360 too - and scaled by its
    /UserUnit), scaled to fit inside ``layout.content_box()``, centred, aspect ratio kept and never enlarged: a page
    smaller than the box stays at 100%, centred. Landscape pages are scaled down to fit the portrait page, NOT
    rotated (a filing reads top to bottom without turning the paper); A4 pages and phone photos scale to fit. The
    source's content streams, images and fonts are copied as they are, never re-encoded (a page with several
    content streams has them joined, uncompressed until the caller saves with compression).

    Annotations: form fields whose AcroForm says /NeedAppearances get appearance streams first (in ``src``, in
    memory only). Then every annotation with a normal appearance that is not hidden, invisible or NoView (form
    fields, stamps, comments, highlights) is flattened into the page content: what a viewer showed stays visible,
    nothing stays editable or interactive in a filed packet. Link and pop-up annotations are dropped, as are all
    page-level actions, thumbnails, structure (tags) and the source's AcroForm.

    ``fit=False`` (pages rendered from our own templates, already letter size with 1 in margins): the pages are
    appended unchanged.

    ``source`` names the document in errors (a document id, never its title). A page that cannot be placed (no
    valid page size, a rotation that is not a multiple of 90, unreadable content) raises ``PacketInputError``
    naming the page number.
    """
    count = len(src.pages)
    numbers = list(range(1, count + 1)) if pages is None else list(pages)
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= count:
            raise PacketInputError(source, int(number), f"the document has {count} page(s)")
    if not fit:
        for number in numbers:
            dest.pages.append(src.pages[number - 1])
        return len(numbers)
    if any("/Annots" in src.pages[n - 1].obj for n in numbers):
        try:
            _prepare_source(src)
        except pikepdf.PdfError as exc:
            log.warning("Form field appearances could not be generated (%s); fields are drawn as saved", type(exc))
    for number in numbers:
        page = src.pages[number - 1].obj
        try:
            new_page = _placed_page(dest, page, layout)
        except ValueError as exc:
            raise PacketInputError(source, number, str(exc)) from None
        except (pikepdf.PdfError, pikepdf.ForeignObjectError) as exc:
            raise PacketInputError(source, number, "its data is damaged") from exc
        dest.pages.append(pikepdf.Page(dest.make_indirect(new_page)))
    return len(numbers)


def strip_hidden(pdf: pikepdf.Pdf) -> int:
    """Remove from every object of ``pdf`` (the packet being assembled) what a reader does not see: the entries that
    hold scripts, active actions, additional-action triggers, embedded, associated or outside files, and references
    to file specifications, embedded files, hidden annotations and PostScript wherever they are (page resources, a
    form's or an annotation appearance's resources, marked-content properties...). The definitions are the
    pre-filing check's (tasks/packets/check/hidden.py), which refuses a packet that still has any. What is drawn on
    the pages stays as it is. Returns how many entries were removed."""
    from .check.hidden import ACTION_KEYS, HIDDEN_KEYS, hidden_object, is_active_action

    def unwanted(key: str | None, value: Any) -> bool:
        if key is not None and (key in HIDDEN_KEYS or (key in ACTION_KEYS and is_active_action(value))):
            return True
        return isinstance(value, Dictionary | pikepdf.Stream) and hidden_object(value) is not None

    removed = 0
    for obj in list(pdf.objects):
        stack: list[Any] = [obj]
        while stack:
            item = stack.pop()
            container = item.stream_dict if isinstance(item, pikepdf.Stream) else item
            if isinstance(container, Dictionary):
                for key in list(container.keys()):
                    value = container[key]
                    if unwanted(key, value):
                        del container[key]
                        removed += 1
                    elif isinstance(value, Dictionary | Array) and not value.is_indirect:
                        stack.append(value)
            elif isinstance(container, Array):
                for index, value in enumerate(container):
                    if unwanted(None, value):
                        container[index] = None
                        removed += 1
                    elif isinstance(value, Dictionary | Array) and not value.is_indirect:
                        stack.append(value)
    if removed:
        log.info("removed %d entries of hidden content from exhibit pages", removed)
    return removed


def carry_optional_content(dest: pikepdf.Pdf, src: pikepdf.Pdf) -> int:
    """Optional content (layers) of ``src`` into ``dest``, after its pages were placed: its groups join ``dest``'s
    /OCProperties, and those ``src`` hides by default (its /D configuration: /OFF, or every group not /ON under
    /BaseState /OFF) are hidden in ``dest`` too. Without this, a viewer of the packet would show content the
    document hides, such as an alternative-language layer or a print-only watermark. Returns how many groups were
    added. The groups are the same objects the placed pages use (qpdf copies a foreign object once per source).

    Kept simple: the groups' /Usage and the configuration's /AS (automatic print/view states), /Intent, /Locked
    and /RBGroups are not carried; the layers panel lists the groups in one flat /Order."""
    props = src.Root.get("/OCProperties")
    if not isinstance(props, Dictionary) or not isinstance(props.get("/OCGs"), Array):
        return 0
    groups = [g for g in props.OCGs if isinstance(g, Dictionary) and g.is_indirect]
    if not groups:
        return 0
    config = props.get("/D")
    config = config if isinstance(config, Dictionary) else Dictionary()
    shown = {g.objgen for g in config.get("/ON", Array()) if isinstance(g, Dictionary) and g.is_indirect}
    hidden = {g.objgen for g in config.get("/OFF", Array()) if isinstance(g, Dictionary) and g.is_indirect}
    if config.get("/BaseState") == Name.OFF:
        hidden = {g.objgen for g in groups if g.objgen not in shown}
    target = dest.Root.get("/OCProperties")
    if not isinstance(target, Dictionary):
        target = dest.Root.OCProperties = dest.make_indirect(
            Dictionary(OCGs=Array(), D=Dictionary(Name=pikepdf.String("Packet"), Order=Array(), OFF=Array()))
        )
    known = {g.objgen for g in target.OCGs}
    added = 0
    for group in groups:
        copy = dest.copy_foreign(group)
        if copy.objgen in known:
            continue
        known.add(copy.objgen)
        target.OCGs.append(copy)
        target.D.Order.append(copy)
        if group.objgen in hidden:
            target.D.OFF.append(copy)
        added += 1
    return added


# Stamping -------------------------------------------------------------------------------------------------------
def find_stamp_font(candidates: Sequence[Path] | None = None) -> Path:
    """DejaVu Sans (TrueType) for page stamps: the usual install locations, then fontconfig's answer for it;
    ``candidates`` replaces that search. ToolMissing names the Debian package when it is not installed."""
    paths = list(STAMP_FONT_CANDIDATES if candidates is None else candidates)
    for path in paths:
        if path.is_file():
            return path
    if candidates is None and shutil.which("fc-match"):
        try:
            done = subprocess.run(
                ["fc-match", "--format=%{file}", "DejaVu Sans:style=Book"],
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            done = None
        if done is not None and done.returncode == 0:
            found = Path(os.fsdecode(done.stdout.strip()))
            if found.name == "DejaVuSans.ttf" and found.is_file():
                return found
    raise ToolMissing(
        "The page-number font DejaVu Sans is not installed. Install the Debian package "
        f"{STAMP_FONT_PACKAGE} (sudo apt-get install {STAMP_FONT_PACKAGE}), or run ./bootstrap.sh setup."
    )


def _codes() -> list[tuple[int, str]]:
    """The single-byte codes the stamp font covers (WinAnsiEncoding = Windows-1252) and their characters."""
    out: list[tuple[int, str]] = []
    for code in range(32, 256):
        try:
            out.append((code, bytes([code]).decode("cp1252")))
        except UnicodeDecodeError:
            continue  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined
    return out


@dataclass(frozen=True)
class _FontProgram:
    data: bytes  # the subset TrueType program
    base_font: str  # "ABCDEF+DejaVuSans"
    widths: tuple[int, ...]  # codes 32..255, in 1/1000 em
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int


@functools.lru_cache(maxsize=4)
def _font_program(path: str) -> _FontProgram:
    """DejaVu Sans reduced to the Windows-1252 characters, without hinting or layout tables (a small fraction of the
    full font). Deterministic: no timestamps are recalculated, the subset tag is a hash of the program."""
    from fontTools import subset  # type: ignore[import-untyped]
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    codes = _codes()
    options = subset.Options()
    options.hinting = False
    options.layout_features = []
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]  # copyright and names: the Bitstream Vera licence asks to keep them
    options.notdef_outline = True
    options.recalc_timestamp = False
    options.drop_tables = [*options.drop_tables, "GSUB", "GPOS", "GDEF", "kern", "FFTM"]
    try:
        font = TTFont(path, recalcTimestamp=False)
    except Exception as exc:  # fontTools raises many types for a damaged file
        raise ToolMissing(
            f"The page-number font {path} cannot be read. Reinstall the Debian package {STAMP_FONT_PACKAGE} "
            f"(sudo apt-get install --reinstall {STAMP_FONT_PACKAGE})."
        ) from exc
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(ch) for _code, ch in codes])
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    data = buf.getvalue()
    upem = font["head"].unitsPerEm
    cmap = font.getBestCmap()
    hmtx = font["hmtx"]
    per_code = dict(codes)

    def em(value: float) -> int:
        return round(float(value) * 1000 / int(upem))

    widths = []
    for code in range(32, 256):
        glyph = cmap.get(ord(per_code[code])) if code in per_code else None
        widths.append(em(hmtx[glyph][0]) if glyph is not None else 0)
    head, os2 = font["head"], font["OS/2"]
    digest = hashlib.sha256(data).digest()
    tag = "".join(chr(ord("A") + b % 26) for b in digest[:6])
    return _FontProgram(
        data=data,
        base_font=f"{tag}+{_FONT_BASENAME}",
        widths=tuple(widths),
        bbox=(em(head.xMin), em(head.yMin), em(head.xMax), em(head.yMax)),
        ascent=em(font["hhea"].ascent),
        descent=em(font["hhea"].descent),
        cap_height=em(getattr(os2, "sCapHeight", 0) or 0.73 * upem),
    )


def _to_unicode_cmap() -> bytes:
    entries = [f"<{code:02X}> <{ord(ch):04X}>" for code, ch in _codes()]
    blocks = []
    for i in range(0, len(entries), 100):
        chunk = entries[i : i + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<00> <FF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


# One font object per PDF, also across calls (numbers, then exhibit labels): id(pdf) -> the font's object id. Only
# ints are kept (a pikepdf.Object would keep its whole PDF alive); a reused id is checked against the object found.
_FONT_OBJECTS: dict[int, tuple[int, int]] = {}


def _stamp_font(pdf: pikepdf.Pdf, program: _FontProgram) -> pikepdf.Object:
    known = _FONT_OBJECTS.get(id(pdf))
    if known is not None:
        try:
            obj = pdf.get_object(known)
        except (pikepdf.PdfError, ValueError):
            obj = None
        if isinstance(obj, Dictionary) and obj.get("/BaseFont") == Name("/" + program.base_font):
            return obj
    font_file = pdf.make_stream(zlib.compress(program.data, 9))
    font_file.Filter = Name.FlateDecode
    font_file.Length1 = len(program.data)
    to_unicode = pdf.make_stream(zlib.compress(_to_unicode_cmap(), 9))
    to_unicode.Filter = Name.FlateDecode
    descriptor = pdf.make_indirect(
        Dictionary(
            Type=Name.FontDescriptor,
            FontName=Name("/" + program.base_font),
            Flags=32,  # nonsymbolic: codes map through WinAnsiEncoding to the font's Unicode cmap
            FontBBox=Array(list(program.bbox)),
            ItalicAngle=0,
            Ascent=program.ascent,
            Descent=program.descent,
            CapHeight=program.cap_height,
            StemV=80,
            FontFile2=font_file,
        )
    )
    font = pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.TrueType,
            BaseFont=Name("/" + program.base_font),
            FirstChar=32,
            LastChar=255,
            Widths=Array(list(program.widths)),
            Encoding=Name.WinAnsiEncoding,
            FontDescriptor=descriptor,
            ToUnicode=to_unicode,
        )
    )
    _FONT_OBJECTS.pop(id(pdf), None)
    _FONT_OBJECTS[id(pdf)] = font.objgen
    while len(_FONT_OBJECTS) > 256:  # a long-lived worker: forget the oldest (that PDF gets a new font if reused)
        del _FONT_OBJECTS[next(iter(_FONT_OBJECTS))]
    return font


def _encode_label(label: str) -> bytes:
    try:
        return label.encode("cp1252")
    except UnicodeEncodeError as exc:
        bad = label[exc.start]
        raise ValidationError(
            f"A page label holds the character U+{ord(bad):04X}, which the page stamp cannot print. Use letters, "
            "digits and punctuation of Western European languages (Latin-1) in exhibit labels and in the filing "
            "profile's [page_numbers] / [stamp] format."
        ) from None


def _font_name(pdf: pikepdf.Pdf, page: pikepdf.Page, font: pikepdf.Object) -> Name:
    """The name of ``font`` in the page's /Resources /Font (added there under /CfStamp, or /CfStamp1... if taken).
    Inherited resources are copied onto the page first, so other pages keep theirs."""
    obj = page.obj
    resources = obj.get("/Resources")
    if not isinstance(resources, Dictionary):
        inherited = _inherited(obj, "/Resources")
        resources = Dictionary()
        if isinstance(inherited, Dictionary):
            for key in inherited.keys():  # noqa: SIM118 (a pikepdf Dictionary's keys are its names)
                resources[key] = inherited[key]
        obj.Resources = resources
    fonts = resources.get("/Font")
    if not isinstance(fonts, Dictionary):
        fonts = Dictionary()
        resources.Font = fonts
    for suffix in ("", *map(str, range(1, 100))):
        name = _FONT_RESOURCE + suffix
        current = fonts.get(name)
        if current is None:
            fonts[name] = font
            return Name(name)
        if current.is_indirect and current.objgen == font.objgen:
            return Name(name)
    raise ValidationError("A page has too many fonts named /CfStamp to add a page stamp; re-save the document.")


def stamp_pages(pdf: pikepdf.Pdf, labels: Sequence[str | None], layout: PageLayout, *, first_page: int = 0) -> None:
    """Draw ``labels[i]`` on page ``first_page + i`` (None: no stamp on that page), in black DejaVu Sans of
    ``layout.stamp_font_size_pt``, upright on the viewed page (whatever its /Rotate, CropBox or /UserUnit), with
    its baseline ``stamp_offset_pt`` from the stamp edge: centred (bottom-center) or ending ``stamp_offset_pt``
    from the right edge (bottom-right, top-right). A label wider than the page less two offsets is set smaller.

    The font is a subset of DejaVu Sans (the Windows-1252 characters: ASCII, Latin-1 letters such as á é ñ ü, and
    typographic quotes and dashes), embedded once per PDF and shared by every stamped page, also across calls, with
    a ToUnicode map, so text extraction returns each label exactly, as one text run. A character outside that set
    raises ``ValidationError``.

    The page's existing content streams are kept byte for byte: a shared "q" stream is put before them and the
    stamp stream after them starts with "Q", so no graphics state set by the page reaches the stamp.
    """
    if first_page < 0 or first_page + len(labels) > len(pdf.pages):
        raise ValueError(f"{len(labels)} labels from page index {first_page} do not fit {len(pdf.pages)} pages")
    encoded = [None if label is None else _encode_label(label) for label in labels]
    if all(e is None for e in encoded):
        return
    program = _font_program(str(find_stamp_font()))
    font = _stamp_font(pdf, program)
    opening = pdf.make_stream(b"q\n")
    size = layout.stamp_font_size_pt
    for i, text in enumerate(encoded):
        if text is None:
            continue
        page = pdf.pages[first_page + i]
        try:
            view = _view_of(page.obj)
        except ValueError as exc:
            raise PacketInputError("the packet", first_page + i + 1, str(exc)) from None
        name = _font_name(pdf, page, font)
        width = sum(program.widths[b - 32] for b in text if b >= 32) / 1000
        room = view.width - 2 * layout.stamp_offset_pt
        font_size = size if width * size <= room or width == 0 else max(room / width, 1.0)
        text_width = width * font_size
        if layout.stamp_position == "bottom-center":
            x = (view.width - text_width) / 2
        else:
            x = view.width - layout.stamp_offset_pt - text_width
        y = view.height - layout.stamp_offset_pt if layout.stamp_on_top else layout.stamp_offset_pt
        to_user = _invert(view.to_view())
        stamp = (
            f"Q\nq\n{_matrix_op(to_user)}\nBT\n{name} {_num(font_size)} Tf\n0 g\n"
            f"{_num(x)} {_num(y)} Td\n<{text.hex().upper()}> Tj\nET\nQ\n"
        ).encode("ascii")
        page.contents_add(opening, prepend=True)
        page.contents_add(pdf.make_stream(stamp))


# Downsampling ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DownsampleReport:
    images_seen: int  # image XObjects drawn on some page
    images_downsampled: int
    bytes_before: int  # encoded size of the images seen, before
    bytes_after: int  # and after

    @property
    def bytes_saved(self) -> int:
        return self.bytes_before - self.bytes_after


@dataclass
class _Drawn:
    image: pikepdf.Object
    width_pt: float = 0.0  # the largest drawn size along the image's x / y axes, in points of 1/72 in
    height_pt: float = 0.0


@dataclass
class _Walker:
    """Finds image XObjects drawn on pages (directly or inside form XObjects) and their drawn sizes."""

    drawn: dict[tuple[int, int], _Drawn] = field(default_factory=dict)
    _has_images: dict[tuple[int, int], bool] = field(default_factory=dict)
    _form_draws: dict[tuple[int, int], list[tuple[pikepdf.Object, Matrix]]] = field(default_factory=dict)

    def page(self, page: pikepdf.Page) -> None:
        resources = _inherited(page.obj, "/Resources")
        if not isinstance(resources, Dictionary) or not self._any_images(resources, 0):
            return  # most pages (text, forms without pictures): no content stream is parsed
        unit = _number(page.obj.get("/UserUnit", 1)) or 1.0
        for image, m in self._draws(page, resources, 0):
            key = image.objgen
            entry = self.drawn.get(key)
            if entry is None:
                entry = self.drawn[key] = _Drawn(image)
            entry.width_pt = max(entry.width_pt, math.hypot(m[0], m[1]) * unit)
            entry.height_pt = max(entry.height_pt, math.hypot(m[2], m[3]) * unit)

    def _any_images(self, resources: Dictionary, depth: int) -> bool:
        xobjects = resources.get("/XObject")
        if not isinstance(xobjects, Dictionary) or depth > _MAX_FORM_DEPTH:
            return False
        for key in xobjects.keys():  # noqa: SIM118 (pikepdf keys)
            x = xobjects[key]
            if not isinstance(x, pikepdf.Stream):
                continue
            subtype = x.get("/Subtype")
            if subtype == Name.Image:
                return True
            if subtype == Name.Form:
                known = self._has_images.get(x.objgen) if x.is_indirect else None
                if known is None:
                    if x.is_indirect:
                        self._has_images[x.objgen] = False  # a form that draws itself: stop here
                    inner = x.get("/Resources")
                    known = isinstance(inner, Dictionary) and self._any_images(inner, depth + 1)
                    if x.is_indirect:
                        self._has_images[x.objgen] = known
                if known:
                    return True
        return False

    def _draws(self, content: Any, resources: Dictionary, depth: int) -> list[tuple[pikepdf.Object, Matrix]]:
        """(image, matrix from the image's unit square to this content's space) for every image drawn."""
        xobjects = resources.get("/XObject")
        if not isinstance(xobjects, Dictionary):
            return []
        out: list[tuple[pikepdf.Object, Matrix]] = []
        ctm: Matrix = _IDENTITY
        stack: list[Matrix] = []
        try:
            instructions = pikepdf.parse_content_stream(content, "q Q cm Do")
        except pikepdf.PdfError:
            log.warning("A content stream could not be parsed; its images are not downsampled")
            return []
        for instruction in instructions:
            if not isinstance(instruction, pikepdf.ContentStreamInstruction):
                continue  # inline images
            operands, op = instruction.operands, str(instruction.operator)
            if op == "q":
                stack.append(ctm)
            elif op == "Q":
                ctm = stack.pop() if stack else _IDENTITY
            elif op == "cm" and len(operands) == 6:
                values = [_number(v) for v in operands]
                if all(v is not None for v in values):
                    m = tuple(float(v) for v in values if v is not None)
                    ctm = _concat((m[0], m[1], m[2], m[3], m[4], m[5]), ctm)
            elif op == "Do" and len(operands) == 1 and isinstance(operands[0], Name):
                x = xobjects.get(operands[0])
                if not isinstance(x, pikepdf.Stream):
                    continue
                subtype = x.get("/Subtype")
                if subtype == Name.Image:
                    out.append((x, ctm))
                elif subtype == Name.Form and depth < _MAX_FORM_DEPTH:
                    out.extend((image, _concat(m, ctm)) for image, m in self._form(x, resources, depth + 1))
        return out

    def _form(self, form: pikepdf.Stream, outer: Dictionary, depth: int) -> list[tuple[pikepdf.Object, Matrix]]:
        own = form.get("/Resources")
        resources = own if isinstance(own, Dictionary) else outer  # forms without resources use the page's
        if not self._any_images(resources, depth):
            return []
        key = form.objgen if form.is_indirect and isinstance(own, Dictionary) else None
        if key is not None and key in self._form_draws:
            return self._form_draws[key]
        if key is not None:
            self._form_draws[key] = []  # guards against a form that draws itself
        matrix_obj = form.get("/Matrix")
        matrix = _IDENTITY
        if isinstance(matrix_obj, Array) and len(matrix_obj) == 6:
            values = [_number(v) for v in matrix_obj]
            if all(v is not None for v in values):
                f = [float(v) for v in values if v is not None]
                matrix = (f[0], f[1], f[2], f[3], f[4], f[5])
        draws = [(image, _concat(m, matrix)) for image, m in self._draws(form, resources, depth)]
        if key is not None:
            self._form_draws[key] = draws
        return draws


_FILTERS_DECODED_BY_QPDF = {"/FlateDecode", "/LZWDecode", "/ASCII85Decode", "/ASCIIHexDecode", "/RunLengthDecode"}
_GREY_RGB = {"/DeviceGray": 1, "/DeviceRGB": 3, "/CalGray": 1, "/CalRGB": 3}


@dataclass(frozen=True)
class _Job:
    key: tuple[int, int]
    data: bytes  # a JPEG file, or raw 8-bit pixels
    jpeg: bool
    components: int  # 1 (grey) or 3 (RGB)
    width: int
    height: int
    new_width: int
    new_height: int


def _components(image: pikepdf.Object) -> int | None:
    """1 or 3 for 8-bit grey / RGB images this module may resample, else None (skipped: masks, CMYK, Indexed,
    Lab, Separation, 16-bit, /Decode arrays, soft masks and colour-key masks)."""
    if image.get("/ImageMask", False) or "/SMask" in image or "/Mask" in image or "/SMaskInData" in image:
        return None
    if image.get("/BitsPerComponent") != 8:
        return None
    space = image.get("/ColorSpace")
    n: int | None = None
    if isinstance(space, Name):
        n = _GREY_RGB.get(str(space))
    elif isinstance(space, Array) and len(space) >= 2 and isinstance(space[0], Name):
        if space[0] == Name.ICCBased and isinstance(space[1], pikepdf.Stream):
            count = space[1].get("/N")
            n = int(count) if count in (1, 3) else None
        elif str(space[0]) in ("/CalGray", "/CalRGB"):
            n = _GREY_RGB[str(space[0])]
    if n is None:
        return None
    decode = image.get("/Decode")
    if decode is not None and [_number(v) for v in decode] != [0.0, 1.0] * n:
        return None
    return n


def _filters(image: pikepdf.Object) -> list[str]:
    f = image.get("/Filter")
    if f is None:
        return []
    if isinstance(f, Name):
        return [str(f)]
    if isinstance(f, Array):
        return [str(x) for x in f]
    return ["?"]


def _job(key: tuple[int, int], drawn: _Drawn, dpi: int, tolerance: float) -> _Job | None:
    image = drawn.image
    width, height = image.get("/Width"), image.get("/Height")
    if not isinstance(width, int) or not isinstance(height, int) or width < 1 or height < 1:
        return None
    if drawn.width_pt <= 0 or drawn.height_pt <= 0:
        return None
    dpi_x = width / (drawn.width_pt / 72)
    dpi_y = height / (drawn.height_pt / 72)
    if max(dpi_x, dpi_y) <= dpi * tolerance:
        return None
    n = _components(image)
    if n is None:
        return None
    new_width = min(width, max(1, math.floor(drawn.width_pt / 72 * dpi + 1e-6)))
    new_height = min(height, max(1, math.floor(drawn.height_pt / 72 * dpi + 1e-6)))
    filters = _filters(image)
    if filters == ["/DCTDecode"]:
        data, jpeg = image.read_raw_bytes(), True
    elif all(f in _FILTERS_DECODED_BY_QPDF for f in filters):
        data, jpeg = image.read_bytes(), False
        if len(data) < width * height * n:
            return None
    else:
        return None  # JPEG 2000, JBIG2, CCITT, a DCT chain: left as it is
    return _Job(key, data, jpeg, n, width, height, new_width, new_height)


def _resample(job: _Job) -> bytes | None:
    """The job's image at its new size as a baseline JPEG (quality JPEG_QUALITY, optimised Huffman tables, no
    metadata); None when it cannot be decoded as the PDF describes it."""
    from PIL import Image

    mode = "L" if job.components == 1 else "RGB"
    im: Image.Image
    try:
        if job.jpeg:
            im = Image.open(io.BytesIO(job.data))
            if im.mode != mode or im.size != (job.width, job.height):
                return None  # CMYK / Adobe-inverted / odd JPEGs, or a JPEG that disagrees with its PDF dictionary
            im.draft(mode, (job.new_width, job.new_height))  # libjpeg's scaled decode: fast, deterministic
        else:
            im = Image.frombytes(mode, (job.width, job.height), job.data[: job.width * job.height * job.components])
        if im.mode != mode:  # already `mode` here; convert() to the same mode would only copy (48 MB for 12 MP)
            im = im.convert(mode)
        # bicubic after a box reduction by whole factors (reducing_gap): faster than Lanczos on phone photos and as
        # good for reductions this size (benchmarks/README.md, "Packet check")
        im = im.resize((job.new_width, job.new_height), Image.Resampling.BICUBIC, reducing_gap=3.0)
        out = io.BytesIO()
        im.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=False)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return out.getvalue()


def _batches(jobs: Iterator[_Job | None], size: int) -> Iterator[list[_Job]]:
    batch: list[_Job] = []
    for job in jobs:
        if job is None:
            continue
        batch.append(job)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _encoded_size(image: pikepdf.Object) -> int:
    """The image's encoded size: its /Length (not reading the data, which may be a large mapped file), else the
    length of its raw data."""
    length = image.get("/Length")
    if isinstance(length, int) and length >= 0:
        return length
    return len(image.read_raw_bytes())


def downsample_images(
    pdf: pikepdf.Pdf, layout: PageLayout, *, tolerance: float = DOWNSAMPLE_TOLERANCE, workers: int | None = None
) -> DownsampleReport:
    """Resample, in THIS pdf, every image XObject drawn at an effective resolution above ``layout.image_dpi`` x
    ``tolerance`` to ``image_dpi`` (each axis: pixels / the larger drawn size in inches, over every place it is
    drawn: on pages directly or inside form XObjects, following ``cm`` operators and form matrices to the ``Do``).

    ``tolerance`` (1.3) keeps images that fitting only pushed a little above ``image_dpi`` as they are: a 300 dpi
    letter or A4 scan placed into the content box is drawn at about 350-380 dpi, and re-encoding it would cost
    quality for little size. A 12 MP phone photo fitted to a page (over 400 dpi) is resampled.

    Only 8-bit grey and RGB images (Device, Cal or ICC-based colour spaces, kept as they are) are resampled, to
    baseline JPEG (quality 85, optimised Huffman tables, deterministic). Images with a soft mask or colour-key
    mask, a /Decode array, CMYK, Indexed or other colour spaces, 1-bit images (scans: CCITT, JBIG2), JPEG 2000 and
    inline images are left as they are. An image whose resampled stream would not be smaller is left as it was.

    The images of ``pdf`` are changed in memory; the caller never saves ``pdf`` over a stored original (pages put
    into a packet by ``place_pages`` are copies). Resampling runs in ``workers`` threads (default: 2, or 1 on one
    CPU), one image per thread at a time to bound memory (a 12 MP photo needs about 80 MB while resampled);
    results are applied in page order, so the same input gives the same bytes.
    """
    walker = _Walker()
    for page in pdf.pages:
        walker.page(page)
    before = 0
    after = 0
    changed = 0
    sizes: dict[tuple[int, int], int] = {}
    for key, drawn in walker.drawn.items():
        sizes[key] = _encoded_size(drawn.image)
        before += sizes[key]
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    jobs = (_job(key, drawn, layout.image_dpi, tolerance) for key, drawn in walker.drawn.items())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for batch in _batches(jobs, workers):
            for job, data in zip(batch, pool.map(_resample, batch), strict=True):
                if data is None or len(data) >= sizes[job.key]:
                    continue
                image = walker.drawn[job.key].image
                image.write(data, filter=Name.DCTDecode)
                image.Width = job.new_width
                image.Height = job.new_height
                image.BitsPerComponent = 8
                for stale in ("/DecodeParms", "/Decode"):
                    if stale in image:
                        del image[stale]
                before_size, sizes[job.key] = sizes[job.key], len(data)
                log.debug("image %s: %d -> %d bytes", job.key, before_size, len(data))
                changed += 1
    after = sum(sizes.values())
    return DownsampleReport(len(walker.drawn), changed, before, after)
