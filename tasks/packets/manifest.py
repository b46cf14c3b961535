"""Finished packet builds in the object store, and what a build returns.

A build is stored under ``packets/<case>/<build-id>/``: its parts, then, written last, ``manifest.json`` (every input
and output with its SHA-256 and page range, overrides, the check's warnings). A build without its manifest is not
finished: it is never listed or served. ``list_builds``, ``download_build`` (every part verified against its SHA-256),
``build_location`` and ``load_manifest`` read that side; ``BuildResult`` is what ``build_packet`` returns, and what a
stored manifest reads back as (``result_from_manifest``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from ..core.runtime import Runtime
    from ..core.storage import ObjectStore

PACKETS_PREFIX = "packets"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class BuildNotFound(NotFoundError):
    pass


@dataclass
class PartResult:
    name: str
    key: str
    sha256: str
    bytes: int
    pages: int
    first_page: int
    last_page: int


@dataclass
class BuildResult:
    build_id: str
    case_id: str
    profile: str
    pages: int
    parts: list[PartResult]
    manifest_key: str
    bytes_saved: int
    images_downsampled: int
    missing_translations: list[str]
    reused: bool = False
    warnings: list[str] = field(default_factory=list)
    exhibits: list[dict[str, Any]] = field(default_factory=list)  # label, title, first_page, last_page, pages
    to_sign: list[str] = field(default_factory=list)  # certificates to sign by hand after printing (ids, labels)
    signed: list[str] = field(default_factory=list)  # certificates signed in the packet (people keys, labels)

    def summary(self) -> dict[str, Any]:
        """Ids, counts, sizes and hashes: safe for logs (no titles)."""
        return {
            "build_id": self.build_id,
            "case_id": self.case_id,
            "profile": self.profile,
            "pages": self.pages,
            "parts": [asdict(p) for p in self.parts],
            "bytes_saved": self.bytes_saved,
            "images_downsampled": self.images_downsampled,
            "missing_translations": self.missing_translations,
            "to_sign": self.to_sign,
            "signed": self.signed,
            "warnings": self.warnings,  # the pre-filing check's: code, exhibit label and page
            "reused": self.reused,
        }


def build_prefix(case_id: str, build_id: str) -> str:
    """The key prefix of a build's files in the object store."""
    return f"{PACKETS_PREFIX}/{case_id}/{build_id}/"


def load_manifest(rt: Runtime, case_id: str, build_id: str) -> dict[str, Any]:
    key = build_prefix(case_id.upper(), build_id.upper()) + MANIFEST
    try:
        data: dict[str, Any] = json.loads(rt.store.get_bytes(key))
    except FileNotFoundError:
        raise BuildNotFound(
            f"No finished packet build {build_id} for case {case_id}; see `casefile packet list {case_id}`."
        ) from None
    return data


def result_from_manifest(manifest: Mapping[str, Any], *, reused: bool = False) -> BuildResult:
    return BuildResult(
        build_id=manifest["build_id"],
        case_id=manifest["case_id"],
        profile=manifest["profile"],
        pages=manifest["pages"],
        parts=[PartResult(**p) for p in manifest["outputs"]],
        manifest_key=build_prefix(manifest["case_id"], manifest["build_id"]) + MANIFEST,
        bytes_saved=manifest.get("bytes_saved_by_downsampling", 0),
        images_downsampled=manifest.get("images_downsampled", 0),
        missing_translations=[x for o in manifest.get("overrides", []) for x in o.get("exhibits", [])],
        reused=reused,
        warnings=list(manifest.get("check", {}).get("warnings", [])),
        exhibits=list(manifest.get("exhibits", [])),
        to_sign=list(manifest.get("signatures", {}).get("to_sign_after_printing", [])),
        signed=list(manifest.get("signatures", {}).get("signed", [])),
    )


def build_location(rt: Runtime, case_id: str, build_id: str) -> str:
    """Where a build's files are, for people: the store's location and the build's prefix."""
    return _location(rt.store, case_id, build_id)


def _location(store: ObjectStore, case_id: str, build_id: str) -> str:
    return f"{store.describe().rstrip('/')}/{build_prefix(case_id, build_id)}"


def list_builds(rt: Runtime, case_id: str) -> list[dict[str, Any]]:
    """Finished builds of a case (those with a manifest), oldest first; CaseNotFound for an unknown case."""
    with rt.catalog.session() as session:
        case_id = rt.catalog.get_case(session, case_id).id
    return _finished_builds(rt.store, case_id)


def _finished_builds(store: ObjectStore, case_id: str) -> list[dict[str, Any]]:
    rows = []
    for key in store.list(f"{PACKETS_PREFIX}/{case_id.upper()}/"):
        if not key.endswith("/" + MANIFEST):
            continue
        manifest = json.loads(store.get_bytes(key))
        rows.append(
            {
                "build_id": manifest["build_id"],
                "profile": manifest["profile"],
                "created_at": manifest["created_at"],
                "pages": manifest["pages"],
                "parts": len(manifest["outputs"]),
                "bytes": sum(p["bytes"] for p in manifest["outputs"]),
                "overrides": [o["override"] for o in manifest.get("overrides", [])],
                "location": _location(store, case_id.upper(), manifest["build_id"]),
            }
        )
    return sorted(rows, key=lambda r: (r["created_at"], r["build_id"]))


class OtherBuildInFolder(ValidationError):
    """The download folder holds files of another build: mixing two builds' parts is how the wrong one is filed."""

    def __init__(self, dest: Path, build_id: str, others: list[str]) -> None:
        listing = ", ".join(sorted(others)[:10])
        super().__init__(
            f"{dest} already holds files of another packet build ({listing}); nothing was downloaded. Download build "
            f"{build_id} into an empty folder, or add --force to put it beside them (each file is named after its "
            "build)."
        )
        self.others = others


def _other_builds(dest: Path, build_id: str) -> list[str]:
    """Names of files in ``dest`` that a download of another build wrote (they start with its build id)."""
    if not dest.is_dir():
        return []
    found = []
    for path in dest.iterdir():
        match = _BUILD_FILE.match(path.name)
        if match and match.group(1) != build_id:
            found.append(path.name)
    return found


_BUILD_FILE = re.compile(r"^(P-[23456789A-HJKMNP-TV-Z]{10})-")


def download_name(build_id: str, part_name: str) -> str:
    """The name a downloaded part gets: the build id first, so parts of two builds never mix unnoticed."""
    return f"{build_id}-{part_name}"


def download_build(
    rt: Runtime, case_id: str, build_id: str | None, dest: Path, *, force: bool = False
) -> dict[str, Any]:
    """Every part of a finished build (default: the latest) into ``dest``, each verified against its SHA-256 and
    named after its build (``download_name``); the manifest beside them. A folder with another build's files is
    refused unless ``force``."""
    if build_id is None:
        builds = _finished_builds(rt.store, case_id)
        if not builds:
            raise BuildNotFound(f"Case {case_id} has no finished packet; run `casefile packet build {case_id}`.")
        build_id = builds[-1]["build_id"]
    manifest = load_manifest(rt, case_id, build_id)
    build_id = manifest["build_id"]
    others = _other_builds(dest, build_id)
    if others and not force:
        raise OtherBuildInFolder(dest, build_id, others)
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    for part in manifest["outputs"]:
        target = dest / download_name(build_id, part["name"])
        rt.store.download(part["key"], target, expected_sha256=part["sha256"])
        files.append({"name": part["name"], "path": str(target), "sha256": part["sha256"], "bytes": part["bytes"]})
    (dest / f"{build_id}-{MANIFEST}").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return {"build_id": build_id, "case_id": manifest["case_id"], "files": files, "verified": True}


def artifact_markdown(result: BuildResult) -> str:
    """The Prefect artifact: exhibit labels, document ids, page ranges and part sizes. Never an exhibit's title
    (titles default to file names, which often carry a client's name or A-number), a client name or an A-number:
    Prefect's database is not the place for client data (`casefile exhibits show` has the titles)."""
    lines = [
        f"### Packet {result.build_id} ({result.profile})",
        "",
        f"{result.pages} pages in {len(result.parts)} part(s); {result.bytes_saved} bytes saved by downsampling.",
        "",
        "| Exhibit | Document | Pages | Page count |",
        "|---|---|---|---|",
    ]
    for e in result.exhibits:
        document = e.get("document_id") or ""
        lines.append(f"| {e['label']} | {document} | {e['first_page']}-{e['last_page']} | {e['pages']} |")
    lines += ["", "| Part | Pages | Bytes | SHA-256 |", "|---|---|---|---|"]
    for p in result.parts:
        lines.append(f"| {p.name} | {p.first_page}-{p.last_page} | {p.bytes} | {p.sha256[:16]}… |")
    if result.missing_translations:
        lines += ["", f"**Built without translations for:** {', '.join(result.missing_translations)}"]
    if result.to_sign:
        lines += ["", "**To sign by hand after printing:**", *(f"- {item}" for item in result.to_sign)]
    return "\n".join(lines)
