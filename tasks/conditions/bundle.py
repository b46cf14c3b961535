"""Rendering a case's country-conditions bundle from a checked selection, frozen in the object store.

``render_bundle(rt, selection)``:
1. the bundle id is a hash of everything that goes into its PDFs (the checked selection, each source's SHA-256 and
   edition, translations, the drawing style, the templates and the code that draws), so the same selection gives
   the same id and byte-identical files, and a finished bundle is reused;
2. each kept source becomes one exhibit PDF: its selected pages (or all of them), each page as it is with a band
   added above it (``packets.layout.place_pages``: the page is copied, not re-encoded or shrunk), its full citation
   in the band of the first page ("Excerpt: pages x-y of n" when excerpted), its short citation and page on the
   others, and every cited passage marked from its word boxes: a box around each line and a bracket in the margin,
   drawn into the page content in black, so they print and survive a grayscale scan (a highlight is optional);
3. a preview PDF for review: the index (sources, then passages grouped by legal element, with page numbers of the
   preview) and the exhibits, numbered;
4. the files go under ``conditions/<case>/<bundle-id>/`` and the manifest last (every source's SHA-256 and edition,
   the pages kept, every passage with its page in the exhibit and its boxes); the bundle becomes the case's active
   one. Packets read the manifest only: updating the library later never changes a bundle or a packet built from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from ..core.catalog import ConditionBundle, ConditionSource, audit, current_actor, utcnow
from ..core.errors import BundleNotFound, CasefileError, IntegrityError
from ..core.storage import sha256_file
from ..core.workdirs import work_folder
from ..packets.filing import translator_signed
from .config import BundleStyle, load_bundle_style, load_countries, load_topics
from .library import covering_translation
from .passages import Box, line_boxes, page_words, shorten
from .selection import Selection

if TYPE_CHECKING:
    import pikepdf

    from ..core.runtime import Runtime

log = logging.getLogger(__name__)

BUNDLES_PREFIX = "conditions"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
PREVIEW = "bundle.pdf"
INDEX_TEMPLATE = "conditions/index.html.j2"
CITATION_TEMPLATE = "conditions/citation.html.j2"
TEMPLATES = (INDEX_TEMPLATE, CITATION_TEMPLATE, "packet/base.html.j2", "packet/base.css")
_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def language_name(code: str) -> str:
    """The language's English name for a citation; empty for English (nothing to say)."""
    from ..documents.language import language_name as name_of

    return "" if code == "en" else (name_of(code) or code)


def bundle_prefix(case_id: str, bundle_id: str) -> str:
    return f"{BUNDLES_PREFIX}/{case_id}/{bundle_id}/"


def page_ranges(pages: Sequence[int]) -> str:
    """[3, 4, 5, 9] -> '3–5, 9' (en dashes)."""
    out: list[str] = []
    run: list[int] = []
    for page in sorted(pages):
        if run and page == run[-1] + 1:
            run.append(page)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}\u2013{run[-1]}")
        run = [page]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}\u2013{run[-1]}")
    return ", ".join(out)


def excerpt_note(pages: Sequence[int], count: int) -> str:
    if list(pages) == list(range(1, count + 1)):
        return f"Complete document, {count} page{'s' if count != 1 else ''}"
    return f"Excerpt: page{'s' if len(pages) != 1 else ''} {page_ranges(pages)} of {count}"


def short_cite(publisher: str, title: str, edition: str, words: int = 10) -> str:
    """ "Publisher, Title (edition)", the title cut after ``words`` words (0: no title)."""
    if words <= 0:
        return f"{publisher} ({edition})"
    return f"{publisher}, {shorten(title, words)} ({edition})"


# Inputs --------------------------------------------------------------------------------------------------------
@dataclass
class _Source:
    position: int  # 1-based order in the bundle
    row: dict[str, Any]  # metadata for the manifest and the templates
    key: str
    sha256: str
    pages: list[int]
    words: dict[int, Any]  # page -> page_words
    passages: list[dict[str, Any]]
    translation: dict[str, Any] | None
    path: Path | None = None


def _gather(rt: Runtime, selection: Selection) -> list[_Source]:
    topics = rt.config(load_topics)
    out: list[_Source] = []
    with rt.catalog.session() as session:
        for position, chosen in enumerate(selection.sources, start=1):
            source = session.get(ConditionSource, chosen.source_id)
            if source is None:  # removed from the library between the check and now
                raise CasefileError(f"Source {chosen.source_id} is no longer in the library; check the selection.")
            key = source.searchable_key or source.normalised_key
            sha = source.searchable_sha256 or source.normalised_sha256
            page_rows = {p.number: p for p in source.pages}
            words = {}
            for n in chosen.pages:
                boxes = page_rows[n].words_json
                words[n] = page_words(json.loads(boxes) if boxes else None, page_rows[n].text)
            translation = None
            if source.language != "en":
                found = covering_translation(session, source.id, chosen.pages)
                if found is not None:
                    translation = {
                        "id": found.id,
                        "key": found.normalised_key,
                        "sha256": found.normalised_sha256,
                        "pages": found.page_count,
                        "covers": [found.first_page, found.last_page],
                        "source_language": found.source_language,
                        "translator": {
                            "name": found.translator_name,
                            "address_lines": [
                                x.strip() for x in found.translator_address.replace("\n", ";").split(";") if x.strip()
                            ],
                            "phone": found.translator_phone,
                            "email": found.translator_email,
                            "signed": translator_signed(found.translator_name, found.signature),
                        },
                        "certified_on": found.certified_on.isoformat(),
                    }
            row = {
                "source_id": source.id,
                "source_sha256": source.sha256,
                "pdf_sha256": sha,
                "country": source.country,
                "publisher": source.publisher,
                "series": source.series,
                "title": source.title,
                "edition": source.edition,
                "published": source.published_on.isoformat(),
                "url": source.url,
                "accessed": source.accessed_on.isoformat() if source.accessed_on else None,
                "language": source.language,
                "source_pages": source.page_count,
                "pages": list(chosen.pages),
                "excerpt": excerpt_note(chosen.pages, source.page_count),
                "stale": list(chosen.stale),
                "reason": chosen.reason or None,
            }
            passages = []
            for p in chosen.passages:
                passages.append(
                    {
                        "page": p.page,
                        "exhibit_page": chosen.pages.index(p.page) + 1,
                        "element": p.element,
                        "element_title": topics.elements[p.element].title,
                        "topic": p.topic,
                        "topic_title": topics.topics[p.topic].title if p.topic in topics.topics else None,
                        "quote": p.quote,
                        "words": [p.start, p.end],
                    }
                )
            out.append(_Source(position, row, key, sha, list(chosen.pages), words, passages, translation))
    return out


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str, ensure_ascii=True).encode()).hexdigest()


def _bundle_id(digest: str) -> str:
    number = int(digest, 16)
    chars = []
    for _ in range(10):
        number, rem = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[rem])
    return "CB-" + "".join(chars)


def _code_version() -> str:
    from ..core import render
    from ..packets import layout
    from . import passages as passages_module

    code = hashlib.sha256()
    for module in (sys.modules[__name__], layout, passages_module, render):
        code.update(Path(str(module.__file__)).read_bytes())
    return code.hexdigest()[:16]


# Drawing -------------------------------------------------------------------------------------------------------
def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def mark_rectangles(boxes: Sequence[Box], page_height: float, style: BundleStyle) -> list[Box]:
    """The rectangles drawn around each line (x0, y0, x1, y1 in PDF points, origin bottom-left), from word-box lines
    in the page's view frame (origin top-left)."""
    pad = style.padding_pt
    return [(x0 - pad, page_height - y1 - pad, x1 + pad, page_height - y0 + pad) for x0, y0, x1, y1 in boxes]


def _marks_stream(lines: Sequence[Box], page_height: float, style: BundleStyle) -> tuple[bytes, bytes | None]:
    """The content drawn over the page (boxes, bracket) and the one under it (highlight, if configured)."""
    rects = mark_rectangles(lines, page_height, style)
    ops = ["q", "0 G", f"{_num(style.line_width_pt)} w", "0 J", "0 j"]
    if style.mark_style in ("box", "both"):
        for x0, y0, x1, y1 in rects:
            ops.append(f"{_num(x0)} {_num(y0)} {_num(x1 - x0)} {_num(y1 - y0)} re S")
    if style.mark_style in ("bracket", "both") and rects:
        left = max(2.0, min(r[0] for r in rects) - style.bracket_gap_pt)
        top, bottom = max(r[3] for r in rects), min(r[1] for r in rects)
        tick = 4.0
        ops.append(
            f"{_num(left + tick)} {_num(top)} m {_num(left)} {_num(top)} l {_num(left)} {_num(bottom)} l "
            f"{_num(left + tick)} {_num(bottom)} l S"
        )
    ops.append("Q")
    under = None
    if style.highlight is not None:
        r, g, b = style.highlight
        fills = [f"{_num(x0)} {_num(y0)} {_num(x1 - x0)} {_num(y1 - y0)} re f" for x0, y0, x1, y1 in rects]
        under = ("q\n" + f"{_num(r)} {_num(g)} {_num(b)} rg\n" + "\n".join(fills) + "\nQ\n").encode("ascii")
    return ("\n".join(ops) + "\n").encode("ascii"), under


def _render_citations(
    env: Any, sources: Sequence[_Source], style: BundleStyle, work: Path, bundle_id: str, created: date
) -> Path:
    from ..core.render import LaidOut, layout_many, write_documents

    contexts = [
        {
            "band": {"width_pt": BAND_WIDTH, "height_pt": round(style.band_pt, 2), "font_size_pt": style.font_size_pt},
            "source": {
                "publisher": s.row["publisher"],
                "title": s.row["title"],
                "edition": s.row["edition"],
                "published": s.row["published"],
                "url": s.row["url"],
                "accessed": s.row["accessed"],
                "language_name": language_name(s.row["language"]),
                "pages": s.row["source_pages"],
            },
            "excerpt": s.row["excerpt"],
            "marked": len(s.passages),
        }
        for s in sources
    ]
    # One band per source: its first page (the band's box hides what overflows it).
    firsts = [LaidOut(item.document, item.pages[:1]) for item in layout_many(env, CITATION_TEMPLATE, contexts)]
    return write_documents(firsts, work / "citations.pdf", identifier=bundle_id + "-citations", created=created)


def _exhibit_pdf(
    source: _Source, src: pikepdf.Pdf, band: pikepdf.Pdf, band_index: int, style: BundleStyle, out_path: Path
) -> list[dict[str, Any]]:
    """Write the source's exhibit PDF; returns, per passage, the marked rectangles (exhibit page coordinates)."""
    import pikepdf

    from ..documents.ocr import PageGeometry
    from ..packets.layout import PageLayout, place_pages, stamp_pages

    out = pikepdf.new()
    drawn: list[dict[str, Any]] = []
    labels: list[str | None] = []
    short = short_cite(source.row["publisher"], source.row["title"], source.row["edition"])
    stamp_layout: PageLayout | None = None
    for position, number in enumerate(source.pages, start=1):
        width, height = PageGeometry.of(src.pages[number - 1]).view_size()
        page_layout = PageLayout(
            width_pt=width,
            height_pt=height + style.band_pt,
            fit_margin_pt=0.0,
            stamp_band_pt=style.band_pt,
            stamp_position="top-right",
            stamp_offset_pt=style.band_pt * 0.55,
            stamp_font_size_pt=style.font_size_pt,
        )
        stamp_layout = stamp_layout or page_layout
        place_pages(out, src, page_layout, [number], fit=True, source=f"source {source.row['source_id']}")
        page = out.pages[-1]
        here = [p for p in source.passages if p["page"] == number]
        for passage in here:
            start, end = passage["words"]
            lines = line_boxes(source.words[number], start, end)
            if not lines:
                drawn.append({**passage, "rectangles": []})
                continue
            over, under = _marks_stream(lines, height, style)
            page.contents_add(out.make_stream(over))
            if under is not None:
                page.contents_add(out.make_stream(under), prepend=True)
            drawn.append(
                {**passage, "rectangles": [list(map(_round, r)) for r in mark_rectangles(lines, height, style)]}
            )
        if position == 1:
            _draw_band(out, page, band.pages[band_index], width, height, style.band_pt)
            labels.append(None)
        else:
            labels.append(f"{short}, page {number} of {source.row['source_pages']}")
    if stamp_layout is not None and any(labels):
        stamp_pages(out, labels, stamp_layout)
    out.docinfo = out.make_indirect(pikepdf.Dictionary(Title=source.row["title"], Producer="casefile"))
    tmp = out_path.with_suffix(".tmp")
    out.save(tmp, deterministic_id=True, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    tmp.replace(out_path)
    out.close()
    return drawn


BAND_WIDTH = 612.0  # the citation band is laid out for a letter-wide page, then scaled to narrower ones


def _draw_band(
    out: pikepdf.Pdf, page: pikepdf.Page, band: pikepdf.Page, width: float, height: float, depth: float
) -> None:
    """Draw the rendered citation band at the top of ``page`` (above its content), under a fixed resource name so
    that the same inputs give the same bytes (pikepdf's ``add_overlay`` picks a random one)."""
    import pikepdf

    form = out.copy_foreign(band.as_form_xobject())
    resources = page.obj.get("/Resources")
    if not isinstance(resources, pikepdf.Dictionary):
        resources = page.obj.Resources = pikepdf.Dictionary()
    xobjects = resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        xobjects = resources.XObject = pikepdf.Dictionary()
    xobjects.CfBand = form
    scale = min(1.0, width / BAND_WIDTH)
    top = height + depth - depth * scale
    page.contents_add(out.make_stream(f"q {_num(scale)} 0 0 {_num(scale)} 0 {_num(top)} cm /CfBand Do Q\n".encode()))


def _round(value: float) -> float:
    return round(value, 2)


# The index -----------------------------------------------------------------------------------------------------
def index_context(
    manifest: Mapping[str, Any],
    *,
    labels: Sequence[str],
    ranges: Sequence[tuple[int, int]],
    pin: Callable[[int, int], str],
    tab_label: str,
    title: str,
    numbering: str,
    quote_words: int,
    client: Mapping[str, Any] | None = None,
    element_order: Sequence[str] = (),
) -> dict[str, Any]:
    """The index template's context. ``labels[i]`` and ``ranges[i]`` are exhibit i's label and printed page range;
    ``pin(i, page)`` the printed page of page ``page`` (1-based) of exhibit i's document."""
    sources = []
    groups: dict[str, dict[str, Any]] = {}
    for i, exhibit in enumerate(manifest["exhibits"]):
        first, last = ranges[i]
        reason = None
        if exhibit.get("reason"):
            reason = f"{exhibit['edition']} edition filed: {exhibit['reason']}"
        translation = None
        if exhibit.get("translation"):
            translation = "its English translation and the translator's certificate"
        sources.append(
            {
                "label": labels[i],
                "publisher": exhibit["publisher"],
                "title": exhibit["title"],
                "edition": exhibit["edition"],
                "published": exhibit["published"],
                "url": exhibit["url"],
                "accessed": exhibit["accessed"],
                "language_name": language_name(exhibit["language"]),
                "pages": str(first) if first == last else f"{first}\u2013{last}",
                "excerpt": exhibit["excerpt"],
                "reason": reason,
                "translation": translation,
            }
        )
        cite = short_cite(exhibit["publisher"], exhibit["title"], exhibit["edition"], 0)
        for passage in exhibit["passages"]:
            group = groups.setdefault(passage["element"], {"title": passage["element_title"], "passages": []})
            group["passages"].append(
                {
                    "label": labels[i],
                    "pin": pin(i, passage["exhibit_page"]),
                    "cite": cite,
                    "quote": shorten(passage["quote"], quote_words),
                    "topic": passage.get("topic_title"),
                }
            )
    order = list(element_order) + [k for k in groups if k not in element_order]
    elements = [groups[k] for k in order if k in groups]
    return {
        "title": title,
        "country": manifest["country_name"],
        "client": dict(client) if client else None,
        "tab_label": tab_label,
        "numbering": numbering,
        "sources": sources,
        "elements": elements,
    }


# The bundle ----------------------------------------------------------------------------------------------------
@dataclass
class BundleResult:
    bundle_id: str
    case_id: str
    country: str
    exhibits: list[dict[str, Any]]  # position, source_id, publisher, title, edition, pages, passages, language...
    pages: int  # pages of the exhibits (the packet adds its own tab pages and the index)
    manifest_key: str
    preview_key: str
    preview_sha256: str
    reused: bool = False
    missing_translations: list[str] = field(default_factory=list)  # source ids
    unmarked: list[str] = field(default_factory=list)  # "S-...: page n" of passages without word boxes to mark

    def summary(self) -> dict[str, Any]:
        """Ids, counts and hashes (safe for logs and Prefect)."""
        return {
            "bundle_id": self.bundle_id,
            "case_id": self.case_id,
            "country": self.country,
            "exhibits": len(self.exhibits),
            "pages": self.pages,
            "passages": sum(e["passages"] for e in self.exhibits),
            "manifest_key": self.manifest_key,
            "preview_key": self.preview_key,
            "preview_sha256": self.preview_sha256,
            "reused": self.reused,
            "missing_translations": self.missing_translations,
            "unmarked": self.unmarked,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "sources": self.exhibits}


def result_from_manifest(manifest: Mapping[str, Any], reused: bool) -> BundleResult:
    exhibits = [
        {
            "position": e["position"],
            "source_id": e["source_id"],
            "publisher": e["publisher"],
            "title": e["title"],
            "edition": e["edition"],
            "published": e["published"],
            "language": e["language"],
            "pages": e["page_count"],
            "source_pages": page_ranges(e["pages"]),
            "passages": len(e["passages"]),
            "sha256": e["sha256"],
            "source_sha256": e["source_sha256"],
            "stale": bool(e["stale"]),
            "translation": e["translation"]["id"] if e.get("translation") else None,
        }
        for e in manifest["exhibits"]
    ]
    return BundleResult(
        bundle_id=manifest["bundle_id"],
        case_id=manifest["case_id"],
        country=manifest["country"],
        exhibits=exhibits,
        pages=sum(e["page_count"] for e in manifest["exhibits"]),
        manifest_key=bundle_prefix(manifest["case_id"], manifest["bundle_id"]) + MANIFEST,
        preview_key=manifest["preview"]["key"],
        preview_sha256=manifest["preview"]["sha256"],
        reused=reused,
        missing_translations=[
            e["source_id"] for e in manifest["exhibits"] if e["language"] != "en" and not e.get("translation")
        ],
        unmarked=[
            f"{e['source_id']}: page {p['page']}"
            for e in manifest["exhibits"]
            for p in e["passages"]
            if not p.get("rectangles")
        ],
    )


def render_bundle(rt: Runtime, selection: Selection, *, force: bool = False, actor: str | None = None) -> BundleResult:
    """Render, store and activate the bundle of a checked selection (see the module docstring). Safe to re-run: the
    same selection gives the same bundle id; a finished bundle is reused unless ``force`` (then rendered again,
    byte for byte the same)."""
    from ..core.render import make_environment, template_versions

    settings, store = rt.settings, rt.store
    style = rt.config(load_bundle_style)
    env = make_environment(settings.templates_dir, settings.overrides_dir)
    versions = template_versions(env, TEMPLATES)
    sources = _gather(rt, selection)
    digest = _digest(
        {
            "selection": selection.canonical(),
            "sources": [(s.row, s.sha256, s.translation) for s in sources],
            "style": asdict(style),
            "templates": versions,
            "code": _code_version(),
        }
    )
    bundle_id = _bundle_id(digest)
    prefix = bundle_prefix(selection.case_id, bundle_id)
    if store.exists(prefix + MANIFEST) and not force:
        stored = load_bundle_manifest(rt, selection.case_id, bundle_id)
        _activate(rt, stored, store.get_bytes(prefix + MANIFEST), actor, reused=True)
        return result_from_manifest(stored, reused=True)

    # Dates printed or embedded come from the inputs, never the clock: the latest access or publication date.
    created = max(date.fromisoformat(s.row["accessed"] or s.row["published"]) for s in sources)
    owned = ExitStack()
    work = owned.enter_context(work_folder(settings.work_dir, f"bundle-{bundle_id}-"))
    uploaded: list[str] = []
    try:
        import pikepdf

        for source in sources:
            source.path = work / f"{source.sha256}.pdf"
            if not source.path.exists():
                store.download(source.key, source.path, expected_sha256=source.sha256)
        citations = _render_citations(env, sources, style, work, bundle_id, created)
        exhibits: list[dict[str, Any]] = []
        with pikepdf.open(citations) as band:
            for i, source in enumerate(sources):
                assert source.path is not None
                out = work / f"exhibit-{source.position:02d}.pdf"
                with pikepdf.open(source.path) as src:
                    if len(src.pages) != source.row["source_pages"]:
                        raise IntegrityError(
                            f"Source {source.row['source_id']} has {len(src.pages)} pages in its PDF but "
                            f"{source.row['source_pages']} in the catalog; add it to the library again."
                        )
                    drawn = _exhibit_pdf(source, src, band, i, style, out)
                exhibits.append(
                    {
                        **source.row,
                        "position": source.position,
                        "file": out.name,
                        "key": prefix + out.name,
                        "sha256": sha256_file(out),
                        "page_count": len(source.pages),
                        "passages": drawn,
                        "translation": source.translation,
                        "path": out,
                    }
                )
        country = rt.config(load_countries).get(selection.country)
        manifest: dict[str, Any] = {
            "manifest_version": MANIFEST_VERSION,
            "bundle_id": bundle_id,
            "case_id": selection.case_id,
            "country": selection.country,
            "country_name": country.name,
            "topics": list(selection.topics),
            "selection_sha256": hashlib.sha256(selection.digest_text().encode()).hexdigest(),
            "style": asdict(style),
            "template_versions": dict(sorted(versions.items())),
            "exhibits": [{k: v for k, v in e.items() if k != "path"} for e in exhibits],
        }
        preview = work / PREVIEW
        preview_pages = _render_preview(rt, env, manifest, [e["path"] for e in exhibits], style, preview, created)
        for e in exhibits:
            store.put_file(e["key"], e["path"])
            uploaded.append(e["key"])
        store.put_file(prefix + PREVIEW, preview)
        uploaded.append(prefix + PREVIEW)
        store.put_bytes(prefix + "selection.json", selection.digest_text().encode("utf-8"))
        uploaded.append(prefix + "selection.json")
        manifest["preview"] = {
            "key": prefix + PREVIEW,
            "sha256": sha256_file(preview),
            "pages": preview_pages,
            "bytes": preview.stat().st_size,
        }
        manifest["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        payload = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        store.put_bytes(prefix + MANIFEST, payload)
    except BaseException:
        for key in uploaded:  # files without a manifest are never used; remove them anyway
            try:
                store.delete(key)
            except Exception:
                log.warning("could not remove an unfinished file of bundle %s", bundle_id)
        raise
    finally:
        owned.close()
    _activate(rt, manifest, payload, actor, reused=False)
    log.info("bundle %s of case %s: %d exhibits", bundle_id, selection.case_id, len(exhibits))
    return result_from_manifest(manifest, reused=False)


def _render_preview(
    rt: Runtime,
    env: Any,
    manifest: Mapping[str, Any],
    exhibit_paths: Sequence[Path],
    style: BundleStyle,
    out: Path,
    created: date,
) -> int:
    """The preview: the index (page numbers of the preview itself) and the exhibits on letter pages, numbered."""
    import pikepdf

    from ..core.render import layout, write_documents
    from ..packets.layout import PageLayout, place_pages, stamp_pages

    counts = [e["page_count"] for e in manifest["exhibits"]]
    labels = [str(e["position"]) for e in manifest["exhibits"]]
    topics = rt.config(load_topics)
    # Laying out a long index is most of a bundle's time; a good first guess of its length saves a second layout.
    index_pages = _estimate_index_pages(manifest, style.quote_words)
    for _attempt in range(5):
        firsts, n = [], index_pages + 1
        for c in counts:
            firsts.append(n)
            n += c
        ranges = [(f, f + c - 1) for f, c in zip(firsts, counts, strict=True)]

        def pin(i: int, page: int, firsts: list[int] = firsts) -> str:
            return str(firsts[i] + page - 1)

        context = index_context(
            manifest,
            labels=labels,
            ranges=ranges,
            pin=pin,
            tab_label="Exhibit",
            title=style.index_title,
            numbering="Preview of the bundle: page numbers are those of this preview. In a packet, the packet "
            "builder prints the packet's own page numbers here.",
            quote_words=style.quote_words,
            element_order=list(topics.elements),
        )
        document = layout(env, INDEX_TEMPLATE, context)
        if len(document.pages) == index_pages:
            break
        index_pages = len(document.pages)
    else:
        raise CasefileError("The bundle's index did not settle; check the practice's copy of the index template.")
    index_pdf = write_documents(
        [document], out.with_name("index.pdf"), identifier=manifest["bundle_id"], created=created
    )
    page_layout = PageLayout()
    full = pikepdf.new()
    with pikepdf.open(index_pdf) as rendered:
        place_pages(full, rendered, page_layout, None, fit=False)
        for path in exhibit_paths:
            with pikepdf.open(path) as src:
                place_pages(full, src, page_layout, None, fit=True, source="a bundle exhibit")
        stamp_pages(full, [str(n) for n in range(1, len(full.pages) + 1)], page_layout)
        with full.open_outline() as outline:
            outline.root.append(pikepdf.OutlineItem(style.index_title, 0))
            for label, first, exhibit in zip(labels, firsts, manifest["exhibits"], strict=True):
                outline.root.append(pikepdf.OutlineItem(f"Exhibit {label}: {exhibit['title']}", first - 1))
        full.docinfo = full.make_indirect(pikepdf.Dictionary(Title=style.index_title, Producer="casefile"))
        tmp = out.with_suffix(".tmp")
        full.save(
            tmp, deterministic_id=True, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate
        )
        tmp.replace(out)
        total = len(full.pages)
    full.close()
    return total


def _estimate_index_pages(manifest: Mapping[str, Any], quote_words: int) -> int:
    """About how many pages the index takes (letter, 1 in margins): its lines over 46 lines a page."""
    lines = 8.0 + 5.0 * len(manifest["exhibits"])
    elements: set[str] = set()
    for exhibit in manifest["exhibits"]:
        lines += 1.5 if exhibit.get("reason") else 0.0
        for passage in exhibit["passages"]:
            elements.add(passage["element"])
            words = min(len(passage["quote"].split()), quote_words) + 10
            lines += -(-words // 13) + 0.45
    lines += 2.5 * len(elements)
    return max(1, -int(-lines // 46))


def _activate(rt: Runtime, manifest: Mapping[str, Any], payload: bytes, actor: str | None, *, reused: bool) -> None:
    """Record the bundle for its case and make it the case's active one (the one its packets hold)."""
    case_id, bundle_id = manifest["case_id"], manifest["bundle_id"]
    with rt.catalog.session() as session:
        rt.catalog.get_case(session, case_id)
        session.execute(update(ConditionBundle).where(ConditionBundle.case_id == case_id).values(active=False))
        row = session.get(ConditionBundle, bundle_id)
        if row is None:
            row = ConditionBundle(
                id=bundle_id,
                case_id=case_id,
                country=manifest["country"],
                manifest_key=bundle_prefix(case_id, bundle_id) + MANIFEST,
                manifest_sha256=hashlib.sha256(payload).hexdigest(),
                exhibits=len(manifest["exhibits"]),
                pages=sum(e["page_count"] for e in manifest["exhibits"]),
            )
            session.add(row)
        row.active = True
        row.selected_at = utcnow()
        row.manifest_sha256 = hashlib.sha256(payload).hexdigest()  # a forced re-render writes a new manifest
        audit(
            session,
            actor=actor or current_actor(),
            entity="condition-bundle",
            entity_id=bundle_id,
            action="reused" if reused else "rendered",
            case_id=case_id,
            exhibits=len(manifest["exhibits"]),
            sources=[e["source_sha256"] for e in manifest["exhibits"]],
        )


def load_bundle_manifest(rt: Runtime, case_id: str, bundle_id: str) -> dict[str, Any]:
    key = bundle_prefix(case_id.upper(), bundle_id.upper()) + MANIFEST
    try:
        data: dict[str, Any] = json.loads(rt.store.get_bytes(key))
    except FileNotFoundError:
        raise BundleNotFound(case_id, bundle_id) from None
    return data


def active_bundle(rt: Runtime, case_id: str) -> ConditionBundle | None:
    """The case's active bundle (the one its packets hold), or None."""
    with rt.catalog.session() as session:
        case_id = rt.catalog.get_case(session, case_id).id
        return session.scalar(
            select(ConditionBundle)
            .where(ConditionBundle.case_id == case_id, ConditionBundle.active.is_(True))
            .order_by(ConditionBundle.selected_at.desc())
        )


def list_bundles(rt: Runtime, case_id: str) -> list[dict[str, Any]]:
    with rt.catalog.session() as session:
        case_id = rt.catalog.get_case(session, case_id).id
        rows = session.scalars(
            select(ConditionBundle).where(ConditionBundle.case_id == case_id).order_by(ConditionBundle.created_at)
        )
        return [
            {
                "bundle_id": r.id,
                "country": r.country,
                "exhibits": r.exhibits,
                "pages": r.pages,
                "active": r.active,
                "created_at": r.created_at.isoformat(timespec="seconds"),
                "manifest_sha256": r.manifest_sha256,
            }
            for r in rows
        ]


def detach_bundles(rt: Runtime, case_id: str, *, actor: str | None = None) -> int:
    """Keep the case's bundles, but put none of them in its packets any more. Returns how many were active."""
    with rt.catalog.session() as session:
        case_id = rt.catalog.get_case(session, case_id).id
        active = list(
            session.scalars(
                select(ConditionBundle).where(ConditionBundle.case_id == case_id, ConditionBundle.active.is_(True))
            )
        )
        for row in active:
            row.active = False
        changed = len(active)
        audit(
            session,
            actor=actor or current_actor(),
            entity="case",
            entity_id=case_id,
            action="bundle-detached",
            case_id=case_id,
            bundles=changed,
        )
        return changed


def source_table_markdown(result: BundleResult) -> str:
    """The flow's artifact: the bundle's sources (library metadata, pages, hashes); no client data, no reasons typed
    by the advocate."""
    lines = [
        f"### Country-conditions bundle {result.bundle_id} ({result.country})",
        "",
        f"{len(result.exhibits)} source(s), {result.pages} page(s){' (already rendered)' if result.reused else ''}.",
        "",
        "| # | Source | Publisher | Title | Edition | Published | Lang | Pages | Passages | Stale | SHA-256 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    for e in result.exhibits:
        lines.append(
            f"| {e['position']} | {e['source_id']} | {cell(e['publisher'])} | {cell(e['title'])} | "
            f"{cell(e['edition'])} | {e['published']} | {e['language']} | {cell(e['source_pages'])} | "
            f"{e['passages']} | {'yes (reason given)' if e['stale'] else 'no'} | {e['source_sha256'][:16]}… |"
        )
    if result.missing_translations:
        lines += ["", f"**No English translation yet for:** {', '.join(result.missing_translations)}"]
    return "\n".join(lines)
