"""Reading an upload as it arrives: a streaming multipart parser (python-multipart) that writes each file straight
into its ``UploadFolder`` under the limits there, never holding a file in memory or in the system's temporary folder.

The form's CSRF token must come before the first file (the page's form puts it first; browsers send fields in order),
so a forged upload is refused before a byte of it is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.multipart import MultipartParser, parse_options_header

from ...tasks.staff.uploads import UploadFolder, UploadRefused

if TYPE_CHECKING:
    from starlette.requests import Request

MAX_FIELD = 1024  # a text field's value (the CSRF token, a document type)
MAX_FIELDS = 20
FILE_FIELD = "files"


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


async def read_upload(request: Request, folder: UploadFolder, check_csrf: Callable[[str], None]) -> dict[str, str]:
    """Write the request's files into ``folder``; returns the text fields. ``check_csrf`` is called with the token
    field before any file is written (it raises to refuse). ``UploadRefused`` for a broken limit or form."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRefused("The upload's form is not in the expected shape; reload the page and try again.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > folder.max_total + 1024 * 1024:
        raise UploadRefused(
            f"The upload is larger than {folder.max_total:,} bytes in all (setting web_upload_max_bytes); nothing was "
            "added. Send fewer files at a time.",
            too_large=True,
        )

    fields: dict[str, str] = {}
    events: list[tuple[str, bytes]] = []
    header_field = bytearray()
    header_value = bytearray()
    part = _Part()
    seen_csrf = False

    def on_part_begin() -> None:
        events.append(("begin", b""))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        events.append(("data", data[start:end]))

    def on_part_end() -> None:
        events.append(("end", b""))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        events.append(("header", bytes(header_field).lower() + b"\0" + bytes(header_value)))
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        events.append(("headers-done", b""))

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )

    def handle() -> None:
        nonlocal part, seen_csrf
        for kind, data in events:
            if kind == "begin":
                part = _Part()
            elif kind == "header":
                header, _sep, header_text = data.partition(b"\0")
                part.headers.append((header, header_text))
            elif kind == "headers-done":
                disposition = dict(part.headers).get(b"content-disposition", b"")
                _kind, options = parse_options_header(disposition)
                part.name = options.get(b"name", b"").decode("utf-8", "replace")
                raw_filename = options.get(b"filename")
                part.filename = raw_filename.decode("utf-8", "replace") if raw_filename is not None else None
                if part.filename is not None and part.filename != "":
                    if part.name != FILE_FIELD:
                        raise UploadRefused("The upload's form is not in the expected shape; reload the page.")
                    if not seen_csrf:
                        check_csrf("")  # files before the token: refused before anything is written
                    folder.start_file(part.filename)
            elif kind == "data":
                if part.filename:
                    folder.write(data)
                elif part.filename is None:
                    part.value.extend(data)
                    if len(part.value) > MAX_FIELD:
                        raise UploadRefused("A form field is too long; reload the page and try again.")
            elif kind == "end":
                if part.filename:
                    folder.end_file()
                elif part.filename is None:
                    if len(fields) >= MAX_FIELDS:
                        raise UploadRefused("The form has too many fields; reload the page and try again.")
                    value = part.value.decode("utf-8", "replace")
                    fields.setdefault(part.name, value)
                    if part.name == "csrf" and not seen_csrf:
                        check_csrf(value)
                        seen_csrf = True
        events.clear()

    try:
        async for chunk in request.stream():
            parser.write(chunk)
            handle()
        parser.finalize()
        handle()
    except UploadRefused:
        raise
    except Exception as exc:  # python-multipart's parse errors: a broken or cut-off body
        if type(exc).__module__.startswith(("python_multipart", "multipart")):
            raise UploadRefused("The upload arrived incomplete or broken; send it again.") from None
        raise
    if not seen_csrf:
        check_csrf("")
    return fields
