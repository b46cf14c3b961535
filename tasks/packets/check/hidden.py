"""``hidden-content``: a filed packet carries nothing a reader does not see on its pages. No JavaScript, no actions
that launch programs, open files or reach the network on their own (launch, import, submit, remote or embedded
go-to, multimedia), no additional-action triggers, no embedded files or associated files of any kind (attachments,
file-attachment annotations, file specifications reached from page resources or annotation appearances), no
reference XObjects to outside files, no PostScript or rich media.

The packet builder removes all of these from exhibit pages (tasks/packets/layout.py ``strip_hidden``, with the
definitions below); this check refuses a packet that still has any, naming the page (and so the exhibit) where the
first one is reached. Findings never quote what was found (a file name, a script): only what kind it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .report import ERROR, Findings

# Keys whose value is hidden content wherever they appear.
HIDDEN_KEYS = frozenset(
    {
        "/AA",  # additional actions: triggers on open, close, focus, page visibility...
        "/JS",
        "/JavaScript",
        "/EF",  # a file specification's embedded file
        "/RF",  # its related files
        "/EmbeddedFiles",
        "/AF",  # associated files (PDF 2.0), on any object
        "/Ref",  # a reference XObject: the content of a page of another file
        "/OPI",  # an image or form replaced by an outside file when printed
        "/RichMediaContent",
        "/RichMediaSettings",
        "/3DD",
        "/XFA",
    }
)
# Action types that do something beyond moving within the document.
ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/ImportData",
        "/SubmitForm",
        "/GoToR",
        "/GoToE",
        "/Rendition",
        "/Movie",
        "/Sound",
        "/RichMediaExecute",
        "/URI",
    }
)
# Keys that hold an action (or, for /OpenAction, a plain destination, which is harmless).
ACTION_KEYS = frozenset({"/A", "/Next", "/PA", "/OpenAction"})
# Types of objects that are hidden content themselves.
HIDDEN_TYPES = frozenset({"/EmbeddedFile", "/Filespec"})
HIDDEN_ANNOTATIONS = frozenset({"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"})
HIDDEN_XOBJECTS = frozenset({"/PS"})


def _name(value: Any) -> str | None:
    import pikepdf

    return str(value) if isinstance(value, pikepdf.Name) else None


def is_active_action(value: Any) -> bool:
    """An action dictionary of an ``ACTIVE_ACTIONS`` type, or an array holding one (a /Next chain)."""
    import pikepdf

    if isinstance(value, pikepdf.Array):
        return any(is_active_action(v) for v in value)
    return isinstance(value, pikepdf.Dictionary) and _name(value.get("/S")) in ACTIVE_ACTIONS


def hidden_object(obj: Any) -> str | None:
    """What hidden content a dictionary or stream is in itself (an embedded file, a file specification, an active
    action, a file-attachment or multimedia annotation, a PostScript XObject), or None."""
    import pikepdf

    d = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
    if not isinstance(d, pikepdf.Dictionary):
        return None
    kind = _name(d.get("/Type"))
    if kind in HIDDEN_TYPES:
        return "an embedded file" if kind == "/EmbeddedFile" else "a file specification"
    subtype = _name(d.get("/Subtype"))
    if kind == "/Annot" and subtype in HIDDEN_ANNOTATIONS:
        return f"a {str(subtype)[1:]} annotation"
    if subtype in HIDDEN_XOBJECTS and isinstance(obj, pikepdf.Stream):
        return "a PostScript XObject"
    action = _name(d.get("/S"))
    if action in ACTIVE_ACTIONS and kind in (None, "/Action"):
        return f"a {str(action)[1:]} action"
    return None


def hidden_kind(obj: Any) -> str | None:
    """What hidden content a dictionary or stream is or holds in one of its own entries (``HIDDEN_KEYS``), or None."""
    import pikepdf

    found = hidden_object(obj)
    if found is not None:
        return found
    d = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
    if isinstance(d, pikepdf.Dictionary):
        for key in d.keys():  # noqa: SIM118 (pikepdf keys)
            if key in HIDDEN_KEYS:
                return f"a {key[1:]} entry"
    return None


def _direct_children(obj: Any) -> Iterator[Any]:
    import pikepdf

    if isinstance(obj, pikepdf.Stream):
        values: Any = obj.stream_dict.values()
    elif isinstance(obj, pikepdf.Dictionary):
        values = obj.values()
    elif isinstance(obj, pikepdf.Array):
        values = iter(obj)
    else:
        return
    for value in values:
        if isinstance(value, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
            yield value


@dataclass(frozen=True)
class Hidden:
    kind: str
    page: int | None  # 1-based page of the file from which it is reached first; None: only from the catalog


def find_hidden(pdf: Any) -> list[Hidden]:
    """Every kind of hidden content in an open pikepdf ``Pdf``, each once, with the first page that reaches it."""
    import pikepdf

    found: dict[str, int | None] = {}
    seen: set[tuple[int, int]] = set()

    def walk(root: Any, page: int | None) -> None:
        stack = [root]
        while stack:
            obj = stack.pop()
            if obj.is_indirect:
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
            if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
                kind = hidden_kind(obj)
                if kind is not None and kind not in found:
                    found[kind] = page
            for child in _direct_children(obj):
                if isinstance(child, pikepdf.Dictionary) and _name(child.get("/Type")) in ("/Page", "/Pages"):
                    continue  # other pages are walked from their own number
                stack.append(child)

    for number, page in enumerate(pdf.pages, start=1):
        walk(page.obj, number)
    walk(pdf.Root, None)
    walk(pdf.trailer, None)
    return [Hidden(kind, page) for kind, page in found.items()]


def check_hidden(path: Path, name: str, exhibit_of: Callable[[int], tuple[str, str] | None], out: Findings) -> None:
    """Add a ``hidden-content`` finding per kind of hidden content in the file at ``path``; ``exhibit_of(page)`` gives
    the label of the exhibit a 1-based page of this file belongs to, and where it is in words (or None)."""
    import pikepdf

    try:
        pdf = pikepdf.open(path)
    except pikepdf.PdfError:
        return  # a file qpdf cannot open is reported by the qpdf check
    with pdf:
        for item in find_hidden(pdf):
            located = exhibit_of(item.page) if item.page else None
            place = f"page {item.page}" if item.page else "the document itself (not a page)"
            out.add(
                "hidden-content",
                ERROR,
                name,
                item.page,
                f"{name}, {place}{f' ({located[1]})' if located else ''}: it carries {item.kind}, content a reader "
                "does not see (a script, an action, an attached or outside file); a filing must not. Build the packet "
                "again with this version of casefile, which removes them from exhibit pages; if the packet was not "
                "made by casefile, print it to a new PDF and check that.",
                exhibit=located[0] if located else None,
            )
